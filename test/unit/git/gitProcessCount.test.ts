import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient, type GitCallOptions, type GitResult, type LockedRepository } from '../../../src/core/git/gitClient';
import { listIgnoredWork } from '../../../src/core/git/ignoredFiles';
import { Snapshots } from '../../../src/core/git/snapshots';
import { WorktreeManager } from '../../../src/core/git/worktreeManager';
import { commit, git, gitTestEnv, useTempRepos } from '../../support/repo';

/** A GitClient that records every git process it starts (reads, and runs inside the mutation queue). */
class CountingGit extends GitClient {
  readonly calls: string[] = [];

  override read(cwd: string, args: readonly string[], options?: GitCallOptions): Promise<GitResult> {
    this.calls.push(args.join(' '));
    return super.read(cwd, args, options);
  }

  override exclusive<T>(cwd: string, fn: (repo: LockedRepository) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return super.exclusive(cwd, (repo) => fn({
      commonDir: repo.commonDir,
      run: (dir, args, options) => {
        this.calls.push(args.join(' '));
        return repo.run(dir, args, options);
      },
    }), signal);
  }

  override writeBeside(cwd: string, args: readonly string[], options?: GitCallOptions): Promise<GitResult> {
    this.calls.push(args.join(' '));
    return super.writeBeside(cwd, args, options);
  }

  take(): string[] {
    return this.calls.splice(0);
  }
}

/**
 * Issue 17 item 1: the git processes one dispatch runs. Facts that do not change between dispatches (top level,
 * git dir, common dir, bare, main worktree) are read once per manager; HEAD comes from its file; refs from one
 * `for-each-ref`; no `worktree list` per create; no config writes.
 */
describe('git processes per dispatch (issue 17 item 1)', function () {
  this.timeout(30_000);
  const repos = useTempRepos();

  it('a create runs 3 git processes once the repository is known, 5 in a fresh process', async () => {
    const root = repos.create();
    const client = new CountingGit({ env: gitTestEnv });
    const manager = new WorktreeManager(client);

    await manager.create({ repoRoot: root, title: 'first' });
    const cold = client.take();
    // Once per manager: the repository facts; once per client: its common dir (for the mutation queue). Today's
    // extension and CLI have both warm before the first dispatch (the repository was resolved when opened).
    assert.deepEqual(cold.map((c) => c.split(' ').slice(0, 2).join(' ')), [
      'rev-parse --is-bare-repository', 'rev-parse --path-format=absolute', 'for-each-ref --format=%(objectname)', 'update-ref -m', 'worktree add',
    ], cold.join('\n'));

    const second = await manager.create({ repoRoot: root, title: 'second' });
    const warm = client.take();
    assert.deepEqual(warm.map((c) => c.split(' ')[0]), ['for-each-ref', 'update-ref', 'worktree'], warm.join('\n'));
    assert.ok(!warm.some((c) => c.startsWith('worktree list')));
    assert.ok(fs.existsSync(path.join(second.path, 'README.md')));

    // A base that is not a plain branch name costs one rev-parse more.
    const tag = commit(root, 'tagged', { 't.txt': 't' });
    git(root, 'tag', 'v1');
    const fromTag = await manager.create({ repoRoot: root, title: 'from tag', baseRef: 'v1' });
    assert.equal(fromTag.baseCommit, tag);
    assert.equal(client.take().length, 4);
  });

  it('a dispatch from a warm pool runs 3 git processes: for-each-ref, status, checkout -b (and merge-base when the base moved)', async () => {
    const root = repos.create();
    const client = new CountingGit({ env: gitTestEnv });
    const manager = new WorktreeManager(client);
    await manager.pool.reconcile({ repoRoot: root, size: 2 });
    client.take();
    const wt = await manager.create({ repoRoot: root, title: 'pooled', fromPool: true });
    const warm = client.take();
    assert.deepEqual(warm.map((c) => c.split(' ').slice(0, 2).join(' ')), ['for-each-ref --format=%(objectname)', 'status --porcelain=v1', 'checkout -q'], warm.join('\n'));
    assert.equal(git(wt.path, 'symbolic-ref', '--short', 'HEAD'), 'grove/pooled');
    commit(root, 'moved', { 'm.txt': 'm' });
    await manager.create({ repoRoot: root, title: 'pooled after a move', fromPool: true });
    assert.deepEqual(client.take().map((c) => c.split(' ')[0]), ['for-each-ref', 'status', 'merge-base', 'checkout']);
  });

  it('resolveRepository runs one git process once the repository is known; a moved HEAD is seen', async () => {
    const root = repos.create();
    const client = new CountingGit({ env: gitTestEnv });
    const manager = new WorktreeManager(client);
    const first = await manager.resolveRepository(root);
    assert.equal(first.branch, 'main');
    assert.ok(client.take().length <= 2);
    git(root, 'checkout', '-q', '-b', 'other');
    const sha = commit(root, 'on other', { 'o.txt': 'o' });
    const again = await manager.resolveRepository(root);
    assert.deepEqual([again.branch, again.head], ['other', sha]);
    assert.equal(client.take().length, 1);
    git(root, 'checkout', '-q', '--detach');
    const detached = await manager.resolveRepository(root);
    assert.deepEqual([detached.detached, detached.head], [true, sha]);
    assert.equal(client.take().length, 0, 'a detached HEAD is read from its file');
  });

  it('the facts are read again when the repository was re-created in place', async () => {
    const root = repos.create();
    const client = new CountingGit({ env: gitTestEnv });
    const manager = new WorktreeManager(client);
    await manager.resolveRepository(root);
    fs.rmSync(path.join(root, '.git'), { recursive: true, force: true });
    await assert.rejects(manager.resolveRepository(root), /not inside a git repository/);
  });

  it('a turn\'s checkpoint runs 11 git processes on a clean worktree, 16 after the agent wrote files beside an ignored one (and records them all)', async () => {
    const root = repos.create({ files: { 'README.md': '# r\n', '.gitignore': '.env\n' } });
    const client = new CountingGit({ env: gitTestEnv });
    const wt = (await new WorktreeManager(client).create({ repoRoot: root, title: 'cp' })).path;
    const snaps = new Snapshots(client);
    const checkpoint = async (turn: number) => {
      client.take();
      // As Grove records each turn: the ignored work first (its top known), then the checkpoint beside the queue.
      const ignored = await listIgnoredWork(client, wt, { top: wt, copyPatterns: ['.env'] });
      const cp = await snaps.checkpoint(wt, { instanceId: 'inst', turn, ignored, unshared: true });
      return { cp, calls: client.take() };
    };
    const kinds = (calls: string[]) => calls.map((c) => c.split(' ')[0]!).sort();
    const first = await checkpoint(0);
    // Nothing ignored (one listing), where-and-HEAD in one rev-parse, the main worktree (once per Snapshots), status,
    // the index and its tree, the branch config, then the snapshot's blobs and its trees (one hash-object each), commit,
    // ref. A clean worktree's files are the index's tree: no update-index.
    assert.deepEqual(kinds(first.calls), [
      'commit-tree', 'config', 'hash-object', 'hash-object', 'ls-files', 'ls-files', 'rev-parse', 'status', 'update-ref', 'worktree', 'write-tree',
    ], first.calls.join('\n'));
    assert.equal(git(root, 'rev-parse', `${first.cp.commit}:files`), git(root, 'rev-parse', 'HEAD^{tree}'));

    fs.writeFileSync(path.join(wt, '.env'), 'KEY=1\n');
    fs.writeFileSync(path.join(wt, 'made.txt'), 'by the agent\n');
    fs.writeFileSync(path.join(wt, 'README.md'), '# changed\n');
    const next = await checkpoint(1);
    // Something ignored: two more listings (regenerable, kept). The files on disk hashed as git would add them and as
    // they are (two hash-objects), applied to a copy of the index and written as a tree. The main worktree is known.
    assert.deepEqual(kinds(next.calls), [
      'commit-tree', 'config', 'hash-object', 'hash-object', 'hash-object', 'hash-object', 'ls-files', 'ls-files', 'ls-files', 'ls-files',
      'rev-parse', 'status', 'update-index', 'update-ref', 'write-tree', 'write-tree',
    ], next.calls.join('\n'));
    const changes = await snaps.turnChanges(root, 'inst', 1);
    // The kept ignored file the agent made counts among the turn's changes, as it would be restored.
    assert.deepEqual(Object.fromEntries(changes.files.map((f) => [f.path, f.status])), { '.env': 'A', 'README.md': 'M', 'made.txt': 'A' });
    assert.equal(git(root, 'show', `${next.cp.commit}:files/made.txt`), 'by the agent');
    assert.equal(git(root, 'show', `${next.cp.commit}:files/.env`), 'KEY=1');
    git(root, 'fsck', '--strict', '--no-dangling');
  });
});
