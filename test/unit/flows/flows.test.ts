// The user operations of core/flows on real git, with an agent port that behaves like the real background runner
// (one process per turn, no input during a turn) but runs no model: what every surface gets.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GroveError } from '../../../src/core/errors';
import { dispatch, planTasks } from '../../../src/core/flows/dispatch';
import { followUp, stop } from '../../../src/core/flows/instances';
import { merge } from '../../../src/core/flows/merge';
import { mergeMessage } from '../../../src/core/git/mergeService';
import { planRemoval, remove } from '../../../src/core/flows/remove';
import { Grove } from '../../../src/core/grove';
import type { InstanceSnapshot } from '../../../src/core/model';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { waitForEvent } from '../../../src/core/util/event';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { FakeAgents } from '../fleet/fakes';

describe('core/flows on real git', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let repo: string;
  let agents: FakeAgents;
  let grove: Grove;
  let settings: GroveSettings;
  let trusted: boolean;

  beforeEach(async () => {
    repo = repos.create({ files: { 'README.md': '# demo\n', 'src/app.js': 'export const x = 1;\n' } });
    agents = new FakeAgents(30);
    settings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt') };
    trusted = true;
    grove = new Grove({ kind: 'test', settings: () => settings, trusted: () => trusted, agents: () => ({ start: (inst, onEvent, opts) => agents.start(inst, onEvent, opts) }), gitEnv: gitTestEnv, capabilities: { terminal: false } });
    await grove.recover([repo]);
  });

  repos.closeFirst(() => grove.close());

  const settle = async (id: string) => {
    const s = grove.fleet.get(id)!;
    if (['done', 'failed', 'stopped', 'interrupted'].includes(s.state)) return s;
    await waitForEvent(grove.fleet.onDidChangeInstances, () => ['done', 'failed', 'stopped', 'interrupted'].includes(grove.fleet.get(id)!.state), 10_000);
    return grove.fleet.get(id)!;
  };
  const one = async (title: string, prompt = `Do ${title}`): Promise<InstanceSnapshot> => {
    const { instances: [i] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title, prompt }] });
    return settle(i!.id);
  };

  describe('dispatch', () => {
    it('refuses in an untrusted workspace, and an empty prompt, changing nothing', async () => {
      trusted = false;
      await assert.rejects(dispatch(grove, { repoRoot: repo, tasks: [{ title: 'T', prompt: 'p' }] }), (e) => GroveError.is(e, 'Untrusted'));
      trusted = true;
      await assert.rejects(dispatch(grove, { repoRoot: repo, tasks: [{ title: 'T', prompt: '  ' }] }), (e) => GroveError.is(e, 'InvalidInput'));
      assert.deepEqual(grove.fleet.instances(), []);
    });

    it('bypassPermissions runs only when confirmed for this dispatch; otherwise it is refused, never downgraded', async () => {
      settings.permissionMode = 'bypassPermissions';
      await assert.rejects(dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Unconfirmed', prompt: 'p' }] }), (e) => GroveError.is(e, 'NeedsConfirmation'));
      await assert.rejects(dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Declined', prompt: 'p' }] }, { confirmBypass: async () => false }), (e) => GroveError.is(e, 'NeedsConfirmation'));
      assert.deepEqual(grove.fleet.instances(), []);
      let asked = 0;
      const r = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Confirmed', prompt: 'p' }] }, { confirmBypass: async (n) => (asked = n, true) });
      assert.equal(asked, 1);
      assert.equal(r.instances[0]!.permissionMode, 'bypassPermissions');
    });

    it('terminal mode and other CLIs are refused where there is no terminal, with the reason', async () => {
      await assert.rejects(dispatch(grove, { repoRoot: repo, tasks: [{ title: 'T', prompt: 'p', mode: 'terminal' }] }), (e) => GroveError.is(e, 'NotSupported') && /only VS Code has/.test(e.message));
      await assert.rejects(dispatch(grove, { repoRoot: repo, tasks: [{ title: 'A', prompt: 'p', profile: 'aider' }] }), /does not define/);
    });

    it('warns when a copy pattern matches a file git does not ignore (it would otherwise be committed by someone)', async () => {
      fs.writeFileSync(path.join(repo, '.env'), 'SECRET=1\n');
      const r = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Env', prompt: 'p' }] });
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0]!, /^\.env is copied into each worktree \(grove\.copyFiles\) but not ignored by git/);
      fs.writeFileSync(path.join(repo, '.gitignore'), '.env\n');
      git(repo, 'add', '.gitignore');
      git(repo, 'commit', '-qm', 'ignore .env');
      assert.deepEqual((await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Env 2', prompt: 'p' }] })).warnings, []);
    });

    it('plan selection is case-insensitive and refuses unknown titles and orphaned after:', () => {
      const plan = '## Schema\ns\n\n## API\nafter: Schema\na\n\n## Docs\nd\n';
      assert.deepEqual(planTasks(plan, { select: ['docs', 'SCHEMA'] }).map((t) => t.title), ['Schema', 'Docs']);
      assert.throws(() => planTasks(plan, { select: ['Nope'] }), /The plan has no task titled "Nope"\. Its tasks: "Schema", "API", "Docs"/);
      assert.throws(() => planTasks(plan, { select: ['api'] }), /"API" starts after "Schema", which is not selected/);
    });
  });

  describe('follow-up and stop', () => {
    it('a follow-up during a background turn is kept and sent as the next turn; the agent sees it', async () => {
      agents = new FakeAgents(400);
      const { instances: [i] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Busy', prompt: 'first' }] });
      await waitForEvent(grove.fleet.onDidChangeInstances, () => grove.fleet.get(i!.id)!.state === 'running', 10_000);
      const r = await followUp(grove, i!.id, 'second');
      assert.equal(r.outcome, 'queued');
      assert.match(r.message, /kept and sent when the turn ends/);
      await waitForEvent(grove.fleet.onDidChangeInstances, () => agents.runs.length === 2 && grove.fleet.get(i!.id)!.state === 'done', 10_000);
      assert.deepEqual(agents.runs.map((x) => x.options.prompt), ['first', 'second']);
    });

    it('stop of a queued instance: it never starts', async () => {
      settings.maxConcurrent = 1;
      agents.waitTitles.add('Holder');
      const { instances: [holder, later] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Holder', prompt: 'h' }, { title: 'Later', prompt: 'l' }] });
      await waitForEvent(grove.fleet.onDidChangeInstances, () => grove.fleet.get(holder!.id)!.state === 'waiting', 10_000);
      assert.equal(grove.fleet.get(later!.id)!.state, 'queued');
      const r = await stop(grove, later!.id);
      assert.equal(r.instance.state, 'stopped');
      await stop(grove, holder!.id);
      assert.deepEqual(agents.runs.map((x) => x.title), ['Holder']);
    });
  });

  describe('remove', () => {
    it('asks before stopping a running agent: Cancel leaves it running and removes nothing', async () => {
      agents.waitTitles.add('Running');
      const { instances: [i] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Running', prompt: 'p' }] });
      await waitForEvent(grove.fleet.onDidChangeInstances, () => grove.fleet.get(i!.id)!.state === 'waiting', 10_000);
      const wt = grove.fleet.get(i!.id)!.worktreePath;
      let seen: Awaited<ReturnType<typeof planRemoval>> | undefined;
      const cancelled = await remove(grove, { id: i!.id }, { confirm: async (plan) => (seen = plan, undefined) });
      assert.equal(cancelled.cancelled, true);
      assert.deepEqual(seen!.running.map((x) => x.title), ['Running'], 'the confirmation says the agent will be stopped');
      assert.equal(grove.fleet.get(i!.id)!.state, 'waiting', 'Cancel left the agent as it was');
      assert.ok(fs.existsSync(wt));
      const removed = await remove(grove, { id: i!.id }, { confirm: async () => 'keepBranch' });
      assert.deepEqual(removed.removedInstances, [i!.id]);
      assert.equal(grove.fleet.get(i!.id), undefined);
      assert.ok(!fs.existsSync(wt));
    });

    it('without a confirmation callback (CLI, MCP) a running agent or a loss refuses, and force removes', async () => {
      const i = await one('Lossy');
      fs.writeFileSync(path.join(i.worktreePath, 'done.txt'), 'committed\n');
      git(i.worktreePath, 'add', '-A');
      git(i.worktreePath, 'commit', '-qm', 'agent work');
      fs.writeFileSync(path.join(i.worktreePath, 'notes.txt'), 'mine\n');
      await assert.rejects(remove(grove, { id: i.id }), (e) => GroveError.is(e, 'WouldLoseWork') && /Untracked files that would be deleted \(1\):\n {2}notes\.txt/.test(e.message));
      assert.ok(fs.existsSync(path.join(i.worktreePath, 'notes.txt')));
      const r = await remove(grove, { id: i.id, force: true });
      assert.deepEqual(r.discarded?.untracked, ['notes.txt']);
      assert.equal(r.branchDeleted, false, 'the unmerged branch is kept');
      assert.match(git(repo, 'log', '-1', '--format=%s', i.branch), /agent work/);
    });

    it('an instance whose worktree is already gone is still confirmed, then forgotten', async () => {
      const i = await one('Vanished');
      git(repo, 'worktree', 'remove', '--force', i.worktreePath);
      let asked = false;
      const r = await remove(grove, { id: i.id }, { confirm: async (plan) => (asked = true, assert.equal(plan.report, undefined), 'keepBranch') });
      assert.ok(asked);
      assert.deepEqual(r.removedInstances, [i.id]);
    });

    // Found by the 1,000-sequence nothing-lost run (seeds 273, 544, 650, 947, 999): the plan counted the squashed work
    // as landed, the removal underneath did not and refused — after recording a snapshot.
    it('removes a worktree whose work landed by squash (kept by the merge) without force or a question, deleting the branch', async () => {
      const i = await one('Squashed, kept');
      fs.writeFileSync(path.join(i.worktreePath, 'feature.txt'), 'feature\n');
      git(i.worktreePath, 'add', '-A');
      git(i.worktreePath, 'commit', '-qm', 'agent commit');
      await merge(grove, { id: i.id, strategy: 'squash', cleanup: 'never' });
      assert.ok(fs.existsSync(i.worktreePath), 'the merge kept the worktree');
      const plan = await planRemoval(grove, { id: i.id });
      assert.equal(plan.hasLoss, false, 'nothing is lost: the work is in main');
      const r = await remove(grove, { id: i.id });
      assert.ok(!fs.existsSync(i.worktreePath));
      assert.equal(r.branchDeleted, true);
      assert.equal(git(repo, 'show', 'main:feature.txt'), 'feature');
      assert.ok(r.snapshotId, 'restorable all the same');
    });

    it('removes the instance\'s log with it', async () => {
      const i = await one('Logged');
      const log = await grove.logPath(i);
      fs.mkdirSync(path.dirname(log), { recursive: true });
      fs.writeFileSync(log, '{"type":"grove_prompt","text":"secret plan"}\n');
      await remove(grove, { id: i.id, force: true });
      assert.ok(!fs.existsSync(log));
    });
  });

  describe('merge', () => {
    it('uses one message per strategy, records the merge, and after a squash counts the work as landed: cleanup removes worktree and branch', async () => {
      const i = await one('Land me');
      fs.writeFileSync(path.join(i.worktreePath, 'feature.txt'), 'feature\n');
      git(i.worktreePath, 'add', '-A');
      git(i.worktreePath, 'commit', '-qm', 'agent commit');
      const r = await merge(grove, { id: i.id, strategy: 'squash', cleanup: 'always' });
      assert.ok(r);
      assert.equal(git(repo, 'log', '-1', '--format=%B', 'main'), mergeMessage('squash', r.instance)!.trim());
      assert.equal(git(repo, 'show', 'main:feature.txt'), 'feature');
      assert.ok(r.cleanup && !('kept' in r.cleanup), JSON.stringify(r.cleanup));
      assert.ok(!fs.existsSync(i.worktreePath));
      assert.equal(git(repo, 'branch', '--list', i.branch), '', 'the squashed branch counts as merged and is deleted');
      assert.equal(grove.fleet.get(i.id)!.archived, true);
      assert.equal(grove.fleet.get(i.id)!.merge?.strategy, 'squash');
    });

    it('uncommitted work needs a confirmation: refused without one, committed (without the copied .env) with one', async () => {
      fs.writeFileSync(path.join(repo, '.env'), 'TOKEN=1\n');
      const i = await one('Unsaved');
      assert.ok(fs.existsSync(path.join(i.worktreePath, '.env')), '.env was copied');
      assert.deepEqual(grove.fleet.get(i.id)!.copiedFiles, ['.env']);
      fs.writeFileSync(path.join(i.worktreePath, 'work.txt'), 'work\n');
      await assert.rejects(merge(grove, { id: i.id, strategy: 'merge' }), (e) => GroveError.is(e, 'NeedsConfirmation') && /work\.txt/.test(e.message));
      let files: string[] = [];
      const r = await merge(grove, { id: i.id, strategy: 'merge', cleanup: 'never' }, { confirmCommit: async (_i, f) => (files = f, true) });
      assert.deepEqual(files, ['work.txt'], 'the copied .env is not offered for commit');
      assert.ok(r?.committed);
      assert.equal(git(repo, 'show', 'main:work.txt'), 'work');
      assert.notEqual(git(repo, 'ls-tree', 'main', '--name-only').split('\n').includes('.env'), true, '.env never reaches the base');
    });
  });
});
