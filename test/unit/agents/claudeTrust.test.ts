import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { claudeConfigFile, inheritFolderTrust } from '../../../src/core/agents/claudeTrust';
import { ScriptedModel, text } from '../../support/scriptedModel';
import { CLAUDE, makeSandbox } from '../../support/agentFixtures';
import { execa } from 'execa';

/**
 * Another process updating the config the way Claude Code does: under `<file>.lock` (a directory: proper-lockfile's
 * protocol), re-reading the file each time, one counter increment per round. It counts rounds whose read did not
 * show its own previous write: an update lost to someone writing without the lock.
 */
const WRITER = `
const fs = require('fs');
// Rewrites the file under the CLI's lock until the stop file exists (so it overlaps every update of the test, however
// slow the machine), at most a million times.
const [file, stop] = [process.argv[1], process.argv[2]];
const lock = file + '.lock';
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
let last = null, lost = 0;
for (let i = 0; i < 1e6 && !fs.existsSync(stop); i++) {
  for (;;) { try { fs.mkdirSync(lock); break; } catch (e) { if (e.code !== 'EEXIST') throw e; nap(1); } }
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (last !== null && c.counter !== last) lost++;
    c.counter = (c.counter || 0) + 1;
    last = c.counter;
    fs.writeFileSync(file + '.writer.tmp', JSON.stringify(c, null, 2));
    fs.renameSync(file + '.writer.tmp', file);
  } finally { fs.rmdirSync(lock); }
}
process.stdout.write(JSON.stringify({ lost, last }));
`;

describe('claude folder trust for worktrees', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-trust-'));
    file = path.join(dir, '.claude.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (c: unknown) => fs.writeFileSync(file, JSON.stringify(c), { mode: 0o600 });
  const read = () => JSON.parse(fs.readFileSync(file, 'utf8'));

  it('carries the trust of the repository over to its worktree and keeps every other key', () => {
    write({ userID: 'u1', projects: { '/r/app': { hasTrustDialogAccepted: true, allowedTools: ['Bash'] } } });
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/app.worktrees/fix'), 'inherited');
    const c = read();
    assert.equal(c.userID, 'u1');
    assert.deepEqual(c.projects['/r/app'], { hasTrustDialogAccepted: true, allowedTools: ['Bash'] });
    assert.equal(c.projects['/r/app.worktrees/fix'].hasTrustDialogAccepted, true);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['.claude.json'], 'a temporary file was left behind');
  });

  it('accepts trust given to a folder above the repository', () => {
    write({ projects: { '/r': { hasTrustDialogAccepted: true } } });
    assert.equal(inheritFolderTrust(file, '/r/app', '/elsewhere/wt'), 'inherited');
  });

  it('never trusts a worktree of a repository the user has not trusted', () => {
    write({ projects: { '/r/app': { hasTrustDialogAccepted: false } } });
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/app.worktrees/fix'), 'sourceNotTrusted');
    assert.equal(read().projects['/r/app.worktrees/fix'], undefined);
  });

  it('an update written while Grove was preparing its own is kept (compare-and-retry)', () => {
    write({ numStartups: 1, projects: { '/r/app': { hasTrustDialogAccepted: true } } });
    const seen: number[] = [];
    // A writer that does not take the lock changes the file between Grove's read and its rename, once.
    const r = inheritFolderTrust(file, '/r/app', '/r/wt', {
      beforeCommit: (attempt) => {
        seen.push(attempt);
        if (attempt === 1) write({ ...read(), numStartups: 2, projects: { ...read().projects, '/other': { hasTrustDialogAccepted: true } } });
      },
    });
    assert.equal(r, 'inherited');
    assert.deepEqual(seen, [1, 2], 'the first attempt was given up and the second started from the new content');
    const c = read();
    assert.equal(c.numStartups, 2, "the other process's update was overwritten");
    assert.equal(c.projects['/other'].hasTrustDialogAccepted, true);
    assert.equal(c.projects['/r/wt'].hasTrustDialogAccepted, true);
    assert.deepEqual(fs.readdirSync(dir), ['.claude.json'], 'a temporary file or the lock was left behind');
  });

  it('gives up without writing when the file changes under every attempt', () => {
    write({ n: 0, projects: { '/r/app': { hasTrustDialogAccepted: true } } });
    let n = 0;
    const r = inheritFolderTrust(file, '/r/app', '/r/wt', { attempts: 3, beforeCommit: () => write({ ...read(), n: ++n }) });
    assert.equal(r, 'contended');
    assert.deepEqual(read(), { n: 3, projects: { '/r/app': { hasTrustDialogAccepted: true } } });
    assert.deepEqual(fs.readdirSync(dir), ['.claude.json']);
  });

  it("waits for Claude Code's lock on the file; writes nothing while it stays held; takes over a stale one", async () => {
    write({ projects: { '/r/app': { hasTrustDialogAccepted: true } } });
    const lock = `${file}.lock`;
    // Another process holds the lock and releases it 400 ms later.
    fs.mkdirSync(lock);
    const holder = spawn(process.execPath, ['-e', `setTimeout(() => require('fs').rmdirSync(${JSON.stringify(lock)}), 400)`], { stdio: 'ignore' });
    const released = new Promise((r) => holder.on('exit', r));
    const t = Date.now();
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/wt1', { lockWaitMs: 10_000, beforeCommit: () => assert.ok(fs.existsSync(lock), 'Grove holds the lock') }), 'inherited');
    assert.ok(Date.now() - t >= 300, 'did not wait for the lock');
    await released;
    assert.equal(fs.existsSync(lock), false, 'Grove released its lock');
    // Held for longer than Grove waits: a CLI is between its read and its write; nothing is written.
    fs.mkdirSync(lock);
    const before = fs.readFileSync(file, 'utf8');
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/wt2', { lockWaitMs: 200 }), 'contended');
    assert.equal(fs.readFileSync(file, 'utf8'), before);
    assert.ok(fs.existsSync(lock), "someone else's lock was removed");
    // Left behind by a process that died: taken over once stale, then released.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/wt3', { lockWaitMs: 5000 }), 'inherited');
    assert.equal(fs.existsSync(lock), false);
    assert.equal(read().projects['/r/wt3'].hasTrustDialogAccepted, true);
  });

  it('writes through a symlinked config instead of replacing the link', function () {
    if (process.platform === 'win32') this.skip();
    const real = path.join(dir, 'dotfiles.json');
    fs.writeFileSync(real, JSON.stringify({ projects: { '/r/app': { hasTrustDialogAccepted: true } } }));
    fs.symlinkSync(real, file);
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/wt'), 'inherited');
    assert.ok(fs.lstatSync(file).isSymbolicLink());
    assert.equal(JSON.parse(fs.readFileSync(real, 'utf8')).projects['/r/wt'].hasTrustDialogAccepted, true);
  });

  it('loses no update when another process rewrites the file under the CLI lock meanwhile (real processes)', async function () {
    this.timeout(60_000);
    write({ counter: 0, projects: { '/r/app': { hasTrustDialogAccepted: true } } });
    const stop = path.join(dir, 'stop');
    const child = spawn(process.execPath, ['-e', WRITER, file, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    let running = true;
    void exited.then(() => (running = false));
    while (read().counter === 0) await new Promise((r) => setTimeout(r, 5));
    const worktrees: string[] = [];
    while (running && worktrees.length < 100) {
      const wt = `/r/app.worktrees/wt-${worktrees.length}`;
      worktrees.push(wt);
      assert.equal(inheritFolderTrust(file, '/r/app', wt), 'inherited');
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(running, true, 'the other process stopped before the test had made its updates');
    fs.writeFileSync(stop, '');
    assert.equal(await exited, 0);
    const { lost, last } = JSON.parse(out);
    const c = read();
    assert.ok(last > 0, `writer: ${out}`);
    assert.equal(lost, 0, `${lost} updates of the other process were overwritten by Grove`);
    assert.equal(c.counter, last, 'the other process\'s last update was overwritten');
    const missing = worktrees.filter((w) => c.projects[w]?.hasTrustDialogAccepted !== true);
    assert.deepEqual(missing, [], 'trust written by Grove was overwritten');
  });

  it('real Claude Code runs rewriting the config meanwhile: both sides keep their updates', async function () {
    this.timeout(60_000);
    const model = await ScriptedModel.start({ script: [text('one'), text('two')] });
    const box = makeSandbox(model.url);
    try {
      const cfg = path.join(box.configDir, '.claude.json');
      fs.writeFileSync(cfg, JSON.stringify({ hasCompletedOnboarding: true, projects: { [box.repo]: { hasTrustDialogAccepted: true } } }), { mode: 0o600 });
      const runs = [0, 1].map(() => execa(CLAUDE(), ['-p', 'hi', '--output-format', 'stream-json', '--verbose'], { cwd: box.repo, env: box.env, extendEnv: false, stdin: 'ignore', reject: false }));
      let running = true;
      void Promise.all(runs).then(() => (running = false));
      // Grove writes while the CLIs start and work. When a CLI holds its lock for longer than Grove waits (a loaded
      // machine), Grove writes nothing ('contended'); whatever it reports written must still be there at the end.
      const worktrees: string[] = [];
      let n = 0;
      while (running) {
        const wt = path.join(box.root, 'wts', `wt-${n++}`);
        const r = inheritFolderTrust(cfg, box.repo, wt);
        assert.ok(r === 'inherited' || r === 'contended', r);
        if (r === 'inherited') worktrees.push(wt);
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(worktrees.length > 0);
      for (const r of await Promise.all(runs)) assert.equal(r.exitCode, 0, r.stderr);
      const c = JSON.parse(fs.readFileSync(cfg, 'utf8'));
      assert.equal(c.hasCompletedOnboarding, true);
      for (const k of ['firstStartTime', 'userID', 'machineID', 'migrationVersion']) assert.ok(c[k] !== undefined, `${k}, written by the CLI, was overwritten`);
      assert.deepEqual(worktrees.filter((w) => c.projects[w]?.hasTrustDialogAccepted !== true), [], 'trust written by Grove was overwritten by the CLI');
      assert.equal(fs.existsSync(`${cfg}.lock`), false);
    } finally {
      await model.close();
      box.cleanup();
    }
  });

  it('says so when there is no config yet, and finds it through CLAUDE_CONFIG_DIR', () => {
    assert.equal(inheritFolderTrust(file, '/r/app', '/r/wt'), 'noConfig');
    assert.equal(claudeConfigFile({ CLAUDE_CONFIG_DIR: dir }), file);
    assert.equal(claudeConfigFile({}), path.join(os.homedir(), '.claude.json'));
  });
});
