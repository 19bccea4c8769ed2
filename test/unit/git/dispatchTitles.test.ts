import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { WorktreeManager } from '../../../src/core/git/worktreeManager';
import { git, gitStatus, gitTestEnv, useTempRepos } from '../../support/repo';

/**
 * Issue 11 item 0: a title such as "Add alias support" must dispatch. simple-git refuses `git config` writes whose
 * key merely CONTAINS a guarded setting name ("alias", "filter … clean", "merge … driver"…), so a slug that reaches a
 * config key (as `branch.<prefix>/<slug>.groveBase` did) made such titles fail. One title per guarded setting.
 */
const titles = [
  'Add alias support',
  'Fix core askPass prompt',
  'Use core editor from settings',
  'Core fsmonitor is slow',
  'Document core gitProxy',
  'Respect core hooksPath',
  'Core pager breaks output',
  'Allow core sshCommand',
  'Credential helper for CI',
  'Diff command for images',
  'Diff external tool',
  'Diff textconv for PDFs',
  'Filter and clean the logs',
  'Filter smudge step',
  'GPG program detection',
  'Init templateDir option',
  'Fix the merge driver',
  'Mergetool path on Windows',
  'Mergetool cmd quoting',
  'Protocol allow list',
  'Remote receivepack setting',
  'Remote uploadpack setting',
  'Sequence editor for rebase',
  '--upload-pack=evil --template=x -c alias.x=!rm',
];

describe('titles with words simple-git guards (issue 11 item 0)', function () {
  this.timeout(120_000);
  const repos = useTempRepos();

  it('every title dispatches, lists, reports and removes with its branch; nothing reaches git config', async () => {
    const root = repos.create();
    const manager = new WorktreeManager(new GitClient({ env: gitTestEnv }));
    const configBefore = git(root, 'config', '--local', '--list');
    for (const title of titles) {
      const wt = await manager.create({ repoRoot: root, title, branchPrefix: 'alias' });
      assert.ok(fs.existsSync(path.join(wt.path, 'README.md')), title);
      const info = (await manager.list(root)).find((w) => w.path === wt.path);
      assert.equal(info?.baseRef, 'main', title);
      assert.equal(info?.taskBranch, wt.branch, title);
      const report = await manager.inspectRemoval(wt.path);
      assert.equal(report.hasLoss, false, title);
      const removed = await manager.remove(wt.path, { deleteBranch: 'always' });
      assert.equal(removed.branchDeleted, true, `${title}: ${removed.branchKeptReason}`);
      assert.equal(gitStatus(root, 'rev-parse', '--verify', '-q', `refs/heads/${wt.branch}`), 1, title);
    }
    assert.equal(git(root, 'config', '--local', '--list'), configBefore);
  });
});
