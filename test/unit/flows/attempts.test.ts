/** Best of N on real git with simulated agents: N worktrees, Compare, Land This Attempt and the others' removal. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { attemptsOf, compareAttempts, dispatchAttempts, landAttempt } from '../../../src/core/flows/attempts';
import { GroveError } from '../../../src/core/errors';
import type { InstanceSnapshot } from '../../../src/core/model';
import { main } from '../../../src/cli/main';
import { commit, git, gitTestEnv, useTempRepos, writeFiles } from '../../support/repo';
import { groveFixture, type GroveFixture } from './groveFixture';

describe('flows: Best of N (attempts)', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let fx: GroveFixture | undefined;
  repos.closeFirst(async () => {
    await fx?.grove.close();
    fx = undefined;
  });

  /** Three attempts: #1 breaks the check, #2 a small clean change, #3 a bigger one left uncommitted. */
  async function three(): Promise<InstanceSnapshot[]> {
    fx = await groveFixture(repos, { 'app.txt': 'v1\n' });
    fx.settings.checkCommand = 'if grep -q BROKEN app.txt; then echo "app.txt is BROKEN"; exit 3; fi';
    fx.agents.work.set('Fix app #1', (i) => void commit(i.worktreePath, 'one', { 'app.txt': 'BROKEN\n' }));
    fx.agents.work.set('Fix app #2', (i) => void commit(i.worktreePath, 'two', { 'app.txt': 'v2\n' }));
    fx.agents.work.set('Fix app #3', (i) => writeFiles(i.worktreePath, { 'app.txt': 'v3\n', 'extra.txt': 'a\nb\nc\n' }));
    const r = await dispatchAttempts(fx.grove, { repoRoot: fx.repo, title: 'Fix app', prompt: 'Fix the app', attempts: 3, models: ['sonnet', undefined, 'opus'] });
    const done = [];
    for (const s of r.instances) done.push(await fx.settle(s.id));
    return done;
  }

  it('dispatches 3 worktrees with the same prompt, titles #1..#3, one model each; Compare gives size, check and cost of each', async () => {
    const [a, b, c] = await three();
    assert.deepEqual([a, b, c].map((s) => [s!.title, s!.prompt, s!.model, s!.attempt]), [
      ['Fix app #1', 'Fix the app', 'sonnet', { group: a!.id, index: 1, of: 3 }],
      ['Fix app #2', 'Fix the app', fx!.settings.model, { group: a!.id, index: 2, of: 3 }],
      ['Fix app #3', 'Fix the app', 'opus', { group: a!.id, index: 3, of: 3 }],
    ]);
    assert.equal(new Set([a, b, c].map((s) => s!.worktreePath)).size, 3);
    assert.deepEqual(attemptsOf(fx!.grove, c!.id).map((s) => s.id), [a!.id, b!.id, c!.id]);
    const cmp = await compareAttempts(fx!.grove, b!.id, { check: true });
    assert.deepEqual(cmp.map((x) => [x.instance.title, x.files, x.insertions, x.deletions, x.costUsd, x.check?.passed]), [
      ['Fix app #1', 1, 1, 1, 0.5, false],
      ['Fix app #2', 1, 1, 1, 0.5, true],
      ['Fix app #3', 2, 4, 1, 0.5, true],
    ]);
    assert.equal(cmp[0]!.check!.exitCode, 3);
    assert.match(cmp[0]!.check!.output, /app\.txt is BROKEN/);
    await assert.rejects(dispatchAttempts(fx!.grove, { repoRoot: fx!.repo, title: 'X', prompt: 'p', attempts: 6 }), (e) => GroveError.is(e, 'InvalidInput'));
  });

  it('Land This Attempt: #2 lands; #1 and #3 are removed only after the confirmation, which shows what each loses', async () => {
    const [a, b, c] = await three();
    const { grove, repo } = fx!;
    let shown: string[] = [];
    const declined = await landAttempt(grove, { id: b!.id, strategy: 'merge', cleanup: 'never' }, {
      confirmRemoveOthers: async (others) => {
        shown = others.map((o) => `${o.instance.title}: ${o.plan.report?.commits.length ?? 0} commits, ${o.plan.report?.uncommitted.length ?? 0}+${o.plan.report?.untracked.length ?? 0} files`);
        return false;
      },
    });
    assert.equal(git(repo, 'show', 'main:app.txt'), 'v2');
    assert.deepEqual(shown, ['Fix app #1: 1 commits, 0+0 files', 'Fix app #3: 0 commits, 1+1 files']);
    assert.deepEqual(declined!.removed, []);
    assert.deepEqual(declined!.kept.map((k) => [k.instance.title, k.reason]), [['Fix app #1', 'not confirmed'], ['Fix app #3', 'not confirmed']]);
    for (const s of [a, c]) assert.equal(fs.existsSync(s!.worktreePath), true, `${s!.title} is kept`);

  });

  it('grove compare <id> --check --json and grove land-attempt <id> --remove-others (the loss printed first)', async () => {
    const [a, b, c] = await three();
    await fx!.grove.close();
    const env = { ...gitTestEnv, GROVE_CHECK_COMMAND: fx!.settings.checkCommand! };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
    try {
      assert.equal(await main(['compare', b!.id, '--check', '--json', '--repo', fx!.repo], io), 0, err.join('\n'));
      const cmp = JSON.parse(out.join('\n')) as Array<{ instance: { id: string }; files: number; check?: { passed: boolean } }>;
      assert.deepEqual(cmp.map((x) => [x.instance.id, x.files, x.check?.passed]), [[a!.id, 1, false], [b!.id, 1, true], [c!.id, 2, true]]);
      out.length = 0;
      assert.equal(await main(['compare', 'Fix app #1', '--repo', fx!.repo], io), 0);
      assert.match(out.join('\n'), /ATTEMPT\s+STATE\s+FILES/);
      out.length = 0;
      assert.equal(await main(['land-attempt', 'Fix app #2', '--strategy', 'merge', '--remove-others', '--repo', fx!.repo], io), 0, err.join('\n'));
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    assert.match(out.join('\n'), /Landed Fix app #2 into main \(merge\)/);
    assert.match(out.join('\n'), /Removed Fix app #1, Fix app #3\./);
    assert.match(err.join('\n'), /Removing \w+ Fix app #3:\n.*Uncommitted changes that would be discarded \(1\)/);
    assert.equal(git(fx!.repo, 'show', 'main:app.txt'), 'v2');
    for (const s of [a, c]) assert.equal(fs.existsSync(s!.worktreePath), false);
  });

  it('grove dispatch --attempts: usage errors before anything is created', async () => {
    const repo = repos.create({ files: { 'a.txt': 'a\n' } });
    const err: string[] = [];
    const io = { out: () => undefined, err: (t: string) => void err.push(t) };
    assert.equal(await main(['dispatch', '--prompt', 'p', '--attempts', '6', '--repo', repo], io), 2);
    assert.equal(await main(['dispatch', '--plan', 'plan.md', '--attempts', '2', '--repo', repo], io), 2);
    assert.equal(await main(['dispatch', '--prompt', 'p', '--models', 'a', '--repo', repo], io), 2);
    assert.equal(await main(['dispatch', '--prompt', 'p', '--attempts', '2', '--models', 'a,b,c', '--repo', repo], io), 2);
    assert.match(err.join('\n'), /--attempts must be a whole number from 1 to 5, not "6"[\s\S]*--attempts goes with --prompt[\s\S]*--models goes with --attempts[\s\S]*3 models for 2 attempts/);
    assert.equal(git(repo, 'worktree', 'list').split('\n').length, 1);
  });

  it('Land This Attempt, confirmed: #1 and #3 (their commits and uncommitted files accepted as lost) are removed with their branches', async () => {
    const [a, b, c] = await three();
    const { grove, repo } = fx!;
    const r = (await landAttempt(grove, { id: b!.id, strategy: 'squash', cleanup: 'never' }, { confirmRemoveOthers: async (others) => others.every((o) => o.plan.hasLoss) }))!;
    assert.equal(git(repo, 'show', 'main:app.txt'), 'v2');
    assert.deepEqual(r.removed.map((x) => x.instance.title), ['Fix app #1', 'Fix app #3']);
    assert.deepEqual(r.kept, []);
    assert.deepEqual(r.removed[1]!.outcome.discarded?.untracked, ['extra.txt']);
    for (const s of [a, c]) {
      assert.equal(fs.existsSync(s!.worktreePath), false, `${s!.title}'s worktree is gone`);
      assert.equal(git(repo, 'branch', '--list', s!.branch), '', `${s!.title}'s branch is gone`);
      assert.equal(grove.fleet.get(s!.id), undefined);
    }
    assert.equal(fs.existsSync(b!.worktreePath), true, 'the landed attempt stays (cleanup never)');
  });
});
