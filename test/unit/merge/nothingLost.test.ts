/**
 * "Nothing is ever lost": long seeded random sequences of agent edits, commits, user commits on the base,
 * syncs (some conflicting), completes, aborts, merges of every strategy and removals, on real repositories.
 * After each step: every commit reachable before from any ref is still reachable, and every uncommitted file
 * content still exists — unless the step was a confirmed delete (or, for files, an explicit discard).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitError } from '../../../src/core/git/gitError';
import { MergeBlockedError, type MergeStrategy } from '../../../src/core/git/mergeService';
import { makeClients, prng } from '../../support/mergeFixtures';
import { git, useTempRepos } from '../../support/repo';

interface Instance {
  path: string;
  branch: string;
  removed: boolean;
}

const FILES = ['a.txt', 'b.txt', 'c.txt', 'd/e.txt', 'f g.txt'];
/** Ignored by the repository's .gitignore: the user's local files, which an agent may also force-add. */
const IGNORED = ['config.local', 'd/debug.local'];

function reachable(repoRoot: string): Set<string> {
  return new Set(git(repoRoot, 'rev-list', '--all').split('\n').filter(Boolean));
}

/** Contents of uncommitted (modified, untracked or ignored) files of every live work tree: `<wt>\0<file>` → content. */
function uncommitted(worktrees: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const wt of worktrees) {
    if (!fs.existsSync(wt)) continue;
    const status = git(wt, 'status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored', '--no-renames');
    for (const rec of status.split('\0')) {
      if (rec.length < 4) continue;
      const file = rec.slice(3);
      const p = path.join(wt, file);
      if (fs.existsSync(p) && fs.statSync(p).isFile()) out.set(`${wt}\0${file}`, fs.readFileSync(p, 'utf8'));
    }
  }
  return out;
}

/** Whether some content still exists: in any work tree's file or in any commit's blob (it was committed). */
function contentSurvives(repoRoot: string, worktrees: string[], content: string): boolean {
  for (const wt of worktrees) {
    if (!fs.existsSync(wt)) continue;
    for (const f of [...FILES, ...IGNORED]) {
      const p = path.join(wt, f);
      if (fs.existsSync(p) && fs.readFileSync(p, 'utf8') === content) return true;
    }
  }
  void repoRoot;
  return false;
}

describe('merge: nothing is ever lost', function () {
  this.timeout(120_000);
  const repos = useTempRepos();
  const stats = { merges: { merge: 0, squash: 0, rebase: 0 }, syncs: {} as Record<string, number>, filesInTheWay: 0 };

  for (const seed of (process.env.GROVE_SEEDS ? process.env.GROVE_SEEDS.split(',').map(Number) : [1, 2, 3, 7, 8])) {
    it(`seed ${seed}: 40 random steps`, async () => {
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const repoRoot = repos.create({ files: { ...Object.fromEntries(FILES.map((f) => [f, `${f} v0\n`])), '.gitignore': '*.local\n' } });
      // The user keeps local, ignored files in the main checkout (a local config, a log).
      for (const f of IGNORED) {
        fs.mkdirSync(path.dirname(path.join(repoRoot, f)), { recursive: true });
        fs.writeFileSync(path.join(repoRoot, f), `${f}: the user's own\n`);
      }
      const { service, manager } = makeClients();
      const instances: Instance[] = [];
      let counter = 0;
      let mergeAttempts = seed;
      const live = () => instances.filter((i) => !i.removed);
      const allTrees = () => [repoRoot, ...live().map((i) => i.path)];
      const log: string[] = [];

      for (let step = 0; step < 40; step++) {
        const before = reachable(repoRoot);
        const dirtyBefore = uncommitted(allTrees());
        let confirmedDelete = false;
        const discarded = new Set<string>(); // work trees (or `<wt>\0<file>`) whose uncommitted content the step replaces on purpose
        const inst = live().length ? pick(live()) : undefined;
        const r = rand();
        let action = '';
        try {
          const maybeCommitFirst = async () => {
            // What the UI offers before a sync or a merge: "Commit Agent's Work".
            if (rand() < 0.85) await service.commitWork({ worktreePath: inst!.path, message: `agent work before step ${step}` });
          };
          if (!inst || (r < 0.08 && live().length < 3)) {
            action = 'create';
            const created = await manager.create({ repoRoot, title: `task ${++counter}` });
            instances.push({ path: created.path, branch: created.branch, removed: false });
            if (rand() < 0.5) {
              // The agent's own local, ignored file (e.g. a log it writes while testing).
              const file = pick(IGNORED);
              fs.mkdirSync(path.dirname(path.join(created.path, file)), { recursive: true });
              fs.writeFileSync(path.join(created.path, file), `${file}: ${created.branch}'s own\n`);
            }
          } else if (r < 0.33) {
            action = 'agent turn';
            if (rand() < 0.25) {
              // The agent adds one of the paths the user keeps as a local, ignored file (force-added).
              const file = pick(IGNORED);
              discarded.add(`${inst.path}\0${file}`);
              fs.mkdirSync(path.dirname(path.join(inst.path, file)), { recursive: true });
              fs.writeFileSync(path.join(inst.path, file), `${file} by ${inst.branch} at step ${step}\n`);
              if (!(await service.syncState(inst.path)).operation) git(inst.path, 'add', '-f', '--', file);
            }
            for (let n = 1 + Math.floor(rand() * 2); n > 0; n--) {
              const file = pick(FILES);
              discarded.add(`${inst.path}\0${file}`); // the agent itself overwrites its own file
              const p = path.join(inst.path, file);
              if (rand() < 0.15 && fs.existsSync(p)) fs.rmSync(p);
              else {
                fs.mkdirSync(path.dirname(p), { recursive: true });
                fs.writeFileSync(p, `${file} by ${inst.branch} at step ${step}\n`);
              }
            }
            if (rand() < 0.6 && !(await service.syncState(inst.path)).operation) {
              action += ' + commit';
              await service.commitWork({ worktreePath: inst.path, message: `agent step ${step}` });
            }
          } else if (r < 0.38) {
            action = 'user edit (uncommitted)';
            const file = rand() < 0.4 ? pick(IGNORED) : pick(FILES);
            discarded.add(`${repoRoot}\0${file}`);
            fs.mkdirSync(path.dirname(path.join(repoRoot, file)), { recursive: true });
            fs.writeFileSync(path.join(repoRoot, file), `${file} edited by user at step ${step}\n`);
          } else if (r < 0.46) {
            action = 'user commit';
            const file = pick(FILES);
            discarded.add(`${repoRoot}\0${file}`);
            fs.mkdirSync(path.dirname(path.join(repoRoot, file)), { recursive: true });
            fs.writeFileSync(path.join(repoRoot, file), `${file} by user at step ${step}\n`);
            git(repoRoot, 'add', '-A');
            git(repoRoot, 'commit', '-q', '-m', `user ${step}`);
          } else if (r < 0.58) {
            action = 'sync';
            await maybeCommitFirst();
            const res = await service.syncFromBase({ worktreePath: inst.path, branch: inst.branch, baseRef: 'main', strategy: rand() < 0.5 ? 'merge' : 'rebase' });
            action += ` → ${res.status}`;
            stats.syncs[res.status] = (stats.syncs[res.status] ?? 0) + 1;
          } else if (r < 0.63) {
            action = 'abort';
            discarded.add(inst.path); // abort drops half-done resolutions: an explicit discard
            await service.abortSync(inst.path);
          } else if (r < 0.71) {
            action = 'resolve + complete';
            const state = await service.syncState(inst.path);
            for (const file of state.conflicts) {
              discarded.add(`${inst.path}\0${file}`); // the user's resolution replaces the conflict markers
              fs.mkdirSync(path.dirname(path.join(inst.path, file)), { recursive: true });
              fs.writeFileSync(path.join(inst.path, file), `resolved ${file} at ${step}\n`);
              git(inst.path, 'add', '--', file);
            }
            if (state.operation) action += ` → ${(await service.completeSync(inst.path)).status}`;
          } else if (r < 0.89) {
            const strategy = (['squash', 'merge', 'rebase'] as MergeStrategy[])[mergeAttempts++ % 3]!;
            action = `merge ${strategy}`;
            await maybeCommitFirst();
            await service.mergeIntoBase({ repoRoot, worktreePath: inst.path, branch: inst.branch, baseRef: 'main', strategy, message: `squash ${inst.branch}` });
            action += ' → merged';
            stats.merges[strategy]++;
          } else if (r < 0.95) {
            action = 'remove (not confirmed)';
            // WorktreeManager.remove treats the worktree's ignored files as expendable (build output, logs).
            for (const file of IGNORED) discarded.add(`${inst.path}\0${file}`);
            await manager.remove(inst.path, { repoRoot });
            inst.removed = true;
          } else {
            action = 'remove (confirmed delete)';
            confirmedDelete = true;
            await manager.remove(inst.path, { repoRoot, force: true, deleteBranch: 'always' });
            await service.dropBackups(repoRoot, inst.branch);
            inst.removed = true;
          }
        } catch (err) {
          // Refusals are fine (that is the point); anything else is a bug.
          if (!(err instanceof GitError)) throw err;
          action += ` → refused: ${err.code}`;
          if (err instanceof MergeBlockedError && err.problems.some((p) => p.code === 'FilesInTheWay')) {
            action += ' (files in the way)';
            stats.filesInTheWay++;
          }
        }
        log.push(`${step}: ${action}${inst ? ` [${inst.branch}]` : ''}`);

        if (!confirmedDelete) {
          const after = reachable(repoRoot);
          const lost = [...before].filter((c) => !after.has(c));
          assert.deepEqual(lost, [], `commits lost at step ${step}\n${log.join('\n')}`);
          const trees = allTrees();
          for (const [key, content] of dirtyBefore) {
            const [wt] = key.split('\0');
            if (discarded.has(wt!) || discarded.has(key)) continue;
            const file = key.split('\0')[1]!;
            const now = path.join(wt!, file);
            const stillThere = fs.existsSync(now) && fs.readFileSync(now, 'utf8') === content;
            const committed = !stillThere && blobExists(repoRoot, content);
            assert.ok(stillThere || committed || contentSurvives(repoRoot, trees, content), `uncommitted ${file} in ${wt} lost at step ${step}\n${log.join('\n')}`);
          }
        }
      }
      if (process.env.GROVE_MERGE_LOG) console.log(log.join('\n'));
    });
  }

  it('the sequences really exercised merges of every strategy, conflicting syncs and ignored files in the way', () => {
    assert.ok(stats.merges.merge > 0 && stats.merges.squash > 0 && stats.merges.rebase > 0, JSON.stringify(stats));
    assert.ok(stats.filesInTheWay > 0, JSON.stringify(stats));
    assert.ok((stats.syncs.conflicted ?? 0) > 0 && (stats.syncs.synced ?? 0) > 0, JSON.stringify(stats));
  });
});

/** The content was committed (it is a blob in the object store reachable from some ref). */
function blobExists(repoRoot: string, content: string): boolean {
  const tmp = path.join(repoRoot, '..', `probe-${process.pid}.txt`);
  fs.writeFileSync(tmp, content);
  const oid = git(repoRoot, 'hash-object', '--no-filters', tmp);
  fs.rmSync(tmp);
  const reachableBlobs = git(repoRoot, 'rev-list', '--all', '--objects');
  return reachableBlobs.includes(oid);
}
