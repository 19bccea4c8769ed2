import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { GitError, type GitErrorCode } from '../../../src/core/git/gitError';
import { WorktreeManager, type RemovalReport } from '../../../src/core/git/worktreeManager';
import { commit, git, gitStatus, gitTestEnv, useTempRepos, writeFiles } from '../../support/repo';
import { deadProcess, liveProcess } from './support/processes';

function makeManager() {
  return new WorktreeManager(new GitClient({ env: gitTestEnv }));
}

function rejectsWith(code: GitErrorCode, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof GitError, `expected a GitError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

const details = (err: unknown) => (err as GitError).details as RemovalReport;

describe('removal never loses work silently (issue 11)', function () {
  this.timeout(60_000);
  const repos = useTempRepos();

  describe('item 2: a worktree whose agent lives is not removed', () => {
    it('refuses, naming the process, while the lock owner runs; removes once it has ended', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'busy' });
      const agent = await liveProcess();
      try {
        await manager.lock(wt.path, 'agent "busy" is running', { owner: agent.identity });
        const report = await manager.inspectRemoval(wt.path);
        assert.equal(report.lockOwner?.pid, agent.identity.pid);
        assert.equal(report.lockOwnerLiveness, 'alive');
        await assert.rejects(manager.remove(wt.path, { force: true, deleteBranch: 'always' }), rejectsWith('WorktreeLocked', new RegExp(`process ${agent.identity.pid} .*still runs`)));
        assert.ok(fs.existsSync(path.join(wt.path, 'README.md')));
      } finally {
        await agent.kill();
      }
      const result = await manager.remove(wt.path, { force: true });
      assert.equal(fs.existsSync(wt.path), false);
      assert.equal(result.branchDeleted, true);
    });

    it('a lock taken by this very process (the default owner) also protects the worktree', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'mine' });
      await manager.lock(wt.path, 'agent running');
      await assert.rejects(manager.remove(wt.path, { force: true }), rejectsWith('WorktreeLocked', new RegExp(`process ${process.pid} `)));
      await manager.unlock(wt.path);
      await manager.remove(wt.path);
      assert.equal(fs.existsSync(wt.path), false);
    });

    it('a Grove lock without a recorded process (older versions) is refused with a way out; a dead owner is unlocked', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'old lock' });
      git(root, 'worktree', 'lock', '--reason', 'grove: agent "old lock" is running', wt.path);
      await assert.rejects(manager.remove(wt.path, { force: true }), rejectsWith('WorktreeLocked', /earlier Grove version.*git worktree unlock/));
      git(root, 'worktree', 'unlock', wt.path);
      await manager.lock(wt.path, 'agent running', { owner: await deadProcess() });
      await manager.remove(wt.path);
      assert.equal(fs.existsSync(wt.path), false);
    });
  });

  describe('item 3: ignored files that are work are listed before they go', () => {
    it('an edited copy and hand-made ignored files are listed in the confirmation; unchanged copies and node_modules are not', async () => {
      const root = repos.create();
      commit(root, 'ignore rules', { '.gitignore': '.env\n.env.local\nnode_modules/\nnotes/\n' });
      writeFiles(root, { '.env': 'TOKEN=1\n', '.env.local': 'PORT=1\n' });
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'ignored work', copyFiles: ['.env', '.env.local'] });
      writeFiles(wt.path, { 'node_modules/pkg/index.js': 'x\n' });
      // Copied and untouched, or regenerable: nothing to lose.
      const clean = await manager.inspectRemoval(wt.path);
      assert.deepEqual(clean.ignored, []);
      assert.equal(clean.hasWorktreeLoss, false);

      writeFiles(wt.path, { '.env.local': 'PORT=2\n', 'notes/plan.md': 'mine\n' });
      const report = await manager.inspectRemoval(wt.path);
      assert.deepEqual(report.ignored?.map((e) => e.path), ['.env.local', 'notes/']);
      // Not a loss on its own (the core remove flow snapshots them first), but listed in any confirmation.
      assert.equal(report.hasWorktreeLoss, false);
      writeFiles(wt.path, { 'draft.txt': 'untracked\n' });
      await assert.rejects(manager.remove(wt.path), (err) => {
        rejectsWith('WouldLoseWork', /Untracked files that would be deleted \(1\):\n {2}draft\.txt\nIgnored files that would be deleted .*\(2\):\n {2}\.env\.local \(7 B\)\n {2}notes\/ \(1 file, 5 B\)/)(err);
        return true;
      });
      assert.equal(fs.readFileSync(path.join(wt.path, '.env.local'), 'utf8'), 'PORT=2\n', 'nothing was deleted');
      await manager.remove(wt.path, { force: true });
      assert.equal(fs.existsSync(wt.path), false);
    });
  });

  describe('item 4: a backup ref before the branch goes', () => {
    it('writes refs/grove/backup/<branch>/<tip> before deleting the branch', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'doomed' });
      const tip = commit(wt.path, 'work', { 'w.txt': 'w' });
      const result = await manager.remove(wt.path, { force: true, deleteBranch: 'always' });
      assert.equal(result.branchDeleted, true);
      assert.equal(result.backupRef, `refs/grove/backup/grove/doomed/${tip}`);
      assert.equal(git(root, 'rev-parse', `refs/grove/backup/grove/doomed/${tip}`), tip);
      assert.equal(gitStatus(root, 'rev-parse', '--verify', '-q', 'refs/heads/grove/doomed'), 1);
    });

    it('calls the beforeDeleteBranch hook outside the mutation queue, and keeps the branch when it fails', async () => {
      const root = repos.create();
      const client = new GitClient({ env: gitTestEnv });
      const manager = new WorktreeManager(client);
      const a = await manager.create({ repoRoot: root, title: 'a' });
      const tipA = commit(a.path, 'a work', { 'a.txt': 'a' });
      const seen: string[] = [];
      const r1 = await manager.remove(a.path, {
        force: true,
        deleteBranch: 'always',
        beforeDeleteBranch: async (branch, tip) => {
          seen.push(`${branch} ${tip}`);
          // A mutation of the same repository: would deadlock if the hook ran inside the queue.
          await client.mutate(root, ['update-ref', 'refs/snapshots/a', tip]);
        },
      });
      assert.deepEqual(seen, [`grove/a ${tipA}`]);
      assert.equal(r1.branchDeleted, true);
      assert.equal(git(root, 'rev-parse', 'refs/snapshots/a'), tipA);

      const b = await manager.create({ repoRoot: root, title: 'b' });
      const tipB = commit(b.path, 'b work', { 'b.txt': 'b' });
      const r2 = await manager.remove(b.path, { force: true, deleteBranch: 'always', beforeDeleteBranch: async () => { throw new Error('disk full'); } });
      assert.equal(r2.branchDeleted, false);
      assert.match(r2.branchKeptReason!, /no backup could be written first: disk full/);
      assert.equal(git(root, 'rev-parse', 'grove/b'), tipB);
    });
  });

  describe('item 7: commits on a detached HEAD are work', () => {
    it('a plain remove refuses and lists commits only a detached HEAD reaches', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'detached' });
      git(wt.path, 'checkout', '-q', '--detach');
      const sha = commit(wt.path, 'experiment', { 'e.txt': 'e' });
      const report = await manager.inspectRemoval(wt.path);
      assert.deepEqual(report.detachedCommits, [{ sha, subject: 'experiment' }]);
      assert.equal(report.hasWorktreeLoss, true);
      await assert.rejects(manager.remove(wt.path), (err: unknown) => {
        rejectsWith('WouldLoseWork', /Commits made on a detached HEAD that no branch has \(lost with the worktree\) \(1\):\n {2}[0-9a-f]{8} experiment/)(err);
        assert.equal(details(err).detachedCommits[0]!.sha, sha);
        return true;
      });
      assert.equal(git(wt.path, 'rev-parse', 'HEAD'), sha);
    });

    it('commits left behind by switching back to the branch still count (only the worktree HEAD log has them)', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'left behind' });
      git(wt.path, 'checkout', '-q', '--detach');
      const sha = commit(wt.path, 'orphaned', { 'o.txt': 'o' });
      git(wt.path, 'checkout', '-q', wt.branch);
      // Amending on the branch supersedes a commit on purpose: not reported.
      commit(wt.path, 'first', { 'f.txt': '1' });
      git(wt.path, 'commit', '-q', '--amend', '-m', 'first, amended');
      const report = await manager.inspectRemoval(wt.path);
      assert.deepEqual(report.detachedCommits.map((c) => c.subject), ['orphaned']);
      assert.equal(report.detachedCommits[0]!.sha, sha);
      await assert.rejects(manager.remove(wt.path), rejectsWith('WouldLoseWork', /detached HEAD/));
    });

    it('a detached HEAD on a commit a branch has loses nothing', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'clean detached' });
      git(wt.path, 'checkout', '-q', '--detach');
      const report = await manager.inspectRemoval(wt.path);
      assert.deepEqual(report.detachedCommits, []);
      assert.equal(report.hasLoss, false);
      await manager.remove(wt.path);
    });
  });

  describe('item 8: only the task branch is ever deleted', () => {
    it('--force --delete-branch deletes the branch Grove created, not the user branch checked out in the worktree', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'task' });
      const taskTip = commit(wt.path, 'task work', { 't.txt': 't' });
      git(wt.path, 'checkout', '-q', '-b', 'users-own');
      const own = commit(wt.path, 'user work', { 'u.txt': 'u' });
      const report = await manager.inspectRemoval(wt.path);
      assert.equal(report.branch, 'users-own');
      assert.equal(report.taskBranch, 'grove/task');
      assert.deepEqual(report.commits.map((c) => c.sha), [taskTip]);
      const result = await manager.remove(wt.path, { force: true, deleteBranch: 'always' });
      assert.equal(result.branch, 'grove/task');
      assert.equal(result.branchDeleted, true);
      assert.equal(git(root, 'rev-parse', 'users-own'), own, "the user's branch and commit are kept");
      assert.equal(gitStatus(root, 'rev-parse', '--verify', '-q', 'refs/heads/grove/task'), 1);
      assert.equal(git(root, 'rev-parse', `refs/grove/backup/grove/task/${taskTip}`), taskTip, 'after its backup ref');
    });

    it('a worktree Grove did not create keeps its branch whatever deleteBranch says', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wtPath = path.join(path.dirname(root), 'manual');
      git(root, 'worktree', 'add', '-q', '-b', 'manual', wtPath);
      const result = await manager.remove(wtPath, { deleteBranch: 'always' });
      assert.equal(result.branchDeleted, false);
      assert.match(result.branchKeptReason!, /not a branch Grove created/);
      assert.equal(gitStatus(root, 'rev-parse', '--verify', '-q', 'refs/heads/manual'), 0);
    });

    it('a task branch checked out in another worktree is kept', async () => {
      const root = repos.create();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'shared' });
      git(wt.path, 'checkout', '-q', '--detach');
      const other = path.join(path.dirname(root), 'other');
      git(root, 'worktree', 'add', '-q', other, 'grove/shared');
      const result = await manager.remove(wt.path, { deleteBranch: 'always' });
      assert.equal(result.branchDeleted, false);
      assert.match(result.branchKeptReason!, /checked out in .*other/);
      assert.equal(git(other, 'rev-parse', '--abbrev-ref', 'HEAD'), 'grove/shared');
    });
  });

  describe('item 10: submodules', () => {
    function repoWithSubmodule() {
      const lib = repos.create({ name: 'lib', files: { 'lib.txt': 'library' } });
      const root = repos.create();
      git(root, 'submodule', 'add', '-q', lib, 'vendor/lib');
      git(root, 'commit', '-q', '-m', 'add submodule');
      return root;
    }

    it('removes a clean worktree with initialised submodules (git alone refuses)', async () => {
      const root = repoWithSubmodule();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'with submodule' });
      assert.ok(fs.existsSync(path.join(wt.path, 'vendor/lib/lib.txt')));
      const report = await manager.inspectRemoval(wt.path);
      assert.equal(report.hasLoss, false, JSON.stringify(report));
      const result = await manager.remove(wt.path, { deleteBranch: 'always' });
      assert.equal(fs.existsSync(wt.path), false);
      assert.equal(result.branchDeleted, true);
    });

    it('lists files and unpushed commits inside submodules as loss, and refuses without force', async () => {
      const root = repoWithSubmodule();
      const manager = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'dirty submodule' });
      const sub = path.join(wt.path, 'vendor/lib');
      const sha = commit(sub, 'local fix', { 'fix.txt': 'fix' });
      writeFiles(sub, { 'lib.txt': 'edited', 'notes.txt': 'new' });
      const report = await manager.inspectRemoval(wt.path);
      assert.ok(report.uncommitted.includes('vendor/lib/lib.txt'), JSON.stringify(report.uncommitted));
      assert.ok(report.untracked.includes('vendor/lib/notes.txt'), JSON.stringify(report.untracked));
      assert.deepEqual(report.submoduleCommits, [{ path: 'vendor/lib', commits: [{ sha, subject: 'local fix' }] }]);
      await assert.rejects(manager.remove(wt.path), rejectsWith('WouldLoseWork', /Unpushed commits in the submodule vendor\/lib \(lost with the worktree\) \(1\):\n {2}[0-9a-f]{8} local fix/));
      assert.equal(fs.readFileSync(path.join(sub, 'notes.txt'), 'utf8'), 'new');
      await manager.remove(wt.path, { force: true });
      assert.equal(fs.existsSync(wt.path), false);
    });
  });
});
