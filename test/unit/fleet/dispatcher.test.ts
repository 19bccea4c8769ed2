import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Dispatcher, RESUME_PROMPT } from '../../../src/core/fleet/dispatcher';
import { Fleet } from '../../../src/core/fleet/fleet';
import { createSnapshot } from '../../../src/core/fleet/instance';
import { parsePlan } from '../../../src/core/fleet/plan';
import { InstanceRegistry } from '../../../src/core/fleet/registry';
import { waitForEvent } from '../../../src/core/util/event';
import { FakeAgents, FakeWorktrees, sleep } from './fakes';

const repo = { repoRoot: '/repo' };

describe('fleet/dispatcher', () => {
  it('a plan of 5 tasks with maxConcurrent 2 never has more than 2 running (from recorded timestamps)', async () => {
    const plan = parsePlan(['## T1', 'a', '## T2', 'b', '## T3', 'c', '## T4', 'd', '## T5', 'e'].join('\n'));
    const titles = plan.tasks.map((t) => t.title);
    const worktrees = new FakeWorktrees(titles, 5);
    const agents = new FakeAgents(25);
    const d = new Dispatcher({ worktrees, agents }, { maxConcurrent: 2 });
    const created = d.dispatch(plan.tasks, repo);
    assert.deepEqual(created.map((i) => i.state), ['provisioning', 'provisioning', 'queued', 'queued', 'queued']);
    await d.whenSettled();
    assert.deepEqual(d.list().map((i) => i.state), ['done', 'done', 'done', 'done', 'done']);
    assert.equal(agents.runs.length, 5);
    // At every start, count the runs whose [start, end) interval contains it.
    for (const r of agents.runs) {
      const overlapping = agents.runs.filter((o) => o.startedAt <= r.startedAt && r.startedAt < (o.endedAt ?? Infinity));
      assert.ok(overlapping.length <= 2, `${overlapping.length} running when ${r.title} started`);
    }
    assert.deepEqual(agents.runs.map((r) => r.title), titles, 'started in plan order');
    d.dispose();
  });

  it('after: the dependent starts only once its dependency is done, based on its branch', async () => {
    const worktrees = new FakeWorktrees(['Schema', 'API'], 5);
    const agents = new FakeAgents(20);
    const d = new Dispatcher({ worktrees, agents }, { maxConcurrent: 4 });
    const [schema, api] = d.dispatch([{ title: 'Schema', prompt: 's' }, { title: 'API', prompt: 'a', after: 'schema', baseRef: 'develop' }], repo);
    assert.equal(api.state, 'queued', 'a free slot is not enough');
    await d.whenSettled();
    const sRun = agents.runs.find((r) => r.title === 'Schema')!;
    const aRun = agents.runs.find((r) => r.title === 'API')!;
    assert.ok(aRun.startedAt >= sRun.endedAt!, 'dependent started before its dependency finished');
    assert.equal(worktrees.requests.find((r) => r.title === 'API')?.baseRef, schema.snapshot.branch);
    assert.equal(aRun.baseRef, 'grove/schema');
    assert.equal(api.snapshot.after, 'Schema');
    d.dispose();
  });

  it('after: a failed dependency leaves the dependent queued and blocked; a successful retry unblocks it', async () => {
    const worktrees = new FakeWorktrees(['Dep', 'Child'], 2);
    const agents = new FakeAgents(10);
    agents.failTitles.add('Dep');
    const d = new Dispatcher({ worktrees, agents });
    const [dep, child] = d.dispatch([{ title: 'Dep', prompt: 'x' }, { title: 'Child', prompt: 'y', after: 'Dep' }], repo);
    await d.whenSettled();
    assert.equal(dep.state, 'failed');
    assert.equal(child.state, 'queued');
    assert.equal(child.snapshot.error, 'blocked: Dep failed');
    agents.failTitles.delete('Dep');
    d.followUp(dep.id, 'try again');
    await waitForEvent(child.onDidChange, (e) => e.snapshot.state === 'done', 5000);
    assert.equal(child.snapshot.error, undefined);
    assert.deepEqual(agents.runs.find((r) => r.title === 'Dep' && r.options.prompt === 'try again')?.options, { prompt: 'try again', resume: true });
    d.dispose();
  });

  it('rejects an unknown after:, a cycle or duplicate titles before creating anything', () => {
    const d = new Dispatcher({ worktrees: new FakeWorktrees([]), agents: new FakeAgents() });
    assert.throws(() => d.dispatch([{ title: 'A', prompt: 'a', after: 'B' }], repo), /not one of the dispatched tasks/);
    assert.throws(() => d.dispatch([{ title: 'A', prompt: 'a', after: 'B' }, { title: 'B', prompt: 'b', after: 'A' }], repo), /cycle/);
    assert.throws(() => d.dispatch([{ title: 'A', prompt: 'a' }, { title: 'a', prompt: 'b' }], repo), /two tasks are titled/);
    assert.equal(d.list().length, 0);
    d.dispose();
  });

  it('cancelling during provisioning aborts the worktree port (which rolls back) and frees the slot', async () => {
    const worktrees = new FakeWorktrees(['Slow', 'Next'], 5);
    worktrees.hang.add('Slow');
    const agents = new FakeAgents(5);
    const d = new Dispatcher({ worktrees, agents }, { maxConcurrent: 1 });
    const [slow, next] = d.dispatch([{ title: 'Slow', prompt: 's' }, { title: 'Next', prompt: 'n' }], repo);
    assert.equal(slow.state, 'provisioning');
    await sleep(10);
    await d.stop(slow.id);
    assert.equal(slow.state, 'stopped');
    assert.match(slow.snapshot.error ?? '', /cancelled during provisioning; the worktree was rolled back/);
    assert.ok(worktrees.requests[0].signal.aborted);
    assert.deepEqual(worktrees.rolledBack, ['Slow']);
    assert.equal(slow.snapshot.worktreePath, '');
    await d.whenSettled();
    assert.equal(next.state, 'done', 'the freed slot went to the next task');
    assert.deepEqual(agents.runs.map((r) => r.title), ['Next']);
    d.dispose();
  });

  it('a waiting agent keeps its slot; stop ends it and frees the slot; follow-up goes to the live handle', async () => {
    const worktrees = new FakeWorktrees(['Asker', 'Other'], 2);
    const agents = new FakeAgents(5);
    agents.waitTitles.add('Asker');
    const d = new Dispatcher({ worktrees, agents }, { maxConcurrent: 1 });
    const [asker, other] = d.dispatch([{ title: 'Asker', prompt: 'q' }, { title: 'Other', prompt: 'o' }], repo);
    await waitForEvent(asker.onDidChange, (e) => e.snapshot.state === 'waiting', 5000);
    await sleep(30);
    assert.equal(other.state, 'queued');
    d.followUp(asker.id, 'yes, go on');
    assert.deepEqual(agents.followUps, [{ id: asker.id, prompt: 'yes, go on' }]);
    await d.stop(asker.id);
    assert.equal(asker.state, 'stopped');
    await d.whenSettled();
    assert.equal(other.state, 'done');
    d.dispose();
  });

  it('a worktree failure fails the instance with the reason; the queue goes on', async () => {
    const worktrees = new FakeWorktrees(['Bad', 'Good'], 2);
    worktrees.failing.set('Bad', 'fatal: invalid reference: nope');
    const d = new Dispatcher({ worktrees, agents: new FakeAgents(5) }, { maxConcurrent: 1 });
    const [bad, good] = d.dispatch([{ title: 'Bad', prompt: 'b', baseRef: 'nope' }, { title: 'Good', prompt: 'g' }], repo);
    await d.whenSettled();
    assert.equal(bad.state, 'failed');
    assert.match(bad.snapshot.error ?? '', /invalid reference: nope/);
    assert.equal(good.state, 'done');
    d.dispose();
  });
});

describe('fleet/fleet', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-fleet-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => child.on('exit', r));
    return child.pid!;
  }

  it('persists every change; recover() marks a dead-pid background instance interrupted keeping all it knew; resume continues the session', async () => {
    const worktreePath = fs.mkdtempSync(path.join(dir, 'wt-'));
    const pid = await deadPid();
    const stored = {
      ...createSnapshot({ id: 'lost', title: 'Lost', prompt: 'Refactor the parser', repoRoot: '/repo', mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' }, 1),
      state: 'running' as const,
      pid,
      sessionId: 'sess-42',
      costUsd: 1.25,
      turns: 7,
      branch: 'grove/lost',
      worktreePath,
      baseRef: 'main',
      baseCommit: 'abc',
      startedAt: 2,
    };
    const gone = { ...stored, id: 'gone', title: 'Gone', state: 'done' as const, pid: undefined, worktreePath: path.join(dir, 'deleted') };
    const alive = { ...stored, id: 'alive', title: 'Alive', pid: process.pid };
    const seed = new InstanceRegistry(dir);
    await seed.upsert([stored, gone, alive]);
    seed.dispose();

    const agents = new FakeAgents(10);
    const fleet = new Fleet({ worktrees: new FakeWorktrees([]), agents, commonDir: async () => dir });
    const recovered = await fleet.recover(['/repo']);
    const byId = Object.fromEntries(recovered.map((s) => [s.id, s]));
    assert.equal(byId.lost.state, 'interrupted');
    assert.deepEqual(
      [byId.lost.prompt, byId.lost.sessionId, byId.lost.costUsd, byId.lost.branch, byId.lost.turns, byId.lost.worktreePath],
      ['Refactor the parser', 'sess-42', 1.25, 'grove/lost', 7, worktreePath],
    );
    assert.equal(byId.lost.pid, undefined);
    assert.equal(byId.gone.state, 'done');
    assert.equal(byId.gone.error, 'worktree missing');
    assert.equal(byId.alive.state, 'running', 'a live process keeps its state');
    await fleet.flush();
    const onDisk = Object.fromEntries((await new InstanceRegistry(dir).read()).map((s) => [s.id, s]));
    assert.equal(onDisk.lost.state, 'interrupted');
    assert.equal(onDisk.lost.sessionId, 'sess-42');

    const finished = waitForEvent(fleet.onDidChangeInstances, (e) => e.changed.some((s) => s.id === 'lost' && s.state === 'done'), 5000);
    await fleet.resume('lost');
    assert.deepEqual(agents.runs[0].options, { prompt: RESUME_PROMPT, resume: true });
    await finished;
    const done = fleet.get('lost')!;
    assert.equal(done.costUsd, 1.75, 'the resumed run adds to the earlier cost');
    assert.equal(done.sessionId, 'sess-42');
    fleet.dispose();
  });

  it('shutdown() records running background agents as interrupted (resumable), not failed by their killing, and leaves terminal agents alone', async () => {
    const agents = new FakeAgents(10);
    agents.waitTitles.add('Bg').add('Term');
    const fleet = new Fleet({ worktrees: new FakeWorktrees(['Bg', 'Term'], 2), agents, commonDir: async () => dir });
    const [bg] = await fleet.dispatch([{ title: 'Bg', prompt: 'Work in the background' }], repo);
    const [term] = await fleet.dispatch([{ title: 'Term', prompt: 'Work in a terminal', mode: 'terminal' }], repo);
    await waitForEvent(fleet.onDidChangeInstances, () => fleet.instances().every((i) => i.state === 'waiting'), 5000);
    await fleet.shutdown();
    assert.equal(fleet.get(bg.id)!.state, 'interrupted');
    assert.equal(fleet.get(bg.id)!.error, 'Grove was closed while the agent was working');
    assert.equal(fleet.get(term.id)!.state, 'waiting', 'a terminal agent (its terminal survives a reload) was interrupted');
    const onDisk = Object.fromEntries((await new InstanceRegistry(dir).read()).map((x) => [x.id, x]));
    assert.equal(onDisk[bg.id].state, 'interrupted', 'the interruption was not on disk when shutdown() resolved');
    fleet.dispose();
  });

  it('dispatch through the fleet lands in the registry with prompt, branch, session and cost; remove deletes it', async () => {
    const fleet = new Fleet({ worktrees: new FakeWorktrees(['One'], 2), agents: new FakeAgents(5), commonDir: async () => dir });
    const [one] = await fleet.dispatch([{ title: 'One', prompt: 'Do one' }], repo);
    await fleet.whenSettled();
    await fleet.flush();
    const s = (await new InstanceRegistry(dir).read())[0];
    assert.deepEqual([s.id, s.state, s.prompt, s.branch, s.sessionId, s.costUsd], [one.id, 'done', 'Do one', 'grove/one', `session-${one.id}`, 0.5]);
    assert.deepEqual(fleet.instances().map((i) => i.id), [one.id]);
    assert.doesNotThrow(() => JSON.stringify(fleet.instances()));
    await fleet.remove(one.id);
    await fleet.flush();
    assert.deepEqual(await new InstanceRegistry(dir).read(), []);
    fleet.dispose();
  });
});
