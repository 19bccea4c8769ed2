import assert from 'node:assert/strict';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { GitError, classifyGitError } from '../../../src/core/git/gitError';
import { MemoryLogger } from '../../../src/core/util/logger';
import { gitTestEnv, useTempRepos } from '../../support/repo';

describe('gitClient', () => {
  const repos = useTempRepos();

  it('logs every call as `> git <args> [<ms>ms]`', async () => {
    const root = repos.create();
    const logger = new MemoryLogger();
    const client = new GitClient({ logger, env: gitTestEnv });
    await client.read(root, ['rev-parse', 'HEAD']);
    assert.ok(logger.lines.some((l) => /^info > git rev-parse HEAD \[\d+ms\]$/.test(l)), logger.lines.join('\n'));
  });

  it('turns failures into a classified GitError with args, exit code and stderr', async () => {
    const dir = repos.dir();
    const client = new GitClient({ env: gitTestEnv });
    await assert.rejects(client.read(dir, ['status']), (err: unknown) => {
      assert.ok(err instanceof GitError);
      assert.equal(err.code, 'NotAGitRepository');
      assert.deepEqual(err.args, ['status']);
      assert.equal(err.exitCode, 128);
      assert.match(err.stderr, /not a git repository/);
      return true;
    });
  });

  it('returns listed non-zero exit codes as answers', async () => {
    const root = repos.create();
    const client = new GitClient({ env: gitTestEnv });
    const r = await client.read(root, ['rev-parse', '--verify', '-q', 'refs/heads/nope'], { okExitCodes: [1] });
    assert.equal(r.exitCode, 1);
  });

  it('serialises mutations of one repository, even when issued from different worktrees', async () => {
    const root = repos.create();
    const client = new GitClient({ env: gitTestEnv });
    let running = 0;
    let max = 0;
    const op = () =>
      client.exclusive(root, async (repo) => {
        running++;
        max = Math.max(max, running);
        await repo.run(root, ['rev-parse', 'HEAD']);
        running--;
      });
    await Promise.all([op(), op(), op(), op()]);
    assert.equal(max, 1);
    assert.equal(await client.commonDir(root), path.join(root, '.git'));
  });

  it('quietSince: a folder is quiet until a queued section runs git in it, and not while that section runs', async () => {
    const root = repos.create();
    const other = path.join(root, 'sub');
    const client = new GitClient({ env: gitTestEnv });
    const quiet = client.quietSince(root)!;
    assert.ok(quiet.stillQuiet());
    await client.mutate(root, ['rev-parse', 'HEAD'], { adminOnly: true });
    assert.ok(quiet.stillQuiet(), 'a command that writes only admin files (worktree lock) leaves it quiet');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let ran!: () => void;
    const hasRun = new Promise<void>((r) => (ran = r));
    const section = client.exclusive(root, async (repo) => {
      await repo.run(root, ['rev-parse', 'HEAD']);
      ran();
      await held;
    });
    await hasRun;
    assert.equal(client.quietSince(root), undefined, 'a section that ran git here is still running');
    assert.equal(quiet.stillQuiet(), false);
    assert.ok(client.quietSince(other)?.stillQuiet(), 'another folder is not concerned');
    assert.equal(client.quietSince(path.join(other, '..')), undefined, 'the same folder however it is spelled');
    release();
    await section;
    const after = client.quietSince(root)!;
    assert.ok(after.stillQuiet(), 'quiet again once the section ended');
    assert.equal(quiet.stillQuiet(), false, 'but not for a reader that started before it');
  });

  it('cancels a running git process through the AbortSignal', async () => {
    const root = repos.create();
    const client = new GitClient({ env: gitTestEnv });
    const ac = new AbortController();
    // `git cat-file --batch` waits on stdin forever: only the abort can end it.
    const pending = client.read(root, ['cat-file', '--batch'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(pending, (err: unknown) => err instanceof GitError && err.code === 'Cancelled');
  });

  it('classifies lock, branch and path messages', () => {
    assert.equal(classifyGitError("fatal: Unable to create '/r/.git/index.lock': File exists."), 'IndexLocked');
    assert.equal(classifyGitError("error: could not lock config file .git/config: File exists"), 'ConfigLocked');
    assert.equal(classifyGitError("fatal: cannot lock ref 'refs/heads/x': Unable to create '/r/.git/refs/heads/x.lock': File exists."), 'RefLocked');
    assert.equal(classifyGitError("fatal: a branch named 'grove/x' already exists"), 'BranchExists');
    assert.equal(classifyGitError("fatal: '/tmp/x' already exists"), 'PathExists');
    assert.equal(classifyGitError('fatal: No space left on device'), 'NoSpace');
  });
});
