/**
 * One agent session on one worktree, as a validated state machine over {@link InstanceSnapshot}.
 *
 * The table below is the single source of truth for which state changes are legal; `transition()` throws an
 * {@link InstanceTransitionError} for anything else, and `applyEvent()` maps runner events onto it.
 */
import type { AgentEvent, AgentMode, InstanceSnapshot, InstanceState } from '../model';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { localDay } from '../util/localDay';

/**
 * Legal transitions. Besides the forward path, a finished or waiting instance can be started again
 * (follow-up, resume), and an interrupted one that never got a worktree goes back to the queue on resume.
 */
export const TRANSITIONS: Readonly<Record<InstanceState, readonly InstanceState[]>> = {
  queued: ['provisioning', 'stopped', 'interrupted'],
  provisioning: ['starting', 'failed', 'stopped', 'interrupted'],
  starting: ['running', 'waiting', 'done', 'failed', 'stopped', 'interrupted', 'paused'],
  running: ['waiting', 'done', 'failed', 'stopped', 'interrupted', 'paused'],
  waiting: ['running', 'starting', 'done', 'failed', 'stopped', 'interrupted', 'paused'],
  done: ['starting', 'running'],
  failed: ['starting', 'running'],
  stopped: ['starting', 'running'],
  interrupted: ['starting', 'running', 'queued'],
  paused: ['starting', 'running', 'stopped', 'interrupted'],
};

/** States in which an instance holds one of the dispatcher's `maxConcurrent` slots. */
export const ACTIVE_STATES: ReadonlySet<InstanceState> = new Set(['provisioning', 'starting', 'running', 'waiting']);
/** States an instance rests in until the user acts (follow-up, resume, remove). */
export const FINISHED_STATES: ReadonlySet<InstanceState> = new Set(['done', 'failed', 'stopped', 'interrupted']);
/** States in which a process owns the instance (its driver): queued, active, or paused until a limit resets. */
export const OWNED_STATES: ReadonlySet<InstanceState> = new Set(['queued', 'provisioning', 'starting', 'running', 'waiting', 'paused']);

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isActive(state: InstanceState): boolean {
  return ACTIVE_STATES.has(state);
}

export function isFinished(state: InstanceState): boolean {
  return FINISHED_STATES.has(state);
}

/** Some process drives it (see fleet/ownership.ts): every other process asks that one. */
export function isOwned(state: InstanceState): boolean {
  return OWNED_STATES.has(state);
}

export class InstanceTransitionError extends Error {
  constructor(
    readonly instanceId: string,
    readonly from: InstanceState,
    readonly to: InstanceState,
    reason?: string,
  ) {
    super(
      `Instance ${instanceId} cannot go from "${from}" to "${to}"` +
        (reason ? ` (${reason})` : '') +
        `; allowed from "${from}": ${TRANSITIONS[from].join(', ') || 'nothing'}`,
    );
    this.name = 'InstanceTransitionError';
  }
}

/** What a caller must know to create an instance; everything else starts empty. */
export interface NewInstance {
  id: string;
  title: string;
  prompt: string;
  repoRoot: string;
  mode: AgentMode;
  profile: string;
  permissionMode: string;
  baseRef?: string;
  model?: string;
  after?: string;
  lead?: string;
}

/** A fresh snapshot in state `queued`. */
export function createSnapshot(init: NewInstance, now: number = Date.now()): InstanceSnapshot {
  return {
    id: init.id,
    title: init.title,
    prompt: init.prompt,
    repoRoot: init.repoRoot,
    worktreePath: '',
    branch: '',
    baseRef: init.baseRef ?? '',
    baseCommit: '',
    mode: init.mode,
    profile: init.profile,
    ...(init.model !== undefined ? { model: init.model } : {}),
    permissionMode: init.permissionMode,
    state: 'queued',
    createdAt: now,
    updatedAt: now,
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    turns: 0,
    ...(init.after !== undefined ? { after: init.after } : {}),
    ...(init.lead !== undefined ? { lead: init.lead } : {}),
  };
}

export interface InstanceChange {
  snapshot: InstanceSnapshot;
  previousState: InstanceState;
  /** True when the change mirrors another process's registry (see {@link Instance.mirror}); not to be persisted again. */
  external?: boolean;
  /** Fields whose value changed (`updatedAt` included). */
  changedKeys: string[];
}

/** Fields a caller may patch outside a transition (identity and state go through their own paths). */
export type InstancePatch = Partial<Omit<InstanceSnapshot, 'id' | 'state' | 'createdAt' | 'updatedAt'>>;

type Totals = Pick<InstanceSnapshot, 'costUsd' | 'inputTokens' | 'outputTokens' | 'turns'>;

/**
 * The live model of one instance. Holds a snapshot, validates transitions, folds agent events into it and fires
 * `onDidChange` after every change with a copy of the new snapshot.
 */
export class Instance extends Disposable {
  private readonly _onDidChange = this._register(new Emitter<InstanceChange>());
  readonly onDidChange = this._onDidChange.event;

  private data: InstanceSnapshot;
  /** A limit refused the current turn's request: its `result` (or exit) pauses the instance instead of failing it. */
  private pendingLimit?: { text: string; resetsAt?: number; limit?: string };
  /**
   * Totals at the start of the current agent run. Runners report usage cumulatively per run (see
   * {@link Instance.applyEvent}); a follow-up starts a new run whose numbers are added to these.
   */
  private runBase: Totals;

  constructor(
    snapshot: InstanceSnapshot,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.data = { ...snapshot };
    this.runBase = totalsOf(snapshot);
  }

  get id(): string {
    return this.data.id;
  }

  get title(): string {
    return this.data.title;
  }

  get state(): InstanceState {
    return this.data.state;
  }

  /** A copy: callers can keep or serialise it freely. */
  get snapshot(): InstanceSnapshot {
    return { ...this.data };
  }

  /**
   * Moves to `to` (validated against {@link TRANSITIONS}) and applies `patch` in the same change.
   * Sets `startedAt` on the first start and `endedAt` on entering a finished state (cleared on restart).
   * @throws InstanceTransitionError if the transition is not allowed (including `to` equal to the current state).
   */
  transition(to: InstanceState, patch: InstancePatch = {}): void {
    const from = this.data.state;
    if (!canTransition(from, to)) {
      throw new InstanceTransitionError(this.data.id, from, to);
    }
    const now = this.now();
    const next: InstanceSnapshot = { ...this.data, ...patch, state: to, updatedAt: now };
    if (to === 'starting' || to === 'running') {
      if (next.startedAt === undefined) next.startedAt = now;
      delete next.endedAt;
    }
    if (to !== 'waiting') delete next.waitReason;
    if (isFinished(to) && patch.endedAt === undefined) next.endedAt = now;
    // A finished instance has no owner and no agent process: anyone may act on it next.
    if (isFinished(to)) {
      delete next.driver;
      delete next.agent;
    }
    if (to === 'starting' || to === 'provisioning' || (to === 'running' && (isFinished(from) || from === 'paused'))) {
      // A new attempt clears the previous one's verdict, unless the caller sets a new one in the same change.
      if (patch.error === undefined) delete next.error;
      if (patch.contextExhausted === undefined) delete next.contextExhausted;
      this.runBase = totalsOf(next);
      this.pendingLimit = undefined;
    }
    if (to !== 'paused') {
      delete next.pausedUntil;
      delete next.pauseReason;
    }
    this.commit(next, from);
  }

  /** Changes fields without a state change (worktree details after provisioning, an error on a queued task…). */
  update(patch: InstancePatch): void {
    const from = this.data.state;
    this.commit({ ...this.data, ...patch, updatedAt: this.now() }, from);
  }

  /**
   * Folds one runner event into the snapshot.
   *
   * - `started`: session id / agent process / model; `starting` (or a finished state, for a runner that restarts on its own) → `running`.
   * - `session`: session id and model.
   * - `activity`: `lastActivity`; `starting` → `running`.
   * - `assistantText`: nothing is kept (memory stays bounded); `starting` → `running`.
   * - `permissionRequest`: → `waiting` (reason `permission`), `lastActivity` "Permission: <summary>".
   * - `waiting` / `running`: the corresponding state (and wait reason).
   * - `usage` and `result`: `costUsd`, token and turn counts are **cumulative for the current run** (since the
   *   process was started), as the CLI reports `total_cost_usd`; the instance adds them to its totals from
   *   before the run, so a follow-up never double-counts.
   * - `result`: `done`, or `failed` with the result text as error when `isError`; `resultText` kept. Ignored for
   *   state if the instance already finished (e.g. stopped by the user first).
   * - `exit`: clears `agent`. If the instance is still active: `stoppedByUser` → `stopped`, code 0 → `done`,
   *   anything else → `failed` ("agent exited with code N" / "… signal S"). An exit after a `result` changes
   *   nothing (a CLI lingering after its result and then ended is not a failure).
   * @throws InstanceTransitionError for an event that makes no sense in the current state (e.g. `running` while `queued`).
   */
  applyEvent(event: AgentEvent): void {
    const state = this.data.state;
    switch (event.type) {
      case 'started': {
        const patch: InstancePatch = {};
        if (event.sessionId !== undefined) patch.sessionId = event.sessionId;
        if (event.agent !== undefined) patch.agent = event.agent;
        if (event.model !== undefined) patch.model = event.model;
        if (state === 'running') this.update(patch);
        else this.transition('running', patch);
        return;
      }
      case 'session': {
        this.update({ sessionId: event.sessionId, ...(event.model !== undefined ? { model: event.model } : {}) });
        return;
      }
      case 'activity':
        this.toRunningIfStarting({ lastActivity: event.text });
        return;
      case 'assistantText':
        this.toRunningIfStarting({});
        return;
      case 'permissionRequest':
        this.toWaiting('permission', { lastActivity: `Permission: ${event.request.summary}` });
        return;
      case 'waiting':
        // A live terminal session the limit paused sits at its prompt: it waits for the reset, not for the person.
        if (state === 'paused') return;
        this.toWaiting(event.reason, {});
        return;
      case 'running':
        if (state === 'running') return;
        this.transition('running');
        return;
      case 'usage':
        this.update(this.runTotals(event));
        return;
      case 'rateLimited':
        this.pendingLimit = { text: event.text, ...(event.resetsAt ? { resetsAt: event.resetsAt } : {}), ...(event.limit ? { limit: event.limit } : {}) };
        this.update({ lastActivity: `Rate limited: ${event.text}` });
        return;
      case 'context': {
        const prev = this.data.context;
        const used = event.used ?? prev?.used;
        const window = event.window ?? prev?.window;
        if (used !== undefined) this.update({ context: { used, ...(window !== undefined ? { window } : {}) } });
        return;
      }
      case 'compacted':
        this.update({
          compactions: (this.data.compactions ?? 0) + 1,
          lastActivity: `Compacted the conversation (${event.trigger}${event.preTokens !== undefined ? `, ${event.preTokens} → ${event.postTokens ?? '?'} tokens` : ''})`,
        });
        return;
      case 'result': {
        const patch: InstancePatch = { ...this.runTotals(event), resultText: event.text };
        const limit = this.pendingLimit ?? (event.reason === 'rateLimit' ? { text: event.text } : undefined);
        if (isFinished(state) || state === 'paused') {
          this.update(patch);
        } else if (event.isError && limit) {
          this.pause(limit, patch);
        } else if (event.isError) {
          const exhausted = event.reason === 'contextExhausted';
          this.transition('failed', { ...patch, error: exhausted ? `context exhausted: ${event.text}` : event.text || `agent failed (${event.subtype})`, ...(exhausted ? { contextExhausted: true } : {}) });
        } else {
          this.transition('done', { ...patch, pauseAttempts: undefined });
        }
        return;
      }
      case 'exit': {
        const patch: InstancePatch = { agent: undefined };
        if (!isActive(state) || state === 'provisioning') {
          this.update(patch);
        } else if (this.pendingLimit && !event.stoppedByUser) {
          this.pause(this.pendingLimit, patch);
        } else if (event.stoppedByUser) {
          this.transition('stopped', patch);
        } else if (event.code === 0) {
          this.transition('done', patch);
        } else {
          const how = event.signal ? `signal ${event.signal}` : `code ${event.code}`;
          this.transition('failed', { ...patch, error: this.data.error ?? `agent exited with ${how}` });
        }
        return;
      }
    }
  }

  /**
   * Replaces the whole snapshot, without validation, by one another process wrote to the registry. Only for
   * instances this process does not drive; the change is flagged `external`.
   */
  mirror(snapshot: InstanceSnapshot): void {
    if (snapshot.id !== this.data.id) throw new Error(`Cannot mirror ${snapshot.id} onto instance ${this.data.id}`);
    const previousState = this.data.state;
    const changedKeys = diffKeys(this.data, snapshot);
    this.data = { ...snapshot };
    this.runBase = totalsOf(snapshot);
    this._onDidChange.fire({ snapshot: { ...snapshot }, previousState, external: true, changedKeys });
  }

  /** A limit refused the agent: `paused` until it resets (or, without a reset time, until the fleet's backoff). */
  private pause(limit: { text: string; resetsAt?: number; limit?: string }, patch: InstancePatch): void {
    this.pendingLimit = undefined;
    this.transition('paused', {
      ...patch,
      pauseReason: limit.limit === 'overloaded' ? 'the API is overloaded' : limit.text.length > 120 ? `${limit.text.slice(0, 119)}…` : limit.text,
      pauseAttempts: (this.data.pauseAttempts ?? 0) + 1,
      ...(limit.resetsAt ? { pausedUntil: limit.resetsAt } : {}),
    });
  }

  private toRunningIfStarting(patch: InstancePatch): void {
    if (this.data.state === 'starting') this.transition('running', patch);
    else this.update(patch);
  }

  private toWaiting(reason: 'user' | 'permission', patch: InstancePatch): void {
    if (this.data.state === 'waiting') this.update({ ...patch, waitReason: reason });
    else this.transition('waiting', { ...patch, waitReason: reason });
  }

  private runTotals(e: { costUsd?: number; inputTokens?: number; outputTokens?: number; turns?: number }): InstancePatch {
    const patch: InstancePatch = {};
    if (e.costUsd !== undefined) {
      patch.costUsd = this.runBase.costUsd + e.costUsd;
      // What this run spent since the last report goes to today's total (the daily fleet budget).
      const delta = patch.costUsd - this.data.costUsd;
      if (delta > 0) {
        const day = localDay(this.now());
        patch.spend = { ...this.data.spend, [day]: round((this.data.spend?.[day] ?? 0) + delta) };
      }
    }
    if (e.inputTokens !== undefined) patch.inputTokens = this.runBase.inputTokens + e.inputTokens;
    if (e.outputTokens !== undefined) patch.outputTokens = this.runBase.outputTokens + e.outputTokens;
    if (e.turns !== undefined) patch.turns = this.runBase.turns + e.turns;
    return patch;
  }

  private commit(next: InstanceSnapshot, previousState: InstanceState): void {
    // A patch sets a field to `undefined` to clear it; drop the key so snapshots stay plain JSON.
    for (const key of Object.keys(next) as (keyof InstanceSnapshot)[]) {
      if (next[key] === undefined) delete next[key];
    }
    const changedKeys = diffKeys(this.data, next);
    this.data = next;
    this._onDidChange.fire({ snapshot: { ...next }, previousState, changedKeys });
  }
}

function totalsOf(s: InstanceSnapshot): Totals {
  return { costUsd: s.costUsd, inputTokens: s.inputTokens, outputTokens: s.outputTokens, turns: s.turns };
}

function diffKeys(a: InstanceSnapshot, b: InstanceSnapshot): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const k of keys) {
    const x = (a as unknown as Record<string, unknown>)[k];
    const y = (b as unknown as Record<string, unknown>)[k];
    if (x === y) continue;
    if (typeof x === 'object' && typeof y === 'object' && JSON.stringify(x) === JSON.stringify(y)) continue;
    out.push(k);
  }
  return out;
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
