/**
 * Land All on real git with simulated agents (each turn's work is done in its worktree by the test): the train's
 * order, follow-ups that name the conflicted files or the failing check's output, retries, Cancel, and that no
 * commit or file of anyone is lost.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../../src/cli/main';
import { land, landOrder, landText, lastLines, type LandProgress } from '../../../src/core/flows/land';
import type { InstanceSnapshot } from '../../../src/core/model';
import { wholeState as fullState } from '../../support/mergeFixtures';

/**
 * Every ref, worktree and file — except the turn checkpoints Grove records in the background as agents' turns end
 * (refs/grove/checkpoints: they only ever add, and one may land while the test runs).
 */
const wholeState = (repo: string, ...worktrees: string[]) => fullState(repo, ...worktrees).split('\n').filter((l) => !l.startsWith('refs/grove/checkpoints/')).join('\n');
import { commit, git, gitTestEnv, useTempRepos, writeFiles } from '../../support/repo';
import { groveFixture, type GroveFixture } from './groveFixture';

const lines = (n: number, edit: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => `${edit[i] ?? `line ${i}`}\n`).join('');
/** Fails, naming the files, while any file of the worktree holds the word BROKEN. */
const CHECK = 'if grep -rls BROKEN --exclude-dir=.git . > /dev/null 2>&1; then echo "check: BROKEN found in $(grep -rls BROKEN --exclude-dir=.git . | tr \'\\n\' \' \')"; exit 1; fi; echo "check ok"';

describe('flows: Land All (a merge train)', function () {
  this.timeout(90_000);
  const repos = useTempRepos();
  let fx: GroveFixture | undefined;
  repos.closeFirst(async () => {
    await fx?.grove.close();
    fx = undefined;
  });

  it('4 done agents, 2 conflicts with 1, 3 fails the check: 1 and 4 land, 2 and 3 are sent back with the files / the output, fix it and land; nothing is lost', async () => {
    fx = await groveFixture(repos, { 'a.txt': lines(20), 'README.md': '# demo\n' });
    const { grove, repo, agents, settings } = fx;
    settings.checkCommand = CHECK;
    settings.cleanupAfterMerge = 'always';
    const made: string[] = []; // every commit anyone made
    const mk = (wt: string, msg: string, files: Record<string, string>) => void made.push(commit(wt, msg, files));
    const [one, two, three, four] = await fx.agentsDone([
      { title: 'One', work: (wt) => { mk(wt, 'one', { 'a.txt': lines(20, { 2: 'one' }) }); writeFiles(wt, { 'one.txt': 'uncommitted work of one\n' }); } },
      {
        title: 'Two', work: (wt, prompt) => {
          if (!/conflicts in/.test(prompt)) return mk(wt, 'two', { 'a.txt': lines(20, { 2: 'two' }), 'two.txt': 'two\n' });
          // The agent resolves the sync's conflict and commits the merge.
          writeFiles(wt, { 'a.txt': lines(20, { 2: 'one and two' }) });
          git(wt, 'add', 'a.txt');
          git(wt, 'commit', '-q', '--no-edit');
          made.push(git(wt, 'rev-parse', 'HEAD'));
        },
      },
      { title: 'Three', work: (wt, prompt) => (/check/.test(prompt) ? mk(wt, 'three fixed', { 'three.txt': 'fixed\n' }) : mk(wt, 'three', { 'three.txt': 'BROKEN\n' })) },
      { title: 'Four', work: (wt) => mk(wt, 'four', { 'four.txt': 'four\n' }) },
    ]);
    // The user's own checkout of main: an uncommitted edit and an untracked file, never touched.
    writeFiles(repo, { 'README.md': '# demo, edited by the user\n', 'user.txt': 'mine\n' });

    const steps: LandProgress[] = [];
    const summary = await land(grove, { repoRoot: repo, strategy: 'merge', commit: true }, { onProgress: (p) => steps.push(p) });
    assert.ok(summary);
    assert.equal(summary.cancelled, false);
    assert.deepEqual(summary.landed.map((l) => [l.instance.title, l.attempts]), [['Four', 1], ['One', 1], ['Three', 2], ['Two', 2]]);
    assert.deepEqual(summary.left, []);
    assert.deepEqual(summary.sentBack, [], 'every agent sent back came back and landed');

    // The follow-ups: Three got the check's output, Two the conflicted file.
    const prompts = (i: InstanceSnapshot) => agents.runs.filter((r) => r.id === i.id).map((r) => r.options.prompt);
    assert.equal(prompts(one!).length, 1);
    assert.equal(prompts(four!).length, 1);
    const [, threeBack] = prompts(three!);
    assert.match(threeBack!, /ran the check .* it failed/);
    assert.match(threeBack!, /check: BROKEN found in \.\/three\.txt/);
    const [, twoBack] = prompts(two!);
    assert.match(twoBack!, /stopped on conflicts in:\n- a\.txt\n/);
    assert.equal(prompts(two!).length, 2);
    assert.equal(prompts(three!).length, 2);

    // Every commit anyone made is in main; main holds all four changes and the resolution; the user's files are as they were.
    for (const sha of made) assert.equal(git(repo, 'merge-base', '--is-ancestor', sha, 'main'), '', `${sha} is in main`);
    const tree = git(repo, 'ls-tree', '-r', '--name-only', 'main').split('\n');
    assert.deepEqual(tree.sort(), ['README.md', 'a.txt', 'four.txt', 'one.txt', 'three.txt', 'two.txt']);
    assert.equal(git(repo, 'show', 'main:a.txt'), lines(20, { 2: 'one and two' }).trimEnd());
    assert.equal(git(repo, 'show', 'main:one.txt'), 'uncommitted work of one', 'One\'s uncommitted work was committed and landed');
    assert.equal(git(repo, 'show', 'main:three.txt'), 'fixed');
    assert.equal(fs.readFileSync(path.join(repo, 'README.md'), 'utf8'), '# demo, edited by the user\n');
    assert.equal(fs.readFileSync(path.join(repo, 'user.txt'), 'utf8'), 'mine\n');
    assert.equal(fs.readFileSync(path.join(repo, 'a.txt'), 'utf8'), lines(20, { 2: 'one and two' }), 'the clean files of the user\'s checkout follow main');
    // Cleanup per cleanupAfterMerge: worktrees and branches gone, the records archived.
    for (const i of [one, two, three, four]) {
      assert.equal(fs.existsSync(i!.worktreePath), false, `${i!.title}'s worktree was removed`);
      assert.equal(git(repo, 'branch', '--list', i!.branch), '');
      assert.equal(grove.fleet.get(i!.id)!.archived, true);
    }
    assert.equal(summary.baseCommits.length, 1);
    const merges = summary.baseCommits[0]!.commits.filter((c) => /^\w+ Merge grove\//.test(c));
    assert.equal(merges.length, 4, summary.baseCommits[0]!.commits.join('\n'));
    const text = landText(summary);
    assert.match(text, /^Landed 4 of 4 \(merge\)\.\n  ✓ \w{8} Four → main \w{8}; removed its worktree and branch grove\/four\n/);
    assert.match(text, /Three → main \w{8} \(attempt 2\)/);
    assert.match(text, /main's new commits:\n  \w+ Merge grove\/two: Two/);
    // Progress: "Landing n/4: <agent>", and the wait for agents that were sent back.
    assert.equal(steps[0]!.total, 4);
    assert.deepEqual(steps.filter((s) => s.step === 'sync').map((s) => [s.position, s.instance!.title]).slice(0, 4), [[1, 'Three'], [1, 'Four'], [2, 'One'], [3, 'Two']]);
  });

  it('landRetries: an agent whose check still fails is left with the reason after its retries; the rest lands', async () => {
    fx = await groveFixture(repos, { 'a.txt': 'a\n' });
    const { grove, repo, settings } = fx;
    settings.checkCommand = CHECK;
    settings.landRetries = 1;
    const [bad, good] = await fx.agentsDone([
      { title: 'Bad', work: (wt, prompt) => commit(wt, `bad ${prompt.length}`, { 'bad.txt': `BROKEN ${prompt.length}\n` }) },
      { title: 'Good', work: (wt) => commit(wt, 'good', { 'good.txt': 'good\n' }) },
    ]);
    const summary = await land(grove, { ids: [bad!.id, good!.id], strategy: 'squash', cleanup: 'never' });
    assert.deepEqual(summary!.landed.map((l) => l.instance.title), ['Good']);
    assert.equal(summary!.left.length, 1);
    assert.equal(summary!.left[0]!.instance.id, bad!.id);
    assert.equal(summary!.left[0]!.attempts, 2);
    assert.match(summary!.left[0]!.reason, /the check .* failed \(sent back 1 time already; grove\.landRetries is 1\)/);
    assert.equal(git(repo, 'show', 'main:good.txt'), 'good');
    assert.equal(fs.existsSync(path.join(bad!.worktreePath, 'bad.txt')), true, 'the left agent keeps its worktree and work');
  });

  it('Cancel during a check: the current agent\'s commit of its work and sync are undone exactly, nothing merged, the check killed; the rest is left', async () => {
    fx = await groveFixture(repos, { 'a.txt': 'a\n' });
    const { grove, repo, settings } = fx;
    const marker = path.join(repos.dir('marker'), 'started');
    settings.checkCommand = `if [ -f slow.txt ]; then echo started > "${marker}"; sleep 20; fi`;
    const [slow, other] = await fx.agentsDone([
      { title: 'Slow', work: (wt) => commit(wt, 'slow', { 'slow.txt': 'slow\n' }) },
      { title: 'Other', work: (wt) => commit(wt, 'other', { 'other.txt': 'other\n' }) },
    ]);
    commit(repo, 'the base moves', { 'base.txt': 'base\n' }); // so that the sync really changes Slow's branch
    writeFiles(slow!.worktreePath, { 'notes.txt': 'uncommitted notes of Slow\n', 'slow.txt': 'slow, edited\n' }); // committed by the train, then uncommitted again
    const before = wholeState(repo, slow!.worktreePath, other!.worktreePath);
    const ac = new AbortController();
    const timer = setInterval(() => fs.existsSync(marker) && ac.abort(), 20);
    const started = Date.now();
    const summary = await land(grove, { repoRoot: repo, strategy: 'merge', commit: true, signal: ac.signal }).finally(() => clearInterval(timer));
    assert.ok(Date.now() - started < 15_000, 'the check was killed, not waited for');
    assert.equal(summary!.cancelled, true);
    assert.deepEqual(summary!.landed, []);
    assert.deepEqual(summary!.left.map((l) => [l.instance.title, l.reason]), [
      ['Slow', 'Land All was cancelled during its turn; its branch and worktree are as they were'],
      ['Other', 'Land All was cancelled before its turn'],
    ]);
    assert.equal(wholeState(repo, slow!.worktreePath, other!.worktreePath), before, 'every ref, worktree and file as before');
    assert.deepEqual(summary!.baseCommits, []);
  });

  it('grove land --all --json: lands the clean ones, leaves a conflict with --retries 0 (no follow-up), exit code 1; usage errors', async () => {
    fx = await groveFixture(repos, { 'a.txt': lines(10) });
    const [one, two, three] = await fx.agentsDone([
      { title: 'One', work: (wt) => commit(wt, 'one', { 'a.txt': lines(10, { 1: 'one' }) }) },
      { title: 'Two', work: (wt) => commit(wt, 'two', { 'a.txt': lines(10, { 1: 'two' }) }) },
      { title: 'Three', work: (wt) => commit(wt, 'three', { 'three.txt': 'three\n' }) },
    ]);
    await fx.grove.close();
    const runs = fx.agents.runs.length;
    const twoHead = git(two!.worktreePath, 'rev-parse', 'HEAD');
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
    const saved = Object.fromEntries(Object.keys(gitTestEnv).map((k) => [k, process.env[k]]));
    Object.assign(process.env, gitTestEnv); // the CLI's git runs with the test's identity
    try {
      assert.equal(await main(['land', '--all', '--strategy', 'merge', '--retries', '0', '--keep', '--json', '--repo', fx.repo], io), 1, err.join('\n'));
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    const r = JSON.parse(out.join('\n')) as { ok: boolean; landed: Array<{ instance: { id: string } }>; left: Array<{ instance: { id: string }; reason: string }> };
    assert.equal(r.ok, false);
    assert.deepEqual(r.landed.map((l) => l.instance.id), [three!.id, one!.id]);
    assert.deepEqual(r.left.map((l) => l.instance.id), [two!.id]);
    assert.match(r.left[0]!.reason, /stopped on conflicts in a\.txt \(sent back 0 times already; grove\.landRetries is 0\)/);
    assert.equal(fx.agents.runs.length, runs, 'no follow-up was sent');
    assert.equal(git(fx.repo, 'show', 'main:three.txt'), 'three');
    assert.match(r.left[0]!.reason, /the sync was undone, its branch is as it was/);
    assert.equal(git(two!.worktreePath, 'status', '--porcelain'), '', 'Two is as it was: no sync stopped half-way');
    assert.equal(git(two!.worktreePath, 'rev-parse', 'HEAD'), twoHead);
    const usage: string[] = [];
    assert.equal(await main(['land', '--repo', fx.repo], { out: () => undefined, err: (t) => void usage.push(t) }), 2);
    assert.match(usage.join('\n'), /takes <id>… or --all/);
  });

  it('landOrder: after: first, then fewest predicted conflicts, then dispatch order; lastLines', () => {
    const s = (title: string, createdAt: number, after?: string) => ({ id: title.toLowerCase(), title, createdAt, ...(after ? { after } : {}) }) as InstanceSnapshot;
    const conflicts: Record<string, number> = { a: 2, b: 0, c: 1, d: 0 };
    assert.deepEqual(landOrder([s('A', 1), s('B', 2, 'A'), s('C', 3), s('D', 4)], (id) => conflicts[id]!).map((x) => x.title), ['D', 'C', 'A', 'B']);
    assert.deepEqual(landOrder([s('A', 1, 'B'), s('B', 2, 'A')], () => 0).map((x) => x.title), ['A', 'B'], 'a cycle does not hang');
    assert.equal(lastLines(Array.from({ length: 300 }, (_, i) => `l${i}`).join('\n') + '\n\n', 200).split('\n')[0], 'l100');
  });
});
