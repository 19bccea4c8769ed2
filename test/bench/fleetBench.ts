// Benchmark module (not a test) loaded by VS Code's extension host as its tests module (extensionTestsPath), bundled
// by test/bench/hostLag.mjs into out/bench/fleetBench.js; writes its numbers to $GROVE_BENCH_RESULT. Issue 17's
// status latency, busy fleet and idle fleet, in one window:
//
// 1. The empty fleet: the extension host's RSS once Grove is active and ready with no instance.
// 2. Status latency: one terminal-mode agent (the real Claude Code TUI against the scripted model) waits at its prompt;
//    the bench appends a hook line to its status file — exactly what its hook command writes — and times until the
//    Agents view (api.viewSnapshot(): Grove's tree items, as VS Code asks for them) shows the new state:
//    `UserPromptSubmit` → running, `Stop` → waiting. Done with the fleet idle and again while 20 agents run and their
//    worktrees change every second.
// 3. A busy fleet: 20 background agents (the real CLI) whose model answer is held, so all 20 stay running; every
//    second the bench writes a new file into each of their worktrees, for 60 s. Counted: git processes Grove starts
//    (a `git` shim first on the extension host's PATH logs each one with its parent process: only those whose parent
//    is the extension host are Grove's, not the agents'), the extension host's CPU (process.cpuUsage) and RSS.
// 4. An idle fleet: the answers are released, the 20 agents finish, the terminal agent is stopped; once Grove has
//    started no git process for 5 s, 60 s of nothing: timers Grove's code fired (setTimeout/setInterval wrapped;
//    a timer counts when the stack that created it runs through Grove's bundle), git processes, files written under
//    the repository's .git and the worktrees (size and mtime before and after), CPU, and RSS over the empty fleet.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import util from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as vscode from 'vscode';
import { modelEnv } from '../support/claudeEnv';
import { ScriptedModel, text } from '../support/scriptedModel';
import { depthOf, flatten } from '../integration/helpers';
import { hostBench, quantile, until } from './hostBench';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 20);
const BUSY_S = Number(process.env.BENCH_BUSY_SECONDS ?? 60);
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const PROBES = Number(process.env.BENCH_PROBES ?? 20);
const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

/** A full garbage collection (the extension host runs without --expose-gc), so memory is compared without garbage. */
function collect(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const median = (xs: number[]) => quantile(xs, 0.5);

/** Wraps the global timers; counts, while `counting`, the callbacks of timers created from Grove's bundle. */
class TimerCounter {
  counting = false;
  fired = 0;
  created = 0;
  private readonly orig = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval };

  /** Grove's bundle, or its sources when the host maps stacks through the source map. */
  private readonly marks: string[];

  constructor(extensionPath: string) {
    this.marks = [path.join(extensionPath, 'dist') + path.sep, path.join(extensionPath, 'src') + path.sep];
  }

  install(): void {
    const self = this;
    const wrap = (orig: typeof setTimeout, always: boolean) => {
      const patched = function (cb: unknown, ms?: number, ...args: unknown[]) {
        // Intervals are checked whenever they are made (one made before the idle window fires in it); timeouts only
        // while counting (a timeout made before the window is done by the time it starts: see the settle step).
        if (typeof cb !== 'function' || (!always && !self.counting) || !self.fromGrove()) return (orig as any)(cb, ms, ...args);
        if (self.counting) self.created++;
        return (orig as any)(function (this: unknown, ...a: unknown[]) {
          if (self.counting) self.fired++;
          return (cb as (...x: unknown[]) => unknown).apply(this, a);
        }, ms, ...args);
      };
      const custom = (orig as any)[util.promisify.custom];
      if (custom) Object.defineProperty(patched, util.promisify.custom, { value: custom });
      return patched as unknown as typeof setTimeout;
    };
    globalThis.setTimeout = wrap(this.orig.setTimeout, false);
    globalThis.setInterval = wrap(this.orig.setInterval as unknown as typeof setTimeout, true) as unknown as typeof setInterval;
  }

  uninstall(): void {
    globalThis.setTimeout = this.orig.setTimeout;
    globalThis.setInterval = this.orig.setInterval;
  }

  private fromGrove(): boolean {
    const stack = new Error().stack ?? '';
    return this.marks.some((m) => stack.includes(m));
  }
}

/**
 * A `git` first on PATH that logs "<parent pid> <index> <args>" and runs the real git; `<index>` is `private` when
 * GIT_INDEX_FILE is set (the conflict radar's and the snapshots' private indexes), else `own`.
 */
function installGitShim(dir: string): { log: string; lines(): Array<{ ppid: number; privateIndex: boolean; args: string }> } {
  const real = execFileSync('which', ['git'], { encoding: 'utf8' }).trim();
  const log = path.join(dir, 'git.log');
  fs.writeFileSync(log, '');
  const shim = path.join(dir, 'bin', 'git');
  fs.mkdirSync(path.dirname(shim), { recursive: true });
  fs.writeFileSync(shim, `#!/bin/sh\nif [ -n "$GIT_INDEX_FILE" ]; then i=private; else i=own; fi\nprintf '%s %s %s\\n' "$PPID" "$i" "$*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  process.env.PATH = `${path.dirname(shim)}${path.delimiter}${process.env.PATH ?? ''}`;
  return {
    log,
    lines: () => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => {
      const [ppid, index] = l.split(' ', 2);
      return { ppid: Number(ppid), privateIndex: index === 'private', args: l.slice(ppid!.length + index!.length + 2) };
    }),
  };
}

/** Every file under `roots` with its size and mtime. */
function fileStates(roots: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        try {
          const st = fs.statSync(p);
          out.set(p, `${st.size}:${st.mtimeMs}`);
        } catch { /* gone */ }
      }
    }
  };
  for (const r of roots) walk(r);
  return out;
}

export async function run(): Promise<void> {
  const { resultFile, repoRoot, ext } = hostBench();
  const activeBefore = ext.isActive;
  const timers = new TimerCounter(ext.extensionPath);
  timers.install();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-fleet-bench-'));
  const shim = installGitShim(scratch);
  const groveGit = () => shim.lines().filter((l) => l.ppid === process.pid);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const model = await ScriptedModel.start({
    rule: async (req) => {
      if (req.isToolResult) return text('Done with that.');
      if (/Busy task/.test(req.lastUserText)) {
        await released;
        return text('Done.');
      }
      return text('Ready.');
    },
  });
  const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  const cfg = vscode.workspace.getConfiguration('grove');
  const settings: Record<string, unknown> = {
    claudePath: path.join(repoRoot, 'node_modules', '.bin', 'claude'),
    agentEnv: modelEnv(model.url, path.join(scratch, 'claude'), 'bench-key', [fs.realpathSync(folder)]),
    notifications: 'off',
    maxConcurrent: AGENTS + 1,
  };
  try {
    for (const [k, v] of Object.entries(settings)) await cfg.update(k, v, vscode.ConfigurationTarget.Global);
    const api = await ext.activate();
    await api.ready();
    await sleep(3000);
    collect();
    const rssEmpty = process.memoryUsage().rss;
    const heapEmpty = process.memoryUsage().heapUsed;

    // ---- status latency: one terminal agent waiting at its prompt --------------------------------------------------
    const [term] = await api.dispatch([{ title: 'Latency probe', prompt: 'Latency probe: say ready.' }], { mode: 'terminal' });
    const termInst = await until('the terminal agent to wait at its prompt', () => api.instances().find((i) => i.id === term!.id && i.state === 'waiting'), 180_000, 200);
    const terminal = vscode.window.terminals.find((t) => t.name === 'Grove: Latency probe');
    const args = ((terminal?.creationOptions as vscode.TerminalOptions | undefined)?.shellArgs ?? []) as string[];
    const settingsFile = args[args.indexOf('--settings') + 1];
    if (!settingsFile) throw new Error(`no --settings among the terminal's arguments: ${JSON.stringify(args)}`);
    const statusFile = path.join(path.dirname(settingsFile), 'status.jsonl');
    // The agent's row, to its own depth: what VS Code asks for when a row changes (its children only when expanded).
    const depth = await until('the agent\'s row', async () => depthOf(await api.viewSnapshot(), (n) => n.kind === 'instance' && n.id === term!.id), 30_000);
    const rowState = async () => flatten(await api.viewSnapshot({ depth })).find((n) => n.kind === 'instance' && n.id === term!.id)?.contextValue.split('.')[1];
    /** When the core's state of the agent last changed to each state (the fleet's event, before any view). */
    const coreAt = new Map<string, number>();
    const sub = api.onDidChangeInstances((all) => {
      const s = all.find((i) => i.id === term!.id)?.state;
      if (s && !coreAt.has(s)) coreAt.set(s, now());
    });
    const coreLatency: number[] = [];
    const probe = async (event: string, state: string): Promise<number> => {
      coreAt.delete(state);
      const t0 = now();
      fs.appendFileSync(statusFile, `${JSON.stringify({ hook_event_name: event, session_id: termInst.sessionId, cwd: termInst.worktreePath, prompt: 'probe' })}\n`);
      await until(`the row to show ${state}`, async () => (await rowState()) === state || undefined, 30_000, 0);
      const t = now() - t0;
      const core = coreAt.get(state);
      if (core !== undefined) coreLatency.push(core - t0);
      return t;
    };
    const probes = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        out.push(await probe('UserPromptSubmit', 'running'));
        await sleep(300);
        out.push(await probe('Stop', 'waiting'));
        await sleep(300);
      }
      return out;
    };
    const latencyIdle = await probes(PROBES / 2);

    // ---- a busy fleet ----------------------------------------------------------------------------------------------
    const queued = await api.dispatch(Array.from({ length: AGENTS }, (_, i) => ({ title: `Busy ${i + 1}`, prompt: `Busy task ${i + 1}: wait.` })), { mode: 'background' });
    const ids = new Set(queued.map((q) => q.id));
    const mine = () => api.instances().filter((i) => ids.has(i.id));
    await until(`${AGENTS} agents running`, () => mine().every((i) => i.state === 'running') || undefined, 300_000, 200);
    await sleep(3000);
    const worktrees = mine().map((i) => i.worktreePath);
    let writes = 0;
    let second = 0;
    const writer = setInterval(() => {
      second++;
      for (const wt of worktrees) {
        fs.writeFileSync(path.join(wt, `busy-${second}.txt`), `second ${second}\n`);
        writes++;
      }
    }, 1000);
    let busy;
    {
      const gitBefore = groveGit().length;
      const cpu0 = process.cpuUsage();
      const t0 = now();
      let rssPeak = 0;
      const lags: number[] = [];
      let last = now();
      for (let s = 0; s < BUSY_S * 10; s++) {
        await sleep(100);
        const t = now();
        lags.push(Math.max(0, t - last - 100));
        last = t;
        if (s % 10 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }
      const wall = now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const git = groveGit().slice(gitBefore);
      const byCommand: Record<string, number> = {};
      for (const g of git) {
        const c = g.args.replace(/^(-c \S+ |-C \S+ |--no-optional-locks |--literal-pathspecs )*/, '').split(' ')[0]!;
        byCommand[c] = (byCommand[c] ?? 0) + 1;
      }
      busy = {
        seconds: wall / 1000, agents: AGENTS, filesWritten: writes, gitProcesses: git.length,
        gitPerSecond: git.length / (wall / 1000), gitPerWorktreePerSecond: git.length / (wall / 1000) / AGENTS, byCommand,
        radarGit: git.filter((g) => g.privateIndex || /^merge-tree|^merge-base/.test(g.args)).length,
        cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100, rssPeakMb: mb(rssPeak), rssEndMb: mb(process.memoryUsage().rss),
        maxLagMs: Math.round(Math.max(0, ...lags)), p99LagMs: Math.round(quantile(lags, 0.99)),
      };
    }
    // The writes go on through these probes: status latency while the fleet is busy.
    const coreIdle = coreLatency.splice(0);
    const latencyBusy = await probes(PROBES / 2);
    const coreBusy = coreLatency.splice(0);
    sub.dispose();
    clearInterval(writer);

    // ---- an idle fleet ---------------------------------------------------------------------------------------------
    release();
    await until(`all ${AGENTS} done`, () => mine().every((i) => i.state === 'done' || i.state === 'failed') || undefined, 300_000, 200);
    const failed = mine().filter((i) => i.state === 'failed').map((i) => `${i.title}: ${i.error}`);
    await api.stop(term!.id);
    await until('the terminal agent to stop', () => api.instances().find((i) => i.id === term!.id && i.state !== 'waiting' && i.state !== 'running'), 60_000, 200);
    const settleStart = now();
    let lastCount = groveGit().length;
    let quietSince = now();
    while (now() - quietSince < 5000 && now() - settleStart < 120_000) {
      await sleep(250);
      const c = groveGit().length;
      if (c !== lastCount) { lastCount = c; quietSince = now(); }
    }
    const settleMs = now() - settleStart - 5000;
    const roots = [path.join(folder, '.git'), `${folder}.worktrees`];
    const filesBefore = fileStates(roots);
    const gitBefore = groveGit().length;
    const cpu0 = process.cpuUsage();
    timers.counting = true;
    const t0 = now();
    await sleep(IDLE_S * 1000);
    timers.counting = false;
    const wall = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const git = groveGit().slice(gitBefore);
    const filesAfter = fileStates(roots);
    const written = [...filesAfter].filter(([p, s]) => filesBefore.get(p) !== s).map(([p]) => p);
    const bytes = written.reduce((a, p) => a + fs.statSync(p).size, 0);
    collect();
    const rssIdle = process.memoryUsage().rss;
    const heapIdle = process.memoryUsage().heapUsed;
    const idle = {
      seconds: wall / 1000, instances: api.instances().length, timersFired: timers.fired, timersCreated: timers.created,
      gitProcesses: git.length, gitCommands: git.slice(0, 10).map((g) => g.args), filesWritten: written.length,
      filesWrittenList: written.slice(0, 10).map((p) => path.relative(path.dirname(folder), p)), bytesWritten: bytes,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100, rssMb: mb(rssIdle), rssEmptyMb: mb(rssEmpty), rssOverEmptyMb: mb(rssIdle - rssEmpty),
      heapEmptyMb: mb(heapEmpty), heapIdleMb: mb(heapIdle),
      settleMs: Math.round(settleMs),
    };
    const ms = (xs: number[]) => ({ median: Math.round(median(xs)), p95: Math.round(quantile(xs, 0.95)), max: Math.round(Math.max(...xs)), n: xs.length });
    fs.writeFileSync(resultFile, JSON.stringify({
      vscode: vscode.version, activeBefore, agents: AGENTS, failed,
      latency: { idle: ms(latencyIdle), busy: ms(latencyBusy), all: ms([...latencyIdle, ...latencyBusy]), coreIdle: ms(coreIdle), coreBusy: ms(coreBusy), depth },
      busy, idle, cpus: os.cpus().length, loadavg: os.loadavg(),
    }, null, 2));
  } finally {
    timers.uninstall();
    for (const k of Object.keys(settings)) await cfg.update(k, undefined, vscode.ConfigurationTarget.Global);
    release();
    await model.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
