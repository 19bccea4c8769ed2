import assert from 'node:assert/strict';
import { commitsLeftByCheckout, formatLockReason, parseLockOwner, parseStatus, parseWorktreeList } from '../../../src/core/git/worktreeParser';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('worktreeParser', () => {
  it('parses main, branch, detached, locked with and without reason, prunable, and odd paths', () => {
    const out = [
      `worktree /home/u/my repo`, `HEAD ${A}`, 'branch refs/heads/main', '',
      `worktree /home/u/my repo.worktrees/fix-ü 😀`, `HEAD ${B}`, 'branch refs/heads/grove/fix-u', 'locked grove: agent running', '',
      `worktree /tmp/detached`, `HEAD ${A}`, 'detached', 'locked', '',
      `worktree /tmp/gone`, `HEAD ${B}`, 'branch refs/heads/old', 'prunable gitdir file points to non-existent location', '',
      `worktree /tmp/line\nbreak`, `HEAD ${A}`, 'branch refs/heads/x', '',
      '',
    ].join('\0');
    const list = parseWorktreeList(out);
    assert.equal(list.length, 5);
    assert.deepEqual(list[0], { path: '/home/u/my repo', head: A, branchRef: 'refs/heads/main', branch: 'main', detached: false, bare: false, locked: false, prunable: false });
    assert.equal(list[1]!.path, '/home/u/my repo.worktrees/fix-ü 😀');
    assert.equal(list[1]!.branch, 'grove/fix-u');
    assert.equal(list[1]!.locked, true);
    assert.equal(list[1]!.lockedReason, 'grove: agent running');
    assert.equal(list[2]!.detached, true);
    assert.equal(list[2]!.branch, undefined);
    assert.equal(list[2]!.locked, true);
    assert.equal(list[2]!.lockedReason, undefined);
    assert.equal(list[3]!.prunable, true);
    assert.equal(list[3]!.prunableReason, 'gitdir file points to non-existent location');
    assert.equal(list[4]!.path, '/tmp/line\nbreak');
  });

  it('parses a bare main entry and an unborn branch (null HEAD)', () => {
    const out = ['worktree /srv/repo.git', 'bare', '', 'worktree /srv/wt', `HEAD ${'0'.repeat(40)}`, 'branch refs/heads/new', '', ''].join('\0');
    const list = parseWorktreeList(out);
    assert.equal(list[0]!.bare, true);
    assert.equal(list[0]!.head, undefined);
    assert.equal(list[1]!.head, undefined);
    assert.equal(list[1]!.branch, 'new');
  });

  it('ignores unknown attributes and returns nothing for empty output', () => {
    assert.deepEqual(parseWorktreeList(''), []);
    const list = parseWorktreeList(['worktree /x', `HEAD ${A}`, 'future-attr yes', 'branch refs/heads/y', '', ''].join('\0'));
    assert.equal(list.length, 1);
    assert.equal(list[0]!.branch, 'y');
  });

  it('parses porcelain v1 -z status into changed and untracked', () => {
    const out = [' M src/a.ts', 'A  new file.txt', 'D  gone.md', '?? notes/ü.txt', '!! ignored.log', ''].join('\0');
    assert.deepEqual(parseStatus(out), { changed: ['src/a.ts', 'new file.txt', 'gone.md'], untracked: ['notes/ü.txt'] });
  });

  it('lock reasons carry the owner process and read back; foreign and old reasons have no owner', () => {
    const owner = { pid: 4242, host: 'my host,x]', startTime: 'Mon Jan  1 00:00:00 2025' };
    const reason = formatLockReason('agent "Fix [pid 1 on x] login"\nis running', owner);
    assert.match(reason, /^grove: agent "Fix {2}login" is running \[pid 4242 on my%20host%2Cx%5D, started Mon%20Jan%20%201%2000%3A00%3A00%202025\]$/);
    assert.deepEqual(parseLockOwner(reason), owner);
    assert.deepEqual(parseLockOwner(formatLockReason('x', { pid: 7, host: 'h' })), { pid: 7, host: 'h' });
    assert.equal(parseLockOwner('grove: agent "x" is running'), undefined);
    assert.equal(parseLockOwner('on a USB stick [pid 1 on h]'), undefined);
    assert.equal(parseLockOwner(undefined), undefined);
  });

  it('finds the commits a checkout left behind in a HEAD log, most recent first', () => {
    const C = 'c'.repeat(40);
    const D = 'd'.repeat(40);
    const Z = '0'.repeat(40);
    const who = 'A U Thor <a@example.com> 1700000000 +0000';
    const log = [
      `${Z} ${A} ${who}\t`,
      `${A} ${A} ${who}\tcheckout: moving from grove/x to HEAD`,
      `${A} ${B} ${who}\tcommit: on detached`,
      `${B} ${A} ${who}\tcheckout: moving from ${B} to grove/x`,
      `${A} ${C} ${who}\tcommit: on branch`,
      `${C} ${D} ${who}\tcommit (amend): on branch, amended`,
      `${D} ${C} ${who}\treset: moving to HEAD~1`,
      `${C} ${A} ${who}\trebase (start): checkout main`,
      '',
    ].join('\n');
    assert.deepEqual(commitsLeftByCheckout(log), [B, A]);
    assert.deepEqual(commitsLeftByCheckout(''), []);
  });
});
