import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { squashMessage, suggestCommitMessage } from '../../../src/core/git/mergeService';
import { exactState, instanceRepo, parents, read, rejectsBlocked, wholeState } from '../../support/mergeFixtures';
import { commit, git, useTempRepos, writeFiles } from '../../support/repo';

describe('merge: service', function () {
  this.timeout(30_000);
  const repos = useTempRepos();

  describe('sync from base', () => {
    it('merge brings the new base commits into the worktree; then it is up to date', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      commit(f.worktreePath, 'agent', { 'agent.txt': 'agent\n' });
      commit(f.repoRoot, 'user', { 'user.txt': 'user\n' });
      const userCheckout = exactState(f.repoRoot);
      const r = await f.service.syncFromBase({ ...f, strategy: 'merge' });
      assert.deepEqual(r, { status: 'synced' });
      assert.equal(read(f.worktreePath, 'user.txt'), 'user\n');
      assert.equal(parents(f.worktreePath, 'HEAD').length, 2);
      assert.equal(git(f.worktreePath, 'log', '-1', '--format=%B'), `Merge main into ${f.branch}`);
      assert.equal(exactState(f.repoRoot), userCheckout, "the user's checkout is never touched");
      assert.deepEqual(await f.service.syncFromBase({ ...f, strategy: 'merge' }), { status: 'upToDate' });
    });

    it('rebase replays the branch on the new base and keeps the old tip as a backup ref', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      const oldTip = commit(f.worktreePath, 'agent', { 'agent.txt': 'agent\n' });
      const mainTip = commit(f.repoRoot, 'user', { 'user.txt': 'user\n' });
      assert.deepEqual(await f.service.syncFromBase({ ...f, strategy: 'rebase' }), { status: 'synced' });
      assert.deepEqual(parents(f.worktreePath, 'HEAD'), [mainTip]);
      assert.equal(git(f.repoRoot, 'rev-parse', `refs/grove/backup/${f.branch}/${oldTip}`), oldTip);
      await f.service.dropBackups(f.repoRoot, f.branch);
      assert.equal(git(f.repoRoot, 'for-each-ref', 'refs/grove/'), '');
    });

    it('refuses a worktree with uncommitted or untracked work and changes nothing', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      commit(f.repoRoot, 'user', { 'user.txt': 'user\n' });
      writeFiles(f.worktreePath, { 'a.txt': 'edited\n', 'new.txt': 'n\n' });
      const before = wholeState(f.repoRoot, f.worktreePath);
      await assert.rejects(f.service.syncFromBase({ ...f, strategy: 'merge' }), rejectsBlocked('UncommittedWork', /a\.txt, new\.txt.*commit them first/));
      assert.equal(wholeState(f.repoRoot, f.worktreePath), before);
    });

    for (const strategy of ['merge', 'rebase'] as const) {
      it(`${strategy} conflict: state lists the files, complete refuses until resolved, then commits`, async () => {
        const f = await instanceRepo(repos, { 'a.txt': 'a\n', 'b.txt': 'b\n' });
        commit(f.worktreePath, 'agent', { 'a.txt': 'agent\n' });
        commit(f.repoRoot, 'user', { 'a.txt': 'user\n', 'b.txt': 'user b\n' });
        const r = await f.service.syncFromBase({ ...f, strategy });
        assert.deepEqual(r, { status: 'conflicted', conflicts: ['a.txt'] });
        assert.deepEqual(await f.service.syncState(f.worktreePath), { operation: strategy, conflicts: ['a.txt'] });
        await assert.rejects(f.service.completeSync(f.worktreePath), rejectsBlocked('SyncInProgress', /a\.txt/));
        // Staged but still holding markers: refused too.
        git(f.worktreePath, 'add', 'a.txt');
        await assert.rejects(f.service.completeSync(f.worktreePath), rejectsBlocked('SyncInProgress', /conflict markers: a\.txt/));
        writeFiles(f.worktreePath, { 'a.txt': 'agent and user\n' });
        git(f.worktreePath, 'add', 'a.txt');
        assert.deepEqual(await f.service.completeSync(f.worktreePath), { status: 'synced' });
        assert.deepEqual(await f.service.syncState(f.worktreePath), { operation: undefined, conflicts: [] });
        assert.equal(git(f.worktreePath, 'symbolic-ref', '--short', 'HEAD'), f.branch);
        assert.equal(read(f.worktreePath, 'b.txt'), 'user b\n');
        assert.equal(git(f.worktreePath, 'show', 'HEAD:a.txt'), 'agent and user');
        assert.equal(git(f.worktreePath, 'status', '--porcelain'), '');
        git(f.worktreePath, 'merge-base', '--is-ancestor', 'main', 'HEAD');
      });

      it(`${strategy} conflict: abort restores HEAD, index and files exactly`, async () => {
        const f = await instanceRepo(repos, { 'a.txt': 'a\n', 'b.txt': 'b\n' });
        commit(f.worktreePath, 'agent 1', { 'a.txt': 'agent\n' });
        commit(f.worktreePath, 'agent 2', { 'c.txt': 'c\n' });
        fs.writeFileSync(path.join(f.worktreePath, 'ignored.log'), 'x');
        fs.writeFileSync(path.join(f.worktreePath, '.git-info-exclude-dummy'), '');
        fs.rmSync(path.join(f.worktreePath, '.git-info-exclude-dummy'));
        commit(f.repoRoot, 'user', { 'a.txt': 'user\n', 'b.txt': 'user b\n' });
        fs.rmSync(path.join(f.worktreePath, 'ignored.log'));
        const before = wholeState(f.repoRoot, f.worktreePath);
        const r = await f.service.syncFromBase({ ...f, strategy });
        assert.equal(r.status, 'conflicted');
        writeFiles(f.worktreePath, { 'a.txt': 'half-resolved\n' });
        await f.service.abortSync(f.worktreePath);
        assert.equal(wholeState(f.repoRoot, f.worktreePath), before);
      });
    }
  });

  it('rebase conflict: completing with unstaged edits made after the stop refuses and keeps everything (never aborts)', async () => {
    const f = await instanceRepo(repos, { 'a.txt': 'a\n', 'b.txt': 'b\n' });
    commit(f.worktreePath, 'agent 1', { 'a.txt': 'agent\n' });
    commit(f.worktreePath, 'agent 2', { 'c.txt': 'c\n' });
    commit(f.repoRoot, 'user', { 'a.txt': 'user\n' });
    assert.equal((await f.service.syncFromBase({ ...f, strategy: 'rebase' })).status, 'conflicted');
    writeFiles(f.worktreePath, { 'a.txt': 'agent and user\n' });
    git(f.worktreePath, 'add', 'a.txt');
    writeFiles(f.worktreePath, { 'b.txt': 'edited while the rebase was stopped\n' });
    await assert.rejects(f.service.completeSync(f.worktreePath), rejectsBlocked('SyncInProgress', /not staged: b\.txt/));
    assert.equal((await f.service.syncState(f.worktreePath)).operation, 'rebase');
    assert.equal(read(f.worktreePath, 'a.txt'), 'agent and user\n');
    assert.equal(read(f.worktreePath, 'b.txt'), 'edited while the rebase was stopped\n');
    git(f.worktreePath, 'add', 'b.txt');
    assert.deepEqual(await f.service.completeSync(f.worktreePath), { status: 'synced' });
    assert.equal(git(f.worktreePath, 'show', 'HEAD:b.txt'), 'edited while the rebase was stopped');
    assert.equal(git(f.worktreePath, 'show', 'HEAD:a.txt'), 'agent and user');
  });

  describe('merge into base', () => {
    it('merge strategy through a clean checkout of the base: a --no-ff merge commit, checkout updated', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      const tip = commit(f.worktreePath, 'agent', { 'agent.txt': 'agent\n' });
      const base = git(f.repoRoot, 'rev-parse', 'main');
      const pre = await f.service.preflight({ ...f, running: false });
      assert.deepEqual(pre, { ok: true, problems: [] });
      const r = await f.service.mergeIntoBase({ ...f, strategy: 'merge', message: 'Merge task' });
      assert.equal(r.updatedVia, 'checkout');
      assert.equal(git(f.repoRoot, 'rev-parse', 'main'), r.mergedCommit);
      assert.deepEqual(parents(f.repoRoot, 'main'), [base, tip]);
      assert.equal(git(f.repoRoot, 'log', '-1', '--format=%s', 'main'), 'Merge task');
      assert.equal(read(f.repoRoot, 'agent.txt'), 'agent\n');
      assert.equal(git(f.repoRoot, 'status', '--porcelain'), '');
      assert.equal((await f.service.preflight({ ...f, running: false })).problems[0]?.code, 'NothingToMerge');
    });

    it('squash strategy with the base checked out nowhere: one commit by update-ref, no work tree touched', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      commit(f.worktreePath, 'agent 1', { 'agent.txt': 'agent\n' });
      commit(f.worktreePath, 'agent 2', { 'a.txt': 'a2\n' });
      git(f.repoRoot, 'checkout', '-q', '-b', 'elsewhere');
      writeFiles(f.repoRoot, { 'a.txt': 'user edit not committed\n' });
      const base = git(f.repoRoot, 'rev-parse', 'main');
      const userCheckout = exactState(f.repoRoot);
      const agent = exactState(f.worktreePath);
      const message = squashMessage('Add the agent file', 'I added agent.txt.\n\nAnd changed a.');
      const r = await f.service.mergeIntoBase({ ...f, strategy: 'squash', message });
      assert.equal(r.updatedVia, 'ref');
      assert.deepEqual(parents(f.repoRoot, 'main'), [base]);
      assert.equal(git(f.repoRoot, 'log', '-1', '--format=%B', 'main'), message);
      assert.equal(git(f.repoRoot, 'show', 'main:a.txt'), 'a2');
      assert.equal(git(f.repoRoot, 'rev-parse', 'main^{tree}'), git(f.repoRoot, 'rev-parse', `${f.branch}^{tree}`));
      assert.equal(exactState(f.repoRoot), userCheckout);
      assert.equal(exactState(f.worktreePath), agent);
      assert.ok(await f.service.isContentMerged(f));
      assert.match(git(f.repoRoot, 'reflog', 'main', '-1'), /grove: squash/);
    });

    it('rebase strategy: rebased in the agent worktree, then the base fast-forwards (linear history)', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      commit(f.worktreePath, 'agent 1', { 'agent.txt': 'agent\n' });
      commit(f.worktreePath, 'agent 2', { 'agent2.txt': 'agent2\n' });
      const userTip = commit(f.repoRoot, 'user', { 'user.txt': 'user\n' });
      const r = await f.service.mergeIntoBase({ ...f, strategy: 'rebase' });
      assert.equal(r.updatedVia, 'checkout');
      assert.equal(git(f.repoRoot, 'rev-parse', 'main'), git(f.repoRoot, 'rev-parse', f.branch));
      assert.equal(git(f.repoRoot, 'rev-parse', 'main~2'), userTip);
      assert.equal(git(f.repoRoot, 'rev-list', '--merges', '--count', 'main'), '0');
      assert.equal(read(f.repoRoot, 'agent2.txt'), 'agent2\n');
      assert.equal(git(f.worktreePath, 'status', '--porcelain'), '');
    });

    it('a dirty checkout of the base in an untouched file: allowed, the local change is kept', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n', 'mine.txt': 'm\n' });
      commit(f.worktreePath, 'agent', { 'a.txt': 'agent\n' });
      writeFiles(f.repoRoot, { 'mine.txt': 'my uncommitted edit\n', 'scratch.txt': 'untracked\n' });
      git(f.repoRoot, 'add', 'scratch.txt');
      for (const strategy of ['merge'] as const) {
        const r = await f.service.mergeIntoBase({ ...f, strategy });
        assert.equal(r.updatedVia, 'checkout');
      }
      assert.equal(read(f.repoRoot, 'a.txt'), 'agent\n');
      assert.equal(read(f.repoRoot, 'mine.txt'), 'my uncommitted edit\n');
      assert.deepEqual(git(f.repoRoot, 'status', '--porcelain').split('\n').map((l) => l.trim()).sort(), ['A  scratch.txt', 'M mine.txt']);
    });

    for (const strategy of ['merge', 'squash', 'rebase'] as const) {
      it(`${strategy}: a dirty checkout of the base in a file the merge touches is refused and nothing changes`, async () => {
        const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
        commit(f.worktreePath, 'agent', { 'a.txt': 'agent\n', 'new.txt': 'new\n' });
        commit(f.repoRoot, 'user', { 'u.txt': 'u\n' });
        writeFiles(f.repoRoot, { 'a.txt': 'precious uncommitted\n' });
        const before = wholeState(f.repoRoot, f.repoRoot, f.worktreePath);
        const pre = await f.service.preflight({ ...f, running: false, strategy });
        assert.equal(pre.ok, false);
        const problem = pre.problems.find((p) => p.code === 'UserCheckoutDirty');
        assert.deepEqual(problem?.files, ['a.txt']);
        assert.match(problem!.message, /commit or stash them/);
        await assert.rejects(f.service.mergeIntoBase({ ...f, strategy }), rejectsBlocked('UserCheckoutDirty', /a\.txt/));
        assert.equal(wholeState(f.repoRoot, f.repoRoot, f.worktreePath), before);
        // An untracked file in the checkout where the merge would create one is refused as well.
        writeFiles(f.repoRoot, { 'a.txt': 'a\n', 'new.txt': 'mine\n' });
        await assert.rejects(f.service.mergeIntoBase({ ...f, strategy }), rejectsBlocked('UserCheckoutDirty', /new\.txt/));
        assert.equal(read(f.repoRoot, 'new.txt'), 'mine\n');
      });
    }

    it('predicted conflicts block the merge; nothing changes; a sync resolves it and the merge succeeds', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      commit(f.worktreePath, 'agent', { 'a.txt': 'agent\n' });
      commit(f.repoRoot, 'user', { 'a.txt': 'user\n' });
      assert.deepEqual((await f.service.predictConflicts(f)).conflicts, ['a.txt']);
      const pre = await f.service.preflight({ ...f, running: false });
      assert.deepEqual(pre.problems.map((p) => p.code), ['Conflicts', 'BaseMoved']);
      assert.match(pre.problems[0]!.message, /sync the instance/);
      const before = wholeState(f.repoRoot, f.repoRoot, f.worktreePath);
      for (const strategy of ['merge', 'squash', 'rebase'] as const) {
        await assert.rejects(f.service.mergeIntoBase({ ...f, strategy }), rejectsBlocked('Conflicts', /a\.txt/));
      }
      assert.equal(wholeState(f.repoRoot, f.repoRoot, f.worktreePath), before);
      assert.equal((await f.service.syncFromBase({ ...f, strategy: 'merge' })).status, 'conflicted');
      writeFiles(f.worktreePath, { 'a.txt': 'both\n' });
      git(f.worktreePath, 'add', 'a.txt');
      await f.service.completeSync(f.worktreePath);
      assert.deepEqual(await f.service.predictConflicts(f), { clean: true, conflicts: [], tree: git(f.repoRoot, 'rev-parse', `${f.branch}^{tree}`) });
      const r = await f.service.mergeIntoBase({ ...f, strategy: 'squash', message: 'x' });
      assert.equal(git(f.repoRoot, 'show', `${r.mergedCommit}:a.txt`), 'both');
    });

    it('a base that moved: reported as information, blocking only with a check command; merge still works', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      commit(f.worktreePath, 'agent', { 'agent.txt': 'agent\n' });
      const moved = commit(f.repoRoot, 'user', { 'user.txt': 'user\n' });
      const pre = await f.service.preflight({ ...f, running: false, strategy: 'squash' });
      assert.equal(pre.ok, true);
      assert.deepEqual(pre.problems.map((p) => [p.code, p.blocking]), [['BaseMoved', false]]);
      const gated = await f.service.preflight({ ...f, running: false, strategy: 'squash', checkCommand: 'exit 0' });
      assert.deepEqual(gated.problems.map((p) => [p.code, p.blocking]), [['BaseMoved', true]]);
      assert.equal(gated.check, undefined, 'the check does not run while something else blocks');
      await f.service.syncFromBase({ ...f, strategy: 'merge' });
      const after = await f.service.preflight({ ...f, running: false, strategy: 'squash', checkCommand: 'exit 0' });
      assert.equal(after.ok, true);
      assert.equal(after.check?.passed, true);
      const r = await f.service.mergeIntoBase({ ...f, strategy: 'squash', message: 'squash' });
      assert.deepEqual(parents(f.repoRoot, r.mergedCommit), [moved]);
      assert.equal(read(f.repoRoot, 'agent.txt'), 'agent\n');
      assert.equal(read(f.repoRoot, 'user.txt'), 'user\n');
    });

    it('a failing check command blocks with its output', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      commit(f.worktreePath, 'agent', { 'agent.txt': 'agent\n' });
      const chunks: string[] = [];
      const pre = await f.service.preflight({ ...f, running: false, checkCommand: 'echo "2 tests failed in $GROVE_BRANCH"; exit 3', onCheckOutput: (c) => chunks.push(c) });
      assert.equal(pre.ok, false);
      assert.equal(pre.check?.exitCode, 3);
      const problem = pre.problems.find((p) => p.code === 'CheckFailed');
      assert.match(problem!.output!, new RegExp(`2 tests failed in ${f.branch}`));
      assert.match(problem!.message, /exit 3/);
      assert.ok(chunks.join('').includes('2 tests failed'));
    });

    it('a running agent and uncommitted work block; commitWork commits it; nothing to merge is said', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      assert.deepEqual((await f.service.preflight({ ...f, running: false })).problems.map((p) => p.code), ['NothingToMerge']);
      writeFiles(f.worktreePath, { 'a.txt': 'edited\n', 'new.txt': 'n\n' });
      const pre = await f.service.preflight({ ...f, running: true });
      assert.deepEqual(pre.problems.map((p) => p.code).slice(0, 2), ['AgentRunning', 'UncommittedWork']);
      assert.ok(!pre.problems.some((p) => p.code === 'NothingToMerge'), 'uncommitted work is something to merge once committed');
      assert.deepEqual(pre.problems.find((p) => p.code === 'UncommittedWork')?.files, ['a.txt', 'new.txt']);
      const sha = await f.service.commitWork({ worktreePath: f.worktreePath, message: suggestCommitMessage('Fix a', ['a.txt', 'new.txt']) });
      assert.equal(git(f.worktreePath, 'rev-parse', 'HEAD'), sha);
      assert.equal(git(f.worktreePath, 'log', '-1', '--format=%B'), 'Fix a\n\n- a.txt\n- new.txt');
      assert.equal(await f.service.commitWork({ worktreePath: f.worktreePath, message: 'nothing' }), undefined);
      assert.deepEqual((await f.service.preflight({ ...f, running: false })).problems, []);
      await assert.rejects(f.service.mergeIntoBase({ ...f, baseRef: 'origin/main', strategy: 'merge' }), rejectsBlocked('BaseNotABranch'));
    });

    it('commitWork leaves the copied files out, an ignored one (.env) included, even one the agent staged', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n', '.gitignore': '.env\n' });
      writeFiles(f.worktreePath, { '.env': 'TOKEN=1\n', 'local.json': '{}\n', 'work.txt': 'w\n' });
      git(f.worktreePath, 'add', 'local.json');
      let offered: string[] = [];
      const sha = await f.service.commitWork({ worktreePath: f.worktreePath, exclude: ['.env', 'local.json'], message: (files) => ((offered = files), 'Work') });
      assert.ok(sha);
      assert.deepEqual(offered, ['work.txt']);
      assert.deepEqual(git(f.worktreePath, 'show', '--name-only', '--format=', 'HEAD').split('\n'), ['work.txt']);
      assert.equal(fs.readFileSync(path.join(f.worktreePath, '.env'), 'utf8'), 'TOKEN=1\n', 'the copied files stay on disk');
      assert.equal(git(f.worktreePath, 'status', '--porcelain'), '?? local.json');
    });

    it('a failed commit (hook) restores the index as it was', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      writeFiles(f.worktreePath, { 'a.txt': 'edited\n', 'new.txt': 'n\n', 'staged.txt': 's\n' });
      git(f.worktreePath, 'add', 'staged.txt');
      const hooks = path.join(git(f.repoRoot, 'rev-parse', '--path-format=absolute', '--git-common-dir'), 'hooks');
      fs.mkdirSync(hooks, { recursive: true });
      fs.writeFileSync(path.join(hooks, 'pre-commit'), '#!/bin/sh\necho no >&2\nexit 1\n', { mode: 0o755 });
      const before = exactState(f.worktreePath);
      await assert.rejects(f.service.commitWork({ worktreePath: f.worktreePath, message: 'x' }));
      assert.equal(exactState(f.worktreePath), before);
    });
  });

  it('message helpers', () => {
    assert.equal(squashMessage('Fix login', '  Done.\n\n\n\nAll tests pass.  \n'), 'Fix login\n\nDone.\n\nAll tests pass.');
    assert.equal(squashMessage('', undefined), 'Squashed changes');
    const long = 'x'.repeat(100);
    assert.equal(squashMessage(long, 's'), `${'x'.repeat(71)}…\n\n${long}\n\ns`);
    const many = Array.from({ length: 25 }, (_, i) => `f${i}`);
    assert.match(suggestCommitMessage('T', many), /- f19\n- … and 5 more$/);
    assert.equal(suggestCommitMessage('T', []), 'T');
  });
});
