// The limits a fleet runs into, as pure rules and with scripted agents: what the stream says about rate limits,
// context and compaction; the paused state; the scheduler's gates for rate limits, budget and memory.
import assert from 'node:assert/strict';
import { ClaudeStreamParser } from '../../../src/core/agents/claudeStream';
import { HookStatusMapper } from '../../../src/core/agents/hookStatus';
import { RESUME_PROMPT } from '../../../src/core/agents/port';
import { Dispatcher } from '../../../src/core/fleet/dispatcher';
import { createSnapshot, Instance } from '../../../src/core/fleet/instance';
import { localDay } from '../../../src/core/util/localDay';
import { rateLimitBackoffMs, Scheduler } from '../../../src/core/fleet/scheduler';
import type { AgentEvent, InstanceSnapshot } from '../../../src/core/model';
import { availableMemoryMb } from '../../../src/core/platform/memory';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { waitForEvent } from '../../../src/core/util/event';
import { FakeAgents, FakeWorktrees, testSelf } from './fakes';

const parse = (...lines: string[]): AgentEvent[] => {
  const p = new ClaudeStreamParser({ cwd: '/w' });
  return [...p.push(`${lines.join('\n')}\n`).events, ...p.end().events];
};

describe('limits: what the stream says', () => {
  it('a rejected rate_limit_event gives the reset time (subscription accounts)', () => {
    const reset = 1_765_000_000;
    assert.deepEqual(parse(JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: reset, rateLimitType: 'five_hour' } })), [
      { type: 'rateLimited', text: 'usage limit reached (five hour)', resetsAt: reset * 1000, limit: 'five_hour' },
    ]);
    assert.deepEqual(parse(JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'allowed_warning', resetsAt: reset } })), [], 'a warning pauses nothing');
  });

  it('an API 429/529 (API-key accounts) is a rate limit, and its result says so', () => {
    const refused = { type: 'assistant', error: 'rate_limit', api_error_status: 429, message: { content: [{ type: 'text', text: 'API Error: Request rejected (429) · Rate limited' }], usage: { input_tokens: 0 } } };
    const result = { type: 'result', subtype: 'success', is_error: true, api_error_status: 429, result: 'API Error: Request rejected (429) · Rate limited', total_cost_usd: 0, num_turns: 1 };
    const events = parse(JSON.stringify(refused), JSON.stringify(result));
    assert.deepEqual(events[0], { type: 'rateLimited', text: 'API Error: Request rejected (429) · Rate limited', limit: 'rate_limit' });
    assert.equal((events.find((e) => e.type === 'result') as Extract<AgentEvent, { type: 'result' }>).reason, 'rateLimit');
    const overloaded = parse(JSON.stringify({ ...refused, error: 'overloaded', api_error_status: 529 }))[0];
    assert.deepEqual(overloaded, { type: 'rateLimited', text: 'API Error: Request rejected (429) · Rate limited', limit: 'overloaded' });
  });

  it('context use from each request, the window from the result, exhaustion and compaction', () => {
    const assistant = { type: 'assistant', message: { content: [{ type: 'text', text: 'hi' }], usage: { input_tokens: 1000, cache_read_input_tokens: 150_000, cache_creation_input_tokens: 9000 } } };
    const result = { type: 'result', subtype: 'success', is_error: false, result: 'hi', modelUsage: { 'claude-x': { contextWindow: 200_000 } } };
    const tooLong = { type: 'result', subtype: 'success', is_error: true, terminal_reason: 'prompt_too_long', result: 'Prompt is too long' };
    const compacted = { type: 'system', subtype: 'compact_boundary', compact_metadata: { trigger: 'manual', pre_tokens: 190_020, post_tokens: 2528 } };
    const events = parse(JSON.stringify(assistant), JSON.stringify(result), JSON.stringify(tooLong), JSON.stringify(compacted));
    assert.deepEqual(events.filter((e) => e.type === 'context'), [{ type: 'context', used: 160_000 }, { type: 'context', window: 200_000 }]);
    assert.equal((events.filter((e) => e.type === 'result')[1] as Extract<AgentEvent, { type: 'result' }>).reason, 'contextExhausted');
    assert.deepEqual(events.at(-1), { type: 'compacted', trigger: 'manual', preTokens: 190_020, postTokens: 2528 });
  });
});

describe('limits: the instance', () => {
  const make = () => {
    const now = { t: Date.parse('2026-12-01T10:00:00') };
    const i = new Instance({ ...createSnapshot({ id: 'i', title: 'T', prompt: 'p', repoRoot: '/r', mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' }), state: 'running', worktreePath: '/wt' }, () => now.t);
    return { i, now };
  };

  it('a rate-limited turn pauses the instance (no failure), with the reset time when given', () => {
    const { i } = make();
    i.applyEvent({ type: 'rateLimited', text: 'usage limit reached', resetsAt: 1_765_000_000_000 });
    i.applyEvent({ type: 'result', isError: true, subtype: 'success', text: 'limit', reason: 'rateLimit' });
    assert.equal(i.state, 'paused');
    assert.deepEqual([i.snapshot.pausedUntil, i.snapshot.pauseReason, i.snapshot.pauseAttempts], [1_765_000_000_000, 'usage limit reached', 1]);
    i.applyEvent({ type: 'exit', code: 1, signal: null, stoppedByUser: false });
    assert.equal(i.state, 'paused', 'the exit that follows changes nothing');
    i.transition('starting');
    assert.equal(i.snapshot.pausedUntil, undefined);
    i.applyEvent({ type: 'result', isError: false, subtype: 'success', text: 'ok' });
    assert.deepEqual([i.state, i.snapshot.pauseAttempts], ['done', undefined], 'a success resets the backoff');
  });

  it('a context-limit failure is recorded as such; cost goes to the local day it was spent on', () => {
    const { i, now } = make();
    i.applyEvent({ type: 'usage', costUsd: 0.25 });
    now.t += 24 * 3600_000;
    i.applyEvent({ type: 'result', isError: true, subtype: 'success', text: 'Prompt is too long', reason: 'contextExhausted', costUsd: 0.4 });
    assert.equal(i.state, 'failed');
    assert.equal(i.snapshot.contextExhausted, true);
    assert.match(i.snapshot.error ?? '', /^context exhausted: /);
    assert.deepEqual(i.snapshot.spend, { '2026-12-01': 0.25, '2026-12-02': 0.15 });
    assert.equal(localDay(Date.parse('2026-12-01T23:59:00')), '2026-12-01');
  });
});

describe('limits: the scheduler', () => {
  const day = localDay(Date.now());
  const snap = (id: string, patch: Partial<InstanceSnapshot> = {}): InstanceSnapshot => ({
    ...createSnapshot({ id, title: id, prompt: 'p', repoRoot: '/r', mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' }), ...patch,
  });
  const scheduler = (settings: Partial<GroveSettings>, memory = 8000, account = (s: InstanceSnapshot) => (s.title.startsWith('b') ? 'B' : 'A')) =>
    new Scheduler({ settings: () => ({ ...defaultSettings(), ...settings }), memory: () => memory, account });

  it('rate limits hold back agents of the same account only, until the reset', () => {
    const until = Date.now() + 60_000;
    const all = [snap('paused-a', { state: 'paused', pausedUntil: until, account: 'A' })];
    const s = scheduler({});
    const a = s.decide(snap('a2'), all);
    assert.match(a.wait ?? '', /^rate limited until \d\d:\d\d/);
    assert.ok(a.retryMs! > 59_000 && a.retryMs! <= 60_000);
    assert.equal(s.decide(snap('b2'), all).wait, undefined, 'another account is not limited');
    assert.equal(s.decide(snap('a3'), [snap('old', { state: 'paused', pausedUntil: Date.now() - 1, account: 'A' })]).wait, undefined, 'a past reset holds nothing');
  });

  it('the fleet budget: one agent at a time until a cost is known, then only what fits; the rest of the budget as its cap', () => {
    const s = scheduler({ fleetBudgetUsd: 1 });
    assert.deepEqual(s.decide(snap('first'), []), { maxBudgetUsd: 1, account: 'A' });
    assert.match(s.decide(snap('second'), [snap('first', { state: 'running' })]).wait ?? '', /one agent at a time until the cost of one is known/);
    const done1 = snap('done1', { state: 'done', spend: { [day]: 0.4 } });
    assert.deepEqual(s.decide(snap('second'), [done1]), { maxBudgetUsd: 0.6, account: 'A' });
    assert.match(s.decide(snap('third'), [done1, snap('second', { state: 'running', spend: { [day]: 0.1 } })]).wait ?? '', /^budget: \$0\.50 of \$1\.00 spent today/,
      'a running agent is expected to spend as much as a finished one did: 0.4 + 0.4 + 0.4 > 1');
    assert.match(s.decide(snap('x'), [snap('big', { state: 'done', spend: { [day]: 1.2 } })]).wait ?? '', /^budget: \$1\.20 of \$1\.00/);
    assert.equal(scheduler({ fleetBudgetUsd: 1, maxBudgetUsd: 0.3 }).decide(snap('capped'), [snap('r', { state: 'running' })]).maxBudgetUsd, 0.3, 'with a per-agent cap there is an estimate at once');
    assert.equal(scheduler({}).decide(snap('free'), [done1]).wait, undefined, 'no budget, no limit');
  });

  it('memory: an agent waits while less than grove.minFreeMemoryMb is available; 0 turns the check off', () => {
    assert.match(scheduler({ minFreeMemoryMb: 4096 }, 1500).decide(snap('m'), []).wait ?? '', /^memory: 1500 MB free, 4096 MB needed$/);
    assert.equal(scheduler({ minFreeMemoryMb: 1024 }, 1500).decide(snap('m'), []).wait, undefined);
    assert.equal(scheduler({ minFreeMemoryMb: 0 }, 1).decide(snap('m'), []).wait, undefined);
  });

  it('reads this machine\'s available memory (Linux MemAvailable, else os.freemem)', () => {
    const mb = availableMemoryMb();
    assert.ok(mb > 0 && Number.isFinite(mb), `${mb}`);
    assert.equal(availableMemoryMb('linux', () => 'MemTotal: 100 kB\nMemAvailable:   2097152 kB\n'), 2048);
    assert.equal(availableMemoryMb('darwin', () => '', () => 512 * 1024 * 1024), 512);
  });

  it('backoff without a reset time: 30 s doubling, at most 15 min', () => {
    assert.deepEqual([1, 2, 3, 10].map((n) => rateLimitBackoffMs(n)), [30_000, 60_000, 120_000, 900_000]);
  });
});

describe('limits: the dispatcher', () => {
  /** Agents whose first turn hits a rate limit; later turns finish. */
  class LimitedAgents extends FakeAgents {
    starts = 0;
    override start(...args: Parameters<FakeAgents['start']>) {
      const [instance, onEvent, options] = args;
      this.starts++;
      if (this.starts > 1 || options.resume) return super.start(instance, onEvent, options);
      this.runs.push({ id: instance.id, title: instance.title, baseRef: instance.baseRef, options, startedAt: Date.now() });
      setImmediate(() => {
        onEvent({ type: 'started', sessionId: `session-${instance.id}` });
        onEvent({ type: 'rateLimited', text: 'API Error: Request rejected (429)' });
        onEvent({ type: 'result', isError: true, subtype: 'success', text: 'limit', reason: 'rateLimit' });
        onEvent({ type: 'exit', code: 1, signal: null, stoppedByUser: false });
      });
      return { stop: async () => undefined, acceptsInput: false, followUp: () => { throw new Error('no input'); } };
    }
  }

  it('a paused agent holds no slot, blocks its account\'s queue, and resumes its session after the backoff', async () => {
    const agents = new LimitedAgents(10);
    const worktrees = new FakeWorktrees(['First', 'Second'], 2);
    const all = () => d.list().map((i) => i.snapshot);
    const sched = new Scheduler({ settings: () => defaultSettings(), memory: () => 8000, account: () => 'A' });
    const d: Dispatcher = new Dispatcher({ worktrees, agents }, { self: testSelf, maxConcurrent: 1, backoffMs: () => 300, gate: (s) => sched.decide(s, all()) });
    const [first, second] = d.dispatch([{ title: 'First', prompt: 'f' }, { title: 'Second', prompt: 's' }], { repoRoot: '/repo' });
    await waitForEvent(first!.onDidChange, (e) => e.snapshot.state === 'paused', 5000);
    assert.ok(first!.snapshot.pausedUntil! > Date.now());
    if (!second!.snapshot.waitingFor) await waitForEvent(second!.onDidChange, (e) => !!e.snapshot.waitingFor, 5000);
    assert.match(second!.snapshot.waitingFor!, /^rate limited until/, 'the slot is free, but the account is limited');
    assert.equal(second!.state, 'queued');
    await waitForEvent(first!.onDidChange, (e) => e.snapshot.state === 'done', 5000);
    assert.deepEqual(agents.runs.filter((r) => r.title === 'First').map((r) => r.options), [{ prompt: 'f', resume: false }, { prompt: RESUME_PROMPT, resume: true }]);
    await d.whenSettled();
    assert.equal(second!.state, 'done');
    assert.equal(second!.snapshot.waitingFor, undefined);
    d.dispose();
  });

  /**
   * A terminal session as its hooks report it: the first turn ends in StopFailure (the line Claude Code 2.1 writes
   * for a 429), the session stays open at its prompt; typed turns finish.
   */
  class LimitedTerminal extends FakeAgents {
    starts = 0;
    stopped = 0;
    readonly typed: string[] = [];
    override start(...args: Parameters<FakeAgents['start']>) {
      const [instance, onEvent, options] = args;
      this.starts++;
      this.runs.push({ id: instance.id, title: instance.title, baseRef: instance.baseRef, options, startedAt: Date.now() });
      const mapper = new HookStatusMapper('s1');
      const hook = (o: object) => { for (const e of mapper.map({ session_id: 's1', cwd: '/w', ...o })) onEvent(e); };
      setImmediate(() => {
        onEvent({ type: 'started', sessionId: 's1', pid: 4242 });
        hook({ hook_event_name: 'SessionStart', source: 'startup' });
        hook({ hook_event_name: 'UserPromptSubmit', prompt: options.prompt });
        hook({ hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: 'API Error: Request rejected (429) · Rate limited' });
        // Sixty seconds later the TUI says it is idle: the paused agent does not become "waiting for you".
        hook({ hook_event_name: 'Notification', notification_type: 'idle_prompt' });
      });
      return {
        stop: async () => {
          this.stopped++;
          onEvent({ type: 'exit', code: null, signal: 'SIGTERM', stoppedByUser: true });
        },
        acceptsInput: true,
        followUp: (prompt: string) => {
          this.typed.push(prompt);
          setImmediate(() => {
            hook({ hook_event_name: 'UserPromptSubmit', prompt });
            hook({ hook_event_name: 'Stop' });
          });
        },
      };
    }
  }

  it('a terminal session paused by a limit stays open; the resume is typed into it; Stop ends it', async () => {
    const agents = new LimitedTerminal(10);
    const d = new Dispatcher({ worktrees: new FakeWorktrees(['T', 'U'], 2), agents }, { self: testSelf, backoffMs: () => 200 });
    const [t] = d.dispatch([{ title: 'T', prompt: 't' }], { repoRoot: '/repo' });
    await waitForEvent(t!.onDidChange, (e) => e.snapshot.state === 'paused', 5000);
    assert.match(t!.snapshot.pauseReason!, /429/);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t!.state, 'paused', 'idle at its prompt, but paused, not waiting for the person');
    await waitForEvent(t!.onDidChange, (e) => e.snapshot.state === 'waiting', 5000);
    assert.deepEqual([agents.starts, agents.typed], [1, [RESUME_PROMPT]], 'after the backoff the resume went into the open session, no second agent');

    const [u] = d.dispatch([{ title: 'U', prompt: 'u' }], { repoRoot: '/repo' });
    await waitForEvent(u!.onDidChange, (e) => e.snapshot.state === 'paused', 5000);
    await d.stop(u!.id);
    assert.deepEqual([u!.state, agents.stopped], ['stopped', 1], 'Stop on a paused terminal agent ends its session');
    d.dispose();
  });

  it('Stop and Resume Now act on a paused agent', async () => {
    const agents = new LimitedAgents(10);
    const d = new Dispatcher({ worktrees: new FakeWorktrees(['P'], 2), agents }, { self: testSelf, backoffMs: () => 60_000 });
    const [p] = d.dispatch([{ title: 'P', prompt: 'p' }], { repoRoot: '/repo' });
    await waitForEvent(p!.onDidChange, (e) => e.snapshot.state === 'paused', 5000);
    assert.ok(d.isDriving(p!.id), 'a paused agent is still this process\'s');
    d.resume(p!.id);
    await waitForEvent(p!.onDidChange, (e) => e.snapshot.state === 'done', 5000);
    d.dispose();
  });
});
