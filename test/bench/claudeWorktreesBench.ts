// Benchmark helper (not a test): Grove against Claude Code's own worktrees, as a user would try them. The same N
// tasks ("Create the file tK.txt containing the text K.") on a generated repository, run to done:
//   - Grove: `grove dispatch --plan plan.md --max N` (the built CLI, foreground until every task is done);
//   - Claude Code: N × `claude -w tK -p "<prompt>" --permission-mode acceptEdits` started at once, until all exit.
// Both use the real CLI (node_modules/.bin/claude) against the scripted model, which answers each request after
// MODEL_DELAY_MS (so the agents overlap like real ones); sides alternate which goes first. Every run checks that each
// task's file is in its own worktree with its content. Bundled by test/bench/run.mjs into
// out/bench/claudeWorktreesBench.js and run as `node out/bench/claudeWorktreesBench.js <result.json> <cli.js>`.
// A third side (BENCH_PEER_POOL=0 leaves it out): Grove with a warm pool (`grove.worktreePool` = N), its N spares made before
// the clock starts, as the extension makes them while no agent of the repository works.
//   BENCH_PEER_RUNS=5, BENCH_PEER_TASKS=8, BENCH_PEER_FILES=5000.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GitClient } from '../../src/core/git/gitClient';
import { WorktreeManager } from '../../src/core/git/worktreeManager';
import { claudeBin, claudeEnv } from '../support/claudeEnv';
import { ScriptedModel, text, write } from '../support/scriptedModel';
import { generateRepo, git, gitEnv } from './benchRepo';

const RUNS = Math.max(1, Number(process.env.BENCH_PEER_RUNS ?? 5));
const TASKS = Math.max(1, Number(process.env.BENCH_PEER_TASKS ?? 8));
const FILES = Math.max(100, Number(process.env.BENCH_PEER_FILES ?? 5000));
const POOL = process.env.BENCH_PEER_POOL !== '0';
const MODEL_DELAY_MS = 1500;
const TIMEOUT_MS = 300_000;
const log = (s: string) => process.stderr.write(`[peer-bench] ${s}\n`);
const now = () => performance.now();
const prompt = (k: number) => `Create the file t${k}.txt containing the text ${k}.`;
/** CPU time (ms) of this process's children that have ended and been waited for (Linux: /proc/self/stat cutime + cstime). */
function childCpuMs(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
    // After the command's name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** CPU time (ms, all cores) the hypervisor gave to others while this machine wanted it (Linux: /proc/stat steal). */
function stealMs(): number | undefined {
  try {
    const steal = Number(fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)[8]);
    return Number.isFinite(steal) ? (steal * 1000) / 100 : undefined;
  } catch {
    return undefined;
  }
}

/** Wall time, the CPU of every process it started, and the CPU stolen from the machine meanwhile. */
interface Side { ms: number; cpuMs?: number; stealMs?: number }
async function measured<T extends object>(fn: () => Promise<T>): Promise<Side & T> {
  const cpu0 = childCpuMs(), steal0 = stealMs();
  const t0 = now();
  const r = await fn();
  const ms = now() - t0;
  const cpu1 = childCpuMs(), steal1 = stealMs();
  return {
    ...r, ms,
    ...(cpu0 !== undefined && cpu1 !== undefined ? { cpuMs: cpu1 - cpu0 } : {}),
    ...(steal0 !== undefined && steal1 !== undefined ? { stealMs: steal1 - steal0 } : {}),
  };
}

function exec(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Every linked worktree of the repository with the task file it holds (tK.txt), if any. */
function taskFiles(repo: string): Map<number, { worktree: string; content: string }> {
  const out = new Map<number, { worktree: string; content: string }>();
  const list = git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9));
  for (const wt of list) {
    if (path.resolve(wt) === path.resolve(repo)) continue;
    for (const f of fs.readdirSync(wt)) {
      const m = /^t(\d+)\.txt$/.exec(f);
      if (m) out.set(Number(m[1]), { worktree: wt, content: fs.readFileSync(path.join(wt, f), 'utf8').trim() });
    }
  }
  return out;
}

function check(repo: string, side: string): void {
  const files = taskFiles(repo);
  const worktrees = new Set([...files.values()].map((f) => f.worktree));
  for (let k = 1; k <= TASKS; k++) {
    const f = files.get(k);
    if (!f || f.content !== String(k)) throw new Error(`${side}: task ${k}'s file is ${f ? `"${f.content}"` : 'missing'}`);
  }
  if (worktrees.size !== TASKS) throw new Error(`${side}: ${TASKS} tasks in ${worktrees.size} worktrees`);
  if (fs.existsSync(path.join(repo, 't1.txt'))) throw new Error(`${side}: a task wrote into the main checkout`);
}

/** Every linked worktree, every branch but main, Grove's registry and Claude Code's worktree folder removed. */
function reset(repo: string): void {
  const list = git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9));
  for (const p of list) {
    if (path.resolve(p) === path.resolve(repo)) continue;
    try { git(repo, 'worktree', 'unlock', p); } catch { /* not locked */ }
    try { git(repo, 'worktree', 'remove', '--force', '--force', p); } catch { fs.rmSync(p, { recursive: true, force: true }); }
  }
  git(repo, 'worktree', 'prune');
  const branches = git(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').filter((b) => b && b !== 'main');
  if (branches.length) git(repo, 'branch', '-D', ...branches);
  for (const d of [path.join(repo, '.git', 'grove'), path.join(repo, '.claude')]) fs.rmSync(d, { recursive: true, force: true });
  for (const r of git(repo, 'for-each-ref', '--format=%(refname)', 'refs/grove').split('\n').filter(Boolean)) git(repo, 'update-ref', '-d', r);
}

/** N spares of the warm pool (not timed), for the pooled side. */
async function fillPool(repo: string): Promise<Set<string>> {
  const wm = new WorktreeManager(new GitClient({ env: gitEnv }));
  const filled = await wm.pool.reconcile({ repoRoot: repo, baseRef: 'main', size: TASKS, copyFiles: ['.env', '.env.*'] });
  if (filled.created.length !== TASKS) throw new Error(`the pool was not filled: ${JSON.stringify(filled)}`);
  return new Set(filled.created.map((p) => path.resolve(p)));
}

async function groveSide(cli: string, repo: string, plan: string, env: NodeJS.ProcessEnv, pooled = false): Promise<Side> {
  let spares: Set<string> | undefined;
  if (pooled) {
    spares = await fillPool(repo);
    env = { ...env, GROVE_WORKTREE_POOL: String(TASKS) };
  }
  const side = await measured(async () => ({
    r: await exec(process.execPath, [cli, 'dispatch', '--plan', plan, '--max', String(TASKS), '--quiet', '--repo', repo, '--claude-path', claudeBin()], repo, env),
  }));
  if (side.r.code !== 0) throw new Error(`grove dispatch exited ${side.r.code}: ${side.r.stderr.slice(-2000)}`);
  check(repo, 'grove');
  if (spares && [...taskFiles(repo).values()].some((f) => !spares.has(path.resolve(f.worktree)))) throw new Error('grove: a task did not run in a spare');
  return { ms: side.ms, cpuMs: side.cpuMs, stealMs: side.stealMs };
}

/**
 * Started at once, `claude -w` sometimes fails to create its worktree ("Could not read the repository git config to
 * neutralize filter drivers": the sessions race on the repository's config). A user reruns the ones that failed:
 * so does the bench, until each has run (at most 3 times), and the time includes the reruns; they are counted.
 */
async function peerSide(repo: string, env: NodeJS.ProcessEnv): Promise<Side & { reruns: number }> {
  const one = (k: number) => exec(claudeBin(), ['-w', `t${k}`, '-p', prompt(k), '--permission-mode', 'acceptEdits'], repo, env);
  const side = await measured(async () => {
    let reruns = 0;
    let pending = Array.from({ length: TASKS }, (_, i) => i + 1);
    for (let attempt = 1; pending.length; attempt++) {
      const results = await Promise.all(pending.map(one));
      const failed = pending.filter((_, i) => results[i]!.code !== 0);
      if (failed.length && attempt === 3) throw new Error(`claude -w t${failed[0]} failed 3 times: ${results[pending.indexOf(failed[0]!)]!.stderr.slice(-2000)}`);
      if (failed.length) log(`claude -w: ${failed.length} failed (${results[pending.indexOf(failed[0]!)]!.stderr.trim().split('\n')[0]}), run again`);
      reruns += failed.length;
      // A failed session may have left its worktree half made: remove it as the user would before running it again.
      for (const k of failed) {
        try { git(repo, 'worktree', 'remove', '--force', '--force', path.join(repo, '.claude', 'worktrees', `t${k}`)); } catch { /* not made */ }
      }
      pending = failed;
    }
    return { reruns };
  });
  check(repo, 'claude -w');
  return side;
}

async function main(): Promise<void> {
  const [out, cliArg] = process.argv.slice(2);
  const cli = cliArg && path.resolve(cliArg);
  if (!cli || !fs.existsSync(cli)) throw new Error('usage: claudeWorktreesBench.js <result.json> <cli.js>');
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-peer-bench-')));
  const model = await ScriptedModel.start({
    rule: (req) => {
      if (req.isToolResult) return text('Done.', { delayMs: MODEL_DELAY_MS });
      const m = /Create the file (t\d+\.txt) containing the text (\d+)/.exec(req.lastUserText);
      return m ? { ...write(m[1]!, `${m[2]}\n`), delayMs: MODEL_DELAY_MS } : text('Nothing to do.');
    },
  });
  try {
    const t = now();
    const { repo } = generateRepo(root, { files: FILES, gitignore: '.env\n' });
    log(`generated ${FILES} files in ${((now() - t) / 1000).toFixed(1)} s`);
    const env = { ...claudeEnv({ root: path.join(root, 'claude'), baseUrl: model.url }).env, ...gitEnv } as NodeJS.ProcessEnv;
    const plan = path.join(root, 'plan.md');
    fs.writeFileSync(plan, `# Files\n\n${Array.from({ length: TASKS }, (_, i) => `## Task ${i + 1}\n${prompt(i + 1)}\n`).join('\n')}`);
    // Warm-up of each side (not measured): page cache for the CLI and the repository.
    await groveSide(cli, repo, plan, env); reset(repo);
    await peerSide(repo, env); reset(repo);
    if (POOL) { await groveSide(cli, repo, plan, env, true); reset(repo); }
    const runs: Array<Record<string, unknown>> = [];
    for (let run = 1; run <= RUNS; run++) {
      const groveFirst = run % 2 === 1;
      let grove!: Side, peer!: Side & { reruns: number }, pooled: Side | undefined;
      const sides = [
        async () => { grove = await groveSide(cli, repo, plan, env); },
        ...(POOL ? [async () => { pooled = await groveSide(cli, repo, plan, env, true); }] : []),
        async () => { peer = await peerSide(repo, env); },
      ];
      for (const side of groveFirst ? sides : sides.reverse()) { await side(); reset(repo); }
      const groveMs = grove.ms, peerMs = peer.ms;
      runs.push({
        run, order: groveFirst ? 'Grove first' : 'claude -w first', groveMs, peerMs, peerReruns: peer.reruns,
        groveCpuMs: grove.cpuMs, peerCpuMs: peer.cpuMs, groveStealMs: grove.stealMs, peerStealMs: peer.stealMs,
        ...(pooled ? { pooledMs: pooled.ms, pooledCpuMs: pooled.cpuMs, pooledStealMs: pooled.stealMs } : {}),
      });
      const cpu = (x?: number) => (x === undefined ? '' : `, CPU ${(x / 1000).toFixed(1)} s`);
      const pool = pooled ? `, Grove with a warm pool ${(pooled.ms / 1000).toFixed(2)} s${cpu(pooled.cpuMs)} (${(pooled.ms / peerMs).toFixed(2)})` : '';
      log(`run ${run}: Grove ${(groveMs / 1000).toFixed(2)} s${cpu(grove.cpuMs)}, claude -w ${(peerMs / 1000).toFixed(2)} s${cpu(peer.cpuMs)} (${(groveMs / peerMs).toFixed(2)})${pool}`);
    }
    const result = {
      tasks: TASKS, files: FILES, modelDelayMs: MODEL_DELAY_MS, runs, at: new Date().toISOString().slice(0, 16).replace('T', ' '),
      loadAverage: os.loadavg().map((x) => x.toFixed(2)).join(', '), cpus: os.cpus().length,
    };
    fs.writeFileSync(out!, JSON.stringify(result, null, 2));
  } finally {
    await model.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
