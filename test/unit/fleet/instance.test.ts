import assert from 'node:assert/strict';
import type { InstanceSnapshot, InstanceState } from '../../../src/core/model';
import { createSnapshot, Instance, InstanceTransitionError, type InstanceChange } from '../../../src/core/fleet/instance';

function make(state: InstanceState = 'queued', extra: Partial<InstanceSnapshot> = {}): Instance {
  let t = 1000;
  const s = { ...createSnapshot({ id: 'i1', title: 'Task', prompt: 'Do it', repoRoot: '/repo', mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' }, 1000), state, ...extra };
  return new Instance(s, () => ++t);
}

const ALL: InstanceState[] = ['queued', 'provisioning', 'starting', 'running', 'waiting', 'done', 'failed', 'stopped', 'interrupted'];

describe('fleet/instance', () => {
  const valid: [string, [InstanceState, InstanceState][]][] = [
    ['forward path', [['queued', 'provisioning'], ['provisioning', 'starting'], ['starting', 'running']]],
    ['running ⇄ waiting', [['running', 'waiting'], ['waiting', 'running'], ['starting', 'waiting']]],
    ['ends from any live state', ['starting', 'running', 'waiting'].flatMap((f) => (['done', 'failed', 'stopped', 'interrupted'] as const).map((t): [InstanceState, InstanceState] => [f as InstanceState, t]))],
    ['provisioning ends', [['provisioning', 'failed'], ['provisioning', 'stopped'], ['provisioning', 'interrupted']]],
    ['queued cancelled or interrupted', [['queued', 'stopped'], ['queued', 'interrupted']]],
    ['follow-up / resume', ['done', 'failed', 'stopped', 'interrupted'].flatMap((f) => (['starting', 'running'] as const).map((t): [InstanceState, InstanceState] => [f as InstanceState, t])).concat([['waiting', 'starting']])],
    ['interrupted before a worktree goes back to the queue', [['interrupted', 'queued']]],
  ];
  for (const [name, pairs] of valid) {
    it(`allows ${name}`, () => {
      for (const [from, to] of pairs) {
        const i = make(from);
        i.transition(to);
        assert.equal(i.state, to, `${from} → ${to}`);
      }
    });
  }

  const invalid: [string, [InstanceState, InstanceState][]][] = [
    ['skipping ahead', [['queued', 'starting'], ['queued', 'running'], ['queued', 'done'], ['provisioning', 'running'], ['provisioning', 'waiting']]],
    ['going backwards', [['running', 'starting'], ['running', 'provisioning'], ['starting', 'provisioning'], ['running', 'queued']]],
    ['self transitions', ALL.map((s): [InstanceState, InstanceState] => [s, s])],
    ['finished to finished', [['done', 'failed'], ['failed', 'done'], ['stopped', 'interrupted'], ['done', 'stopped']]],
    ['finished back to provisioning or the queue', [['done', 'queued'], ['failed', 'provisioning'], ['stopped', 'queued'], ['done', 'waiting']]],
  ];
  for (const [name, pairs] of invalid) {
    it(`rejects ${name} with a clear error`, () => {
      for (const [from, to] of pairs) {
        const i = make(from);
        assert.throws(() => i.transition(to), (e: unknown) => e instanceof InstanceTransitionError && e.message.includes(`"${from}" to "${to}"`) && e.from === from && e.to === to, `${from} → ${to}`);
        assert.equal(i.state, from);
      }
    });
  }

  it('fires onDidChange with a copy and the previous state; sets startedAt/endedAt', () => {
    const i = make('queued');
    const seen: InstanceChange[] = [];
    i.onDidChange((e) => seen.push(e));
    i.transition('provisioning');
    i.transition('starting');
    i.transition('running');
    i.transition('done');
    assert.deepEqual(seen.map((e) => [e.previousState, e.snapshot.state]), [['queued', 'provisioning'], ['provisioning', 'starting'], ['starting', 'running'], ['running', 'done']]);
    const last = seen[3].snapshot;
    assert.ok(last.startedAt !== undefined && last.endedAt !== undefined && last.endedAt > last.startedAt);
    last.title = 'mutated';
    assert.equal(i.snapshot.title, 'Task');
  });

  it('applyEvent maps a whole background run: session, activity, permission wait, usage, result, exit', () => {
    const i = make('starting', { worktreePath: '/wt', branch: 'b' });
    i.applyEvent({ type: 'started', pid: 77, model: 'sonnet' });
    assert.equal(i.state, 'running');
    i.applyEvent({ type: 'session', sessionId: 's-1' });
    i.applyEvent({ type: 'activity', text: 'Edit src/app.ts', toolName: 'Edit' });
    i.applyEvent({ type: 'permissionRequest', request: { requestId: 'r', toolName: 'Bash', input: {}, summary: 'Bash: npm test' } });
    assert.equal(i.state, 'waiting');
    assert.equal(i.snapshot.waitReason, 'permission');
    i.applyEvent({ type: 'running' });
    assert.equal(i.snapshot.waitReason, undefined);
    i.applyEvent({ type: 'usage', inputTokens: 100, outputTokens: 20, costUsd: 0.1, turns: 1 });
    i.applyEvent({ type: 'result', isError: false, subtype: 'success', text: 'All done', costUsd: 0.25, turns: 3 });
    i.applyEvent({ type: 'exit', code: 0, signal: null, stoppedByUser: false });
    const s = i.snapshot;
    assert.equal(s.state, 'done');
    assert.deepEqual(
      { sessionId: s.sessionId, agent: s.agent, model: s.model, lastActivity: s.lastActivity, cost: s.costUsd, turns: s.turns, inT: s.inputTokens, outT: s.outputTokens, result: s.resultText, error: s.error },
      { sessionId: 's-1', agent: undefined, model: 'sonnet', lastActivity: 'Permission: Bash: npm test', cost: 0.25, turns: 3, inT: 100, outT: 20, result: 'All done', error: undefined },
    );
    assert.ok(!('agent' in s), 'a cleared field is dropped, not left as undefined');
  });

  it('a follow-up run adds its per-run usage to the earlier totals', () => {
    const i = make('starting', { worktreePath: '/wt' });
    i.applyEvent({ type: 'started', sessionId: 's' });
    i.applyEvent({ type: 'result', isError: false, subtype: 'success', text: 'a', costUsd: 1, turns: 2 });
    i.transition('starting');
    i.applyEvent({ type: 'started', sessionId: 's' });
    i.applyEvent({ type: 'usage', costUsd: 0.2 });
    i.applyEvent({ type: 'result', isError: false, subtype: 'success', text: 'b', costUsd: 0.5, turns: 1 });
    assert.equal(i.snapshot.costUsd, 1.5);
    assert.equal(i.snapshot.turns, 3);
    assert.equal(i.snapshot.resultText, 'b');
  });

  it('is_error results fail with the CLI text; odd exits fail with code or signal; user stops are stopped', () => {
    const a = make('running');
    a.applyEvent({ type: 'result', isError: true, subtype: 'success', text: 'API Error: 529 overloaded' });
    assert.equal(a.state, 'failed');
    assert.equal(a.snapshot.error, 'API Error: 529 overloaded');
    a.applyEvent({ type: 'exit', code: 1, signal: null, stoppedByUser: false });
    assert.equal(a.state, 'failed', 'exit after result changes nothing');

    const b = make('running');
    b.applyEvent({ type: 'exit', code: null, signal: 'SIGKILL', stoppedByUser: false });
    assert.equal(b.state, 'failed');
    assert.match(b.snapshot.error ?? '', /signal SIGKILL/);

    const c = make('waiting');
    c.applyEvent({ type: 'exit', code: null, signal: 'SIGTERM', stoppedByUser: true });
    assert.equal(c.state, 'stopped');

    const d = make('done');
    d.applyEvent({ type: 'exit', code: 143, signal: null, stoppedByUser: false });
    assert.equal(d.state, 'done', 'a CLI lingering after its result and ended is not a failure');
  });

  it('applyEvent refuses events that make no sense in the state', () => {
    assert.throws(() => make('queued').applyEvent({ type: 'running' }), InstanceTransitionError);
    assert.throws(() => make('provisioning').applyEvent({ type: 'started' }), InstanceTransitionError);
  });

  it('starting again clears the previous error; mirror() replaces the snapshot and flags the change external', () => {
    const i = make('failed', { error: 'boom' });
    i.transition('starting');
    assert.equal(i.snapshot.error, undefined);
    const seen: InstanceChange[] = [];
    i.onDidChange((e) => seen.push(e));
    i.mirror({ ...i.snapshot, state: 'done', updatedAt: 99_999 });
    assert.equal(i.state, 'done');
    assert.equal(seen[0].external, true);
  });
});
