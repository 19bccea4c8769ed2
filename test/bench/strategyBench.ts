// Benchmark helper (not a test) for docs/strategy.md: five ways to drive Claude Code, on the same scripted task with
// the real CLI against the scripted model on 127.0.0.1. Bundled and run by test/bench/strategy.mjs:
//   node out/bench/strategyBench.js <result.json> <agent-sdk entry (sdk.mjs) or "">
// Every run gets its own temp folder (git repo + CLAUDE_CONFIG_DIR + CLAUDE_CODE_TMPDIR); ~/.claude is never used.
//
// The task: turn 1 "Create result.txt" → the model calls Write(result.txt) → "Done."; turn 2 (follow-up) → text.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeHookSettings } from '../../src/core/agents/hookSettings';
import { claudeBin, claudeEnv, seedInteractiveConfig } from '../support/claudeEnv';
import { ScriptedModel, text, write } from '../support/scriptedModel';

const RUNS = Math.max(1, Math.min(15, Number(process.env.STRATEGY_RUNS ?? 5)));
const TURN_TIMEOUT_MS = 60_000;
const PROMPT = 'Create result.txt with a greeting.';
const FOLLOW_UP = 'Follow-up: summarise what you did.';
const log = (s: string) => process.stderr.write(`[strategy-bench] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLAUDE = fs.realpathSync(claudeBin());

// ---- process-tree memory -----------------------------------------------------------------------------------------

function procTable(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch { /* gone */ }
  }
  return children;
}

function descendants(root: number, includeRoot = true): number[] {
  const children = procTable();
  const out: number[] = includeRoot ? [root] : [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** RSS (MB) summed over the process tree (shared pages are counted once per process). */
function treeRssMb(root: number, includeRoot = true): { mb: number; processes: number } {
  const pids = descendants(root, includeRoot);
  return { mb: pids.reduce((a, p) => a + rssKb(p), 0) / 1024, processes: pids.length };
}

/** Samples a tree's RSS every 100 ms; `peak` is the largest sum seen. */
function sampler(root: () => number | undefined, includeRoot = true) {
  let peak = 0;
  let processes = 0;
  const tick = () => {
    const r = root();
    if (r === undefined) return;
    const s = treeRssMb(r, includeRoot);
    if (s.mb > peak) { peak = s.mb; processes = s.processes; }
  };
  const t = setInterval(tick, 100);
  return { stop: () => { clearInterval(t); tick(); return { peakMb: peak, processes }; } };
}

// ---- sandboxes ---------------------------------------------------------------------------------------------------

interface Sandbox { root: string; repo: string; env: Record<string, string>; configDir: string }

function sandbox(baseUrl: string, name: string): Sandbox {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `grove-strategy-${name}-`)));
  const repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  fs.writeFileSync(path.join(repo, 'README.md'), '# strategy bench\n');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', 'commit', '-q', '-m', 'init');
  const { env, configDir } = claudeEnv({ root, baseUrl });
  return { root, repo, env, configDir };
}

// ---- stream-json CLI ---------------------------------------------------------------------------------------------

const STREAM_ARGS = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio', '--permission-mode', 'acceptEdits'];

interface Cli {
  child: ChildProcess;
  spawnedAt: number;
  /** Resolves with the time of the next message matching `pred` (from now on). */
  next(pred: (m: any) => boolean): Promise<number>;
  firstLineAt: Promise<number>;
  send(textLine: string): void;
  exited: Promise<number | null>;
  messages: any[];
}

function startCli(sb: Sandbox, extra: string[]): Cli {
  const spawnedAt = Date.now();
  const child = spawn(CLAUDE, [...STREAM_ARGS, ...extra], { cwd: sb.repo, env: sb.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const waiters: Array<{ pred: (m: any) => boolean; resolve: (t: number) => void }> = [];
  const messages: any[] = [];
  let firstLine!: (t: number) => void;
  const firstLineAt = new Promise<number>((r) => (firstLine = r));
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    const t = Date.now();
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let m: any;
      try { m = JSON.parse(line); } catch { continue; }
      firstLine(t);
      messages.push(m);
      for (const w of waiters.splice(0)) {
        if (w.pred(m)) w.resolve(t);
        else waiters.push(w);
      }
    }
  });
  child.stderr!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return {
    child, spawnedAt, firstLineAt, messages, exited,
    next: (pred) => withTimeout(new Promise<number>((resolve) => waiters.push({ pred, resolve })), 'stream-json message'),
    send: (t) => child.stdin!.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content: t } })}\n`),
  };
}

const isInit = (m: any) => m.type === 'system' && m.subtype === 'init';
const isAssistant = (m: any) => m.type === 'assistant';
const isResult = (m: any) => m.type === 'result';

function withTimeout<T>(p: Promise<T>, what: string, ms = TURN_TIMEOUT_MS): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

function killTree(pid: number | undefined): void {
  if (!pid) return;
  try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
}

export interface Run {
  /** spawn (or call) → system/init or SessionStart. */
  startMs?: number;
  /** spawn → first event of any kind on the channel Grove would read. */
  firstEventMs?: number;
  /** spawn → first assistant output (or PreToolUse hook). */
  firstAssistantMs?: number;
  /** spawn → end of turn 1 (result / Stop hook). */
  turnMs?: number;
  /** spawn → process exit after turn 1 (per-turn modes). */
  exitMs?: number;
  /** follow-up sent → its result (includes the respawn for per-turn modes). */
  followUpMs?: number;
  peakRssMb?: number;
  idleRssMb?: number;
  processes?: number;
  wroteFile?: boolean;
  costUsd?: number;
  /** (e) `claude --bg` command → it returned with the session id. */
  bgReturnMs?: number;
  note?: string;
}

// ---- (a) per-turn -p with --resume (Grove's background mode) -----------------------------------------------------

async function perTurn(sb: Sandbox): Promise<Run> {
  const sessionId = randomUUID();
  const cli = startCli(sb, ['--session-id', sessionId]);
  const mem = sampler(() => cli.child.pid);
  const init = cli.next(isInit), first = cli.next(isAssistant), result = cli.next(isResult);
  cli.send(PROMPT);
  const tResult = await result;
  cli.child.stdin!.end();
  await withTimeout(cli.exited, 'exit');
  const tExit = Date.now();
  const m = mem.stop();
  const cost = cli.messages.find(isResult)?.total_cost_usd;
  // Follow-up: a new process resuming the session.
  const t2 = Date.now();
  const cli2 = startCli(sb, ['--resume', sessionId]);
  const r2 = cli2.next(isResult);
  cli2.send(FOLLOW_UP);
  const tR2 = await r2;
  cli2.child.stdin!.end();
  await withTimeout(cli2.exited, 'exit 2');
  return {
    startMs: (await init) - cli.spawnedAt, firstEventMs: (await cli.firstLineAt) - cli.spawnedAt, firstAssistantMs: (await first) - cli.spawnedAt,
    turnMs: tResult - cli.spawnedAt, exitMs: tExit - cli.spawnedAt, followUpMs: tR2 - t2, peakRssMb: m.peakMb, idleRssMb: 0, processes: m.processes,
    wroteFile: fs.existsSync(path.join(sb.repo, 'result.txt')), costUsd: cost,
  };
}

// ---- (b) one long-lived stream-json process ----------------------------------------------------------------------

async function longLived(sb: Sandbox): Promise<Run> {
  const cli = startCli(sb, ['--session-id', randomUUID()]);
  const mem = sampler(() => cli.child.pid);
  try {
    const init = cli.next(isInit), first = cli.next(isAssistant), result = cli.next(isResult);
    cli.send(PROMPT);
    const tResult = await result;
    const m = mem.stop();
    await sleep(1000);
    const idle = treeRssMb(cli.child.pid!).mb;
    const t2 = Date.now();
    const r2 = cli.next(isResult);
    cli.send(FOLLOW_UP);
    const tR2 = await r2;
    cli.child.stdin!.end();
    await withTimeout(cli.exited, 'exit');
    return {
      startMs: (await init) - cli.spawnedAt, firstEventMs: (await cli.firstLineAt) - cli.spawnedAt, firstAssistantMs: (await first) - cli.spawnedAt,
      turnMs: tResult - cli.spawnedAt, followUpMs: tR2 - t2, peakRssMb: m.peakMb, idleRssMb: idle, processes: m.processes,
      wroteFile: fs.existsSync(path.join(sb.repo, 'result.txt')), costUsd: cli.messages.find(isResult)?.total_cost_usd,
    };
  } finally {
    mem.stop();
    killTree(cli.child.pid);
  }
}

// ---- (c) the Agent SDK's query() on the same CLI binary ----------------------------------------------------------

let sdk: any;
let sdkImport: { ms: number; rssDeltaMb: number } | undefined;

async function loadSdk(entry: string): Promise<void> {
  if (sdk) return;
  const before = process.memoryUsage().rss;
  const t = Date.now();
  // A real ESM import (the SDK is ESM-only), kept out of esbuild's reach.
  sdk = await (new Function('u', 'return import(u)') as (u: string) => Promise<any>)(pathToFileURL(entry).href);
  sdkImport = { ms: Date.now() - t, rssDeltaMb: (process.memoryUsage().rss - before) / 2 ** 20 };
}

async function agentSdk(sb: Sandbox): Promise<Run> {
  const options = { cwd: sb.repo, env: sb.env, pathToClaudeCodeExecutable: CLAUDE, permissionMode: 'acceptEdits' };
  const mem = sampler(() => process.pid, false);
  const t0 = Date.now();
  let startMs: number | undefined, firstEventMs: number | undefined, firstAssistantMs: number | undefined, turnMs: number | undefined;
  let sessionId: string | undefined, cost: number | undefined;
  const run1 = (async () => {
    for await (const m of sdk.query({ prompt: PROMPT, options })) {
      const t = Date.now() - t0;
      firstEventMs ??= t;
      if (isInit(m)) { startMs ??= t; sessionId = m.session_id; }
      if (isAssistant(m)) firstAssistantMs ??= t;
      if (isResult(m)) { turnMs = t; cost = m.total_cost_usd; }
    }
  })();
  await withTimeout(run1, 'sdk turn 1');
  const m = mem.stop();
  const t2 = Date.now();
  let followUpMs: number | undefined;
  await withTimeout((async () => {
    for await (const msg of sdk.query({ prompt: FOLLOW_UP, options: { ...options, resume: sessionId } })) if (isResult(msg)) followUpMs = Date.now() - t2;
  })(), 'sdk follow-up');
  return { startMs, firstEventMs, firstAssistantMs, turnMs, followUpMs, peakRssMb: m.peakMb, idleRssMb: 0, processes: m.processes, wroteFile: fs.existsSync(path.join(sb.repo, 'result.txt')), costUsd: cost };
}

// ---- hooks -------------------------------------------------------------------------------------------------------

function hookEvents(statusPath: string): Array<{ hook_event_name: string; grove_ts: number; [k: string]: any }> {
  try {
    return fs.readFileSync(statusPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

async function waitHook(statusPath: string, name: string, nth = 1, ms = TURN_TIMEOUT_MS): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const hits = hookEvents(statusPath).filter((e) => e.hook_event_name === name);
    if (hits.length >= nth) return hits[nth - 1].grove_ts;
    await sleep(20);
  }
  throw new Error(`hook ${name} #${nth}: not seen after ${ms} ms`);
}

// ---- (d) interactive TUI under tmux with Grove's hooks -----------------------------------------------------------

async function tui(sb: Sandbox): Promise<Run> {
  seedInteractiveConfig(sb.configDir, [sb.repo]);
  const hooks = writeHookSettings({ dir: path.join(sb.root, 'hooks') });
  const sock = path.join(sb.root, 'tmux.sock');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', sock, ...args], { env: sb.env, encoding: 'utf8' });
  const t0 = Date.now();
  tmux('new-session', '-d', '-s', 'bench', '-x', '200', '-y', '50', '-c', sb.repo, CLAUDE, '--settings', hooks.settingsPath, '--session-id', randomUUID(), '--permission-mode', 'acceptEdits', PROMPT);
  const panePid = Number(tmux('list-panes', '-t', 'bench', '-F', '#{pane_pid}').trim());
  const mem = sampler(() => panePid);
  try {
    const start = await waitHook(hooks.statusPath, 'SessionStart');
    const first = await waitHook(hooks.statusPath, 'PreToolUse');
    const stop = await waitHook(hooks.statusPath, 'Stop');
    const m = mem.stop();
    await sleep(1000);
    const idle = treeRssMb(panePid).mb;
    const t2 = Date.now();
    tmux('send-keys', '-t', 'bench', '-l', FOLLOW_UP);
    await sleep(150);
    tmux('send-keys', '-t', 'bench', 'Enter');
    const stop2 = await waitHook(hooks.statusPath, 'Stop', 2);
    const firstEvent = Math.min(...hookEvents(hooks.statusPath).map((e) => e.grove_ts));
    return {
      startMs: start - t0, firstEventMs: firstEvent - t0, firstAssistantMs: first - t0, turnMs: stop - t0, followUpMs: stop2 - t2,
      peakRssMb: m.peakMb, idleRssMb: idle, processes: m.processes, wroteFile: fs.existsSync(path.join(sb.repo, 'result.txt')),
      note: 'times from Grove hook script timestamps (a node process per hook event)',
    };
  } finally {
    mem.stop();
    try { tmux('kill-server'); } catch { /* already gone */ }
    killTree(panePid);
  }
}

// ---- (e) Claude Code's own --bg sessions and `claude agents --json` ----------------------------------------------

interface BgExtra { untrusted?: { exitCode: number | null; output: string }; linkedWorktreeToolError?: string; hookEvents?: string[]; agentsJson?: unknown; agentsJsonMs?: number; agentsJsonAll?: unknown; bgStdout?: string; toolError?: string; daemonStatus?: string }

async function bg(sb: Sandbox, extra: BgExtra, isolation = false, linkedWorktree = false): Promise<Run> {
  if (linkedWorktree) {
    // Run the session in a linked worktree, as Grove would (made like Grove's: `git worktree add -b`).
    const wt = path.join(sb.root, 'wt');
    execFileSync('git', ['worktree', 'add', '-q', '-b', 'grove/bench', wt, 'main'], { cwd: sb.repo, stdio: 'pipe' });
    sb = { ...sb, repo: wt };
  }
  if (extra.untrusted === undefined) {
    // Once: what `claude --bg` does in a folder whose trust was never accepted.
    const r = spawnSync(CLAUDE, ['--bg', PROMPT], { cwd: sb.repo, env: sb.env, encoding: 'utf8', timeout: 30_000 });
    extra.untrusted = { exitCode: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
  }
  seedInteractiveConfig(sb.configDir, [sb.repo]);
  const hooks = writeHookSettings({ dir: path.join(sb.root, 'hooks') });
  if (isolation) {
    // Lift the guard that makes a --bg session refuse edits outside a worktree it entered itself (see the doc).
    const settings = JSON.parse(fs.readFileSync(hooks.settingsPath, 'utf8'));
    fs.writeFileSync(hooks.settingsPath, JSON.stringify({ ...settings, worktree: { bgIsolation: 'none' } }, null, 2));
  }
  const cli = (args: string[], timeout = 30_000) => execFileSync(CLAUDE, args, { cwd: sb.repo, env: sb.env, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  const t0 = Date.now();
  let daemonPid: number | undefined;
  let sockDir: string | undefined;
  let mem: ReturnType<typeof sampler> | undefined;
  try {
    const out = cli(['--bg', '--settings', hooks.settingsPath, '--permission-mode', 'acceptEdits', PROMPT]);
    const tReturn = Date.now() - t0;
    extra.bgStdout ??= out.trim();
    const status = cli(['daemon', 'status']);
    extra.daemonStatus ??= status.trim();
    daemonPid = Number(/pid:\s+(\d+)/.exec(status)?.[1]) || undefined;
    sockDir = /sock dir:\s+(\S+)/.exec(status)?.[1];
    mem = sampler(() => daemonPid);
    let start: number | undefined, first: number | undefined, stop: number | undefined;
    let note = `\`claude --bg\` returned after ${tReturn} ms`;
    try {
      start = await waitHook(hooks.statusPath, 'SessionStart', 1, 30_000);
      stop = await waitHook(hooks.statusPath, 'Stop', 1, 30_000);
      first = hookEvents(hooks.statusPath).find((e) => e.hook_event_name === 'PreToolUse')?.grove_ts;
    } catch (err) {
      note += `; ${(err as Error).message}`;
    }
    const m = mem.stop();
    extra.hookEvents ??= [...new Set(hookEvents(hooks.statusPath).map((e) => e.hook_event_name))];
    const ta = Date.now();
    const agents = cli(['agents', '--json']);
    extra.agentsJsonMs ??= Date.now() - ta;
    extra.agentsJson ??= JSON.parse(agents);
    extra.agentsJsonAll ??= JSON.parse(cli(['agents', '--json', '--all']));
    await sleep(1000);
    const idle = daemonPid ? treeRssMb(daemonPid) : undefined;
    const transcript = findTranscript(sb.configDir);
    const toolError = transcript ? /<tool_use_error>([^<]{0,700})/.exec(fs.readFileSync(transcript, 'utf8'))?.[1] : undefined;
    if (toolError) extra.toolError ??= toolError;
    if (linkedWorktree) extra.linkedWorktreeToolError ??= toolError ?? '';
    return {
      startMs: start !== undefined ? start - t0 : undefined, firstEventMs: start !== undefined ? start - t0 : undefined,
      firstAssistantMs: first !== undefined ? first - t0 : undefined, turnMs: stop !== undefined ? stop - t0 : undefined,
      peakRssMb: m.peakMb, idleRssMb: idle?.mb, processes: m.processes, wroteFile: fs.existsSync(path.join(sb.repo, 'result.txt')), bgReturnMs: tReturn,
      ...(note.includes(';') ? { note } : {}),
    };
  } finally {
    mem?.stop();
    try { cli(['daemon', 'stop', '--any']); } catch { /* not running */ }
    await sleep(300);
    // The daemon leaves idle pty hosts of unused spare sessions: end those of this run (their args name its socket folder).
    if (sockDir) {
      for (const pid of processesWith(sockDir)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      fs.rmSync(sockDir, { recursive: true, force: true });
    }
  }
}

function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker)) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

function findTranscript(configDir: string): string | undefined {
  const projects = path.join(configDir, 'projects');
  if (!fs.existsSync(projects)) return undefined;
  for (const d of fs.readdirSync(projects)) {
    for (const f of fs.readdirSync(path.join(projects, d))) if (f.endsWith('.jsonl')) return path.join(projects, d, f);
  }
  return undefined;
}

// ---- main --------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [out, sdkEntry] = process.argv.slice(2);
  const model = await ScriptedModel.start({
    rule: (req) => (req.isToolResult ? text('Done: result.txt is written.') : /Follow-up/.test(req.lastUserText) ? text('I created result.txt.') : write('result.txt', 'hello\n')),
  });
  const modes: Array<[string, (sb: Sandbox, extra: any) => Promise<Run>]> = [
    ['a', perTurn], ['b', longLived], ...(sdkEntry ? [['c', agentSdk] as [string, (sb: Sandbox) => Promise<Run>]] : []), ['d', tui], ['e', bg], ['e2', (sb, x) => bg(sb, x, true)], ['e3', (sb, x) => bg(sb, x, false, true)],
  ];
  const only = process.env.STRATEGY_MODES?.split(',');
  const results: Record<string, { runs: Run[]; errors: string[] }> = {};
  const bgExtra: BgExtra = {};
  try {
    if (sdkEntry) await loadSdk(sdkEntry);
    // Warm-up: one unmeasured -p run (page cache for the ~200 MB binary).
    const warm = sandbox(model.url, 'warm');
    await perTurn(warm).catch((e) => log(`warm-up: ${e.message}`));
    fs.rmSync(warm.root, { recursive: true, force: true });
    // Interleave modes so drifting machine load hits all of them alike.
    for (let i = 0; i < RUNS; i++) {
      for (const [name, fn] of modes) {
        if (only && !only.includes(name)) continue;
        const r = (results[name] ??= { runs: [], errors: [] });
        const sb = sandbox(model.url, name);
        try {
          const run = await fn(sb, bgExtra);
          r.runs.push(run);
          log(`${name} #${i + 1}: start ${run.startMs} ms, turn ${run.turnMs} ms, follow-up ${run.followUpMs ?? '-'} ms, peak ${run.peakRssMb?.toFixed(0)} MB, idle ${run.idleRssMb?.toFixed(0)} MB`);
        } catch (err) {
          r.errors.push((err as Error).message);
          log(`${name} #${i + 1} failed: ${(err as Error).message}`);
        } finally {
          fs.rmSync(sb.root, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await model.close();
  }
  const version = execFileSync(CLAUDE, ['--version'], { encoding: 'utf8' }).trim();
  fs.writeFileSync(out, JSON.stringify({ runs: RUNS, claudeVersion: version, sdkImport, results, bg: bgExtra }, null, 2));
}

main().then(() => process.exit(0), (err) => {
  log(`failed: ${err?.stack ?? err}`);
  process.exit(1);
});
