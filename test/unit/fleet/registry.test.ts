import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSnapshot } from '../../../src/core/fleet/instance';
import { InstanceRegistry, type RegistryCorruption } from '../../../src/core/fleet/registry';
import type { InstanceSnapshot } from '../../../src/core/model';
import { waitForEvent } from '../../../src/core/util/event';
import { MemoryLogger } from '../../../src/core/util/logger';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

function snap(id: string, updatedAt: number, extra: Partial<InstanceSnapshot> = {}): InstanceSnapshot {
  return { ...createSnapshot({ id, title: `T ${id}`, prompt: 'p', repoRoot: '/repo', mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' }, updatedAt), ...extra };
}

describe('fleet/registry', () => {
  let dir: string;
  const open: InstanceRegistry[] = [];
  const registry = (opts = {}) => {
    const r = new InstanceRegistry(dir, opts);
    open.push(r);
    return r;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-registry-'));
  });
  afterEach(() => {
    open.splice(0).forEach((r) => r.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes <commonDir>/grove/instances.json atomically and reads it back; a missing file is empty', async () => {
    const r = registry();
    assert.deepEqual(await r.read(), []);
    await r.upsert([snap('a', 1), snap('b', 1)]);
    assert.equal(r.file, path.join(dir, 'grove', 'instances.json'));
    assert.deepEqual(fs.readdirSync(path.join(dir, 'grove')), ['instances.json'], 'no temp or lock file left');
    assert.deepEqual((await registry().read()).map((s) => s.id).sort(), ['a', 'b']);
  });

  it('merges per id: the newer updatedAt wins, whoever writes last', async () => {
    const one = registry();
    const two = registry();
    await one.upsert(snap('x', 10, { state: 'running' }));
    await two.upsert(snap('x', 5, { state: 'queued' }));
    await two.upsert(snap('y', 5));
    const all = await registry().read();
    assert.equal(all.find((s) => s.id === 'x')?.state, 'running');
    assert.ok(all.some((s) => s.id === 'y'));
  });

  it('a removal is a tombstone: an older snapshot from another writer does not resurrect it', async () => {
    const one = registry();
    const two = registry();
    const t = Date.now();
    await one.upsert(snap('z', t + 10));
    await one.remove(['z'], t + 20);
    await two.upsert(snap('z', t + 15));
    assert.deepEqual(await registry().read(), []);
    await two.upsert(snap('z', t + 25));
    assert.equal((await registry().read()).length, 1, 'a genuinely newer change comes back');
  });

  it('two writers in two real processes, 50 entries each at once, lose no entry', async function () {
    this.timeout(20_000);
    const root = repoRoot();
    const script = path.join(dir, 'registryWriter.js');
    const build = spawnSync(
      process.execPath,
      ['-e', `require('esbuild').buildSync({ entryPoints: [${JSON.stringify(path.join(root, 'test/support/fleetFixtures/registryWriter.ts'))}], bundle: true, platform: 'node', format: 'cjs', outfile: ${JSON.stringify(script)}, logLevel: 'error' })`],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(build.status, 0, build.stderr);
    const run = (prefix: string) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [script, dir, prefix, '50'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${prefix} exited ${code}: ${err}`))));
      });
    await Promise.all([run('left'), run('right')]);
    const ids = (await registry().read()).map((s) => s.id);
    assert.equal(ids.length, 100);
    for (const p of ['left', 'right']) for (let i = 0; i < 50; i++) assert.ok(ids.includes(`${p}-${i}`), `${p}-${i} lost`);
    assert.ok(!fs.existsSync(path.join(dir, 'grove', 'instances.json.lock')));
  });

  it('breaks a stale lock left by a dead process', async () => {
    fs.mkdirSync(path.join(dir, 'grove'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'grove', 'instances.json.lock'), JSON.stringify({ pid: 999_999, host: os.hostname(), at: Date.now(), token: 't' }));
    const logger = new MemoryLogger();
    const r = registry({ logger, probe: { host: os.hostname(), isAlive: (pid: number) => pid !== 999_999, startTime: () => undefined }, lockTimeoutMs: 2000 });
    await r.upsert(snap('a', 1));
    assert.equal((await r.read()).length, 1);
    assert.ok(logger.lines.some((l) => l.includes('broke the stale lock') && l.includes('pid 999999')), logger.lines.join('\n'));
  });

  it('times out with a clear error on a live lock', async () => {
    fs.mkdirSync(path.join(dir, 'grove'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'grove', 'instances.json.lock'), JSON.stringify({ pid: process.pid + 1, host: os.hostname(), at: Date.now(), token: 't' }));
    const r = registry({ probe: { host: os.hostname(), isAlive: () => true, startTime: () => undefined }, lockTimeoutMs: 100 });
    await assert.rejects(r.upsert(snap('a', 1)), /Timed out after 100 ms waiting for the registry lock/);
  });

  it('keeps a corrupt file as .bak, reports it, and the next write keeps what this process knew', async () => {
    const r = registry();
    await r.upsert(snap('known', 1));
    fs.writeFileSync(r.file, '{"version":1,"instances":{"known":{'); // truncated by some outside tool
    const reports: RegistryCorruption[] = [];
    r.onDidReportCorruption((c) => reports.push(c));
    await r.upsert(snap('new', 2));
    assert.equal(reports.length, 1);
    assert.match(reports[0].reason, /not JSON/);
    assert.ok(reports[0].backup.endsWith('.bak'));
    assert.equal(fs.readFileSync(reports[0].backup, 'utf8'), '{"version":1,"instances":{"known":{');
    assert.deepEqual((await registry().read()).map((s) => s.id).sort(), ['known', 'new']);
  });

  it('a fresh reader of a corrupt file reports it once and keeps the bytes', async () => {
    fs.mkdirSync(path.join(dir, 'grove'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'grove', 'instances.json'), 'garbage');
    const r = registry();
    const reports: RegistryCorruption[] = [];
    r.onDidReportCorruption((c) => reports.push(c));
    assert.deepEqual(await r.read(), []);
    assert.deepEqual(await r.read(), []);
    assert.equal(reports.length, 1);
    assert.equal(fs.readFileSync(reports[0].backup, 'utf8'), 'garbage');
    assert.equal(fs.readFileSync(r.file, 'utf8'), 'garbage', 'reading never destroys the original');
  });

  it('watch() fires onDidChange for another writer, not for its own writes', async () => {
    const watcher = registry({ debounceMs: 30 });
    watcher.watch();
    const own: InstanceSnapshot[][] = [];
    const sub = watcher.onDidChange((c) => own.push(c.instances));
    await watcher.upsert(snap('mine', 1));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(own.length, 0, 'own write reported as external');
    sub.dispose();
    const changed = waitForEvent(watcher.onDidChange, (c) => c.instances.some((s) => s.id === 'theirs'), 5000);
    await registry().upsert(snap('theirs', 2));
    const all = (await changed).instances;
    assert.deepEqual(all.map((s) => s.id).sort(), ['mine', 'theirs']);
  });

  // Found by the fleet test of a removal reaching another process (1 run in 10 failed): that process wrote within the
  // watcher's debounce, its write read and merged the removal, and the watcher then saw "nothing new".
  it('another writer\'s change reaches onDidChange even when this registry writes before its watcher looks', async () => {
    const watcher = registry({ debounceMs: 200 });
    await watcher.upsert(snap('mine', 1));
    watcher.watch();
    const seen: string[][] = [];
    watcher.onDidChange((c) => seen.push([...c.instances.map((s) => s.id), ...c.removed.map((id) => `-${id}`)]));
    const other = registry();
    await other.upsert(snap('theirs', 2));
    await other.remove(['mine']);
    // Within the debounce: this registry's own write merges both changes of the other writer.
    await watcher.upsert(snap('also-mine', 4));
    const reported = () => seen.some((ids) => ids.includes('theirs') && ids.includes('-mine'));
    for (let i = 0; i < 100 && !reported(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(reported(), `the other writer's changes were never reported: ${JSON.stringify(seen)}`);
    // The registry's content on disk holds everything.
    assert.deepEqual((await registry().read()).map((s) => s.id).sort(), ['also-mine', 'theirs']);
  });
});
