import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../../src/core/git/gitClient';
import { GitError, type GitErrorCode } from '../../../src/core/git/gitError';
import { WorktreeManager, type RemovalReport } from '../../../src/core/git/worktreeManager';
import { MemoryLogger } from '../../../src/core/util/logger';
import { commit, git, gitStatus, gitTestEnv, holdLockFile, repoState, snapshot, useTempRepos, writeFiles } from '../../support/repo';
import { deadProcess } from './support/processes';

function makeManager() {
  const logger = new MemoryLogger();
  const client = new GitClient({ logger, env: gitTestEnv });
  return { manager: new WorktreeManager(client, { logger }), logger };
}

function rejectsWith(code: GitErrorCode, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof GitError, `expected a GitError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

const worktreesOf = (root: string) => git(root, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length;

describe('worktreeManager', function () {
  this.timeout(30_000);
  const repos = useTempRepos();

  describe('bad input gets a clear message and changes nothing', () => {
    it('not a git repository', async () => {
      const dir = repos.dir();
      const { manager } = makeManager();
      await assert.rejects(manager.create({ repoRoot: dir, title: 'x' }), rejectsWith('NotAGitRepository', /not inside a git repository/));
      assert.deepEqual(fs.readdirSync(path.dirname(dir)), [path.basename(dir)]);
    });

    it('a folder that does not exist', async () => {
      const { manager } = makeManager();
      await assert.rejects(manager.resolveRepository(path.join(repos.dir(), 'nope')), rejectsWith('NotFound'));
    });

    it('a bare repository', async () => {
      const root = repos.create({ bare: true, name: 'r.git' });
      const { manager } = makeManager();
      assert.equal((await manager.resolveRepository(root)).isBare, true);
      await assert.rejects(manager.create({ repoRoot: root, title: 'x' }), rejectsWith('BareRepository', /bare repository/));
    });

    it('a repository with no commits', async () => {
      const root = repos.create({ commit: false });
      const { manager } = makeManager();
      const info = await manager.resolveRepository(root);
      assert.equal(info.hasCommits, false);
      assert.equal(info.branch, 'main');
      await assert.rejects(manager.create({ repoRoot: root, title: 'x' }), rejectsWith('NoCommits', /no commits yet/));
      assert.equal(gitStatus(root, 'rev-parse', '--verify', '-q', 'refs/heads/grove/x'), 1);
    });

    it('detached HEAD requires an explicit base, and works with one', async () => {
      const root = repos.create();
      git(root, 'checkout', '-q', '--detach');
      const { manager } = makeManager();
      const info = await manager.resolveRepository(root);
      assert.equal(info.detached, true);
      await assert.rejects(manager.create({ repoRoot: root, title: 'x' }), rejectsWith('DetachedHead', /detached.*explicitly/));
      assert.equal(worktreesOf(root), 1);
      const wt = await manager.create({ repoRoot: root, title: 'x', baseRef: 'main' });
      assert.equal(wt.baseRef, 'main');
    });

    it('an unknown base', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      await assert.rejects(manager.create({ repoRoot: root, title: 'x', baseRef: 'nope' }), rejectsWith('NotFound', /'nope' does not exist/));
      await assert.rejects(manager.create({ repoRoot: root, title: 'x', baseRef: '--upload-pack=evil' }), rejectsWith('NotFound'));
    });

    it('hostile titles become safe slugs inside the worktree root, in a repo path with spaces and unicode', async () => {
      const root = repos.create({ name: 'my repö ✓' });
      const { manager } = makeManager();
      const home = process.env.HOME;
      for (const title of ['../../etc/passwd', '"; rm -rf ~', '😀'.repeat(500)]) {
        const wt = await manager.create({ repoRoot: root, title });
        assert.equal(path.dirname(wt.path), path.join(path.dirname(root), 'my repö ✓.worktrees'));
        assert.ok(fs.existsSync(path.join(wt.path, 'README.md')));
        assert.equal(git(wt.path, 'rev-parse', '--abbrev-ref', 'HEAD'), wt.branch);
      }
      const slugs = (await manager.list(root)).filter((w) => !w.isMain).map((w) => w.slug).sort();
      assert.deepEqual(slugs, ['etc-passwd', 'rm-rf', 'task']);
      assert.equal(process.env.HOME, home);
      if (home) assert.ok(fs.existsSync(home));
    });

    it('an existing branch or folder of the same name is skipped with -2 and left untouched', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      git(root, 'branch', 'grove/fix-login');
      const tip = git(root, 'rev-parse', 'grove/fix-login');
      const foreign = path.join(path.dirname(root), 'repo.worktrees', 'fix-login-2');
      writeFiles(foreign, { 'keep.txt': 'mine' });
      const wt = await manager.create({ repoRoot: root, title: 'Fix login' });
      assert.equal(wt.branch, 'grove/fix-login-3');
      assert.equal(git(root, 'rev-parse', 'grove/fix-login'), tip);
      assert.deepEqual(snapshot(foreign), ['keep.txt']);
      assert.equal(gitStatus(root, 'rev-parse', '--verify', '-q', 'refs/heads/grove/fix-login-2'), 1);
    });

    it('a worktree root that is a file: PathExists, nothing created', async () => {
      const root = repos.create();
      const file = path.join(path.dirname(root), 'repo.worktrees');
      fs.writeFileSync(file, 'not a folder');
      const before = repoState(root);
      const { manager } = makeManager();
      await assert.rejects(manager.create({ repoRoot: root, title: 'x' }), rejectsWith('PathExists'));
      assert.equal(repoState(root), before);
      assert.equal(fs.readFileSync(file, 'utf8'), 'not a folder');
    });

    it('a branch prefix that git rejects', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const before = repoState(root);
      await assert.rejects(manager.create({ repoRoot: root, title: 'x', branchPrefix: 'bad..prefix' }), rejectsWith('InvalidBranchName'));
      assert.equal(repoState(root), before);
    });

    it('a ref lock held by another process: clear GitError, nothing changed', async () => {
      const root = repos.create();
      fs.mkdirSync(path.join(root, '.git', 'refs', 'heads', 'grove'), { recursive: true });
      const lock = holdLockFile(path.join(root, '.git', 'refs', 'heads', 'grove', 'x.lock'));
      try {
        const before = repoState(root);
        const { manager } = makeManager();
        await assert.rejects(manager.create({ repoRoot: root, title: 'x' }), rejectsWith('RefLocked', /x\.lock/));
        assert.equal(repoState(root), before);
        assert.equal(fs.existsSync(path.join(path.dirname(root), 'repo.worktrees', 'x')), false);
      } finally {
        lock.release();
      }
    });

    it('the main index.lock held by another process does not block creating a worktree (each has its own index)', async () => {
      const root = repos.create();
      const lock = holdLockFile(path.join(root, '.git', 'index.lock'));
      try {
        const { manager } = makeManager();
        const wt = await manager.create({ repoRoot: root, title: 'x' });
        assert.ok(fs.existsSync(path.join(wt.path, 'README.md')));
        assert.ok(fs.existsSync(path.join(root, '.git', 'index.lock')), 'the other process still holds its lock');
      } finally {
        lock.release();
      }
    });
  });

  describe('create', () => {
    it('creates <prefix>/<slug> from the current branch and records base ref and commit durably', async () => {
      const root = repos.create();
      const base = git(root, 'rev-parse', 'HEAD');
      const { manager, logger } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'Add dark mode!', branchPrefix: 'agents' });
      assert.equal(wt.branch, 'agents/add-dark-mode');
      assert.equal(wt.slug, 'add-dark-mode');
      assert.equal(wt.path, path.join(path.dirname(root), 'repo.worktrees', 'add-dark-mode'));
      assert.equal(wt.baseRef, 'main');
      assert.equal(wt.baseCommit, base);
      assert.equal(wt.setupFailed, false);
      // Recorded in files (grove.json in the admin dir, and a record per task branch), never in the shared config.
      const record = JSON.parse(fs.readFileSync(path.join(root, '.git', 'grove', 'branches', 'agents%2Fadd-dark-mode.json'), 'utf8'));
      assert.deepEqual([record.branch, record.baseRef, record.baseCommit, record.slug], ['agents/add-dark-mode', 'main', base, 'add-dark-mode']);
      assert.equal(gitStatus(root, 'config', '--get-regexp', 'grove'), 1, 'nothing of Grove in git config');
      // No upstream: a push from the agent branch must never target the base.
      assert.equal(gitStatus(root, 'config', '--get', 'branch.agents/add-dark-mode.merge'), 1);
      // The branch is claimed atomically at the base commit (fails if it exists), then checked out.
      assert.ok(logger.lines.some((l) => /> git update-ref -m "grove: create task branch" refs\/heads\/agents\/add-dark-mode [0-9a-f]{40} "" \[\d+ms\]/.test(l)), logger.lines.join('\n'));
      assert.ok(logger.lines.some((l) => /> git worktree add .*add-dark-mode agents\/add-dark-mode \[\d+ms\]/.test(l)));
    });

    it('ten concurrent creates all succeed with distinct names, branches and ports', async () => {
      const root = repos.create();
      const { manager, logger } = makeManager();
      const results = await Promise.all(Array.from({ length: 10 }, () => manager.create({ repoRoot: root, title: 'Same task' })));
      assert.equal(new Set(results.map((r) => r.branch)).size, 10);
      assert.equal(new Set(results.map((r) => r.path)).size, 10);
      assert.equal(new Set(results.map((r) => r.port)).size, 10);
      assert.equal(worktreesOf(root), 11);
      assert.ok(!logger.lines.some((l) => /\.lock/.test(l)), 'no lock errors were logged');
    });

    it('an explicit worktree root inside the repository is excluded via .git/info/exclude, not .gitignore', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'inside', worktreeRoot: '${repoParent}/${repoName}/.trees' });
      assert.equal(wt.path, path.join(root, '.trees', 'inside'));
      assert.match(fs.readFileSync(path.join(root, '.git', 'info', 'exclude'), 'utf8'), /^\/\.trees\/$/m);
      assert.equal(fs.existsSync(path.join(root, '.gitignore')), false);
      assert.equal(git(root, 'status', '--porcelain'), '');
      await manager.create({ repoRoot: root, title: 'inside again', worktreeRoot: '.trees' });
      assert.equal(fs.readFileSync(path.join(root, '.git', 'info', 'exclude'), 'utf8').match(/\/\.trees\//g)!.length, 1);
    });

    it('rolls back worktree, branch, metadata and the worktree root when a step after `worktree add` fails', async () => {
      const root = repos.create();
      // The branch records cannot be written: a file stands where their folder goes.
      fs.mkdirSync(path.join(root, '.git', 'grove'));
      fs.writeFileSync(path.join(root, '.git', 'grove', 'branches'), 'in the way');
      const before = repoState(root);
      const { manager } = makeManager();
      await assert.rejects(manager.create({ repoRoot: root, title: 'half way' }), /EEXIST|ENOTDIR/);
      assert.equal(repoState(root), before);
      assert.equal(fs.existsSync(path.join(path.dirname(root), 'repo.worktrees')), false);
      const admin = path.join(root, '.git', 'worktrees');
      assert.deepEqual(fs.existsSync(admin) ? fs.readdirSync(admin) : [], []);
    });

    it('rolls back everything when aborted during provisioning', async () => {
      const root = repos.create();
      const before = repoState(root);
      const { manager } = makeManager();
      const ac = new AbortController();
      let wtPath = '';
      const pending = manager.create({
        repoRoot: root,
        title: 'cancel me',
        setupCommand: `node -e "console.log('started:' + process.cwd()); setTimeout(() => {}, 60000)"`,
        signal: ac.signal,
        onOutput: (chunk) => {
          const m = /started:(.*)/.exec(chunk);
          if (m) {
            wtPath = m[1]!.trim();
            ac.abort();
          }
        },
      });
      await assert.rejects(pending, rejectsWith('Cancelled'));
      assert.ok(wtPath, 'the setup command had started');
      assert.equal(fs.existsSync(wtPath), false);
      assert.equal(repoState(root), before);
    });

    it('an already-aborted signal changes nothing', async () => {
      const root = repos.create();
      const before = repoState(root);
      const { manager } = makeManager();
      await assert.rejects(manager.create({ repoRoot: root, title: 'x', signal: AbortSignal.abort() }), rejectsWith('Cancelled'));
      assert.equal(repoState(root), before);
    });
  });

  describe('provisioning', () => {
    it('copies untracked files matched by copyFiles and .worktreeinclude, never tracked ones', async () => {
      const root = repos.create({ files: { '.gitignore': '.env\n*.local.json\nnode_modules/\nbuild/\n', '.worktreeinclude': 'config/*.local.json\n!config/skip.local.json\n', 'tracked.txt': 'v1' } });
      writeFiles(root, {
        '.env': 'SECRET=1',
        'config/app.local.json': '{}',
        'config/skip.local.json': '{}',
        'node_modules/pkg/index.js': 'x',
        'build/out.js': 'not wanted',
        'tracked.txt': 'modified in main',
      });
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'copy', copyFiles: ['.env', 'node_modules/'] });
      assert.equal(fs.readFileSync(path.join(wt.path, '.env'), 'utf8'), 'SECRET=1');
      assert.ok(fs.existsSync(path.join(wt.path, 'config/app.local.json')));
      assert.ok(fs.existsSync(path.join(wt.path, 'node_modules/pkg/index.js')));
      assert.equal(fs.existsSync(path.join(wt.path, 'config/skip.local.json')), false);
      assert.equal(fs.existsSync(path.join(wt.path, 'build')), false);
      assert.equal(fs.readFileSync(path.join(wt.path, 'tracked.txt'), 'utf8'), 'v1');
      assert.deepEqual([...wt.copiedFiles].sort(), ['.env', 'config/app.local.json', 'node_modules/']);
    });

    it('runs the setup command in the worktree with GROVE_PORT and streams its output', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      let output = '';
      const wt = await manager.create({
        repoRoot: root,
        title: 'setup',
        setupCommand: `node -e "console.log('port=' + process.env.GROVE_PORT + ' cwd=' + process.cwd() + ' x=' + process.env.EXTRA)"`,
        env: { EXTRA: 'yes' },
        onOutput: (c) => (output += c),
      });
      assert.equal(wt.setupFailed, false);
      assert.equal(wt.setupExitCode, 0);
      assert.match(output, new RegExp(`port=${wt.port} cwd=${wt.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} x=yes`));
    });

    it('a failed setup keeps the worktree for inspection and reports the exit code', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      let output = '';
      const wt = await manager.create({ repoRoot: root, title: 'broken', setupCommand: `node -e "console.error('npm ERR! boom'); process.exit(3)"`, onOutput: (c) => (output += c) });
      assert.equal(wt.setupFailed, true);
      assert.equal(wt.setupExitCode, 3);
      assert.match(output, /npm ERR! boom/);
      assert.ok(fs.existsSync(path.join(wt.path, 'README.md')));
      assert.ok((await manager.list(root)).some((w) => w.path === wt.path && w.managedByGrove));
    });

    it('ports are distinct across live worktrees and a removed worktree frees its port', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const a = await manager.create({ repoRoot: root, title: 'a' });
      const b = await manager.create({ repoRoot: root, title: 'b' });
      assert.notEqual(a.port, b.port);
      assert.ok(a.port >= 41000 && b.port >= 41000);
      await manager.remove(a.path, { deleteBranch: 'always' });
      const c = await manager.create({ repoRoot: root, title: 'c' });
      assert.notEqual(c.port, b.port);
      assert.equal((await manager.list(root)).find((w) => w.path === b.path)?.port, b.port);
    });

    it('initialises submodules in the new worktree', async () => {
      const lib = repos.create({ name: 'lib', files: { 'lib.txt': 'library' } });
      const root = repos.create();
      git(root, 'submodule', 'add', '-q', lib, 'vendor/lib');
      git(root, 'commit', '-q', '-m', 'add submodule');
      const { manager } = makeManager();
      let output = '';
      const wt = await manager.create({ repoRoot: root, title: 'with submodule', onOutput: (c) => (output += c) });
      assert.equal(fs.readFileSync(path.join(wt.path, 'vendor/lib/lib.txt'), 'utf8'), 'library');
      assert.match(output, /vendor\/lib/);
    });
  });

  describe('list, lock, prune', () => {
    it('reports branch, base, ahead/behind, changed files, main and foreign worktrees', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'feature' });
      commit(wt.path, 'one', { 'a.txt': '1' });
      commit(wt.path, 'two', { 'b.txt': '2' });
      commit(root, 'main moves', { 'm.txt': 'm' });
      writeFiles(wt.path, { 'README.md': 'edited', 'new.txt': 'untracked' });
      git(root, 'worktree', 'add', '-q', '-b', 'manual', path.join(path.dirname(root), 'manual wt'));
      const list = await manager.list(root);
      assert.equal(list.length, 3);
      const main = list.find((w) => w.isMain)!;
      assert.equal(main.branch, 'main');
      assert.equal(main.managedByGrove, false);
      const g = list.find((w) => w.path === wt.path)!;
      assert.deepEqual(
        { branch: g.branch, managed: g.managedByGrove, base: g.baseRef, ahead: g.ahead, behind: g.behind, changed: g.changedFiles, stale: g.stale, port: g.port },
        { branch: 'grove/feature', managed: true, base: 'main', ahead: 2, behind: 1, changed: 2, stale: false, port: wt.port },
      );
      const manual = list.find((w) => w.branch === 'manual')!;
      assert.equal(manual.managedByGrove, false);
      assert.equal(manual.baseRef, undefined);
      assert.equal(manual.changedFiles, 0);
    });

    it('lock and unlock, with the reason shown by list', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'locked' });
      await manager.lock(wt.path, 'agent running');
      let info = (await manager.list(root)).find((w) => w.path === wt.path)!;
      assert.equal(info.locked, true);
      assert.match(info.lockedReason!, new RegExp(`^grove: agent running \\[pid ${process.pid} on `));
      assert.equal(info.lockOwner?.pid, process.pid);
      assert.equal(gitStatus(root, 'worktree', 'remove', wt.path), 128, 'git itself refuses to remove a locked worktree');
      await manager.unlock(wt.path);
      info = (await manager.list(root)).find((w) => w.path === wt.path)!;
      assert.equal(info.locked, false);
    });

    it('a folder deleted by hand shows as stale and prune drops it', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'gone' });
      fs.rmSync(wt.path, { recursive: true, force: true });
      const info = (await manager.list(root)).find((w) => w.path === wt.path)!;
      assert.equal(info.stale, true);
      assert.equal(info.changedFiles, undefined);
      assert.deepEqual(await manager.prune(root), [wt.path]);
      assert.equal((await manager.list(root)).length, 1);
      assert.equal(git(root, 'rev-parse', '--verify', 'grove/gone').length, 40, 'prune keeps the branch');
    });
  });

  describe('remove', () => {
    it('refuses and lists exactly what would be lost: uncommitted, untracked, commits not in base', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'work' });
      const sha = commit(wt.path, 'agent work', { 'feature.ts': 'x' });
      writeFiles(wt.path, { 'README.md': 'changed', 'scratch.txt': 'new' });
      const report = await manager.inspectRemoval(wt.path);
      assert.deepEqual(report.uncommitted, ['README.md']);
      assert.deepEqual(report.untracked, ['scratch.txt']);
      assert.deepEqual(report.commits, [{ sha, subject: 'agent work' }]);
      assert.equal(report.merged, false);
      await assert.rejects(manager.remove(wt.path), (err: unknown) => {
        rejectsWith('WouldLoseWork', /Uncommitted changes that would be discarded \(1\):\n {2}README\.md\nUntracked files that would be deleted \(1\):\n {2}scratch\.txt\nCommits not in main \(kept on the branch unless it is deleted\) \(1\):\n {2}[0-9a-f]{8} agent work/)(err);
        assert.equal(((err as GitError).details as RemovalReport).commits[0]!.sha, sha);
        return true;
      });
      assert.equal(fs.readFileSync(path.join(wt.path, 'scratch.txt'), 'utf8'), 'new');
      assert.equal(git(root, 'rev-parse', 'grove/work'), sha);
    });

    it('with force removes the worktree but keeps an unmerged branch and its commits', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'unmerged' });
      const sha = commit(wt.path, 'keep me', { 'k.txt': 'k' });
      // Locked by a process that has ended since: its lock no longer protects anything.
      await manager.lock(wt.path, 'agent running', { owner: await deadProcess() });
      const result = await manager.remove(wt.path, { force: true, deleteBranch: 'ifMerged' });
      assert.equal(result.branchDeleted, false);
      assert.match(result.branchKeptReason!, /not merged into main/);
      assert.equal(fs.existsSync(wt.path), false);
      assert.equal(git(root, 'rev-parse', 'grove/unmerged'), sha);
      assert.equal(worktreesOf(root), 1);
    });

    it('deletes a merged branch, and a clean one without force', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      const wt = await manager.create({ repoRoot: root, title: 'merged' });
      commit(wt.path, 'done', { 'd.txt': 'd' });
      git(root, 'merge', '-q', '--ff-only', 'grove/merged');
      const report = await manager.inspectRemoval(wt.path);
      assert.equal(report.merged, true);
      assert.equal(report.hasLoss, false);
      const result = await manager.remove(wt.path);
      assert.equal(result.branchDeleted, true);
      assert.equal(gitStatus(root, 'rev-parse', '--verify', '-q', 'refs/heads/grove/merged'), 1);
      assert.equal(fs.existsSync(path.join(root, '.git', 'grove', 'branches', 'grove%2Fmerged.json')), false, 'the branch record goes with the branch');
    });

    it('never removes the main worktree, nor one locked by someone else', async () => {
      const root = repos.create();
      const { manager } = makeManager();
      await assert.rejects(manager.remove(root, { force: true }), rejectsWith('IsMainWorktree'));
      const wt = await manager.create({ repoRoot: root, title: 'theirs' });
      git(root, 'worktree', 'lock', '--reason', 'on a USB stick', wt.path);
      await assert.rejects(manager.remove(wt.path, { force: true }), rejectsWith('WorktreeLocked', /USB stick/));
      assert.ok(fs.existsSync(wt.path));
    });
  });
});
