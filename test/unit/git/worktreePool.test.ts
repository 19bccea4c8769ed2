import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { CLAIM_FILE, claimSpare, readSpares } from '../../../src/core/git/spares';
import { WorktreeManager } from '../../../src/core/git/worktreeManager';
import { readBranchRecord, readMetadata } from '../../../src/core/git/worktreeRecords';
import { MemoryLogger } from '../../../src/core/util/logger';
import { commit, git, gitStatus, gitTestEnv, useTempRepos, writeFiles } from '../../support/repo';
import { deadProcess, liveProcess } from './support/processes';

function makeManager() {
  const logger = new MemoryLogger();
  return { manager: new WorktreeManager(new GitClient({ logger, env: gitTestEnv }), { logger }), logger };
}

const adminDirOf = (wt: string) => path.resolve(wt, fs.readFileSync(path.join(wt, '.git'), 'utf8').replace(/^gitdir: /, '').trim());

/** Issue 17 part 2: the warm worktree pool, with real git. */
describe('worktree pool', function () {
  this.timeout(60_000);
  const repos = useTempRepos();

  function repoWithEnv(): string {
    const root = repos.create({ files: { 'README.md': '# r\n', '.gitignore': '.env\n' } });
    writeFiles(root, { '.env': 'SECRET=1\n' });
    return root;
  }

  it('fills spares detached at the base tip, provisioned and recorded as spares that every listing sees', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const provisioning = { copyFiles: ['.env'], setupCommand: 'echo "$GROVE_SPARE" > setup.out' };
    const r = await manager.pool.reconcile({ repoRoot: root, size: 2, ...provisioning });
    assert.equal(r.created.length, 2, JSON.stringify(r));
    const main = git(root, 'rev-parse', 'main');
    for (const p of r.created) {
      assert.equal(git(p, 'rev-parse', 'HEAD'), main);
      assert.equal(gitStatus(p, 'symbolic-ref', '-q', 'HEAD'), 1, 'detached');
      assert.equal(fs.readFileSync(path.join(p, '.env'), 'utf8'), 'SECRET=1\n');
      assert.equal(fs.readFileSync(path.join(p, 'setup.out'), 'utf8').trim(), '1');
      const meta = await readMetadata(adminDirOf(p));
      assert.deepEqual([meta?.branch, meta?.baseRef, meta?.baseCommit, meta?.spare?.ready, meta?.spare?.copiedFiles], ['', 'main', main, true, ['.env']]);
    }
    assert.deepEqual(git(root, 'branch', '--format=%(refname:short)'), 'main', 'no branch for a spare');
    // Another process's manager sees them as spares.
    const other = makeManager().manager;
    const listed = (await other.list(root)).filter((w) => w.spare);
    assert.equal(listed.length, 2);
    // setup.out is the setup command's output, untracked (as in a fresh worktree).
    assert.ok(listed.every((w) => w.managedByGrove && w.detached && !w.taskBranch && w.changedFiles === 1));
    // Full: a second reconcile creates nothing.
    assert.deepEqual((await other.pool.reconcile({ repoRoot: root, size: 2, ...provisioning })).created, []);
    // Other provisioning settings: the spares are not what a dispatch would get now, so they are replaced.
    const changed = await other.pool.reconcile({ repoRoot: root, size: 2, copyFiles: ['.env'] });
    assert.deepEqual([changed.removed.length, changed.created.length], [2, 2]);
    const wt = await other.create({ repoRoot: root, title: 'x', copyFiles: ['.env'], setupCommand: 'echo other > setup.out', fromPool: true });
    assert.ok(!changed.created.includes(wt.path), 'a spare made with another setup command is not taken');
  });

  it('a dispatch takes a spare: same folder, the task branch created there, records as a fresh create, copied files refreshed', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const [sparePath] = (await manager.pool.reconcile({ repoRoot: root, size: 1, copyFiles: ['.env'], setupCommand: 'echo built > build.out' })).created;
    writeFiles(root, { '.env': 'SECRET=2\n' });
    const wt = await manager.create({ repoRoot: root, title: 'Fix the bug', copyFiles: ['.env'], setupCommand: 'echo built > build.out', instanceId: 'i-1', fromPool: true });
    assert.equal(wt.path, sparePath);
    assert.equal(wt.branch, 'grove/fix-the-bug');
    assert.equal(git(wt.path, 'symbolic-ref', '--short', 'HEAD'), 'grove/fix-the-bug');
    assert.equal(wt.baseCommit, git(root, 'rev-parse', 'main'));
    assert.deepEqual(wt.copiedFiles, ['.env']);
    assert.equal(fs.readFileSync(path.join(wt.path, 'build.out'), 'utf8'), 'built\n', 'what the setup command left is not work');
    assert.equal(fs.readFileSync(path.join(wt.path, '.env'), 'utf8'), 'SECRET=2\n');
    assert.equal(gitStatus(root, 'config', '--get', 'branch.grove/fix-the-bug.merge'), 1, 'no upstream');
    const meta = await readMetadata(adminDirOf(wt.path));
    assert.deepEqual({ ...meta, createdAt: 0 }, { version: 1, managedBy: 'grove', slug: 'fix-the-bug', branch: 'grove/fix-the-bug', baseRef: 'main', baseCommit: wt.baseCommit, port: wt.port, createdAt: 0, instanceId: 'i-1' });
    const record = await readBranchRecord(git(root, 'rev-parse', '--path-format=absolute', '--git-common-dir'), wt.branch);
    assert.deepEqual(record, meta);
    assert.equal(fs.existsSync(path.join(adminDirOf(wt.path), 'grove-claim.json')), false, 'claim released');
    const info = (await manager.list(root)).find((w) => w.path === wt.path)!;
    assert.deepEqual([info.spare, info.taskBranch, info.baseRef, info.instanceId], [undefined, 'grove/fix-the-bug', 'main', 'i-1']);
    // The pool is empty now: the next dispatch makes a fresh worktree.
    const fresh = await manager.create({ repoRoot: root, title: 'Fix the bug', fromPool: true });
    assert.notEqual(fresh.path, sparePath);
    assert.equal(fresh.branch, 'grove/fix-the-bug-2');
  });

  it('a base that moved fast-forwards the spare', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const [sparePath] = (await manager.pool.reconcile({ repoRoot: root, size: 1 })).created;
    const moved = commit(root, 'base moved', { 'new.txt': 'new\n' });
    const wt = await manager.create({ repoRoot: root, title: 'after move', fromPool: true });
    assert.equal(wt.path, sparePath);
    assert.equal(wt.baseCommit, moved);
    assert.equal(git(wt.path, 'rev-parse', 'HEAD'), moved);
    assert.equal(fs.readFileSync(path.join(wt.path, 'new.txt'), 'utf8'), 'new\n');
    assert.equal(git(wt.path, 'status', '--porcelain'), '');
  });

  it('a base that was rewritten (not a fast-forward) discards the spare and makes a fresh worktree', async () => {
    const root = repoWithEnv();
    commit(root, 'second', { 'b.txt': 'b\n' });
    const { manager } = makeManager();
    const [sparePath] = (await manager.pool.reconcile({ repoRoot: root, size: 1 })).created;
    git(root, 'reset', '-q', '--hard', 'HEAD~1');
    const rewritten = commit(root, 'other second', { 'c.txt': 'c\n' });
    const wt = await manager.create({ repoRoot: root, title: 'rewritten', fromPool: true });
    assert.notEqual(wt.path, sparePath);
    assert.equal(wt.baseCommit, rewritten);
    assert.equal(fs.existsSync(sparePath!), false, 'the spare was discarded');
    assert.equal((await readSpares(git(root, 'rev-parse', '--path-format=absolute', '--git-common-dir'))).length, 0);
  });

  it('two concurrent takers (two processes\' managers) get different worktrees', async () => {
    const root = repoWithEnv();
    const a = makeManager().manager;
    const b = makeManager().manager;
    const spares = (await a.pool.reconcile({ repoRoot: root, size: 1 })).created;
    assert.equal(spares.length, 1);
    const [x, y] = await Promise.all([
      a.create({ repoRoot: root, title: 'task', fromPool: true }),
      b.create({ repoRoot: root, title: 'task', fromPool: true }),
    ]);
    assert.notEqual(x.path, y.path);
    assert.notEqual(x.branch, y.branch);
    assert.equal([x.path, y.path].filter((p) => p === spares[0]).length, 1, 'exactly one of them got the spare');
    assert.equal(git(x.path, 'symbolic-ref', '--short', 'HEAD'), x.branch);
    assert.equal(git(y.path, 'symbolic-ref', '--short', 'HEAD'), y.branch);
  });

  it('the claim: one holder at a time; a live holder\'s claim is respected, a dead one\'s broken', async () => {
    const dir = repos.dir('admin');
    const release = claimSpare(dir);
    assert.ok(release);
    assert.equal(claimSpare(dir), undefined, 'claimed already');
    release();
    assert.equal(fs.existsSync(path.join(dir, CLAIM_FILE)), false);
    const live = await liveProcess();
    try {
      fs.writeFileSync(path.join(dir, CLAIM_FILE), JSON.stringify({ ...live.identity, token: 'theirs' }));
      assert.equal(claimSpare(dir), undefined, 'a live process holds it');
    } finally {
      await live.kill();
    }
    fs.writeFileSync(path.join(dir, CLAIM_FILE), JSON.stringify({ ...(await deadProcess()), token: 'dead' }));
    const mine = claimSpare(dir);
    assert.ok(mine, 'a dead holder\'s claim is broken');
    mine();
    assert.equal(claimSpare(path.join(dir, 'gone')), undefined, 'a removed spare cannot be claimed');
  });

  it('a claimed spare is not taken by another dispatch', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const [spare] = (await manager.pool.reconcile({ repoRoot: root, size: 1 })).created;
    const release = claimSpare(adminDirOf(spare!))!;
    const wt = await manager.create({ repoRoot: root, title: 'task', fromPool: true });
    release();
    assert.notEqual(wt.path, spare);
    assert.equal(gitStatus(spare!, 'symbolic-ref', '-q', 'HEAD'), 1, 'still a detached spare');
  });

  it('a spare that holds work is neither taken nor removed silently; size 0 removes the others', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const created = (await manager.pool.reconcile({ repoRoot: root, size: 2 })).created;
    assert.equal(created.length, 2);
    const [dirty, clean] = created as [string, string];
    writeFiles(dirty, { 'notes.txt': 'my work\n' });
    const wt = await manager.create({ repoRoot: root, title: 'uses the clean one', fromPool: true });
    assert.equal(wt.path, clean, 'the spare with work was skipped');
    assert.equal(fs.readFileSync(path.join(dirty, 'notes.txt'), 'utf8'), 'my work\n');

    const refill = await manager.pool.reconcile({ repoRoot: root, size: 2 });
    assert.equal(refill.created.length, 1, 'the dirty spare still counts; one new');
    const drained = await manager.pool.reconcile({ repoRoot: root, size: 0 });
    assert.deepEqual(drained.removed, [refill.created[0]]);
    assert.deepEqual(drained.kept.map((k) => k.path), [dirty]);
    assert.match(drained.kept[0]!.reason, /Untracked files that would be deleted \(1\):\n {2}notes\.txt/);
    assert.equal(fs.readFileSync(path.join(dirty, 'notes.txt'), 'utf8'), 'my work\n');
    assert.equal(fs.existsSync(wt.path), true, 'a taken spare is a task worktree: never drained');
  });

  it('a copied file edited in the spare is work (never overwritten, taken or drained); one edited only in the main checkout is not', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const [edited, untouched] = (await manager.pool.reconcile({ repoRoot: root, size: 2, copyFiles: ['.env'] })).created as [string, string];
    writeFiles(edited, { '.env': 'SECRET=mine\n' });
    writeFiles(root, { '.env': 'SECRET=main changed\n' });
    const wt = await manager.create({ repoRoot: root, title: 'task', copyFiles: ['.env'], fromPool: true });
    assert.equal(wt.path, untouched);
    assert.equal(fs.readFileSync(path.join(wt.path, '.env'), 'utf8'), 'SECRET=main changed\n');
    assert.equal(fs.readFileSync(path.join(edited, '.env'), 'utf8'), 'SECRET=mine\n');
    const [fresh] = (await manager.pool.reconcile({ repoRoot: root, size: 2, copyFiles: ['.env'] })).created;
    writeFiles(root, { '.env': 'SECRET=main changed again\n' });
    const drained = await manager.pool.reconcile({ repoRoot: root, size: 0 });
    assert.deepEqual(drained.removed, [fresh], 'its .env differs from the main checkout\'s now, but it is the copy provisioning made');
    assert.deepEqual(drained.kept.map((k) => k.path), [edited]);
    assert.match(drained.kept[0]!.reason, /Ignored files that would be deleted[^\n]*\n {2}\.env/);
    assert.equal(fs.readFileSync(path.join(edited, '.env'), 'utf8'), 'SECRET=mine\n');
  });

  it('size 0 removes spares left at a base commit that was rewritten since (the base\'s history is not their work)', async () => {
    const root = repoWithEnv();
    commit(root, 'second', { 'b.txt': 'b\n' });
    const { manager } = makeManager();
    const [spare] = (await manager.pool.reconcile({ repoRoot: root, size: 1 })).created;
    git(root, 'reset', '-q', '--hard', 'HEAD~1');
    const drained = await manager.pool.reconcile({ repoRoot: root, size: 0 });
    assert.deepEqual(drained.removed, [spare]);
    // A commit made in the spare is work: kept.
    const [again] = (await manager.pool.reconcile({ repoRoot: root, size: 1 })).created;
    commit(again!, 'made in the spare', { 'w.txt': 'w\n' });
    const kept = await manager.pool.reconcile({ repoRoot: root, size: 0 });
    assert.deepEqual(kept.kept.map((k) => k.path), [again]);
    assert.match(kept.kept[0]!.reason, /detached HEAD/);
  });

  it('a failing setup command removes the spare and stops filling', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const r = await manager.pool.reconcile({ repoRoot: root, size: 2, setupCommand: 'exit 3' });
    assert.deepEqual(r.created, []);
    assert.match(r.failed ?? '', /setup command failed \(exit 3\)/);
    assert.equal(git(root, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length, 1);
  });

  it('a dispatch pauses a fill in progress: the half-made spare is rolled back', async () => {
    const root = repoWithEnv();
    const { manager } = makeManager();
    const marker = path.join(repos.dir('m'), 'started');
    const filling = manager.pool.reconcile({ repoRoot: root, size: 1, setupCommand: `touch "${marker}"; sleep 30` });
    await appears(marker);
    const wt = await manager.create({ repoRoot: root, title: 'now', fromPool: true });
    const r = await filling;
    assert.equal(r.paused, true);
    assert.deepEqual(r.created, []);
    assert.equal(git(wt.path, 'symbolic-ref', '--short', 'HEAD'), 'grove/now');
    assert.equal((await manager.list(root)).filter((w) => w.spare).length, 0);
  });
});

/** Resolves once `file` exists (the setup command, another process, creates it): on the folder's fs events. */
function appears(file: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = fs.watch(path.dirname(file), () => {
      if (fs.existsSync(file)) {
        watcher.close();
        resolve();
      }
    });
    if (fs.existsSync(file)) {
      watcher.close();
      resolve();
    }
  });
}
