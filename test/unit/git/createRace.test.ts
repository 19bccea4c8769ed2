import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { GitError } from '../../../src/core/git/gitError';
import { WorktreeManager } from '../../../src/core/git/worktreeManager';

/**
 * Issue 11 item 1: creates racing from separate processes (the extension and `grove dispatch`, two windows).
 * This compiled file doubles as the worker: started with GROVE_CREATE_WORKER it creates one worktree and prints
 * the result as JSON, instead of defining tests.
 */
if (process.env.GROVE_CREATE_WORKER) {
  void worker();
} else {
  // Test-only imports stay out of the worker's way (they make a sandbox folder on load).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const support = require('../../support/repo') as typeof import('../../support/repo');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const procs = require('./support/processes') as typeof import('./support/processes');
  defineTests(support, procs);
}

interface WorkerResult {
  ok: boolean;
  path?: string;
  branch?: string;
  port?: number;
  code?: string;
  message?: string;
}

async function worker(): Promise<void> {
  const env = JSON.parse(process.env.GROVE_CREATE_WORKER_ENV ?? '{}') as Record<string, string>;
  const manager = new WorktreeManager(new GitClient({ env }));
  // Start together: wait for the go file the test writes once every worker is up.
  const go = process.env.GROVE_CREATE_WORKER_GO!;
  while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 5));
  let result: WorkerResult;
  try {
    const wt = await manager.create({ repoRoot: process.env.GROVE_CREATE_WORKER!, title: process.env.GROVE_CREATE_WORKER_TITLE ?? 'Race' });
    result = { ok: true, path: wt.path, branch: wt.branch, port: wt.port };
  } catch (err) {
    result = { ok: false, code: err instanceof GitError ? err.code : undefined, message: err instanceof Error ? err.message : String(err) };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runWorkers(root: string, count: number, env: Record<string, string>, title = 'Race'): Promise<WorkerResult[]> {
  const go = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-go-')), 'go');
  const workers = Array.from({ length: count }, () => new Promise<WorkerResult>((resolve, reject) => {
    const child = spawn(process.execPath, [__filename], {
      env: { ...process.env, GROVE_CREATE_WORKER: root, GROVE_CREATE_WORKER_ENV: JSON.stringify(env), GROVE_CREATE_WORKER_GO: go, GROVE_CREATE_WORKER_TITLE: title },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult);
      } catch {
        reject(new Error(`worker exited ${code} without a result: ${out}${err}`));
      }
    });
  }));
  // Give every worker time to load, then release them at once.
  setTimeout(() => fs.writeFileSync(go, ''), 1500);
  return Promise.all(workers).finally(() => fs.rmSync(path.dirname(go), { recursive: true, force: true }));
}

function defineTests(support: typeof import('../../support/repo'), procs: typeof import('./support/processes')): void {
  const { git, gitTestEnv, useTempRepos } = support;

  describe('creating across processes (issue 11 item 1)', function () {
    this.timeout(120_000);
    const repos = useTempRepos();

    it('four processes creating the same title at once get four intact worktrees on four branches', async () => {
      const root = repos.create({ files: { 'README.md': '# r\n', 'src/app.js': 'console.log(1)\n', 'src/lib/a.js': 'a\n' } });
      const results = await runWorkers(root, 4, gitTestEnv);
      const failures = results.filter((r) => !r.ok);
      // A clean refusal would be acceptable in principle; with the creation lock there is none.
      assert.deepEqual(failures, [], `failures: ${JSON.stringify(failures)}`);
      const branches = results.map((r) => r.branch!).sort();
      assert.deepEqual(branches, ['grove/race', 'grove/race-2', 'grove/race-3', 'grove/race-4']);
      assert.equal(new Set(results.map((r) => r.path)).size, 4);
      assert.equal(new Set(results.map((r) => r.port)).size, 4, 'distinct ports');
      for (const r of results) {
        assert.equal(fs.readFileSync(path.join(r.path!, 'src/app.js'), 'utf8'), 'console.log(1)\n', `${r.path} intact`);
        assert.equal(git(r.path!, 'rev-parse', '--abbrev-ref', 'HEAD'), r.branch);
        assert.equal(git(r.path!, 'status', '--porcelain'), '', `${r.path} clean`);
      }
      const listed = git(root, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length;
      assert.equal(listed, 5);
      assert.equal(git(root, 'config', '--local', '--list').includes('grove'), false, 'no per-worktree facts in the shared config');
      assert.equal(fs.existsSync(path.join(root, '.git', 'grove', 'create.lock')), false, 'the creation lock is released');
    });

    it('waits for a creation lock held by a live process, and breaks the lock of a dead one', async () => {
      const root = repos.create();
      const lockFile = path.join(root, '.git', 'grove', 'create.lock');
      fs.mkdirSync(path.dirname(lockFile), { recursive: true });
      const manager = new WorktreeManager(new GitClient({ env: gitTestEnv }), { creationLockTimeoutMs: 600 });

      const dead = await procs.deadProcess();
      fs.writeFileSync(lockFile, JSON.stringify({ ...dead, acquiredAt: Date.now(), token: 'dead' }));
      const wt = await manager.create({ repoRoot: root, title: 'after a crash' });
      assert.equal(wt.branch, 'grove/after-a-crash');
      assert.equal(fs.existsSync(lockFile), false);

      const live = await procs.liveProcess();
      try {
        fs.writeFileSync(lockFile, JSON.stringify({ ...live.identity, acquiredAt: Date.now(), token: 'live' }));
        await assert.rejects(manager.create({ repoRoot: root, title: 'blocked' }), (err: unknown) => {
          assert.ok(err instanceof GitError);
          assert.match(err.message, new RegExp(`process ${live.identity.pid} on .*create\\.lock`));
          return true;
        });
        assert.equal(JSON.parse(fs.readFileSync(lockFile, 'utf8')).token, 'live', 'a live owner keeps its lock');
        assert.equal(fs.existsSync(path.join(path.dirname(root), 'repo.worktrees', 'blocked')), false);
        // Released while a create waits: the create goes ahead.
        const waiting = new WorktreeManager(new GitClient({ env: gitTestEnv })).create({ repoRoot: root, title: 'patient' });
        setTimeout(() => fs.rmSync(lockFile), 300);
        assert.equal((await waiting).branch, 'grove/patient');
      } finally {
        await live.kill();
      }
    });

    it('a name taken by someone outside Grove between listing and claiming is skipped, and theirs is left alone', async () => {
      const root = repos.create();
      const client = new GitClient({ env: gitTestEnv });
      const manager = new WorktreeManager(client);
      // Someone else creates grove/x (and its folder) while our create is choosing: emulate by creating the
      // branch right after the refs were listed.
      const original = client.exclusive.bind(client);
      let theirs = '';
      client.exclusive = (cwd, fn, signal) => original(cwd, (repo) => fn({
        commonDir: repo.commonDir,
        run: async (dir, args, options) => {
          const result = await repo.run(dir, args, options);
          if (args[0] === 'for-each-ref' && !theirs) {
            git(root, 'branch', 'grove/x');
            theirs = git(root, 'rev-parse', 'grove/x');
          }
          return result;
        },
      }), signal);
      const wt = await manager.create({ repoRoot: root, title: 'x' });
      assert.equal(wt.branch, 'grove/x-2');
      assert.equal(git(root, 'rev-parse', 'grove/x'), theirs, 'their branch untouched');
      assert.equal(fs.existsSync(path.join(path.dirname(root), 'repo.worktrees', 'x')), false, 'our claimed folder for x was given back');
    });
  });
}
