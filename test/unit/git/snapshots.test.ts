import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { GitError, type GitErrorCode } from '../../../src/core/git/gitError';
import { listIgnoredWork } from '../../../src/core/git/ignoredFiles';
import { CHECKPOINT_REF_PREFIX, SNAPSHOT_REF_PREFIX, Snapshots, type BranchConflict } from '../../../src/core/git/snapshots';
import { MemoryLogger } from '../../../src/core/util/logger';
import { commit, git, gitStatus, gitTestEnv, repoState, useTempRepos, writeFiles, type TempRepos } from '../../support/repo';
import { fingerprint } from '../../support/worktreeFingerprint';

const posix = process.platform !== 'win32';
const noNodeModules = (p: string) => p === 'node_modules' || p.startsWith('node_modules/');

function client() {
  return new GitClient({ logger: new MemoryLogger(), env: gitTestEnv });
}

function rejectsWith(code: GitErrorCode, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof GitError, `expected a GitError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

/** Refs, worktrees and config without Grove's own refs: what "changes nothing the user sees" must leave equal. */
function userState(root: string): string {
  return repoState(root).split('\n').filter((l) => !l.startsWith('refs/grove/')).join('\n');
}

/** Drops everything unreachable from refs (reflogs included), so only what a snapshot keeps alive survives. */
function gcNow(root: string): void {
  git(root, 'reflog', 'expire', '--expire=now', '--all');
  git(root, 'gc', '-q', '--prune=now');
}

const BINARY = Buffer.from([0, 1, 2, 3, 255, 254, 0, 10, 13, 10, 0x80, 0x81]);

/**
 * A repository and a linked worktree on `grove/task` holding every kind of state: a commit of its own, a staged
 * change that differs from the file, a staged deletion, a deletion not staged, a mode change, binary and empty
 * files, symbolic links, names with spaces/unicode/leading dashes, an intent-to-add file, untracked files, an
 * edited ignored `.env.local` at 0600, an ignored log, and a regenerable `node_modules/`.
 */
function richWorktree(repos: TempRepos) {
  const root = repos.create({
    name: 'repö root',
    files: {
      'README.md': '# demo\n',
      'src/app.ts': 'export const v = 1;\n',
      'bin/run.sh': '#!/bin/sh\necho run\n',
      'with space.txt': 'spaces\n',
      'ünïcødé ✓.md': 'unicode\n',
      '-leading-dash.txt': 'dash\n',
      'empty.txt': '',
      'docs/deep/nested/file.md': 'deep\n',
      '.gitignore': '.env.local\nnode_modules/\n*.log\n',
    },
  });
  fs.writeFileSync(path.join(root, 'image.bin'), BINARY);
  if (posix) {
    fs.chmodSync(path.join(root, 'bin/run.sh'), 0o755);
    fs.symlinkSync('src/app.ts', path.join(root, 'link-to-app'));
  }
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', 'binary and links');
  git(root, 'config', 'branch.grove/task.groveBase', 'main');
  const wt = path.join(path.dirname(root), 'wt', 'task one');
  git(root, 'worktree', 'add', '-q', '-b', 'grove/task', wt, 'main');
  git(root, 'config', 'branch.grove/task.groveBaseCommit', git(root, 'rev-parse', 'main'));
  commit(wt, 'agent work', { 'src/feature.ts': 'export const f = 1;\n' });
  // staged ≠ working
  writeFiles(wt, { 'src/app.ts': 'export const v = 2;\n' });
  git(wt, 'add', 'src/app.ts');
  writeFiles(wt, { 'src/app.ts': 'export const v = 3; // unstaged\n' });
  git(wt, 'rm', '-q', 'with space.txt');
  fs.rmSync(path.join(wt, 'docs/deep/nested/file.md'));
  fs.writeFileSync(path.join(wt, 'image.bin'), Buffer.concat([BINARY, BINARY]));
  writeFiles(wt, { 'ünïcødé ✓.md': 'unicode, edited\n', 'notes/todo list.md': '- [ ] ship\n', '-new-dash.txt': 'new\n', 'new-empty': '' });
  fs.writeFileSync(path.join(wt, 'untracked.bin'), BINARY);
  writeFiles(wt, { 'planned.ts': 'export {};\n' });
  git(wt, 'add', '-N', 'planned.ts');
  writeFiles(wt, { '.env.local': 'SECRET=edited\n', 'debug.log': 'log line\n', 'node_modules/pkg/index.js': 'module.exports = 1;\n' });
  if (posix) {
    fs.chmodSync(path.join(wt, 'README.md'), 0o755); // a mode change git sees
    fs.chmodSync(path.join(wt, '.env.local'), 0o600);
    fs.chmodSync(path.join(wt, '-leading-dash.txt'), 0o600); // a permission git does not record
    fs.symlinkSync('notes/todo list.md', path.join(wt, 'new link'));
  }
  return { root, wt };
}

describe('snapshots', function () {
  this.timeout(60_000);
  const repos = useTempRepos();

  it('the fingerprint sees every kind of difference the restore tests rely on', () => {
    const { wt } = richWorktree(repos);
    const fp = fingerprint(wt);
    if (posix) {
      assert.match(fp.files['.env.local']!, /^file 600 /);
      assert.match(fp.files['-leading-dash.txt']!, /^file 600 /);
      assert.equal(fp.files['new link'], 'link -> notes/todo list.md');
    }
    assert.match(fp.unstaged, /planned\.ts/);
    assert.match(fp.staged, /export const v = 2/);
    assert.ok(fp.files['node_modules/pkg/index.js']);
    const changed = (f: () => void) => {
      f();
      return fingerprint(wt);
    };
    if (posix) assert.notDeepEqual(changed(() => fs.chmodSync(path.join(wt, '.env.local'), 0o644)), fp);
    const fp2 = fingerprint(wt);
    assert.notDeepEqual(changed(() => git(wt, 'add', 'src/app.ts')), fp2);
    const fp3 = fingerprint(wt);
    assert.notDeepEqual(changed(() => git(wt, 'update-index', '--skip-worktree', 'README.md')), fp3);
    const fp4 = fingerprint(wt);
    assert.deepEqual(changed(() => fs.writeFileSync(path.join(wt, 'image.bin'), Buffer.concat([BINARY, BINARY]))), fp4, 'same bytes, new mtime: equal');
    assert.notDeepEqual(changed(() => fs.writeFileSync(path.join(wt, 'empty.txt'), '\n')), fp4);
  });

  describe('snapshotWorktree', () => {
    it('records without touching anything the user sees (index bytes, files, refs, HEAD)', async () => {
      const { root, wt } = richWorktree(repos);
      const before = fingerprint(wt);
      const indexPath = git(wt, 'rev-parse', '--path-format=absolute', '--git-path', 'index');
      const indexBytes = fs.readFileSync(indexPath);
      const state = userState(root);
      const git2 = client();
      const snaps = new Snapshots(git2);
      const ignored = await listIgnoredWork(git2, wt);
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force', instanceId: 'inst-1', title: 'Task one', ignored });
      assert.deepEqual(fingerprint(wt), before);
      assert.deepEqual(fs.readFileSync(indexPath), indexBytes);
      assert.equal(gitStatus(root, 'fsck', '--strict', '--no-dangling', '--no-progress'), 0, 'every object Grove wrote is well-formed');
      assert.equal(userState(root), state);
      assert.equal(meta.kind, 'worktree');
      assert.equal(meta.branch, 'grove/task');
      assert.equal(meta.head, git(wt, 'rev-parse', 'HEAD'));
      assert.equal(meta.worktreePath, fs.realpathSync(wt));
      assert.equal(git(root, 'rev-parse', meta.ref), meta.commit);
      assert.deepEqual(meta.ignoredIncluded.sort(), ['.env.local', 'debug.log']);
      assert.deepEqual(meta.ignoredSkipped, []);
      assert.equal(meta.counts.untracked, posix ? 5 : 4);
      // The recorded HEAD is a parent: gc keeps it while the ref exists.
      assert.equal(git(root, 'rev-parse', `${meta.ref}^1`), meta.head);
      // The files tree is the worktree as on disk.
      assert.equal(git(root, 'show', `${meta.filesTree}:src/app.ts`), 'export const v = 3; // unstaged');
      assert.equal(gitStatus(root, 'cat-file', '-e', `${meta.filesTree}:docs/deep/nested/file.md`), 128);
      assert.equal(git(root, 'show', `${meta.filesTree}:.env.local`), 'SECRET=edited');
      assert.equal(gitStatus(root, 'cat-file', '-e', `${meta.filesTree}:node_modules/pkg/index.js`), 128);
    });

    it('keeps user text out of arguments and takes concurrent snapshots safely', async () => {
      const { root, wt } = richWorktree(repos);
      const snaps = new Snapshots(client());
      const title = '--upload-pack=evil\n"; rm -rf ~ ✓';
      const metas = await Promise.all([1, 2, 3].map((i) => snaps.snapshotWorktree(wt, { reason: `remove ${i}`, title })));
      assert.equal(new Set(metas.map((m) => m.id)).size, 3);
      const listed = await snaps.list(root);
      assert.equal(listed.length, 3);
      assert.ok(listed.every((m) => m.title === title));
    });

    it('joins a caller\'s exclusive section (locked) without deadlock; a cancelled snapshot leaves no ref', async () => {
      const { root, wt } = richWorktree(repos);
      const git2 = client();
      const snaps = new Snapshots(git2);
      const meta = await git2.exclusive(root, async (locked) => {
        const m = await snaps.snapshotWorktree(wt, { reason: 'remove --force', locked });
        await locked.run(root, ['worktree', 'remove', '--force', wt]);
        return m;
      });
      assert.ok(!fs.existsSync(wt));
      assert.equal((await snaps.list(root)).length, 1);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(snaps.snapshotWorktree(root, { reason: 'x', signal: ac.signal }), rejectsWith('Cancelled'));
      assert.deepEqual((await snaps.list(root)).map((m) => m.id), [meta.id]);
    });

    it('states the size limit and which ignored files it did not keep', async () => {
      const { root, wt } = richWorktree(repos);
      fs.writeFileSync(path.join(wt, 'big.log'), Buffer.alloc(4096, 7));
      const snaps = new Snapshots(client(), { sizeLimitBytes: 1000 });
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force', ignored: ['.env.local', 'big.log', 'debug.log'] });
      assert.equal(meta.sizeLimitBytes, 1000);
      assert.deepEqual(meta.ignoredIncluded, ['.env.local', 'debug.log']);
      assert.deepEqual(meta.ignoredSkipped, [{ path: 'big.log', bytes: 4096, reason: 'size limit' }]);
      git(root, 'worktree', 'remove', '--force', wt);
      const result = await snaps.restore(root, meta.id);
      assert.ok(result.notes.some((n) => /big\.log \(4 KB\) was not kept/.test(n)), result.notes.join('\n'));
      assert.ok(!fs.existsSync(path.join(wt, 'big.log')));
      assert.equal(fs.readFileSync(path.join(wt, '.env.local'), 'utf8'), 'SECRET=edited\n');
    });
  });

  describe('restore after a destructive flow gives back everything, byte for byte', () => {
    it('worktree remove --force, branch -D and gc: worktree, branch, config, index, files, listed ignored files', async () => {
      const { root, wt } = richWorktree(repos);
      const before = fingerprint(wt, { exclude: noNodeModules });
      const git2 = client();
      const snaps = new Snapshots(git2);
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force', ignored: await listIgnoredWork(git2, wt) });
      git(root, 'worktree', 'remove', '--force', wt);
      git(root, 'branch', '-D', 'grove/task');
      gcNow(root);
      assert.ok(!fs.existsSync(wt));
      const result = await snaps.restore(root, meta.id);
      assert.equal(result.worktreePath, wt);
      assert.equal(result.branch, 'grove/task');
      assert.equal(result.inPlace, false);
      assert.deepEqual(fingerprint(wt, { exclude: noNodeModules }), before);
      assert.equal(git(root, 'config', 'branch.grove/task.groveBase'), 'main');
    });

    it('an unmerged index during a merge conflict (and the merge can still be concluded)', async () => {
      const root = repos.create({ files: { 'a.txt': 'base\n', 'b.txt': 'b\n' } });
      const wt = path.join(path.dirname(root), 'wt-merge');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/m', wt, 'main');
      commit(root, 'main side', { 'a.txt': 'main\n', 'c.txt': 'from main\n' });
      commit(wt, 'branch side', { 'a.txt': 'branch\n' });
      assert.notEqual(gitStatus(wt, 'merge', '-q', '--no-edit', 'main'), 0);
      writeFiles(wt, { 'scratch.txt': 'untracked during merge\n' });
      const before = fingerprint(wt);
      assert.match(before.stage, / 1\ta\.txt\n.* 2\ta\.txt\n.* 3\ta\.txt/s);
      assert.ok(before.state.MERGE_HEAD);
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      assert.equal(meta.syncState, 'merge');
      assert.equal(meta.counts.unmerged, 1);
      git(root, 'worktree', 'remove', '--force', wt);
      git(root, 'branch', '-D', 'grove/m');
      gcNow(root);
      await snaps.restore(root, meta.id);
      assert.deepEqual(fingerprint(wt), before);
      writeFiles(wt, { 'a.txt': 'resolved\n' });
      git(wt, 'add', 'a.txt');
      git(wt, 'commit', '-q', '--no-edit');
      assert.equal(git(wt, 'rev-parse', 'HEAD^2'), git(root, 'rev-parse', 'main'));
    });

    it('a detached HEAD with commits no branch has survives gc', async () => {
      const root = repos.create();
      const wt = path.join(path.dirname(root), 'wt-detached');
      git(root, 'worktree', 'add', '-q', '--detach', wt, 'main');
      const lone = commit(wt, 'on no branch', { 'lone.txt': 'only here\n' });
      writeFiles(wt, { 'lone.txt': 'edited\n' });
      const before = fingerprint(wt);
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      assert.equal(meta.detached, true);
      git(root, 'worktree', 'remove', '--force', wt);
      gcNow(root);
      await snaps.restore(root, meta.id);
      assert.deepEqual(fingerprint(wt), before);
      assert.equal(git(wt, 'rev-parse', 'HEAD'), lone);
    });

    it('a deleted branch (snapshotBranch): tip and config come back; a moved branch is never overwritten', async () => {
      const root = repos.create();
      git(root, 'branch', 'grove/b');
      const tip = commit(root, 'x', { 'x.txt': 'x\n' });
      git(root, 'checkout', '-q', 'grove/b');
      const btip = commit(root, 'b work', { 'b.txt': 'b\n' });
      git(root, 'checkout', '-q', 'main');
      git(root, 'config', 'branch.grove/b.groveBase', 'main');
      git(root, 'config', 'branch.grove/b.groveBaseCommit', tip);
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotBranch(root, 'grove/b', { reason: 'delete branch' });
      const before = fingerprint(root);
      git(root, 'branch', '-D', 'grove/b');
      gcNow(root);
      const result = await snaps.restore(root, meta.id);
      assert.equal(result.branch, 'grove/b');
      assert.deepEqual(fingerprint(root), before);
      assert.equal(git(root, 'rev-parse', 'grove/b'), btip);
      assert.match((await snaps.restore(root, meta.id)).notes[0]!, /already at/);
      git(root, 'branch', '-f', 'grove/b', 'main');
      await assert.rejects(snaps.restore(root, meta.id), (err: unknown) => {
        rejectsWith('BranchExists', /never moves it/)(err);
        const d = (err as GitError).details as BranchConflict;
        assert.equal(d.recorded, btip);
        assert.equal(d.current, git(root, 'rev-parse', 'main'));
        return true;
      });
      assert.equal(git(root, 'rev-parse', 'grove/b'), git(root, 'rev-parse', 'main'));
      const renamed = await snaps.restore(root, meta.id, { branchName: 'grove/b-restored' });
      assert.equal(git(root, 'rev-parse', 'grove/b-restored'), btip);
      assert.equal(renamed.branch, 'grove/b-restored');
      assert.equal(git(root, 'config', 'branch.grove/b-restored.groveBase'), 'main');
    });

    it('abort sync (a rebase stopped on a conflict, then aborted): restored in place, rebase and all, and undoable', async () => {
      const root = repos.create({ files: { 'a.txt': 'base\n' } });
      const wt = path.join(path.dirname(root), 'wt-rebase');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/r', wt, 'main');
      commit(wt, 'one', { 'a.txt': 'branch\n' });
      commit(wt, 'two', { 'two.txt': '2\n' });
      commit(root, 'main moves', { 'a.txt': 'main\n' });
      assert.notEqual(gitStatus(wt, 'rebase', 'main'), 0);
      writeFiles(wt, { 'wip.txt': 'untracked during rebase\n' });
      const during = fingerprint(wt);
      assert.ok(Object.keys(during.state).some((k) => k.startsWith('rebase-merge/')));
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotWorktree(wt, { reason: 'abort sync' });
      assert.equal(meta.syncState, 'rebase');
      assert.equal(meta.rebasing, 'grove/r');
      git(wt, 'rebase', '--abort');
      const aborted = fingerprint(wt);
      gcNow(root);
      const result = await snaps.restore(root, meta.id);
      assert.equal(result.inPlace, true);
      assert.deepEqual(fingerprint(wt), during);
      // The in-place restore is undoable: its undo is the aborted state…
      await snaps.restore(root, result.undoId!);
      assert.deepEqual(fingerprint(wt), aborted);
      await snaps.restore(root, meta.id);
      assert.deepEqual(fingerprint(wt), during);
      // …and the rebase goes on from where it stopped.
      writeFiles(wt, { 'a.txt': 'resolved\n' });
      git(wt, 'add', 'a.txt');
      assert.equal(gitStatus(wt, '-c', 'core.editor=true', 'rebase', '--continue'), 0);
      assert.equal(git(wt, 'log', '--format=%s', '-3'), 'two\none\nmain moves');
    });

    it('a worktree removed in the middle of a rebase, its branch deleted: both come back, and the rebase goes on', async () => {
      const root = repos.create({ files: { 'a.txt': 'base\n' } });
      const wt = path.join(path.dirname(root), 'wt-rebase-gone');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/rg', wt, 'main');
      git(root, 'config', 'branch.grove/rg.groveBase', 'main');
      commit(wt, 'one', { 'a.txt': 'branch\n' });
      commit(root, 'main moves', { 'a.txt': 'main\n' });
      assert.notEqual(gitStatus(wt, 'rebase', 'main'), 0);
      const during = fingerprint(wt);
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      git(root, 'worktree', 'remove', '--force', wt);
      git(root, 'branch', '-D', 'grove/rg');
      gcNow(root);
      const result = await snaps.restore(root, meta.id);
      assert.ok(result.notes.some((n) => /Recreated branch grove\/rg/.test(n)), result.notes.join('\n'));
      assert.deepEqual(fingerprint(wt), during);
      writeFiles(wt, { 'a.txt': 'resolved\n' });
      git(wt, 'add', 'a.txt');
      assert.equal(gitStatus(wt, '-c', 'core.editor=true', 'rebase', '--continue'), 0);
      assert.equal(git(wt, 'rev-parse', '--abbrev-ref', 'HEAD'), 'grove/rg');
    });

    it('cleanup after merge (reset --hard, clean -fdx): restored in place with its ignored files', async () => {
      const { root, wt } = richWorktree(repos);
      const before = fingerprint(wt, { exclude: noNodeModules });
      const git2 = client();
      const snaps = new Snapshots(git2);
      const meta = await snaps.snapshotWorktree(wt, { reason: 'cleanup after merge', ignored: await listIgnoredWork(git2, wt) });
      git(wt, 'reset', '-q', '--hard', 'main');
      git(wt, 'clean', '-q', '-fdx', '-e', 'node_modules');
      const result = await snaps.restore(root, meta.id);
      assert.equal(result.inPlace, true);
      assert.deepEqual(fingerprint(wt, { exclude: noNodeModules }), before);
      assert.ok(fs.existsSync(path.join(wt, 'node_modules/pkg/index.js')), 'unlisted ignored files are left alone');
    });
  });

  describe('exactness in the corners', () => {
    for (const autocrlf of ['true', 'false']) {
      it(`line-ending conversion (eol=crlf, core.autocrlf=${autocrlf}): the exact bytes come back, not git's normalised ones`, async () => {
        const root = repos.create({ files: { '.gitattributes': '*.txt text eol=crlf\n', 'a.txt': 'one\ntwo\n', 'b.txt': 'clean\n', 'm.md': 'md\n' } });
        git(root, 'config', 'core.autocrlf', autocrlf);
        const wt = path.join(path.dirname(root), 'wt-eol');
        git(root, 'worktree', 'add', '-q', '-b', 'grove/eol', wt, 'main');
        assert.equal(fs.readFileSync(path.join(wt, 'b.txt'), 'utf8'), 'clean\r\n', 'checked out with CRLF');
        fs.writeFileSync(path.join(wt, 'a.txt'), 'one\ntwo\r\nthree\n'); // mixed endings: not what a checkout would write
        fs.writeFileSync(path.join(wt, 'new.txt'), 'lf only\n');
        fs.writeFileSync(path.join(wt, 'm.md'), 'mixed\r\nendings\n'); // no attribute: stored as is
        const before = fingerprint(wt);
        const snaps = new Snapshots(client());
        const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
        assert.equal(git(root, 'cat-file', 'blob', `${meta.filesTree}:a.txt`), 'one\ntwo\nthree', 'files/ holds what git add would store');
        git(root, 'worktree', 'remove', '--force', wt);
        git(root, 'branch', '-D', 'grove/eol');
        await snaps.restore(root, meta.id);
        assert.deepEqual(fingerprint(wt), before);
        assert.equal(fs.readFileSync(path.join(wt, 'a.txt'), 'utf8'), 'one\ntwo\r\nthree\n');
      });
    }

    it('type changes: a tracked file replaced by a folder, a file replaced by a link, a link to a folder', async function () {
      if (!posix) this.skip();
      const root = repos.create({ files: { 'x': 'was a file\n', 'y.txt': 'y\n', 'dir/z.txt': 'z\n' } });
      const wt = path.join(path.dirname(root), 'wt-types');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/t', wt, 'main');
      fs.rmSync(path.join(wt, 'x'));
      writeFiles(wt, { 'x/inside.txt': 'now a folder\n' });
      fs.rmSync(path.join(wt, 'y.txt'));
      fs.symlinkSync('dir', path.join(wt, 'y.txt'));
      fs.symlinkSync('dir', path.join(wt, 'dirlink'));
      const before = fingerprint(wt);
      const snaps = new Snapshots(client());
      const cp = await snaps.checkpoint(wt, { instanceId: 'types', turn: 0 });
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      git(root, 'worktree', 'remove', '--force', wt);
      await snaps.restore(root, meta.id);
      assert.deepEqual(fingerprint(wt), before);
      // In place, from a plain checkout back to the typed state.
      git(wt, 'reset', '-q', '--hard');
      git(wt, 'clean', '-q', '-fd');
      await snaps.revertTo(wt, cp.id);
      assert.deepEqual(fingerprint(wt), before);
    });
    it('a change git sees only by content (same size, same second as the index: "racy git") is recorded', async () => {
      const root = repos.create({ files: { 'app.js': 'export const x = 1;\n' } });
      const wt = path.join(path.dirname(root), 'wt-racy');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/racy', wt, 'main');
      const file = path.join(wt, 'app.js');
      const index = git(wt, 'rev-parse', '--path-format=absolute', '--git-path', 'index');
      // Staged, then changed again to as many bytes, all within one second of the index being written: only the
      // index's own timestamp tells git to compare the content (a copy of the index must keep it).
      for (let attempt = 0; ; attempt++) {
        fs.writeFileSync(file, 'export const x = 2;\n');
        git(wt, 'add', 'app.js');
        fs.writeFileSync(file, 'export const x = 3;\n');
        if (Math.floor(fs.statSync(file).mtimeMs / 1000) === Math.floor(fs.statSync(index).mtimeMs / 1000) || attempt > 20) break;
      }
      const before = fingerprint(wt);
      assert.match(before.unstaged, /\+export const x = 3;/, 'git itself sees the change');
      await new Promise((r) => setTimeout(r, 1100));
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      git(root, 'worktree', 'remove', '--force', wt);
      await snaps.restore(root, meta.id);
      assert.equal(fs.readFileSync(file, 'utf8'), 'export const x = 3;\n');
      assert.deepEqual(fingerprint(wt), before);
    });
    it('a SHA-256 repository: a conflicted merge beside staged, untracked and kept ignored files is stored soundly and restored exactly', async () => {
      const root = repos.create({ objectFormat: 'sha256', files: { 'a.txt': 'base\n', 'b.txt': 'b\n', 'docs/c.md': 'c\n', '.gitignore': '.env\n' } });
      const wt = path.join(path.dirname(root), 'wt sha256');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/s', wt, 'main');
      commit(root, 'main side', { 'a.txt': 'main\n' });
      commit(wt, 'branch side', { 'a.txt': 'branch\n' });
      assert.notEqual(gitStatus(wt, 'merge', '-q', '--no-edit', 'main'), 0);
      writeFiles(wt, { 'b.txt': 'staged\n', 'docs/new/deep.md': 'untracked\n', '.env': 'KEY=1\n' });
      git(wt, 'add', 'b.txt');
      writeFiles(wt, { 'b.txt': 'staged, then edited\n' });
      const before = fingerprint(wt);
      const git2 = client();
      const snaps = new Snapshots(git2);
      const ignored = await listIgnoredWork(git2, wt, { copyPatterns: ['.env'] });
      const cp = await snaps.checkpoint(wt, { instanceId: 'sha', turn: 0, ignored });
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force', ignored });
      assert.equal(meta.head, git(wt, 'rev-parse', 'HEAD'));
      assert.equal(meta.head!.length, 64);
      assert.equal(meta.syncState, 'merge');
      assert.equal(git(root, 'cat-file', 'blob', `${meta.filesTree}:.env`), 'KEY=1');
      git(root, 'fsck', '--strict', '--no-dangling');
      git(root, 'worktree', 'remove', '--force', wt);
      git(root, 'branch', '-D', 'grove/s');
      gcNow(root);
      await snaps.restore(root, meta.id);
      assert.deepEqual(fingerprint(wt), before);
      git(wt, 'reset', '-q', '--hard');
      git(wt, 'clean', '-q', '-fdx');
      assert.ok(!fs.existsSync(path.join(wt, '.git', 'MERGE_HEAD')) && !fs.existsSync(path.join(wt, '.env')));
      await snaps.revertTo(wt, cp.id);
      assert.deepEqual(fingerprint(wt), before);
    });

    it('an unborn branch, and a file named HEAD at the top: the branch, the head and the files are recorded as they are', async () => {
      const root = repos.create({ files: { 'a.txt': 'a\n' } });
      const wt = path.join(path.dirname(root), 'wt-unborn');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/u', wt, 'main');
      git(wt, 'checkout', '-q', '--orphan', 'grove/orphan');
      writeFiles(wt, { 'HEAD': 'a file, not a ref\n', 'new.txt': 'new\n' });
      const snaps = new Snapshots(client());
      const unborn = await snaps.snapshotWorktree(wt, { reason: 'remove' });
      assert.equal(unborn.branch, 'grove/orphan');
      assert.equal(unborn.head, undefined);
      assert.ok(!unborn.detached);
      assert.equal(git(root, 'cat-file', 'blob', `${unborn.filesTree}:HEAD`), 'a file, not a ref');
      assert.equal(git(root, 'cat-file', 'blob', `${unborn.filesTree}:a.txt`), 'a', 'the index kept from main');
      git(wt, 'commit', '-q', '-m', 'first of the orphan');
      writeFiles(wt, { 'HEAD': 'edited\n' });
      const born = await snaps.snapshotWorktree(wt, { reason: 'remove' });
      assert.equal(born.branch, 'grove/orphan');
      assert.equal(born.head, git(wt, 'rev-parse', 'HEAD'));
      assert.equal(git(root, 'cat-file', 'blob', `${born.filesTree}:HEAD`), 'edited');
      const before = fingerprint(wt);
      git(root, 'worktree', 'remove', '--force', wt);
      git(root, 'branch', '-D', 'grove/orphan');
      await snaps.restore(root, born.id);
      assert.deepEqual(fingerprint(wt), before);
      assert.equal(git(wt, 'symbolic-ref', 'HEAD'), 'refs/heads/grove/orphan');
    });
  });

  describe('restore: where and on which branch', () => {
    it('an occupied path gives a free sibling; a branch moved elsewhere is refused, or restored renamed or detached', async () => {
      const root = repos.create();
      const wt = path.join(path.dirname(root), 'wt-occupied');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/o', wt, 'main');
      const tip = commit(wt, 'work', { 'w.txt': 'w\n' });
      writeFiles(wt, { 'u.txt': 'untracked\n' });
      const before = fingerprint(wt);
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      git(root, 'worktree', 'remove', '--force', wt);
      writeFiles(wt, { 'someone else.txt': 'mine\n' });
      const r1 = await snaps.restore(root, meta.id);
      assert.equal(r1.worktreePath, `${wt}-restored`);
      assert.ok(r1.notes.some((n) => n.includes('occupied')));
      assert.deepEqual(fingerprint(r1.worktreePath!), before);
      assert.equal(fs.readFileSync(path.join(wt, 'someone else.txt'), 'utf8'), 'mine\n');
      // Now the branch is checked out in the restored worktree: another restore must not take it.
      await assert.rejects(snaps.restore(root, meta.id), rejectsWith('BranchExists', /checked out/));
      git(root, 'worktree', 'remove', '--force', r1.worktreePath!);
      git(root, 'branch', '-f', 'grove/o', 'main');
      const state = userState(root);
      await assert.rejects(snaps.restore(root, meta.id), rejectsWith('BranchExists'));
      assert.equal(userState(root), state);
      const detached = await snaps.restore(root, meta.id, { detach: true });
      assert.equal(git(detached.worktreePath!, 'rev-parse', 'HEAD'), tip);
      assert.equal(gitStatus(detached.worktreePath!, 'symbolic-ref', '-q', 'HEAD'), 1);
      assert.equal(git(detached.worktreePath!, 'status', '--porcelain'), '?? u.txt');
      const renamed = await snaps.restore(root, meta.id, { branchName: 'grove/o-2', path: path.join(path.dirname(root), 'elsewhere') });
      assert.equal(renamed.worktreePath, path.join(path.dirname(root), 'elsewhere'));
      assert.equal(git(renamed.worktreePath!, 'rev-parse', '--abbrev-ref', 'HEAD'), 'grove/o-2');
    });

    it('a worktree whose folder was deleted by hand (still registered) is recreated at its path', async () => {
      const root = repos.create();
      const wt = path.join(path.dirname(root), 'wt-stale');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/s', wt, 'main');
      writeFiles(wt, { 'u.txt': 'untracked\n' });
      const before = fingerprint(wt);
      const snaps = new Snapshots(client());
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      fs.rmSync(wt, { recursive: true, force: true });
      const r = await snaps.restore(root, meta.id);
      assert.equal(r.worktreePath, wt);
      assert.deepEqual(fingerprint(wt), before);
    });

    it('a step failing mid-way leaves the repository as it was', async () => {
      const { root, wt } = richWorktree(repos);
      const snaps = new Snapshots(client(), { onStep: (s) => { if (s === 'state') throw new Error('disk full (simulated)'); } });
      const meta = await snaps.snapshotWorktree(wt, { reason: 'remove --force' });
      git(root, 'worktree', 'remove', '--force', wt);
      git(root, 'branch', '-D', 'grove/task');
      const state = userState(root);
      await assert.rejects(snaps.restore(root, meta.id), /disk full/);
      assert.equal(userState(root), state);
      assert.ok(!fs.existsSync(wt));
    });

    it('unknown and malformed ids are NotFound', async () => {
      const root = repos.create();
      const snaps = new Snapshots(client());
      await assert.rejects(snaps.restore(root, '20250101-000000-abcdef'), rejectsWith('NotFound'));
      await assert.rejects(snaps.restore(root, '../../heads/main'), rejectsWith('NotFound'));
      await assert.rejects(snaps.restore(root, '--upload-pack=x'), rejectsWith('NotFound'));
    });
  });

  describe('checkpoints', () => {
    it('record a turn without touching the worktree, diff it, revert it exactly, and undo the revert', async () => {
      const { root, wt } = richWorktree(repos);
      const git2 = client();
      const snaps = new Snapshots(git2);
      const ignored = await listIgnoredWork(git2, wt);
      const fp0 = fingerprint(wt, { exclude: noNodeModules });
      const state0 = userState(root);
      const cp0 = await snaps.checkpoint(wt, { instanceId: 'inst-1', turn: 0, ignored });
      assert.equal(cp0.ref, `${CHECKPOINT_REF_PREFIX}inst-1/0`);
      assert.deepEqual(fingerprint(wt, { exclude: noNodeModules }), fp0);
      assert.equal(userState(root), state0);
      // Turn 1: the agent edits, creates, deletes, commits, and touches an ignored file.
      const untouched = path.join(wt, 'src/feature.ts');
      const mtime = fs.statSync(untouched).mtimeMs;
      writeFiles(wt, { 'README.md': '# changed by the agent\n', 'src/new/made.ts': 'export const m = 1;\n', '.env.local': 'SECRET=agent\n', '.env.agent': 'NEW=1\n' });
      fs.rmSync(path.join(wt, 'empty.txt'));
      fs.rmSync(path.join(wt, 'notes/todo list.md'));
      commit(wt, 'agent turn 1', { 'src/committed.ts': 'export const c = 1;\n' });
      writeFiles(wt, { 'src/app.ts': 'export const v = 4;\n' });
      const fp1 = fingerprint(wt, { exclude: noNodeModules });
      const cp1 = await snaps.checkpoint(wt, { instanceId: 'inst-1', turn: 1, ignored: await listIgnoredWork(git2, wt) });
      assert.deepEqual(fingerprint(wt, { exclude: noNodeModules }), fp1);
      assert.deepEqual((await snaps.checkpoints(root, 'inst-1')).map((c) => c.id), ['inst-1/0', 'inst-1/1']);

      const changes = await snaps.turnChanges(root, 'inst-1', 1);
      assert.equal(changes.from.id, cp0.id);
      assert.equal(changes.to.id, cp1.id);
      const byPath = Object.fromEntries(changes.files.map((f) => [f.path, f.status]));
      assert.deepEqual(byPath, {
        '.env.agent': 'A', '.env.local': 'M', 'README.md': 'M', 'empty.txt': 'D', 'notes/todo list.md': 'D',
        'src/app.ts': 'M', 'src/committed.ts': 'A', 'src/new/made.ts': 'A',
      });
      assert.match(git(root, ...changes.diffArgs, '--', 'README.md'), /\+# changed by the agent/);
      assert.equal((await snaps.beforeTurn(root, 'inst-1', 1))?.id, cp0.id);

      const { undoId } = await snaps.revertTo(wt, cp0.id, { ignored: await listIgnoredWork(git2, wt) });
      assert.deepEqual(fingerprint(wt, { exclude: noNodeModules }), fp0);
      assert.equal(fs.statSync(untouched).mtimeMs, mtime, 'unchanged files are not rewritten');
      assert.ok(!fs.existsSync(path.join(wt, 'src/new')), 'folders a turn created go with its files');
      assert.ok(fs.existsSync(path.join(wt, 'node_modules/pkg/index.js')));
      assert.match(undoId, /^inst-1\/undo-/);
      await snaps.revertTo(wt, undoId);
      assert.deepEqual(fingerprint(wt, { exclude: noNodeModules }), fp1);
      // The agent's branch never got a commit from Grove.
      assert.equal(git(wt, 'log', '-1', '--format=%s'), 'agent turn 1');
    });

    it('unshared: recorded while another worktree\'s flow holds the repository\'s queue; it reverts exactly', async () => {
      const { root, wt } = richWorktree(repos);
      const git2 = new GitClient({ env: gitTestEnv });
      const snaps = new Snapshots(git2);
      const ignored = await listIgnoredWork(git2, wt);
      const fp0 = fingerprint(wt, { exclude: noNodeModules });
      // Another create holds the queue (as the next `worktree add` of a dispatch does), in the repository's root.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inQueue = new Promise<void>((r) => (entered = r));
      const other = git2.exclusive(root, async (repo) => {
        await repo.run(root, ['rev-parse', 'HEAD']);
        entered();
        await held;
      });
      await inQueue;
      let meta;
      try {
        meta = await snaps.checkpoint(wt, { instanceId: 'new-1', turn: 0, ignored, unshared: true });
        assert.equal(meta.ref, `${CHECKPOINT_REF_PREFIX}new-1/0`);
        assert.match(git(root, 'for-each-ref', '--format=%(refname)', `${CHECKPOINT_REF_PREFIX}new-1/`), /new-1\/0$/, 'the ref is there while the queue is held');
      } finally {
        release();
        await other;
      }
      writeFiles(wt, { 'README.md': '# the agent was here\n', 'made.txt': 'new\n' });
      await snaps.revertTo(wt, meta.id, { ignored: await listIgnoredWork(git2, wt) });
      assert.deepEqual(fingerprint(wt, { exclude: noNodeModules }), fp0);
    });

    it('unshared, while a queued flow is running git in the worktree: waits for it and records what it left', async () => {
      const { root, wt } = richWorktree(repos);
      const git2 = new GitClient({ env: gitTestEnv });
      const snaps = new Snapshots(git2);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inQueue = new Promise<void>((r) => (entered = r));
      // A sync of this worktree, half done: one file staged, the second still to come.
      const sync = git2.exclusive(root, async (repo) => {
        writeFiles(wt, { 'first.txt': 'one\n' });
        await repo.run(wt, ['add', 'first.txt']);
        entered();
        await held;
        writeFiles(wt, { 'second.txt': 'two\n' });
        await repo.run(wt, ['add', 'second.txt']);
      });
      await inQueue;
      let recorded = false;
      const cp = snaps.checkpoint(wt, { instanceId: 'busy-1', turn: 1, unshared: true }).then((m) => ((recorded = true), m));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(recorded, false, 'recorded while the sync was half done');
      release();
      await sync;
      const meta = await cp;
      assert.equal(git(root, 'show', `${meta.filesTree}:first.txt`), 'one');
      assert.equal(git(root, 'show', `${meta.filesTree}:second.txt`), 'two', 'the checkpoint holds all of the sync');
    });

    it('unshared, when a queued flow runs git in the worktree while it is read: recorded again in the queue, after the flow', async () => {
      const { root, wt } = richWorktree(repos);
      const logger = new MemoryLogger();
      const git2 = new GitClient({ logger, env: gitTestEnv });
      let firstCapture = true;
      let flow: Promise<void> | undefined;
      const snaps = new Snapshots(git2, {
        logger,
        onStep: async (step) => {
          if (step !== 'captured' || !firstCapture) return;
          firstCapture = false;
          // Captured, not yet recorded: a sync starts in the queue and changes the worktree (files and index).
          let started!: () => void;
          const inQueue = new Promise<void>((r) => (started = r));
          flow = git2.exclusive(root, async (repo) => {
            writeFiles(wt, { 'synced.txt': 'from base\n' });
            await repo.run(wt, ['add', 'synced.txt']);
            started();
          });
          await inQueue;
        },
      });
      const meta = await snaps.checkpoint(wt, { instanceId: 'raced-1', turn: 1, unshared: true });
      await flow;
      assert.equal(firstCapture, false);
      assert.equal(git(root, 'show', `${meta.filesTree}:synced.txt`), 'from base', 'the recorded checkpoint is the one read after the sync');
      assert.match(git(root, 'ls-tree', '-r', '--name-only', `${meta.ref}:index`), /synced\.txt/, 'with the sync\'s index');
      assert.equal(git(root, 'rev-parse', `${CHECKPOINT_REF_PREFIX}raced-1/1:files`), meta.filesTree, 'the ref is that checkpoint');
      assert.ok(logger.lines.some((l) => /recorded again in the queue/.test(l)));
    });

    it('a failing revert puts the worktree back as it was', async () => {
      const root = repos.create({ files: { 'a.txt': 'a\n' } });
      const wt = path.join(path.dirname(root), 'wt-cp');
      git(root, 'worktree', 'add', '-q', '-b', 'grove/c', wt, 'main');
      let fail = false;
      const snaps = new Snapshots(client(), { onStep: (s) => { if (fail && s === 'state') throw new Error('boom'); } });
      const cp0 = await snaps.checkpoint(wt, { instanceId: 'i2', turn: 0 });
      commit(wt, 'turn', { 'b.txt': 'b\n' });
      writeFiles(wt, { 'a.txt': 'changed\n', 'new.txt': 'new\n' });
      const now = fingerprint(wt);
      fail = true;
      await assert.rejects(snaps.revertTo(wt, cp0.id), (err: unknown) => {
        assert.ok(err instanceof GitError);
        assert.match(err.message, /boom/);
        assert.match((err.details as { undoId: string }).undoId, /^i2\/undo-/);
        return true;
      });
      assert.deepEqual(fingerprint(wt), now);
      assert.ok(!fs.existsSync(`${git(wt, 'rev-parse', '--path-format=absolute', '--git-path', 'index')}.lock`));
      fail = false;
      await snaps.revertTo(wt, cp0.id);
      assert.equal(git(wt, 'status', '--porcelain'), '');
      assert.equal(git(wt, 'rev-parse', 'HEAD'), git(root, 'rev-parse', 'main'));
      assert.doesNotMatch(git(wt, 'ls-files', '--debug'), /mtime: 0:0/, 'the index keeps stat data (status stays fast)');
      assert.equal(gitStatus(root, 'fsck', '--strict', '--no-dangling', '--no-progress'), 0);
    });

    it('a start checkpoint bounds the turn (edits made between turns are not the agent\'s)', async () => {
      const root = repos.create({ files: { 'a.txt': 'a\n' } });
      const snaps = new Snapshots(client());
      await snaps.checkpoint(root, { instanceId: 'i3', turn: 0 });
      writeFiles(root, { 'user.txt': 'the user, between turns\n' });
      const start = await snaps.checkpoint(root, { instanceId: 'i3', turn: 1, phase: 'start' });
      writeFiles(root, { 'agent.txt': 'the agent\n' });
      await snaps.checkpoint(root, { instanceId: 'i3', turn: 1 });
      const changes = await snaps.turnChanges(root, 'i3', 1);
      assert.equal(changes.from.id, start.id);
      assert.deepEqual(changes.files.map((f) => f.path), ['agent.txt']);
      assert.deepEqual((await snaps.checkpoints(root, 'i3')).map((c) => c.id), ['i3/0', 'i3/1-start', 'i3/1']);
      await assert.rejects(snaps.turnChanges(root, 'i3', 2), rejectsWith('NotFound'));
      await assert.rejects(snaps.checkpoint(root, { instanceId: '../x', turn: 1 }), /Invalid instance id/);
    });
  });

  describe('retention', () => {
    it('prunes only what is old; checkpoints only when asked, never those of live instances', async () => {
      const root = repos.create();
      let clock = Date.UTC(2025, 0, 1);
      const snaps = new Snapshots(client(), { now: () => clock });
      const old = await snaps.snapshotWorktree(root, { reason: 'remove' });
      const oldBranch = await snaps.snapshotBranch(root, 'main', { reason: 'delete branch' });
      await snaps.checkpoint(root, { instanceId: 'live', turn: 0 });
      await snaps.checkpoint(root, { instanceId: 'ended', turn: 0 });
      clock += 20 * 86_400_000;
      const fresh = await snaps.snapshotWorktree(root, { reason: 'remove' });
      await snaps.checkpoint(root, { instanceId: 'ended-recently', turn: 0 });
      const listed = (await snaps.list(root)).map((m) => m.id);
      assert.equal(listed[0], fresh.id, 'newest first');
      assert.deepEqual(listed.slice(1).sort(), [old.id, oldBranch.id].sort());
      assert.deepEqual((await snaps.prune(root, { olderThanDays: 14 })).sort(), [old.id, oldBranch.id].sort());
      assert.deepEqual((await snaps.list(root)).map((m) => m.id), [fresh.id]);
      assert.equal((await snaps.checkpoints(root, 'ended')).length, 1, 'checkpoints are kept unless asked');
      await assert.rejects(snaps.prune(root, { olderThanDays: 14, checkpoints: 'ended' }), /live instance ids/);
      assert.deepEqual(await snaps.prune(root, { olderThanDays: 14, checkpoints: 'ended', liveInstanceIds: ['live'] }), ['ended/0']);
      assert.equal((await snaps.checkpoints(root, 'live')).length, 1);
      assert.equal((await snaps.checkpoints(root, 'ended-recently')).length, 1);
      assert.deepEqual(await snaps.prune(root, { olderThanDays: 14, checkpoints: 'all' }), ['live/0']);
      assert.equal(git(root, 'for-each-ref', '--format=%(refname)', SNAPSHOT_REF_PREFIX).split('\n').length, 1);
    });
  });
});
