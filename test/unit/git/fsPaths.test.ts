import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isInside, isSameOrInside, normalizePath, pathKey, PathMap, samePath } from '../../../src/core/util/fsPaths';

describe('fsPaths (issue 11 item 21): one path comparison everywhere', () => {
  it('Windows: case-insensitive, either separator, trailing separators ignored, case preserved when normalising', () => {
    assert.equal(samePath('C:\\Users\\Me\\repo', 'c:/users/me/REPO/', 'win32'), true);
    assert.equal(samePath('C:\\a\\b', 'C:\\a\\c', 'win32'), false);
    assert.equal(normalizePath('C:/Users/Me/Repo/', 'win32'), 'C:\\Users\\Me\\Repo');
    assert.equal(pathKey('C:/Users/Me/Repo', 'win32'), 'c:\\users\\me\\repo');
    assert.equal(isInside('C:\\Repo', 'c:/repo/.trees/x', 'win32'), true);
    assert.equal(isInside('C:\\Repo', 'C:\\Repo', 'win32'), false);
    assert.equal(isInside('C:\\Repo', 'C:\\Repository\\x', 'win32'), false);
    assert.equal(isInside('C:\\Repo', 'D:\\Repo\\x', 'win32'), false);
    assert.equal(samePath('\\\\server\\Share\\x', '//SERVER/share/x', 'win32'), true);
    assert.equal(isSameOrInside('C:\\Repo', 'c:\\repo', 'win32'), true);
  });

  it('macOS: case-insensitive (the default volume); Linux: case-sensitive', () => {
    assert.equal(samePath('/Users/me/Repo', '/users/me/repo', 'darwin'), true);
    assert.equal(samePath('/home/me/Repo', '/home/me/repo', 'linux'), false);
    assert.equal(samePath('/home/me/repo/', '/home/me/repo', 'linux'), true);
    assert.equal(isInside('/Users/Me', '/users/me/x', 'darwin'), true);
    assert.equal(isInside('/home/Me', '/home/me/x', 'linux'), false);
    assert.equal(isInside('/a/b', '/a/b/../c', 'linux'), false);
    assert.equal(isInside('/a/b', '/a/b/..c', 'linux'), true, 'a name starting with .. is inside');
  });

  it('PathMap finds a path however it is spelled on the platform', () => {
    const win = new PathMap<number>(undefined, 'win32');
    win.set('C:\\Repo\\wt', 1);
    assert.equal(win.get('c:/repo/WT/'), 1);
    assert.equal(win.has('C:\\Repo\\wt2'), false);
    const linux = new PathMap<number>([['/a/B', 2]], 'linux');
    assert.equal(linux.get('/a/B/'), 2);
    assert.equal(linux.get('/a/b'), undefined);
  });

  it('resolves symlinks on this machine, also for a path that no longer exists', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-paths-')));
    try {
      fs.mkdirSync(path.join(dir, 'real'));
      fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
      assert.equal(normalizePath(path.join(dir, 'link')), path.join(dir, 'real'));
      assert.equal(normalizePath(path.join(dir, 'link', 'gone', 'deeper')), path.join(dir, 'real', 'gone', 'deeper'));
      assert.equal(samePath(path.join(dir, 'link'), path.join(dir, 'real')), true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
