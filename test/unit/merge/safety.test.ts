/**
 * Issue 11: what a merge or a sync must never lose or leak — ignored files of the user and of the agent,
 * copied files (`grove.copyFiles`) committed into the base, messages that look like options; plus renames in
 * the status parse and the diff stat after a sync.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseStatusZ, worktreeStatus } from '../../../src/core/git/changes';
import { diffStat } from '../../../src/core/git/diffStat';
import { mergeMessage, squashMessage, suggestCommitMessage } from '../../../src/core/git/mergeService';
import { instanceRepo, read, rejectsBlocked, wholeState } from '../../support/mergeFixtures';
import { commit, git, useTempRepos, writeFiles } from '../../support/repo';

describe('merge: safety (issue 11)', function () {
  this.timeout(30_000);
  const repos = useTempRepos();

  describe("the user's ignored files in the checkout of the base (item 5)", () => {
    for (const strategy of ['merge', 'squash', 'rebase'] as const) {
      it(`${strategy}: files the branch brings that are ignored in the user's checkout are listed and refused; nothing changes`, async () => {
        const f = await instanceRepo(repos, { '.gitignore': 'config.local.json\n*.log\n', 'a.txt': 'a\n' });
        writeFiles(f.repoRoot, { 'config.local.json': '{"mine":true}\n', 'debug.log': 'my log\n', 'other.log': 'kept\n' });
        writeFiles(f.worktreePath, { 'config.local.json': '{"agent":true}\n', 'debug.log': 'agent log\n', 'agent.txt': 'x\n' });
        git(f.worktreePath, 'add', '-f', 'config.local.json', 'debug.log', 'agent.txt');
        git(f.worktreePath, 'commit', '-q', '-m', 'agent (force-added ignored files)');
        commit(f.repoRoot, 'user', { 'u.txt': 'u\n' });
        const before = wholeState(f.repoRoot, f.repoRoot, f.worktreePath);

        const pre = await f.service.preflight({ ...f, running: false, strategy });
        assert.equal(pre.ok, false);
        const p = pre.problems.find((x) => x.code === 'FilesInTheWay');
        assert.deepEqual(p?.files, ['config.local.json', 'debug.log']);
        assert.equal(p?.worktreePath, f.repoRoot);
        assert.match(p!.message, /files git ignores/);
        await assert.rejects(f.service.mergeIntoBase({ ...f, strategy, message: 'm' }), rejectsBlocked('FilesInTheWay', /config\.local\.json, debug\.log/));
        assert.equal(wholeState(f.repoRoot, f.repoRoot, f.worktreePath), before);
        assert.equal(read(f.repoRoot, 'config.local.json'), '{"mine":true}\n');

        // Once the user moved them away the merge lands, and unrelated ignored files stay.
        fs.renameSync(path.join(f.repoRoot, 'config.local.json'), path.join(f.repoRoot, 'config.local.json.bak'));
        fs.rmSync(path.join(f.repoRoot, 'debug.log'));
        await f.service.mergeIntoBase({ ...f, strategy, message: 'm' });
        assert.equal(read(f.repoRoot, 'config.local.json'), '{"agent":true}\n');
        assert.equal(read(f.repoRoot, 'other.log'), 'kept\n');
        assert.equal(read(f.repoRoot, 'config.local.json.bak'), '{"mine":true}\n');
      });
    }

    it('an ignored folder where a file comes, and an ignored file where a folder comes, are refused too', async () => {
      const f = await instanceRepo(repos, { '.gitignore': 'logs/\nbuild\n', 'a.txt': 'a\n' });
      writeFiles(f.repoRoot, { 'logs/today.log': 'my log\n', build: 'my build notes\n' });
      writeFiles(f.worktreePath, { logs: 'a file now\n', 'build/out.txt': 'out\n' });
      git(f.worktreePath, 'add', '-f', 'logs', 'build/out.txt');
      git(f.worktreePath, 'commit', '-q', '-m', 'agent');
      const before = wholeState(f.repoRoot, f.repoRoot);
      const pre = await f.service.preflight({ ...f, running: false });
      assert.deepEqual(pre.problems.find((x) => x.code === 'FilesInTheWay')?.files, ['build', 'logs/today.log']);
      await assert.rejects(f.service.mergeIntoBase({ ...f, strategy: 'merge' }), rejectsBlocked('FilesInTheWay'));
      assert.equal(wholeState(f.repoRoot, f.repoRoot), before);
      assert.equal(read(f.repoRoot, 'logs/today.log'), 'my log\n');
    });
  });

  describe("the agent's ignored files in its worktree (item 6)", () => {
    async function baseTracksAgentsIgnoredFile() {
      const f = await instanceRepo(repos, { '.gitignore': '*.log\n', 'a.txt': 'a\n' });
      commit(f.worktreePath, 'agent', { 'agent.txt': 'agent\n' });
      writeFiles(f.worktreePath, { 'debug.log': "the agent's log\n" });
      writeFiles(f.repoRoot, { 'debug.log': 'the log the user commits\n' });
      git(f.repoRoot, 'add', '-f', 'debug.log');
      git(f.repoRoot, 'commit', '-q', '-m', 'user tracks debug.log');
      return f;
    }

    it('rebase merge: refused while the base tracks a path that is an ignored file in the worktree; squash is fine', async () => {
      const f = await baseTracksAgentsIgnoredFile();
      const before = wholeState(f.repoRoot, f.repoRoot, f.worktreePath);
      const pre = await f.service.preflight({ ...f, running: false, strategy: 'rebase' });
      const p = pre.problems.find((x) => x.code === 'FilesInTheWay');
      assert.deepEqual([p?.files, p?.worktreePath], [['debug.log'], f.worktreePath]);
      await assert.rejects(f.service.mergeIntoBase({ ...f, strategy: 'rebase' }), rejectsBlocked('FilesInTheWay', /Rebasing .*\(debug\.log\)/));
      assert.equal(wholeState(f.repoRoot, f.repoRoot, f.worktreePath), before);
      assert.equal((await f.service.preflight({ ...f, running: false, strategy: 'squash' })).ok, true);
      await f.service.mergeIntoBase({ ...f, strategy: 'squash', message: 'squash' });
      assert.equal(read(f.worktreePath, 'debug.log'), "the agent's log\n");
    });

    for (const strategy of ['merge', 'rebase'] as const) {
      it(`sync (${strategy}): refused while the base brings a path that is an ignored file in the worktree`, async () => {
        const f = await baseTracksAgentsIgnoredFile();
        const before = wholeState(f.repoRoot, f.worktreePath);
        await assert.rejects(f.service.syncFromBase({ ...f, strategy }), rejectsBlocked('FilesInTheWay', /debug\.log.*sync again/));
        assert.equal(wholeState(f.repoRoot, f.worktreePath), before);
        fs.rmSync(path.join(f.worktreePath, 'debug.log'));
        assert.equal((await f.service.syncFromBase({ ...f, strategy })).status, 'synced');
      });
    }
  });

  describe('copied files are never committed (item 12)', () => {
    const copied = ['.env', 'my file.txt', '*', '-rf', ':weird', 'cfg dir/'];

    it('commitWork leaves the copied files out, whatever their names; preflight does not count them as work', async () => {
      const f = await instanceRepo(repos, { 'README.md': '# r\n' });
      writeFiles(f.worktreePath, { '.env': 'SECRET=1\n', 'my file.txt': 'm\n', '*': 'star\n', '-rf': 'dash\n', ':weird': 'colon\n', 'cfg dir/local.json': '{}\n' });
      writeFiles(f.worktreePath, { 'README.md': '# r2\n', 'real.txt': 'work\n', 'a*b.txt': 'not matched by the literal *\n' });
      git(f.worktreePath, 'add', '.env'); // the agent staged a copied file itself
      let listed: string[] = [];
      const sha = await f.service.commitWork({
        worktreePath: f.worktreePath, exclude: copied,
        message: (files) => { listed = files; return suggestCommitMessage('Agent work', files); },
      });
      assert.ok(sha);
      const committed = git(f.worktreePath, 'show', '--name-only', '--format=', 'HEAD').split('\n').sort();
      assert.deepEqual(committed, ['README.md', 'a*b.txt', 'real.txt']);
      assert.deepEqual(listed, ['README.md', 'a*b.txt', 'real.txt']);
      assert.equal(read(f.worktreePath, '.env'), 'SECRET=1\n');
      assert.deepEqual((await worktreeStatus(f.client, f.worktreePath)).untracked.sort(), ['*', '-rf', '.env', ':weird', 'cfg dir/local.json', 'my file.txt']);
      assert.deepEqual((await worktreeStatus(f.client, f.worktreePath, { exclude: copied })).paths, []);
      const pre = await f.service.preflight({ ...f, running: false, exclude: copied });
      assert.deepEqual(pre.problems, []);
      await f.service.mergeIntoBase({ ...f, strategy: 'squash', message: 'work', exclude: copied });
      assert.deepEqual(git(f.repoRoot, 'ls-tree', '-r', '--name-only', 'main').split('\n').sort(), ['README.md', 'a*b.txt', 'real.txt']);
      assert.equal(await f.service.commitWork({ worktreePath: f.worktreePath, exclude: copied, message: 'nothing left' }), undefined);
    });
  });

  describe('messages that look like options (item 18)', () => {
    it('a squash of a task titled --upload-pack=…, a merge and a commit with such messages all work', async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n' });
      writeFiles(f.worktreePath, { 'agent.txt': 'x\n' });
      const evil = '--upload-pack=touch /tmp/grove-upload-pack';
      assert.ok(await f.service.commitWork({ worktreePath: f.worktreePath, message: evil }));
      assert.equal(git(f.worktreePath, 'log', '-1', '--format=%B'), evil);
      const message = squashMessage(evil, '--receive-pack=x');
      const r = await f.service.mergeIntoBase({ ...f, strategy: 'squash', message });
      assert.equal(git(f.repoRoot, 'log', '-1', '--format=%B', r.mergedCommit), message);
      commit(f.worktreePath, 'more', { 'b.txt': 'b\n' });
      const r2 = await f.service.mergeIntoBase({ ...f, strategy: 'merge', message: '-m --upload-pack=y' });
      assert.equal(git(f.repoRoot, 'log', '-1', '--format=%s', r2.mergedCommit), '-m --upload-pack=y');
      assert.ok(!fs.existsSync('/tmp/grove-upload-pack'));
    });

    it('mergeMessage: one message for every flow', () => {
      const input = { title: 'Fix the login', branch: 'grove/fix-login', baseRef: 'main', resultText: 'Done.\n\n\n\nTests pass.' };
      assert.equal(mergeMessage('merge', input), 'Merge grove/fix-login: Fix the login\n\nDone.\n\nTests pass.');
      assert.equal(mergeMessage('squash', input), squashMessage(input.title, input.resultText));
      assert.equal(mergeMessage('rebase', input), '');
      assert.equal(mergeMessage('merge', { ...input, title: '', resultText: undefined, baseRef: 'refs/heads/main' }), "Merge branch 'grove/fix-login' into main");
      const long = mergeMessage('merge', { ...input, title: 'x'.repeat(80), resultText: undefined });
      assert.equal(long.split('\n\n')[1], 'x'.repeat(80));
      assert.ok(long.split('\n')[0]!.length <= 72);
    });
  });

  describe('renames in the status (item 12 / 17)', () => {
    it('parseStatusZ reads the source of a rename as part of its record', () => {
      const out = 'R  new name.txt\0old name.txt\0 M a b.txt\0?? -x\0C  copy.c\0src.c\0UU both\0!! ignored.log\0';
      assert.deepEqual(parseStatusZ(out), [
        { x: 'R', y: ' ', path: 'new name.txt', from: 'old name.txt' },
        { x: ' ', y: 'M', path: 'a b.txt' },
        { x: '?', y: '?', path: '-x' },
        { x: 'C', y: ' ', path: 'copy.c', from: 'src.c' },
        { x: 'U', y: 'U', path: 'both' },
        { x: '!', y: '!', path: 'ignored.log' },
      ]);
    });

    it('worktreeStatus and commitWork with a staged rename', async () => {
      const long = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join('');
      const f = await instanceRepo(repos, { 'old name.txt': long, 'b.txt': 'b\n' });
      git(f.worktreePath, 'mv', 'old name.txt', 'new name.txt');
      writeFiles(f.worktreePath, { 'b.txt': 'b2\n', 'R  x': 'odd\n' });
      const status = await worktreeStatus(f.client, f.worktreePath);
      assert.deepEqual(status.renamed, [{ from: 'old name.txt', to: 'new name.txt', copy: false }]);
      assert.deepEqual(status.changed.sort(), ['b.txt', 'new name.txt']);
      assert.deepEqual(status.untracked, ['R  x']);
      assert.deepEqual(status.paths, ['R  x', 'b.txt', 'new name.txt', 'old name.txt']);
      let listed: string[] = [];
      await f.service.commitWork({ worktreePath: f.worktreePath, message: (files) => ((listed = files), 'rename') });
      assert.deepEqual(listed.sort(), ['R  x', 'b.txt', 'new name.txt']);
    });
  });

  describe('diff stat (issue 17 item 3)', () => {
    it("counts the agent's own changes against the merge-base, also after a sync", async () => {
      const f = await instanceRepo(repos, { 'a.txt': 'a\n', 'b.txt': 'b\n' });
      const baseCommit = git(f.repoRoot, 'rev-parse', 'main');
      commit(f.worktreePath, 'agent', { 'a.txt': 'a\nagent\n' });
      commit(f.repoRoot, 'user', { 'b.txt': `b\n${'user\n'.repeat(10)}` });
      await f.service.syncFromBase({ ...f, strategy: 'merge' });
      writeFiles(f.worktreePath, { 'a.txt': 'a\nagent\nuncommitted\n' });
      assert.deepEqual(await diffStat(f.client, f.worktreePath, { baseRef: 'main', baseCommit }), { files: 1, insertions: 2, deletions: 0 });
      // The base branch gone: the recorded base commit is the fallback.
      assert.deepEqual(await diffStat(f.client, f.worktreePath, { baseRef: 'gone', baseCommit }), { files: 2, insertions: 12, deletions: 0 });
    });
  });
});
