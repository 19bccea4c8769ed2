import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { listChanges, parseNameStatus, parseNumstat, showFileAt } from '../../../src/core/git/changes';
import { instanceRepo } from '../../support/mergeFixtures';
import { commit, git, useTempRepos, writeFiles } from '../../support/repo';

describe('merge: changes', function () {
  this.timeout(30_000);
  const repos = useTempRepos();

  describe('parsers', () => {
    it('name-status -z with renames, copies, spaces and unicode', () => {
      const out = 'M\0a b.txt\0R087\0old name.txt\0new/ñame 文件.txt\0D\0gone\0A\0ünï côdé.md\0C100\0src.c\0copy.c\0T\0link\0U\0both.txt\0';
      assert.deepEqual(parseNameStatus(out), [
        { path: 'a b.txt', status: 'M' },
        { path: 'new/ñame 文件.txt', oldPath: 'old name.txt', status: 'R' },
        { path: 'gone', status: 'D' },
        { path: 'ünï côdé.md', status: 'A' },
        { path: 'copy.c', oldPath: 'src.c', status: 'C' },
        { path: 'link', status: 'T' },
        { path: 'both.txt', status: 'U' },
      ]);
      assert.deepEqual(parseNameStatus(''), []);
    });

    it('numstat -z with binary files and renames', () => {
      const out = '3\t1\ta b.txt\0-\t-\timg.png\0' + '2\t0\t\0old name\0new ñame\0' + '0\t5\tline\nbreak.txt\0';
      assert.deepEqual(parseNumstat(out), [
        { path: 'a b.txt', binary: false, insertions: 3, deletions: 1 },
        { path: 'img.png', binary: true, insertions: 0, deletions: 0 },
        { path: 'new ñame', oldPath: 'old name', binary: false, insertions: 2, deletions: 0 },
        { path: 'line\nbreak.txt', binary: false, insertions: 0, deletions: 5 },
      ]);
    });
  });

  it('lists committed, uncommitted and untracked changes against the merge-base (A/M/D/R, binary)', async () => {
    const long = Array.from({ length: 30 }, (_, i) => `line ${i}\n`).join('');
    const f = await instanceRepo(repos, { 'a.txt': 'a\n', 'b.txt': 'b\n', 'old name.txt': long, 'e.txt': 'e\n', 'keep.txt': 'k\n' });
    const wt = f.worktreePath;
    writeFiles(wt, { 'a.txt': 'a\nA2\n' });
    fs.rmSync(path.join(wt, 'b.txt'));
    fs.mkdirSync(path.join(wt, 'dïr'));
    git(wt, 'mv', 'old name.txt', 'dïr/new name.txt');
    fs.writeFileSync(path.join(wt, 'img.bin'), Buffer.from([0x89, 0x50, 0x00, 0xff, 0xfe, 0x00]));
    git(wt, 'add', '-A');
    git(wt, 'commit', '-q', '-m', 'agent');
    writeFiles(wt, { 'e.txt': 'e\nuncommitted\n', 'new file ü.txt': 'x\ny\n' });
    fs.writeFileSync(path.join(wt, 'blob.dat'), Buffer.from([0, 1, 2]));
    // The user moves main on: its changes must not show up (diff is against the merge-base).
    commit(f.repoRoot, 'user', { 'z.txt': 'z\n', 'keep.txt': 'changed on main\n' });

    const changes = await listChanges(f.client, { worktreePath: wt, baseRef: 'main' });
    assert.equal(changes.mergeBase, git(f.repoRoot, 'rev-parse', 'main~1'));
    assert.deepEqual(changes.files, [
      { path: 'a.txt', status: 'M', binary: false, insertions: 1, deletions: 0 },
      { path: 'b.txt', status: 'D', binary: false, insertions: 0, deletions: 1 },
      { path: 'blob.dat', status: 'A', untracked: true, binary: true },
      { path: 'dïr/new name.txt', oldPath: 'old name.txt', status: 'R', binary: false, insertions: 0, deletions: 0 },
      { path: 'e.txt', status: 'M', binary: false, insertions: 1, deletions: 0 },
      { path: 'img.bin', status: 'A', binary: true },
      { path: 'new file ü.txt', status: 'A', untracked: true, binary: false, insertions: 2, deletions: 0 },
    ]);
  });

  it('falls back to the recorded base commit when the base branch is gone', async () => {
    const f = await instanceRepo(repos);
    const baseCommit = git(f.repoRoot, 'rev-parse', 'main');
    commit(f.worktreePath, 'agent', { 'n.txt': 'n\n' });
    git(f.repoRoot, 'branch', '-m', 'main', 'renamed');
    const changes = await listChanges(f.client, { worktreePath: f.worktreePath, baseRef: 'main', baseCommit });
    assert.equal(changes.mergeBase, baseCommit);
    assert.deepEqual(changes.files.map((c) => c.path), ['n.txt']);
    await assert.rejects(listChanges(f.client, { worktreePath: f.worktreePath, baseRef: 'nope' }), /does not exist/);
  });

  it('showFileAt gives exact bytes, or undefined for a file that did not exist', async () => {
    const f = await instanceRepo(repos, { 'dir/a b ü.txt': 'héllo\n' });
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a]);
    fs.writeFileSync(path.join(f.repoRoot, 'img.png'), bytes);
    fs.writeFileSync(path.join(f.repoRoot, 'latin1.txt'), Buffer.from('caf\xe9\n', 'latin1'));
    git(f.repoRoot, 'add', '-A');
    git(f.repoRoot, 'commit', '-q', '-m', 'binary');
    const sha = git(f.repoRoot, 'rev-parse', 'HEAD');
    assert.equal((await showFileAt(f.client, f.worktreePath, sha, 'dir/a b ü.txt'))?.toString('utf8'), 'héllo\n');
    assert.equal((await showFileAt(f.client, f.worktreePath, sha, 'dir\\a b ü.txt'))?.toString('utf8'), 'héllo\n');
    assert.deepEqual(await showFileAt(f.client, f.repoRoot, sha, 'img.png'), bytes);
    assert.deepEqual(await showFileAt(f.client, f.repoRoot, sha, 'latin1.txt'), Buffer.from('caf\xe9\n', 'latin1'));
    assert.equal(await showFileAt(f.client, f.repoRoot, sha, 'missing.txt'), undefined);
    assert.equal(await showFileAt(f.client, f.repoRoot, sha, 'dir'), undefined);
    assert.equal(await showFileAt(f.client, f.repoRoot, `${sha}~1`, 'img.png'), undefined);
  });
});
