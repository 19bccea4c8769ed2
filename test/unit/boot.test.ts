// The extension's loader (src/boot.ts, built as dist/extension.js, the package's main): Grove runs from a V8 code
// cache kept in its global storage, and nothing wrong with that cache (missing, from another build, damaged, storage
// that cannot be written) stops Grove loading or runs code other than the build's own. Each load is a fresh Node
// process running the BUILT loader, as each window's extension host is (within one process V8 reuses what it
// compiled and never reads the cache).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/claudeEnv';

const LOADER = path.join(repoRoot(), 'dist', 'extension.js');
const CHILD = [
  'const { load } = require(process.argv[1]);',
  'const r = load(process.argv[2], process.argv[3]);',
  'let at = "";',
  'try { r.main.fail(); } catch (e) { at = /grove\\.js:(\\d+:\\d+)/.exec(e.stack)[1]; }',
  'Promise.resolve(r.save && r.save()).then(() => process.stdout.write(JSON.stringify({ value: r.main.value(), where: r.main.where, cached: !r.save, at })));',
].join('\n');

describe('the extension loader and its code cache', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;
  let cacheDir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-boot-'));
    file = path.join(dir, 'dist with space', 'grove.js');
    cacheDir = path.join(dir, 'global storage', 'code-cache');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    build('42');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A "build" of Grove: a CommonJS module that uses what Node gives a module. */
  const build = (value: string) => fs.writeFileSync(file, [
    '"use strict";',
    'const p = require("node:path");',
    `exports.value = () => ${value};`,
    'exports.where = p.basename(__dirname) + "/" + p.basename(__filename) + (module.exports === exports ? "" : " (module?)");',
    'exports.fail = () => { throw new Error("where errors point"); };',
  ].join('\n'));
  /** One window's activation: the built loader in a fresh process. `cached`: it ran from a cache it accepted. */
  const activate = () => new Promise<{ value: number; where: string; cached: boolean; at: string }>((resolve, reject) => {
    execFile(process.execPath, ['-e', CHILD, LOADER, file, cacheDir], (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
  });
  const caches = () => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).sort() : []);

  it('runs Grove as require would; from the second activation on, from the cache; a new build gets its own and the old one goes', async () => {
    // Errors name the bundle's own line and column (line 5, column 30 where `new Error` stands), as require reports them.
    assert.deepEqual(await activate(), { value: 42, where: 'dist with space/grove.js', cached: false, at: '5:30' });
    const [written] = caches();
    assert.match(written!, /^grove-[0-9a-f]+\.bin$/);
    assert.deepEqual(await activate(), { value: 42, where: 'dist with space/grove.js', cached: true, at: '5:30' });
    // A build of the same length: V8 alone would take the old cache for it.
    build('43');
    assert.deepEqual(await activate(), { value: 43, where: 'dist with space/grove.js', cached: false, at: '5:30' });
    assert.equal(caches().length, 1);
    assert.notEqual(caches()[0], written);
    assert.equal((await activate()).cached, true);
  });

  for (const [damage, how] of [
    ['one byte flipped', (b: Buffer) => { b[b.length - 7]! ^= 0xff; return b; }],
    ['cut short', (b: Buffer) => b.subarray(0, b.length >> 1)],
    ['not a cache at all', () => Buffer.from('not a code cache at all')],
  ] as const) {
    it(`a damaged cache (${damage}) is never run: Grove compiles, and a good cache replaces it`, async () => {
      await activate();
      const cache = path.join(cacheDir, caches()[0]!);
      fs.writeFileSync(cache, how(fs.readFileSync(cache)));
      assert.deepEqual(await activate(), { value: 42, where: 'dist with space/grove.js', cached: false, at: '5:30' });
      assert.equal((await activate()).cached, true);
    });
  }

  it('storage that cannot hold a cache (a file where its folder goes) costs only the cache', async () => {
    fs.mkdirSync(path.dirname(cacheDir), { recursive: true });
    fs.writeFileSync(cacheDir, 'in the way');
    assert.deepEqual(await activate(), { value: 42, where: 'dist with space/grove.js', cached: false, at: '5:30' });
    assert.equal((await activate()).value, 42);
    assert.equal(fs.readFileSync(cacheDir, 'utf8'), 'in the way');
  });
});
