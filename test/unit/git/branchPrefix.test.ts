import assert from 'node:assert/strict';
import { GitClient } from '../../../src/core/git/gitClient';
import { GitError } from '../../../src/core/git/gitError';
import { validateBranchPrefix, WorktreeManager } from '../../../src/core/git/worktreeManager';
import { git, gitTestEnv, repoState, useTempRepos } from '../../support/repo';

describe('branch prefix (issue 11 item 19)', function () {
  this.timeout(30_000);
  const repos = useTempRepos();

  it('validateBranchPrefix accepts ordinary prefixes and explains what it refuses', () => {
    for (const ok of ['grove', 'agents', 'team/agents', '', '/grove/', 'alias', 'feature-x', 'headless']) {
      assert.equal(validateBranchPrefix(ok), undefined, ok);
    }
    const refused: Array<[string, RegExp]> = [
      ['refs/heads', /confuses with refs\//],
      ['refs', /confuses with refs\//],
      ['heads', /confuses with refs\/heads\//],
      ['tags/x', /confuses with refs\/tags\//],
      ['remotes', /refs\/remotes/],
      ['HEAD', /confuses with HEAD/],
      ['FETCH_HEAD', /FETCH_HEAD/],
      ['head/x', /confuses with head/],
      ['bad..prefix', /'\.\.'/],
      ['-x', /starts with '-'/],
      ['a b', /space/],
      ['x.lock', /\.lock/],
      ['a//b', /empty component/],
      ['.hidden', /starts with '\.'/],
      ['x@{1}', /@\{/],
    ];
    for (const [prefix, message] of refused) {
      const problem = validateBranchPrefix(prefix);
      assert.ok(problem, `${prefix} should be refused`);
      assert.match(problem, message, prefix);
      assert.ok(problem.includes(prefix), `the message names the prefix: ${problem}`);
    }
  });

  it('create refuses an ambiguous prefix with a clear message and changes nothing', async () => {
    const root = repos.create();
    const manager = new WorktreeManager(new GitClient({ env: gitTestEnv }));
    const before = repoState(root);
    for (const prefix of ['refs/heads', 'HEAD']) {
      await assert.rejects(manager.create({ repoRoot: root, title: 'x', branchPrefix: prefix }), (err: unknown) => {
        assert.ok(err instanceof GitError);
        assert.equal(err.code, 'InvalidBranchName');
        assert.match(err.message, /branch prefix/);
        return true;
      });
    }
    assert.equal(repoState(root), before);
    assert.equal(git(root, 'for-each-ref', '--format=%(refname)'), 'refs/heads/main');
  });
});
