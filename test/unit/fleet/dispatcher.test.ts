import assert from 'node:assert/strict';
import { Dispatcher } from '../../../src/core/fleet/dispatcher';
import { parsePlan } from '../../../src/core/fleet/plan';
import { waitForEvent } from '../../../src/core/util/event';
import { FakeAgents, FakeWorktrees, sleep, testSelf } from './fakes';

const repo = { repoRoot: '/repo' };

describe('fleet/dispatcher', () => {
  it('a plan of 5 tasks with maxConcurrent 2 never has more than 2 running (from recorded timestamps)', async () => {
    const plan = parsePlan(['## T1', 'a', '## T2', 'b', '## T3', 'c', '## T4', 'd', '## T5', 'e'].join('\n'));
    const titles = plan.tasks.map((t) => t.title);
    const worktrees = new FakeWorktrees(titles, 5);
    const agents = new FakeAgents(25);
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf, maxConcurrent: 2 });
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
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf, maxConcurrent: 4 });
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
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf });
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
    const d = new Dispatcher({ worktrees: new FakeWorktrees([]), agents: new FakeAgents() }, { self: testSelf });
    assert.throws(() => d.dispatch([{ title: 'A', prompt: 'a', after: 'B' }], repo), /not one of the dispatched tasks/);
    assert.throws(() => d.dispatch([{ title: 'A', prompt: 'a', after: 'B' }, { title: 'B', prompt: 'b', after: 'A' }], repo), /cycle/);
    assert.throws(() => d.dispatch([{ title: 'A', prompt: 'a' }, { title: 'a', prompt: 'b' }], repo), /Two tasks are titled/);
    assert.equal(d.list().length, 0);
    d.dispose();
  });

  it('cancelling during provisioning aborts the worktree port (which rolls back) and frees the slot', async () => {
    const worktrees = new FakeWorktrees(['Slow', 'Next'], 5);
    worktrees.hang.add('Slow');
    const agents = new FakeAgents(5);
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf, maxConcurrent: 1 });
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

  it('a waiting agent keeps its slot; stop ends it and frees the slot; follow-up goes to a live interactive session', async () => {
    const worktrees = new FakeWorktrees(['Asker', 'Other'], 2);
    const agents = new FakeAgents(5);
    agents.waitTitles.add('Asker');
    agents.interactiveTitles.add('Asker');
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf, maxConcurrent: 1 });
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

  it('a follow-up during a background turn is kept on the instance (shown) and sent as the next turn, never dropped', async () => {
    const worktrees = new FakeWorktrees(['Busy'], 2);
    const agents = new FakeAgents(60);
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf });
    const [busy] = d.dispatch([{ title: 'Busy', prompt: 'Write the parser' }], repo);
    await waitForEvent(busy.onDidChange, (e) => e.snapshot.state === 'running', 5000);
    assert.equal(d.followUp(busy.id, 'Also handle empty input'), 'queued');
    assert.deepEqual(busy.snapshot.pendingPrompts, ['Also handle empty input'], 'the kept follow-up is visible on the instance');
    assert.equal(d.followUp(busy.id, 'And add a test'), 'queued');
    await waitForEvent(busy.onDidChange, () => agents.runs.length === 2 && busy.state === 'done', 5000);
    assert.deepEqual(agents.runs[1]!.options, { prompt: 'Also handle empty input\n\nAnd add a test', resume: true });
    assert.equal(busy.snapshot.pendingPrompts, undefined);
    d.dispose();
  });

  it('a follow-up sent while the instance is still provisioning goes out with its first prompt', async () => {
    const worktrees = new FakeWorktrees(['Early'], 20);
    const agents = new FakeAgents(5);
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf });
    const [early] = d.dispatch([{ title: 'Early', prompt: 'Write it' }], repo);
    assert.equal(early.state, 'provisioning');
    assert.equal(d.followUp(early.id, 'in TypeScript'), 'queued');
    await d.whenSettled();
    assert.deepEqual(agents.runs.map((r) => r.options.prompt), ['Write it\n\nin TypeScript']);
    d.dispose();
  });

  it('a stopped turn keeps its pending follow-ups; Resume sends them instead of the generic resume prompt', async () => {
    const worktrees = new FakeWorktrees(['Halt'], 2);
    const agents = new FakeAgents(5);
    agents.waitTitles.add('Halt');
    const d = new Dispatcher({ worktrees, agents }, { self: testSelf });
    const [halt] = d.dispatch([{ title: 'Halt', prompt: 'p' }], repo);
    await waitForEvent(halt.onDidChange, (e) => e.snapshot.state === 'waiting', 5000);
    d.followUp(halt.id, 'then deploy');
    await d.stop(halt.id);
    assert.equal(halt.state, 'stopped');
    assert.deepEqual(halt.snapshot.pendingPrompts, ['then deploy'], 'a stop does not throw the follow-up away');
    agents.waitTitles.delete('Halt');
    d.resume(halt.id);
    await d.whenSettled();
    assert.deepEqual(agents.runs[1]!.options, { prompt: 'then deploy', resume: true });
    d.dispose();
  });

  it('a worktree failure fails the instance with the reason; the queue goes on', async () => {
    const worktrees = new FakeWorktrees(['Bad', 'Good'], 2);
    worktrees.failing.set('Bad', 'fatal: invalid reference: nope');
    const d = new Dispatcher({ worktrees, agents: new FakeAgents(5) }, { self: testSelf, maxConcurrent: 1 });
    const [bad, good] = d.dispatch([{ title: 'Bad', prompt: 'b', baseRef: 'nope' }, { title: 'Good', prompt: 'g' }], repo);
    await d.whenSettled();
    assert.equal(bad.state, 'failed');
    assert.match(bad.snapshot.error ?? '', /invalid reference: nope/);
    assert.equal(good.state, 'done');
    d.dispose();
  });
});
