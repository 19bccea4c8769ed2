// Benchmark helper (not a test): the cost of Grove's snapshots (issue 13) on a generated 5,000-file worktree with
// 20 changed files, 3 untracked files and an edited ignored `.env`. Bundled by test/bench/run.mjs into
// out/bench/snapshotBench.js and run as `node out/bench/snapshotBench.js <result.json>`; prints progress on stderr.
//
// Per repetition (BENCH_SNAPSHOT_REPS, default 7, at least 5), with fresh content in the 20 changed files each time
// so that every snapshot has new blobs to store:
//   - snapshotWorktree (ignored = listIgnoredWork, timed separately) and the repository growth it caused (bytes of
//     the object files added to .git/objects, and how many objects);
//   - restore after `git worktree remove --force` (recreates the worktree: 5,000 files checked out), alternating
//     with a raw `git worktree add` of the same commit, each timed right after a 5,000-file worktree at its path
//     was removed and `sync` ran;
//   - checkpoint, then revertTo that checkpoint after the 20 files changed again (in place: only what differs);
//   - for scale, `git status --porcelain=v2 --untracked-files=all` in the same worktree (what any snapshot must at
//     least do).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GitClient } from '../../src/core/git/gitClient';
import { listIgnoredWork } from '../../src/core/git/ignoredFiles';
import { Snapshots } from '../../src/core/git/snapshots';
import { generateRepo, git } from './benchRepo';

const FILES = 5000;
const CHANGED = 20;
const REPS = Math.max(5, Math.min(20, Number(process.env.BENCH_SNAPSHOT_REPS ?? 7)));
const log = (s: string) => process.stderr.write(`[snapshot-bench] ${s}\n`);
const now = () => performance.now();
/** Objects in the repository: how many loose ones, and the bytes of all (loose files + packs), as on disk. */
function objectStore(repo: string): { loose: number; bytes: number } {
  const dir = path.join(repo, '.git', 'objects');
  let loose = 0;
  let bytes = 0;
  for (const sub of fs.readdirSync(dir)) {
    const p = path.join(dir, sub);
    if (/^[0-9a-f]{2}$/.test(sub)) {
      for (const f of fs.readdirSync(p)) {
        loose++;
        bytes += fs.statSync(path.join(p, f)).size;
      }
    } else if (sub === 'pack') {
      for (const f of fs.readdirSync(p)) bytes += fs.statSync(path.join(p, f)).size;
    }
  }
  return { loose, bytes };
}

/** Writes pending file-system work out (POSIX `sync`), so a timed step does not pay for the deletions before it. */
function flush(): void {
  if (process.platform === 'win32') return;
  try {
    execFileSync('sync', [], { stdio: 'ignore' });
  } catch {
    // no sync(1): measure as is
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function generate(root: string): { repo: string; changed: string[] } {
  const { repo, all } = generateRepo(root, {
    files: FILES, gitignore: '.env\nnode_modules/\n',
    content: (n) => `// file ${n}\nexport const v${n} = ${n};\n${'// padding line\n'.repeat(20)}`,
  });
  git(repo, 'gc', '-q');
  const changed = Array.from({ length: CHANGED }, (_, i) => all[(i * 251) % all.length]!);
  return { repo, changed };
}

function dirty(wt: string, changed: string[], rep: number): void {
  for (const [i, rel] of changed.entries()) fs.appendFileSync(path.join(wt, rel), `// edit ${rep}.${i}\n`);
  for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(wt, `untracked-${i}.md`), `notes ${rep}.${i}\n`.repeat(50));
  fs.writeFileSync(path.join(wt, '.env'), `API_URL=http://127.0.0.1:${rep}\n`);
}

async function main(): Promise<void> {
  const out = process.argv[2];
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-bench-snap-')));
  try {
    const t0 = now();
    const { repo, changed } = generate(root);
    const generateMs = now() - t0;
    const wt = path.join(root, 'wt', 'task');
    git(repo, 'worktree', 'add', '-q', '-b', 'grove/task', wt, 'main');
    fs.mkdirSync(path.join(wt, 'node_modules', 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(wt, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
    // BENCH_TRACE=1: every git call Grove makes, with a timestamp, on stderr. Always: the time of the full checkout
    // inside a restore (`read-tree --reset -u`, or `checkout-index --all`: the part a raw `git worktree add` also pays).
    let checkoutMs = 0;
    const trace = (m: string) => {
      const c = /^> git (?:checkout-index --all|read-tree --reset -u) .*\[(\d+)ms\]$/.exec(m);
      if (c) checkoutMs += Number(c[1]);
      if (process.env.BENCH_TRACE) process.stderr.write(`${now().toFixed(0).padStart(8)} ${m.slice(0, 160)}\n`);
    };
    const client = new GitClient({ logger: { trace() {}, info: trace, warn: trace, error: (m) => trace(String(m)) } });
    const snaps = new Snapshots(client, { logger: { trace() {}, info: trace, warn: trace, error: (m) => trace(String(m)) } });
    const reps: Array<Record<string, number>> = [];
    for (let rep = 1; rep <= REPS; rep++) {
      dirty(wt, changed, rep);
      let t = now();
      git(wt, 'status', '--porcelain=v2', '--untracked-files=all');
      const statusMs = now() - t;
      t = now();
      const ignored = await listIgnoredWork(client, wt);
      const listIgnoredMs = now() - t;
      const before = objectStore(repo);
      t = now();
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force', ignored });
      const snapshotMs = now() - t;
      const after = objectStore(repo);
      git(repo, 'worktree', 'remove', '--force', wt);
      // Restore and a raw `git worktree add` of the same commit, in alternating order, each timed right after a
      // 5,000-file worktree at its own path was removed and the disk was flushed (deleting 5,000 files leaves the
      // disk busy for seconds: whichever step came first would pay for it).
      const raw = path.join(root, 'wt', 'raw');
      let restoreMs = 0;
      let restoreCheckoutMs = 0;
      let rawAddMs = 0;
      for (const side of rep % 2 ? ['grove', 'raw'] : ['raw', 'grove']) {
        if (side === 'raw') {
          git(repo, 'worktree', 'add', '-q', '--detach', raw, 'main');
          git(repo, 'worktree', 'remove', '--force', raw);
        }
        flush();
        t = now();
        if (side === 'grove') {
          checkoutMs = 0;
          await snaps.restore(repo, meta.id);
          restoreMs = now() - t;
          restoreCheckoutMs = checkoutMs;
        } else {
          git(repo, 'worktree', 'add', '-q', '--detach', raw, 'main');
          rawAddMs = now() - t;
          git(repo, 'worktree', 'remove', '--force', raw);
        }
      }
      if (git(wt, 'status', '--porcelain').split('\n').filter(Boolean).length !== CHANGED + 3) throw new Error('restore did not give back the changes');
      const beforeCp = objectStore(repo);
      t = now();
      const cp = await snaps.checkpoint(wt, { instanceId: 'bench', turn: rep, ignored });
      const checkpointMs = now() - t;
      const afterCp = objectStore(repo);
      for (const rel of changed) fs.appendFileSync(path.join(wt, rel), '// the next turn\n');
      t = now();
      await snaps.revertTo(wt, cp.id, { ignored });
      const revertMs = now() - t;
      reps.push({
        statusMs, listIgnoredMs, snapshotMs, growthBytes: after.bytes - before.bytes, growthObjects: after.loose - before.loose,
        restoreMs, restoreCheckoutMs, restoreOtherMs: restoreMs - restoreCheckoutMs, rawAddMs, checkpointMs, checkpointGrowthBytes: afterCp.bytes - beforeCp.bytes, checkpointGrowthObjects: afterCp.loose - beforeCp.loose, revertMs,
      });
      log(`rep ${rep}/${REPS}: snapshot ${snapshotMs.toFixed(0)} ms (+${((after.bytes - before.bytes) / 1024).toFixed(1)} KiB, ${after.loose - before.loose} objects), restore ${restoreMs.toFixed(0)} ms (its checkout ${restoreCheckoutMs.toFixed(0)} ms; raw worktree add ${rawAddMs.toFixed(0)} ms), checkpoint ${checkpointMs.toFixed(0)} ms, revert ${revertMs.toFixed(0)} ms`);
    }
    const keys = Object.keys(reps[0]!);
    const medians = Object.fromEntries(keys.map((k) => [k, median(reps.map((r) => r[k]!))]));
    const result = {
      files: FILES, changed: CHANGED, untracked: 3, reps: reps.length, generateMs, medians, runs: reps, gitVersion: git(repo, '--version').trim(),
      loadAverage: os.loadavg().map((x) => x.toFixed(2)).join(', '), at: new Date().toISOString().slice(0, 16).replace('T', ' '),
    };
    if (out) fs.writeFileSync(out, JSON.stringify(result, null, 2));
    log(`medians: ${JSON.stringify(medians)}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
