import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { listIgnoredWork, REGENERABLE, walkEntry } from '../../../src/core/git/ignoredFiles';
import { MemoryLogger } from '../../../src/core/util/logger';
import { git, gitTestEnv, useTempRepos, writeFiles } from '../../support/repo';

const client = () => new GitClient({ env: gitTestEnv });
const summary = (entries: Awaited<ReturnType<typeof listIgnoredWork>>) => entries.map((e) => `${e.path} ${e.files} ${e.bytes}${e.included ? ' kept' : ''}${e.repository ? ' repo' : ''}`);

describe('ignoredFiles', function () {
  this.timeout(30_000);
  const repos = useTempRepos();

  it('lists ignored work, not what tools regenerate; a wholly ignored folder is one entry with its size', async () => {
    const root = repos.create({ files: { '.gitignore': ['.env.local', 'node_modules/', 'dist/', '*.pyc', '__pycache__/', 'notes/', '*.log', '.DS_Store', 'secrets dir/', ''].join('\n'), 'src/a.ts': 'a\n' } });
    writeFiles(root, {
      '.env.local': 'SECRET=1\n',
      'node_modules/pkg/index.js': 'x'.repeat(100),
      'dist/app.js': 'built\n',
      'src/__pycache__/a.cpython.pyc': 'pyc',
      'src/b.pyc': 'pyc',
      'notes/one.md': '12345',
      'notes/sub/two.md': '123',
      'debug.log': 'log\n',
      '.DS_Store': 'os',
      'secrets dir/ü key.pem': 'key',
      'untracked.txt': 'not ignored: the removal report lists it already',
    });
    fs.mkdirSync(path.join(root, 'notes', 'empty'), { recursive: true });
    const entries = await listIgnoredWork(client(), root);
    assert.deepEqual(summary(entries), ['.env.local 1 9', 'debug.log 1 4', 'notes/ 2 8', 'secrets dir/ 1 3']);
    assert.deepEqual(entries.find((e) => e.path === 'notes/'), { path: 'notes/', dir: true, files: 2, bytes: 8, included: false });
  });

  it('always lists what copyFiles and .worktreeinclude match, even inside regenerable folders', async () => {
    const root = repos.create({ files: { '.gitignore': '.env*\nnode_modules/\nbuild/\nconfig/*.local.json\n', '.worktreeinclude': 'build/keep.txt\n' } });
    writeFiles(root, {
      '.env': 'A=1\n',
      '.env.production': 'B=2\n',
      'node_modules/.env.cache': 'regenerable but matched',
      'node_modules/other.js': 'x',
      'build/keep.txt': 'hand-made',
      'build/out.js': 'generated',
      'config/app.local.json': '{}',
    });
    const entries = await listIgnoredWork(client(), root, { copyPatterns: ['.env', '.env.*'] });
    assert.deepEqual(summary(entries), [
      '.env 1 4 kept', '.env.production 1 4 kept', 'build/keep.txt 1 9 kept', 'config/ 1 2', 'node_modules/.env.cache 1 23 kept',
    ]);
  });

  it('walks the whole worktree once; the other listings read only what it found, whatever the environment says of pathspecs', async () => {
    const root = repos.create({ files: { '.gitignore': '.env*\nnode_modules/\n*.log\n', 'src/a.ts': 'a\n', 'src/b.ts': 'b\n' } });
    const logger = new MemoryLogger();
    const counted = new GitClient({ logger, env: { ...gitTestEnv, GIT_LITERAL_PATHSPECS: '1' } });
    const listings = () => logger.lines.filter((l) => / ls-files /.test(l));
    assert.deepEqual(await listIgnoredWork(counted, root, { copyPatterns: ['.env'] }), []);
    assert.equal(listings().length, 1, 'nothing is ignored: one listing');
    writeFiles(root, { '.env': 'A=1\n', 'node_modules/.env': 'kept even here', 'node_modules/x.js': 'x', 'odd [dir]/*.log': 'a log named like a glob' });
    logger.lines.length = 0;
    const entries = await listIgnoredWork(counted, root, { copyPatterns: ['.env'] });
    assert.deepEqual(summary(entries), ['.env 1 4 kept', 'node_modules/.env 1 14 kept', 'odd [dir]/ 1 23']);
    assert.equal(listings().length, 3);
    assert.equal(listings().filter((l) => / -- /.test(l)).length, 2, 'the second and third listing are limited to what is ignored');
  });

  it('splits a folder mixing regenerable and other content; flags nested repositories', async () => {
    const root = repos.create({ files: { '.gitignore': 'tmp/\nvendor-repo/\n' } });
    writeFiles(root, {
      'tmp/notes.md': 'mine',
      'tmp/node_modules/x/index.js': 'generated',
      'tmp/deeper/.venv/lib.py': 'generated',
      'tmp/deeper/keep.txt': 'keep',
      'vendor-repo/file.txt': 'in a nested repo',
    });
    git(path.join(root, 'vendor-repo'), 'init', '-q');
    const entries = await listIgnoredWork(client(), root);
    assert.deepEqual(summary(entries), ['tmp/deeper/keep.txt 1 4', 'tmp/notes.md 1 4', 'vendor-repo/ 1 16 repo']);
  });

  it('nothing ignored, or only regenerable content: an empty list; tracked files are never listed', async () => {
    const root = repos.create({ files: { '.gitignore': 'node_modules/\nforced.txt\n', 'README.md': 'r' } });
    writeFiles(root, { 'forced.txt': 'tracked although ignored', 'node_modules/a.js': 'a' });
    git(root, 'add', '-f', 'forced.txt');
    git(root, 'commit', '-q', '-m', 'forced');
    assert.deepEqual(await listIgnoredWork(client(), root), []);
    assert.deepEqual(await listIgnoredWork(client(), root, { regenerable: [] }), [{ path: 'node_modules/', dir: true, files: 1, bytes: 1, included: false }]);
  });

  it('works in a linked worktree, from a subfolder', async () => {
    const root = repos.create({ files: { '.gitignore': '.env.local\n', 'src/x.ts': 'x' } });
    const wt = path.join(path.dirname(root), 'wt');
    git(root, 'worktree', 'add', '-q', '-b', 'grove/w', wt);
    writeFiles(wt, { '.env.local': 'edited' });
    assert.deepEqual(summary(await listIgnoredWork(client(), path.join(wt, 'src'))), ['.env.local 1 6']);
  });

  it('walkEntry lists files and links without following them, and does not enter nested repositories', async () => {
    const root = repos.dir();
    writeFiles(root, { 'd/a.txt': 'aa', 'd/sub/b.txt': 'b', 'd/repo/c.txt': 'c' });
    fs.mkdirSync(path.join(root, 'd/repo/.git'));
    if (process.platform !== 'win32') fs.symlinkSync('/etc', path.join(root, 'd/link'));
    const { files, repositories } = await walkEntry(root, 'd/');
    assert.deepEqual(files.map((f) => `${f.path}${f.link ? ' link' : ''}`).sort(), ['d/a.txt', ...(process.platform !== 'win32' ? ['d/link link'] : []), 'd/sub/b.txt']);
    assert.deepEqual(repositories, ['d/repo/']);
    assert.deepEqual(await walkEntry(root, 'missing'), { files: [], repositories: [] });
  });

  it('REGENERABLE is short and contains the usual suspects', () => {
    for (const p of ['node_modules/', 'dist/', 'build/', 'out/', 'target/', '.venv/', 'venv/', '__pycache__/', '.next/', '.nuxt/', 'coverage/', '.cache/', '.gradle/', '.tox/', '*.pyc', '.DS_Store']) {
      assert.ok(REGENERABLE.includes(p), p);
    }
    assert.ok(!REGENERABLE.some((p) => p.startsWith('.env')), 'never an env file');
  });
});
