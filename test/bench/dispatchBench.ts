// Benchmark helper (not a test): dispatching 8 tasks on a generated 5,000-file repository with Grove's real core
// (Fleet + WorktreeManager via worktreePort + BackgroundAgents running the real Claude CLI against the scripted model),
// against a shell loop of raw `git worktree add`. Bundled by test/bench/run.mjs into out/bench/dispatchBench.js and
// run as `node out/bench/dispatchBench.js <result.json>`; prints progress on stderr.
//
// Per repetition, in alternating order (Grove first on odd repetitions, raw first on even ones):
//   (a) worktrees only: Grove's worktreePort.create ×8 started at once (its per-repository mutation queue, metadata,
//       copy of `.env`, port allocation) vs `bash -c 'for i in 1..8; do git worktree add -q -b <branch> <path> main; done'`.
//   (b) end to end: Fleet.dispatch(8 tasks, maxConcurrent 8) until every instance is `running` (Grove's state: the
//       CLI process is spawned) and until every CLI printed its `system/init` line; vs the same bash loop printing a
//       line after each `git worktree add`, on which the bench spawns `claude` with exactly the arguments Grove uses
//       and writes the same stream-json prompt, until every CLI printed `system/init`.
//   (c) one task with a warm pool (`grove.worktreePool` 1, issue 17 part 2): the spare is made before the clock starts
//       (not measured: the pool fills while idle); then Fleet.dispatch(1 task) until the instance is `running` (the
//       CLI process spawned) and until its `system/init`; against the same single dispatch without a pool.
//       `BENCH_ONLY=pool` runs only (c) (at least 5 repetitions).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BackgroundAgents } from '../../src/core/agents/backgroundAgents';
import type { AgentPort } from '../../src/core/agents/port';
import { currentProcess } from '../../src/core/platform/processes';
import { defaultSettings, type GroveSettings } from '../../src/core/settings';
import { Fleet } from '../../src/core/fleet/fleet';
import { worktreePort } from '../../src/core/fleet/worktreePort';
import { GitClient } from '../../src/core/git/gitClient';
import type { Logger } from '../../src/core/util/logger';
import { WorktreeManager } from '../../src/core/git/worktreeManager';
import { claudeBin, claudeEnv } from '../support/claudeEnv';
import { generateRepo, git } from './benchRepo';
import { ScriptedModel, text } from '../support/scriptedModel';

const TASKS = 8;
const FILES = 5000;
const REPS = Math.max(1, Math.min(10, Number(process.env.BENCH_REPS ?? 5)));
/** The scripted model answers after this delay, so all 8 CLIs are alive while we measure (like a real turn). */
const MODEL_DELAY_MS = 2000;
const TIMEOUT_MS = 120_000;

const log = (s: string) => process.stderr.write(`[dispatch-bench] ${s}\n`);

/** Counts the git commands Grove's GitClient runs (it logs each one at info level as `> git <args> [<ms>ms]`). */
class GitCounter implements Logger {
  commands: string[] = [];
  trace() {}
  warn() {}
  error() {}
  info(m: string) {
    const c = /^> git (?:-c \S+ )*(\S+(?: (?:list|add|lock|unlock|--get|--verify|--show-toplevel|--is-bare-repository|--git-common-dir))?)/.exec(m);
    if (c) this.commands.push(c[1]);
  }
  take(): Record<string, number> {
    const h: Record<string, number> = {};
    for (const c of this.commands.splice(0)) h[c] = (h[c] ?? 0) + 1;
    return h;
  }
}
const counter = new GitCounter();
const now = () => performance.now();

/** 5,000 small files in nested folders (10 × 10 × 50), one commit; plus an untracked `.env` Grove copies. */
function makeRepo(root: string): string {
  const { repo } = generateRepo(root, { files: FILES, gitignore: '.env\n' });
  fs.writeFileSync(path.join(repo, '.env'), 'API_URL=http://127.0.0.1\n');
  return repo;
}

/** Removes every linked worktree and every branch but main, and Grove's registry: the next repetition starts equal. */
function resetRepo(repo: string): void {
  const list = git(repo, 'worktree', 'list', '--porcelain');
  const paths = list.split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9)).filter((p) => path.resolve(p) !== path.resolve(repo));
  for (const p of paths) {
    try { git(repo, 'worktree', 'unlock', p); } catch { /* not locked */ }
    try { git(repo, 'worktree', 'remove', '--force', '--force', p); } catch { fs.rmSync(p, { recursive: true, force: true }); }
  }
  git(repo, 'worktree', 'prune');
  const branches = git(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').filter((b) => b && b !== 'main');
  if (branches.length) git(repo, 'branch', '-D', ...branches);
  fs.rmSync(path.join(repo, '.git', 'grove'), { recursive: true, force: true });
}

function rawLoop(repo: string, wtRoot: string, prefix: string, echo: boolean): ChildProcess {
  fs.mkdirSync(wtRoot, { recursive: true });
  const script = `for i in $(seq 1 ${TASKS}); do git worktree add -q -b "${prefix}/task-$i" "${wtRoot}/task-$i" main || exit 1;${echo ? ' echo "$i";' : ''} done`;
  return spawn('bash', ['-c', script], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
}

function waitExit(cp: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (cp.exitCode !== null) return resolve(cp.exitCode);
    cp.once('exit', (code) => resolve(code));
  });
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS)))]).finally(() => clearTimeout(t));
}

/** The arguments BackgroundRunner passes on a first turn (src/core/agents/backgroundRunner.ts buildArgs). */
function groveArgs(sessionId: string): string[] {
  return ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio', '--permission-mode', 'acceptEdits', '--session-id', sessionId];
}

/** Spawns the CLI the way Grove does (own process group, prompt on stdin) and resolves at its `system/init` line. */
function spawnClaude(cwd: string, env: Record<string, string>, prompt: string): { child: ChildProcess; init: Promise<number> } {
  const child = spawn(claudeBin(), groveArgs(randomUUID()), { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdin!.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt } })}\n`);
  const init = new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const m = JSON.parse(line);
          if (m.type === 'system' && m.subtype === 'init') resolve(now());
          if (m.type === 'result') child.stdin!.end();
        } catch { /* not JSON */ }
      }
    });
    child.stderr!.resume();
    child.once('exit', (code) => reject(new Error(`claude exited (${code}) before system/init`)));
  });
  init.catch(() => undefined);
  return { child, init };
}

interface Side { worktreesMs: number; runningMs?: number; initMs: number; gitCommands?: Record<string, number> }

function portOptions(branchPrefix: string, worktreeRoot: string, worktreePool = 0) {
  const settings: GroveSettings = { ...defaultSettings(), branchPrefix, worktreeRoot, copyFiles: ['.env', '.env.*'], worktreePool };
  return { settings: () => settings, trusted: () => true, logPath: async (_r: string, id: string) => path.join(os.tmpdir(), `grove-bench-${id}.jsonl`) };
}

async function groveWorktreesOnly(wm: WorktreeManager, repo: string, wtRoot: string, rep: number): Promise<number> {
  const port = worktreePort(wm, portOptions(`gw${rep}`, wtRoot));
  const signal = new AbortController().signal;
  const t0 = now();
  await withTimeout(Promise.all(Array.from({ length: TASKS }, (_, i) => port.create({ repoRoot: repo, instanceId: `bench-${rep}-${i}`, title: `Task ${i + 1}`, baseRef: 'main', signal }))), 'grove worktrees');
  return now() - t0;
}

async function rawWorktreesOnly(repo: string, wtRoot: string, rep: number): Promise<number> {
  const t0 = now();
  const cp = rawLoop(repo, wtRoot, `rw${rep}`, false);
  cp.stdout!.resume();
  cp.stderr!.resume();
  const code = await withTimeout(waitExit(cp), 'raw worktrees');
  if (code !== 0) throw new Error(`raw git worktree loop exited ${code}`);
  return now() - t0;
}

async function groveEndToEnd(git: GitClient, wm: WorktreeManager, repo: string, wtRoot: string, env: Record<string, string>, logDir: string, rep: number): Promise<Side> {
  const background = new BackgroundAgents({
    locks: wm,
    settings: () => ({ env, claudePath: claudeBin() }),
    logPath: (inst) => path.join(logDir, `${inst.id}.jsonl`),
  });
  const initAt = new Map<string, number>();
  const agents: AgentPort = {
    start: (inst, onEvent, opts) => background.start(inst, (e) => {
      if (e.type === 'session' && !initAt.has(inst.id)) initAt.set(inst.id, now());
      onEvent(e);
    }, opts),
  };
  const fleet = new Fleet({ commonDir: (r) => git.commonDir(r), worktrees: worktreePort(wm, portOptions(`ge${rep}`, wtRoot)), agents }, { self: { ...currentProcess(), kind: 'test' }, maxConcurrent: TASKS });
  const runningAt = new Map<string, number>();
  let provisionedAt = 0;
  const provisioned = new Set<string>();
  let allRunning!: () => void;
  const running = new Promise<void>((r) => (allRunning = r));
  fleet.onDidChangeInstances((c) => {
    for (const s of c.changed) {
      if (s.state === 'starting' && !provisioned.has(s.id)) {
        provisioned.add(s.id);
        if (provisioned.size === TASKS) provisionedAt = now();
      }
      if (s.state === 'running' && !runningAt.has(s.id)) runningAt.set(s.id, now());
      if (s.state === 'failed') log(`instance ${s.title} failed: ${s.error}`);
    }
    if (runningAt.size === TASKS) allRunning();
  });
  const tasks = Array.from({ length: TASKS }, (_, i) => ({ title: `Task ${i + 1}`, prompt: `Benchmark task ${i + 1}: say done.` }));
  try {
    counter.take();
    const t0 = now();
    await fleet.dispatch(tasks, { repoRoot: repo, baseRef: 'main', mode: 'background', permissionMode: 'acceptEdits' });
    await withTimeout(running, 'grove: all running');
    const tRunning = now() - t0;
    await withTimeout((async () => { while (initAt.size < TASKS) await new Promise((r) => setTimeout(r, 5)); })(), 'grove: all system/init');
    const tInit = Math.max(...initAt.values()) - t0;
    const gitCommands = counter.take();
    await withTimeout(fleet.whenSettled(), 'grove: settled');
    await fleet.flush();
    const failed = fleet.instances().filter((s) => s.state !== 'done');
    if (failed.length) log(`grove: ${failed.length} instance(s) not done: ${failed.map((s) => `${s.state} ${s.error ?? ''}`).join('; ')}`);
    return { worktreesMs: provisionedAt - t0, runningMs: tRunning, initMs: tInit, gitCommands };
  } finally {
    fleet.dispose();
    background.dispose();
  }
}

interface PoolSide { runningMs: number; initMs: number; fromSpare: boolean; gitCommands: Record<string, number> }

/** (c): one dispatch, from a warm pool (`pooled`) or not, until `running` and `system/init`. */
async function poolDispatch(git: GitClient, wm: WorktreeManager, repo: string, wtRoot: string, env: Record<string, string>, logDir: string, rep: number, pooled: boolean): Promise<PoolSide> {
  let spare: string | undefined;
  if (pooled) {
    const filled = await wm.pool.reconcile({ repoRoot: repo, baseRef: 'main', size: 1, worktreeRoot: wtRoot, copyFiles: ['.env', '.env.*'] });
    if (filled.created.length !== 1) throw new Error(`the pool was not filled: ${JSON.stringify(filled)}`);
    spare = filled.created[0];
  }
  const background = new BackgroundAgents({ locks: wm, settings: () => ({ env, claudePath: claudeBin() }), logPath: (inst) => path.join(logDir, `${inst.id}.jsonl`) });
  let initAt = 0;
  let onInit!: () => void;
  const init = new Promise<void>((r) => (onInit = r));
  const agents: AgentPort = {
    start: (inst, onEvent, opts) => background.start(inst, (e) => {
      if (e.type === 'session' && !initAt) { initAt = now(); onInit(); }
      onEvent(e);
    }, opts),
  };
  const fleet = new Fleet({ commonDir: (r) => git.commonDir(r), worktrees: worktreePort(wm, portOptions(`${pooled ? 'pp' : 'pf'}${rep}`, wtRoot, pooled ? 1 : 0)), agents }, { self: { ...currentProcess(), kind: 'test' }, maxConcurrent: TASKS });
  let runningAt = 0;
  let onRunning!: () => void;
  const running = new Promise<void>((r) => (onRunning = r));
  fleet.onDidChangeInstances((c) => {
    for (const s of c.changed) {
      if (s.state === 'running' && !runningAt) { runningAt = now(); onRunning(); }
      if (s.state === 'failed') log(`pool instance ${s.title} failed: ${s.error}`);
    }
  });
  try {
    counter.take();
    const t0 = now();
    const [inst] = await fleet.dispatch([{ title: 'Pooled task', prompt: 'Benchmark task: say done.' }], { repoRoot: repo, baseRef: 'main', mode: 'background', permissionMode: 'acceptEdits' });
    await withTimeout(running, 'pool: running');
    const gitCommands = counter.take();
    await withTimeout(init, 'pool: system/init');
    const result = { runningMs: runningAt - t0, initMs: initAt - t0, fromSpare: fleet.get(inst!.id)?.worktreePath === spare, gitCommands };
    await withTimeout(fleet.whenSettled(), 'pool: settled');
    await fleet.flush();
    return result;
  } finally {
    fleet.dispose();
    background.dispose();
  }
}

async function rawEndToEnd(repo: string, wtRoot: string, env: Record<string, string>, rep: number): Promise<Side> {
  const t0 = now();
  const cp = rawLoop(repo, wtRoot, `re${rep}`, true);
  const clis: Array<ReturnType<typeof spawnClaude>> = [];
  let worktreesMs = 0;
  cp.stderr!.resume();
  let buf = '';
  cp.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const n = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (n) clis.push(spawnClaude(path.join(wtRoot, `task-${n}`), env, `Benchmark task ${n}: say done.`));
    }
  });
  const code = await withTimeout(waitExit(cp), 'raw loop');
  worktreesMs = now() - t0;
  if (code !== 0) throw new Error(`raw git worktree loop exited ${code}`);
  const inits = await withTimeout(Promise.all(clis.map((c) => c.init)), 'raw: all system/init');
  const initMs = Math.max(...inits) - t0;
  await withTimeout(Promise.all(clis.map((c) => waitExit(c.child))), 'raw: all exited');
  return { worktreesMs, initMs };
}

async function main(): Promise<void> {
  const out = process.argv[2];
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-bench-')));
  const model = await ScriptedModel.start({ rule: () => text('Done.', { delayMs: MODEL_DELAY_MS }) });
  try {
    let t = now();
    const repo = makeRepo(root);
    const genMs = now() - t;
    log(`generated ${FILES} files in ${(genMs / 1000).toFixed(1)} s at ${repo}`);
    const { env } = claudeEnv({ root: path.join(root, 'claude'), baseUrl: model.url });
    const gitClient = new GitClient({ logger: counter });
    const wm = new WorktreeManager(gitClient);
    // Warm-up (not measured): page cache for the CLI binary and the repository, git's index.
    t = now();
    await rawWorktreesOnly(repo, path.join(root, 'warm'), 0);
    resetRepo(repo);
    await spawnClaude(root, env, 'warm up').init.catch(() => undefined);
    log(`warm-up ${(now() - t).toFixed(0)} ms`);

    const only = process.env.BENCH_ONLY;
    const reps: Array<{ rep: number; order: string; a: { grove: number; raw: number; groveGit?: Record<string, number> }; b: { grove: Side; raw: Side } }> = [];
    for (let rep = 1; rep <= (only === 'pool' ? 0 : REPS); rep++) {
      const groveFirst = rep % 2 === 1;
      const wt = (name: string) => path.join(root, `wt-${rep}-${name}`);
      const a: { grove: number; raw: number; groveGit?: Record<string, number> } = { grove: 0, raw: 0 };
      if (groveFirst) {
        counter.take();
        a.grove = await groveWorktreesOnly(wm, repo, wt('ga'), rep); a.groveGit = counter.take(); resetRepo(repo);
        a.raw = await rawWorktreesOnly(repo, wt('ra'), rep); resetRepo(repo);
      } else {
        a.raw = await rawWorktreesOnly(repo, wt('ra'), rep); resetRepo(repo);
        counter.take();
        a.grove = await groveWorktreesOnly(wm, repo, wt('ga'), rep); a.groveGit = counter.take(); resetRepo(repo);
      }
      let g: Side, r: Side;
      if (groveFirst) {
        g = await groveEndToEnd(gitClient, wm, repo, wt('ge'), env, path.join(root, 'logs'), rep); resetRepo(repo);
        r = await rawEndToEnd(repo, wt('re'), env, rep); resetRepo(repo);
      } else {
        r = await rawEndToEnd(repo, wt('re'), env, rep); resetRepo(repo);
        g = await groveEndToEnd(gitClient, wm, repo, wt('ge'), env, path.join(root, 'logs'), rep); resetRepo(repo);
      }
      reps.push({ rep, order: groveFirst ? 'grove first' : 'raw first', a, b: { grove: g, raw: r } });
      log(`rep ${rep}: worktrees grove ${a.grove.toFixed(0)} / raw ${a.raw.toFixed(0)} ms; end-to-end grove running ${g.runningMs!.toFixed(0)}, init ${g.initMs.toFixed(0)} / raw init ${r.initMs.toFixed(0)} ms`);
    }
    // (c) one dispatch with a warm pool vs without, alternating; at least 5 repetitions.
    const pool: Array<{ rep: number; pooled: PoolSide; fresh: PoolSide }> = [];
    for (let rep = 1; rep <= Math.max(5, REPS); rep++) {
      const wt = (name: string) => path.join(root, `wt-${rep}-${name}`);
      const logs = path.join(root, 'logs');
      let pooled: PoolSide, fresh: PoolSide;
      if (rep % 2 === 1) {
        pooled = await poolDispatch(gitClient, wm, repo, wt('pp'), env, logs, rep, true); resetRepo(repo);
        fresh = await poolDispatch(gitClient, wm, repo, wt('pf'), env, logs, rep, false); resetRepo(repo);
      } else {
        fresh = await poolDispatch(gitClient, wm, repo, wt('pf'), env, logs, rep, false); resetRepo(repo);
        pooled = await poolDispatch(gitClient, wm, repo, wt('pp'), env, logs, rep, true); resetRepo(repo);
      }
      if (!pooled.fromSpare) throw new Error('the pooled dispatch did not use the spare');
      pool.push({ rep, pooled, fresh });
      log(`pool rep ${rep}: dispatch → running with a warm pool ${pooled.runningMs.toFixed(0)} ms (init ${pooled.initMs.toFixed(0)}), without ${fresh.runningMs.toFixed(0)} ms (init ${fresh.initMs.toFixed(0)})`);
    }
    const result = { tasks: TASKS, files: FILES, modelDelayMs: MODEL_DELAY_MS, generateMs: genMs, claudeVersion: execFileSync(claudeBin(), ['--version'], { encoding: 'utf8' }).trim(), gitVersion: git(root, '--version').trim(), reps, pool, loadAvg: os.loadavg() };
    if (out) fs.writeFileSync(out, JSON.stringify(result, null, 2));
    else process.stdout.write(JSON.stringify(result, null, 2));
  } finally {
    await model.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  log(`failed: ${err?.stack ?? err}`);
  process.exit(1);
});
