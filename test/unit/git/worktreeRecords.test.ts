import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { WorktreeManager } from '../../../src/core/git/worktreeManager';
import { commit, git, gitTestEnv, useTempRepos } from '../../support/repo';

/** Where Grove keeps per-worktree facts: grove.json, else the task branch's record, else (older versions) git config. */
describe('worktree records', function () {
  this.timeout(30_000);
  const repos = useTempRepos();
  const makeManager = () => new WorktreeManager(new GitClient({ env: gitTestEnv }));

  it('a worktree whose grove.json is gone keeps its base and task branch through the branch record', async () => {
    const root = repos.create();
    const manager = makeManager();
    const wt = await manager.create({ repoRoot: root, title: 'lost meta', instanceId: 'inst-1' });
    const admin = git(wt.path, 'rev-parse', '--absolute-git-dir');
    assert.equal(JSON.parse(fs.readFileSync(path.join(admin, 'grove.json'), 'utf8')).instanceId, 'inst-1');
    fs.rmSync(path.join(admin, 'grove.json'));
    commit(wt.path, 'work', { 'w.txt': 'w' });
    const info = (await manager.list(root)).find((w) => w.path === wt.path)!;
    assert.deepEqual([info.baseRef, info.taskBranch, info.instanceId, info.ahead, info.managedByGrove], ['main', wt.branch, 'inst-1', 1, false]);
    const report = await manager.inspectRemoval(wt.path);
    assert.equal(report.taskBranch, wt.branch);
    assert.equal(report.commits.length, 1);
  });

  it('keeps reading the config keys older Grove versions wrote, and never writes any', async () => {
    const root = repos.create();
    const base = git(root, 'rev-parse', 'HEAD');
    const wtPath = path.join(path.dirname(root), 'old grove');
    git(root, 'worktree', 'add', '-q', '-b', 'grove/alias-support', wtPath);
    git(root, 'config', 'branch.grove/alias-support.groveBase', 'main');
    git(root, 'config', 'branch.grove/alias-support.groveBaseCommit', base);
    const manager = makeManager();
    const info = (await manager.list(root)).find((w) => w.branch === 'grove/alias-support')!;
    assert.deepEqual([info.baseRef, info.baseCommit, info.taskBranch], ['main', base, 'grove/alias-support']);
    const report = await manager.inspectRemoval(wtPath);
    assert.equal(report.merged, true);
    const configBefore = git(root, 'config', '--local', '--list');
    await manager.create({ repoRoot: root, title: 'new one' });
    assert.equal(git(root, 'config', '--local', '--list'), configBefore);
    const result = await manager.remove(wtPath);
    assert.equal(result.branchDeleted, true, result.branchKeptReason);
  });
});
