// Restorable by design (issue 13) through the core flows, on real git: every destructive flow records a snapshot
// first, and Restore gives back the worktree, its branch, index, tracked, untracked and kept ignored files byte
// for byte (a fingerprint of everything a person could notice); retention prunes only what is old.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GroveError } from '../../../src/core/errors';
import { dispatch } from '../../../src/core/flows/dispatch';
import { cleanupMerged, merge } from '../../../src/core/flows/merge';
import { remove } from '../../../src/core/flows/remove';
import { listSnapshots, pruneSnapshots, restoreSnapshot } from '../../../src/core/flows/restore';
import { abortSync, sync } from '../../../src/core/flows/sync';
import { Grove } from '../../../src/core/grove';
import type { InstanceSnapshot } from '../../../src/core/model';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { waitForEvent } from '../../../src/core/util/event';
import { git, gitStatus, gitTestEnv, useTempRepos } from '../../support/repo';
import { fingerprint } from '../../support/worktreeFingerprint';
import { FakeAgents } from '../fleet/fakes';

const DAY = 86_400_000;
/** node_modules is regenerable: not kept (the snapshot says so by not listing it), so not compared. */
const notRegenerable = { exclude: (p: string) => p === 'node_modules' || p.startsWith('node_modules/') };

describe('core/flows: restore after every destructive flow (real git)', function () {
  this.timeout(90_000);
  const repos = useTempRepos();
  let repo: string;
  let grove: Grove;
  let settings: GroveSettings;
  let clock: number | undefined;

  beforeEach(async () => {
    repo = repos.create({ files: { 'README.md': '# demo\n', 'src/app.js': 'export const x = 1;\n', '.gitignore': '.env*\nnode_modules/\n' } });
    fs.writeFileSync(path.join(repo, '.env'), 'TOKEN=from-main\n');
    settings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt') };
    clock = undefined;
    const agents = new FakeAgents(20);
    grove = new Grove({
      kind: 'test', settings: () => settings, trusted: () => true, gitEnv: gitTestEnv, capabilities: { terminal: false },
      agents: () => ({ start: (inst, onEvent, opts) => agents.start(inst, onEvent, opts) }),
      snapshots: { now: () => clock ?? Date.now() },
    });
    await grove.recover([repo]);
  });

  repos.closeFirst(() => grove.close());

  const one = async (title: string): Promise<InstanceSnapshot> => {
    const { instances: [i] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title, prompt: `Do ${title}` }] });
    const ended = (s?: InstanceSnapshot) => !!s && ['done', 'failed', 'stopped'].includes(s.state);
    if (!ended(grove.fleet.get(i!.id))) await waitForEvent(grove.fleet.onDidChangeInstances, () => ended(grove.fleet.get(i!.id)), 10_000);
    return grove.fleet.get(i!.id)!;
  };

  /** A commit of the agent's, an ignored `.env.local` at 0600, and a regenerable node_modules. */
  const committedWork = (wt: string) => {
    fs.writeFileSync(path.join(wt, 'feature.txt'), 'feature\n');
    git(wt, 'add', '-A');
    git(wt, 'commit', '-qm', 'agent work');
    fs.writeFileSync(path.join(wt, '.env.local'), 'SECRET=edited by hand\n', { mode: 0o600 });
    fs.mkdirSync(path.join(wt, 'node_modules', 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(wt, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
  };

  /** …plus uncommitted work of every kind: unstaged, staged and then changed again, untracked, an executable. */
  const uncommittedWork = (wt: string) => {
    committedWork(wt);
    fs.writeFileSync(path.join(wt, 'README.md'), '# demo\n\nunstaged line\n');
    fs.writeFileSync(path.join(wt, 'src', 'app.js'), 'export const x = 2;\n');
    git(wt, 'add', 'src/app.js');
    fs.writeFileSync(path.join(wt, 'src', 'app.js'), 'export const x = 3;\n');
    fs.mkdirSync(path.join(wt, 'notes'));
    fs.writeFileSync(path.join(wt, 'notes', 'todo.md'), '- untracked\n');
    fs.writeFileSync(path.join(wt, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  };

  const restoreOnly = async (): Promise<string> => {
    const [s] = await listSnapshots(grove, [repo]);
    assert.ok(s, 'a snapshot was recorded');
    const r = await restoreSnapshot(grove, { repoRoot: repo, id: s.id });
    assert.ok(r.worktreePath);
    return r.worktreePath;
  };

  it('remove (nothing listed as lost, so no confirmation of a loss): the ignored .env.local it deleted comes back', async () => {
    const i = await one('Plain');
    committedWork(i.worktreePath);
    const before = fingerprint(i.worktreePath, notRegenerable);
    const r = await remove(grove, { id: i.id });
    assert.ok(!fs.existsSync(i.worktreePath));
    assert.ok(r.snapshotId);
    const [s] = await listSnapshots(grove, [repo]);
    assert.equal(s!.id, r.snapshotId);
    assert.equal(s!.reason, 'remove');
    assert.equal(s!.title, 'Plain');
    assert.deepEqual(s!.ignoredIncluded, ['.env', '.env.local'], 'the ignored files Remove lists are kept; node_modules is not');
    const back = await restoreOnly();
    assert.equal(back, i.worktreePath, 'recreated at its own path');
    assert.deepEqual(fingerprint(back, notRegenerable), before);
    assert.equal(fs.statSync(path.join(back, '.env.local')).mode & 0o777, 0o600);
  });

  it('restoring a removed agent\'s worktree brings its row back: prompt, session and turns, finished, in the registry', async () => {
    const i = await one('Come back');
    fs.writeFileSync(path.join(i.worktreePath, 'notes.md'), 'the agent\'s notes\n');
    const r = await remove(grove, { id: i.id, force: true });
    assert.equal(grove.fleet.get(i.id), undefined, 'Remove forgot the agent');
    const back = await restoreSnapshot(grove, { repoRoot: repo, id: r.snapshotId! });
    assert.equal(back.instance?.id, i.id);
    const row = grove.fleet.get(i.id)!;
    assert.ok(row, 'the agent is in the fleet again');
    assert.deepEqual([row.title, row.prompt, row.sessionId, row.branch, row.worktreePath, row.state], [i.title, i.prompt, i.sessionId, i.branch, i.worktreePath, i.state]);
    assert.equal(row.driver, undefined, 'driven by no process');
    assert.equal(fs.readFileSync(path.join(row.worktreePath, 'notes.md'), 'utf8'), 'the agent\'s notes\n');
    // Another process reading the registry sees it too.
    await grove.fleet.flush();
    const other = new Grove({ kind: 'test', settings: () => settings, trusted: () => true, gitEnv: gitTestEnv, capabilities: { terminal: false }, agents: () => ({ start: () => { throw new Error('no agent here'); } }) });
    try {
      await other.recover([repo]);
      assert.equal(other.fleet.get(i.id)?.title, 'Come back');
    } finally {
      await other.close();
    }
    // Restoring again (in place) does not add it twice.
    const again = await restoreSnapshot(grove, { repoRoot: repo, id: r.snapshotId! });
    assert.equal(again.instance, undefined);
    assert.equal(grove.fleet.instances().filter((x) => x.id === i.id).length, 1);
  });

  it('remove --force: uncommitted, staged, untracked and ignored files all come back exactly', async () => {
    const i = await one('Forced');
    uncommittedWork(i.worktreePath);
    const before = fingerprint(i.worktreePath, notRegenerable);
    const r = await remove(grove, { id: i.id, force: true });
    assert.deepEqual(r.discarded?.untracked.sort(), ['notes/todo.md', 'run.sh']);
    assert.equal(r.branchDeleted, false);
    assert.equal((await listSnapshots(grove, [repo]))[0]!.reason, 'remove --force');
    assert.deepEqual(fingerprint(await restoreOnly(), notRegenerable), before);
  });

  it('remove and delete branch (unmerged commits): the branch, its config and the worktree come back', async () => {
    const i = await one('Branchy');
    uncommittedWork(i.worktreePath);
    const before = fingerprint(i.worktreePath, notRegenerable);
    const tip = git(i.worktreePath, 'rev-parse', 'HEAD');
    const r = await remove(grove, { id: i.id, force: true, deleteBranch: true });
    assert.equal(r.branchDeleted, true);
    assert.equal(gitStatus(repo, 'rev-parse', '--verify', '-q', `refs/heads/${i.branch}`), 1, 'the branch is gone');
    assert.equal((await listSnapshots(grove, [repo]))[0]!.reason, 'remove --force, delete branch');
    const back = await restoreOnly();
    assert.equal(git(repo, 'rev-parse', `refs/heads/${i.branch}`), tip);
    assert.deepEqual(fingerprint(back, notRegenerable), before);
  });

  it('delete branch of a worktree whose folder is already gone: a branch snapshot brings the branch back', async () => {
    const i = await one('Gone');
    committedWork(i.worktreePath);
    const tip = git(i.worktreePath, 'rev-parse', 'HEAD');
    fs.rmSync(i.worktreePath, { recursive: true, force: true });
    const r = await remove(grove, { id: i.id, force: true, deleteBranch: true });
    assert.equal(r.branchDeleted, true);
    const [s] = await listSnapshots(grove, [repo]);
    assert.equal(s!.kind, 'branch');
    const out = await restoreSnapshot(grove, { repoRoot: repo, id: s!.id });
    assert.equal(out.branch, i.branch);
    assert.equal(git(repo, 'rev-parse', `refs/heads/${i.branch}`), tip);
  });

  for (const strategy of ['merge', 'squash', 'rebase'] as const) {
    it(`cleanup after a ${strategy} merge: worktree, branch and ignored files come back`, async () => {
      const i = await one(`Land ${strategy}`);
      committedWork(i.worktreePath);
      const merged = await merge(grove, { id: i.id, strategy, cleanup: 'never' });
      assert.ok(merged);
      const before = fingerprint(i.worktreePath, notRegenerable);
      const branchTip = git(repo, 'rev-parse', `refs/heads/${i.branch}`);
      const c = await cleanupMerged(grove, i.id);
      assert.ok(!('kept' in c), JSON.stringify(c));
      assert.ok(c.snapshotId);
      assert.ok(!fs.existsSync(i.worktreePath));
      assert.equal(gitStatus(repo, 'rev-parse', '--verify', '-q', `refs/heads/${i.branch}`), 1, 'the merged branch was deleted');
      assert.equal((await listSnapshots(grove, [repo]))[0]!.reason, `cleanup after merge (${strategy})`);
      const back = await restoreOnly();
      assert.equal(git(repo, 'rev-parse', `refs/heads/${i.branch}`), branchTip);
      assert.deepEqual(fingerprint(back, notRegenerable), before);
    });
  }

  it('cleanup through merge itself (cleanup: always) records its snapshot too', async () => {
    const i = await one('Auto clean');
    committedWork(i.worktreePath);
    const r = await merge(grove, { id: i.id, strategy: 'squash', cleanup: 'always' });
    assert.ok(r?.cleanup && !('kept' in r.cleanup) && r.cleanup.snapshotId);
    assert.ok(fs.readFileSync(path.join(await restoreOnly(), '.env.local'), 'utf8').includes('edited by hand'));
  });

  for (const strategy of ['merge', 'rebase'] as const) {
    it(`abort sync (${strategy}): the conflict and the resolution under way come back in place, and the restore is undoable`, async () => {
      const i = await one(`Sync ${strategy}`);
      fs.writeFileSync(path.join(i.worktreePath, 'README.md'), '# agent\n');
      git(i.worktreePath, 'commit', '-qam', 'agent readme');
      fs.writeFileSync(path.join(repo, 'README.md'), '# base\n');
      git(repo, 'commit', '-qam', 'base readme');
      const [s] = await sync(grove, [i.id], { strategy });
      assert.equal(s!.status, 'conflicted');
      fs.writeFileSync(path.join(i.worktreePath, 'README.md'), '# agent and base, half resolved\n');
      fs.writeFileSync(path.join(i.worktreePath, 'notes.md'), 'why\n');
      const before = fingerprint(i.worktreePath);
      assert.equal(await abortSync(grove, i.id), true);
      assert.notDeepEqual(fingerprint(i.worktreePath).state, before.state, 'the abort ended the operation');
      const [snap] = await listSnapshots(grove, [repo]);
      assert.equal(snap!.reason, 'abort sync');
      assert.equal(snap!.syncState, strategy);
      const aborted = fingerprint(i.worktreePath);
      const r = await restoreSnapshot(grove, { repoRoot: repo, id: snap!.id });
      assert.equal(r.inPlace, true);
      assert.deepEqual(fingerprint(i.worktreePath), before);
      // The state it replaced is a snapshot as well.
      await restoreSnapshot(grove, { repoRoot: repo, id: r.undoId! });
      assert.deepEqual(fingerprint(i.worktreePath), aborted);
    });
  }

  it('a branch that moved since is never moved back: refused with the way out, or restored under another name', async () => {
    const i = await one('Moved');
    committedWork(i.worktreePath);
    const tip = git(i.worktreePath, 'rev-parse', 'HEAD');
    const before = fingerprint(i.worktreePath, { exclude: (p) => notRegenerable.exclude(p) });
    await remove(grove, { id: i.id, force: true, deleteBranch: true });
    git(repo, 'branch', i.branch, 'main');
    const [s] = await listSnapshots(grove, [repo]);
    await assert.rejects(restoreSnapshot(grove, { repoRoot: repo, id: s!.id }), (e) => GroveError.is(e, 'Blocked') && /--branch <name> or --detach/.test(e.message));
    assert.ok(!fs.existsSync(i.worktreePath), 'nothing was recreated');
    const r = await restoreSnapshot(grove, { repoRoot: repo, id: s!.id }, { onBranchConflict: async (c) => (assert.equal(c.recorded, tip), { branchName: 'rescued' }) });
    assert.equal(r.branch, 'rescued');
    assert.equal(git(repo, 'rev-parse', i.branch), git(repo, 'rev-parse', 'main'), 'the other branch is untouched');
    assert.equal(git(r.worktreePath!, 'rev-parse', 'HEAD'), tip);
    assert.deepEqual(fingerprint(r.worktreePath!, notRegenerable).files, before.files);
  });

  it('no snapshot, no removal: when recording fails, the worktree stays and the refusal says why', async () => {
    const i = await one('Unrecordable');
    committedWork(i.worktreePath);
    // A file where the snapshot refs' folder must be: every snapshot ref fails to be written.
    const refs = path.join(repo, '.git', 'refs', 'grove');
    fs.mkdirSync(refs, { recursive: true });
    fs.writeFileSync(path.join(refs, 'snapshots'), 'not a folder\n');
    await assert.rejects(remove(grove, { id: i.id, force: true }), (e) => GroveError.is(e, 'Failed') && /Could not record a snapshot of "Unrecordable" before "remove", so it was not done/.test(e.message));
    assert.ok(fs.existsSync(path.join(i.worktreePath, '.env.local')));
    assert.ok(grove.fleet.get(i.id));
  });

  it('retention: snapshotRetentionDays prunes only the snapshots older than it, after each new one and when asked', async () => {
    const start = Date.now();
    settings.snapshotRetentionDays = 30;
    clock = start - 20 * DAY;
    const a = await one('Twenty days');
    const ra = await remove(grove, { id: a.id, force: true });
    clock = start - 10 * DAY;
    const b = await one('Ten days');
    const rb = await remove(grove, { id: b.id, force: true });
    assert.deepEqual((await listSnapshots(grove, [repo])).map((s) => s.id), [rb.snapshotId, ra.snapshotId], 'both within 30 days, newest first');
    clock = start;
    settings.snapshotRetentionDays = 14;
    const pruned = await pruneSnapshots(grove, repo);
    assert.deepEqual(pruned.filter((p) => !p.includes('/')), [ra.snapshotId], 'only the 20-day-old snapshot');
    assert.deepEqual(pruned.filter((p) => p.includes('/')).sort(), [`${a.id}/0`, `${a.id}/1`], 'and the turn checkpoints of the removed 20-day-old agent');
    assert.equal(git(repo, 'for-each-ref', '--format=%(refname)', `refs/grove/checkpoints/${b.id}/`).split('\n').length, 2, 'the 10-day-old ones stay');
    assert.deepEqual((await listSnapshots(grove, [repo])).map((s) => s.id), [rb.snapshotId]);
    // A new snapshot prunes as well.
    settings.snapshotRetentionDays = 7;
    const c = await one('Today');
    const rc = await remove(grove, { id: c.id, force: true });
    assert.deepEqual((await listSnapshots(grove, [repo])).map((s) => s.id), [rc.snapshotId]);
  });
});
