/**
 * The queue: turns task specs into instances and runs them under a concurrency cap per repository, honouring
 * `after:`. One {@link Run} object per instance holds everything this process does for it (its place in the queue,
 * its dependency, provisioning, the live agent) and is released with the instance.
 *
 * Decisions (also in the README):
 * - **Slots.** An instance holds one of `maxConcurrent` slots of its repository while it is provisioning, starting,
 *   running or waiting — whichever process drives it (instances other processes drive are mirrored in). An agent
 *   waiting for the user keeps its slot: its process (memory, API session) is still there.
 * - **Follow-ups and resumes** the user asks for start at once, even above the cap; they count toward it.
 *   A follow-up for an agent in the middle of a turn it cannot interrupt (a background turn, or one waiting for a
 *   permission answer) is kept in `pendingPrompts` (shown on its row) and sent when the turn ends — never dropped.
 * - **`after:`** A task with `after: X` stays `queued` until X is `done`; its worktree is then created from X's
 *   branch. If X fails, is stopped or interrupted, the dependent stays queued with `blocked: X failed` (…) until X
 *   reaches done after a follow-up or resume. Removing X leaves it `blocked: X removed`.
 * - **Ownership.** The instances this process queues, provisions or runs carry its {@link DriverIdentity}; a
 *   finished instance has none. Only the driver changes an instance (see fleet/ownership.ts for the requests other
 *   processes send it).
 * - **Cancel during provisioning** aborts the worktree request; the port rolls back; the instance is `stopped`.
 */
import { randomUUID } from 'node:crypto';
import type { AgentHandle } from '../agents/port';
import { GroveError } from '../errors';
import type { AgentEvent, DriverIdentity, InstanceSnapshot } from '../model';
import { localProbe, type ProcessProbe } from '../platform/processes';
import { Disposable, DisposableMap } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { createSnapshot, Instance, isActive, isFinished } from './instance';
import { Run, type FollowUpOutcome, type RunContext } from './run';
import { rateLimitBackoffMs, type StartDecision } from './scheduler';
import { resolveDependencies, type DispatcherPorts, type DispatchOptions, type TaskSpec } from './ports';

export interface DispatcherOptions {
  /** Slots per repository (default 4); a function reads the current setting. */
  maxConcurrent?: number | ((repoRoot: string) => number);
  /** This process, recorded as the driver of what it queues and runs. */
  self: DriverIdentity;
  logger?: Logger;
  now?: () => number;
  newId?: () => string;
  /** Reads the start time of agent processes (their identity across pid reuse). */
  probe?: ProcessProbe;
  /** Asked right before a queued instance starts: a reason not to start it (a stop request another process sent). */
  beforeStart?: (instance: InstanceSnapshot) => 'stop' | undefined;
  /** The scheduling rules besides the cap (rate limits, budget, memory): may it start now? */
  gate?: (instance: InstanceSnapshot) => StartDecision;
  /** When a rate-limited agent without a reset time tries again (default: {@link rateLimitBackoffMs}). */
  backoffMs?: (attempt: number) => number;
}

export type { FollowUpOutcome } from './run';

export class Dispatcher extends Disposable {
  private readonly _onDidAddInstance = this._register(new Emitter<Instance>());
  readonly onDidAddInstance = this._onDidAddInstance.event;
  private readonly _onDidRemoveInstance = this._register(new Emitter<InstanceSnapshot>());
  readonly onDidRemoveInstance = this._onDidRemoveInstance.event;

  private readonly runs = this._register(new DisposableMap<string, Run>());
  /** Ids waiting for a slot, in dispatch order. */
  private readonly queue: string[] = [];
  private readonly settledWaiters: (() => void)[] = [];
  private pumping = false;
  private pumpAgain = false;

  private readonly now: () => number;
  private readonly newId: () => string;
  private cap: (repoRoot: string) => number;
  private readonly runContext: RunContext;
  private wake?: NodeJS.Timeout;

  constructor(
    ports: DispatcherPorts,
    private readonly options: DispatcherOptions,
  ) {
    super();
    this.cap = capOf(options.maxConcurrent ?? 4);
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? randomUUID;
    this.runContext = {
      self: options.self, ports, probe: options.probe ?? localProbe, logger: options.logger ?? nullLogger, pump: () => this.pump(),
      backoffMs: options.backoffMs ?? rateLimitBackoffMs, now: this.now,
    };
    this._register(Disposable.from(() => {
      clearTimeout(this.wake);
      for (const r of this.runs.values()) r.provisioning?.controller.abort();
    }));
  }

  get self(): DriverIdentity {
    return this.options.self;
  }

  /** Changing the cap takes effect at once for queued tasks; running ones are never stopped by it. */
  set maxConcurrent(value: number | ((repoRoot: string) => number)) {
    this.cap = capOf(value);
    this.pump();
  }

  maxConcurrentOf(repoRoot: string): number {
    return this.cap(repoRoot);
  }

  get(id: string): Instance | undefined {
    return this.runs.get(id)?.instance;
  }

  list(): Instance[] {
    return [...this.runs.values()].map((r) => r.instance);
  }

  /** Instances of a repository holding a slot, whoever drives them. */
  activeCount(repoRoot: string): number {
    let n = 0;
    for (const r of this.runs.values()) if (r.instance.snapshot.repoRoot === repoRoot && isActive(r.instance.state)) n++;
    return n;
  }

  /** True while this process drives the instance (queued here, provisioning, or with a live agent). */
  isDriving(id: string): boolean {
    return this.runs.get(id)?.driving ?? false;
  }

  /**
   * Creates one `queued` instance per task and starts as many as the caps allow.
   * @throws GroveError InvalidInput before creating anything if an `after:` names no task of `tasks`, a dependency
   *   cycle exists, or two tasks share a title.
   */
  dispatch(tasks: readonly TaskSpec[], options: DispatchOptions): Instance[] {
    const depIndex = resolveDependencies(tasks);
    const created = tasks.map((t, i) => {
      const snapshot = createSnapshot({
        id: this.newId(),
        title: t.title,
        prompt: t.prompt,
        repoRoot: options.repoRoot,
        mode: t.mode ?? options.mode ?? 'background',
        profile: t.profile ?? options.profile ?? 'claude',
        permissionMode: options.permissionMode ?? 'acceptEdits',
        baseRef: t.baseRef ?? options.baseRef,
        model: t.model ?? options.model,
        after: depIndex[i] !== undefined ? tasks[depIndex[i]!]!.title : undefined,
        lead: options.lead,
      }, this.now());
      snapshot.driver = this.self;
      return this.add(snapshot);
    });
    created.forEach((inst, i) => {
      const run = this.runs.get(inst.id)!;
      const d = depIndex[i];
      if (d !== undefined) run.dependsOn = created[d]!.id;
      run.queued = true;
      this.queue.push(inst.id);
    });
    this.pump();
    return created;
  }

  /** Takes over a snapshot loaded from the registry; it is not scheduled until resumed or followed up. */
  adopt(snapshot: InstanceSnapshot): Instance {
    return this.runs.get(snapshot.id)?.instance ?? this.add(snapshot);
  }

  /**
   * The host is going away: agents matching `filter` that this process drives cannot outlive it, so they are
   * marked `interrupted` now (Resume after the restart) and their remaining events are ignored; queued ones too.
   */
  interruptAll(filter: (s: InstanceSnapshot) => boolean, reason: string): number {
    let n = 0;
    for (const run of this.runs.values()) {
      const inst = run.instance;
      if (!run.driving || !filter(inst.snapshot) || isFinished(inst.state)) continue;
      run.provisioning?.controller.abort();
      run.agent = undefined;
      run.queued = false;
      this.dequeue(inst.id);
      inst.transition('interrupted', { error: reason });
      n++;
    }
    return n;
  }

  /**
   * Drives a live agent that outlived the process that started it (a terminal that survived a window reload): its
   * events flow into the instance again and Stop/Follow Up reach it.
   */
  attach(id: string, connect: (onEvent: (event: AgentEvent) => void) => AgentHandle): void {
    const run = this.require(id);
    if (run.driving) throw new GroveError('Busy', `"${run.instance.title}" is already attached.`);
    run.connect(this.runContext, connect);
  }

  /**
   * Stops an instance this process drives: a queued one is not started, a provisioning one is rolled back, a live
   * agent is ended. Resolves when it is `stopped` (or already finished). False when this process does not drive it.
   */
  async stop(id: string): Promise<boolean> {
    const run = this.require(id);
    if (run.queued) {
      run.queued = false;
      this.dequeue(id);
    }
    return run.stop(this.runContext);
  }

  /**
   * Sends `prompt` to an instance this process drives or that nobody drives (see {@link Run.followUp}).
   * @throws GroveError if the instance has no worktree and is not queued here.
   */
  followUp(id: string, prompt: string): FollowUpOutcome {
    return this.require(id).followUp(this.runContext, prompt);
  }

  /**
   * Continues an interrupted (or stopped/failed) instance, or a paused one now: with a worktree, its session is
   * resumed with the pending follow-ups or {@link RESUME_PROMPT} (or started afresh with its prompt if it never got a
   * session id); without one it goes back to the queue.
   */
  resume(id: string): void {
    const run = this.require(id);
    if (run.resume(this.runContext) === 'requeue') {
      run.queued = true;
      this.queue.push(id);
      this.pump();
    }
  }

  /** Carries the task on in a new session in the same worktree (see {@link Run.continueFresh}). */
  continueFresh(id: string, prompt: string): void {
    this.require(id).continueFresh(this.runContext, prompt);
  }

  /** Stops the instance if this process drives it, and forgets it. */
  async remove(id: string): Promise<InstanceSnapshot> {
    const run = this.require(id);
    if (run.driving) await this.stop(id);
    const snapshot = run.instance.snapshot;
    this.dequeue(id);
    this.runs.deleteAndDispose(id);
    this._onDidRemoveInstance.fire(snapshot);
    this.pump();
    return snapshot;
  }

  /** Forgets an instance another process removed (never one this process drives). */
  forget(id: string): void {
    const run = this.runs.get(id);
    if (!run || run.driving) return;
    this.runs.deleteAndDispose(id);
    this.pump();
  }

  /** Resolves when nothing this process drives is active and no queued task can start. For tests and benchmarks. */
  whenSettled(): Promise<void> {
    return new Promise((resolve) => {
      this.settledWaiters.push(resolve);
      this.checkSettled();
    });
  }

  /** Starts queued instances while slots are free. Re-entrant calls (from the state changes it causes) are folded. */
  pump(): void {
    if (this.isDisposed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    let wakeIn = Infinity;
    try {
      do {
        this.pumpAgain = false;
        wakeIn = Infinity;
        for (const id of [...this.queue]) {
          const run = this.runs.get(id);
          if (!run || run.instance.state !== 'queued') {
            if (run) run.queued = false;
            this.dequeue(id);
            continue;
          }
          const repoRoot = run.instance.snapshot.repoRoot;
          if (this.activeCount(repoRoot) >= this.cap(repoRoot)) continue;
          const base = this.dependencyBase(run);
          if (base === undefined) continue;
          const decision = this.options.gate?.(run.instance.snapshot) ?? {};
          if (decision.wait) {
            if (run.instance.snapshot.waitingFor !== decision.wait) run.instance.update({ waitingFor: decision.wait });
            if (decision.retryMs !== undefined) wakeIn = Math.min(wakeIn, decision.retryMs);
            continue;
          }
          this.dequeue(id);
          run.queued = false;
          if (this.options.beforeStart?.(run.instance.snapshot) === 'stop') {
            run.instance.transition('stopped');
            continue;
          }
          run.instance.update({ waitingFor: undefined, ...(decision.account ? { account: decision.account } : {}) });
          void run.provision(this.runContext, base || undefined, decision.maxBudgetUsd);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.armWake(wakeIn);
    this.checkSettled();
  }

  /** One timer, only while a queued instance waits for something time-bound (a reset, memory, tomorrow's budget). */
  private armWake(ms: number): void {
    clearTimeout(this.wake);
    this.wake = undefined;
    if (!Number.isFinite(ms) || this.isDisposed) return;
    this.wake = setTimeout(() => this.pump(), Math.max(50, Math.min(ms, 2 ** 31 - 1)));
    this.wake.unref?.();
  }

  // -------------------------------------------------------------------------------------------------------------

  private add(snapshot: InstanceSnapshot): Instance {
    const inst = new Instance(snapshot, this.now);
    const run = new Run(inst, (r) => this.runs.get(r.instance.id) === r);
    this.runs.set(inst.id, run);
    run.hold(inst.onDidChange((e) => {
      if (e.previousState !== e.snapshot.state) this.pump();
    }));
    this._onDidAddInstance.fire(inst);
    return inst;
  }

  private require(id: string): Run {
    const run = this.runs.get(id);
    if (!run) throw new GroveError('NotFound', `No instance ${id}.`);
    return run;
  }

  private dequeue(id: string): void {
    const i = this.queue.indexOf(id);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** '' without a dependency, the dependency's branch once it is done, undefined while it must wait. */
  private dependencyBase(run: Run): string | undefined {
    const s = run.instance.snapshot;
    if (s.after === undefined) return '';
    const dep = run.dependsOn !== undefined ? this.runs.get(run.dependsOn)?.instance : this.findByTitle(s.repoRoot, s.after, s.id);
    let blocked: string | undefined;
    if (!dep) blocked = `blocked: ${s.after} removed`;
    else if (dep.state === 'done') {
      if (dep.snapshot.branch) return dep.snapshot.branch;
      blocked = `blocked: ${s.after} has no branch`;
    } else if (isFinished(dep.state)) blocked = `blocked: ${s.after} ${dep.state}`;
    if (s.error !== blocked) run.instance.update({ error: blocked });
    return undefined;
  }

  private findByTitle(repoRoot: string, title: string, except: string): Instance | undefined {
    const key = title.toLowerCase();
    let best: Instance | undefined;
    for (const { instance: i } of this.runs.values()) {
      const s = i.snapshot;
      if (i.id === except || s.repoRoot !== repoRoot || s.title.toLowerCase() !== key) continue;
      if (!best || s.createdAt > best.snapshot.createdAt) best = i;
    }
    return best;
  }

  private checkSettled(): void {
    if (this.settledWaiters.length === 0) return;
    for (const r of this.runs.values()) {
      if (r.provisioning || (r.agent && !r.agent.exited)) return;
      if (r.queued && r.instance.snapshot.error === undefined && this.activeCount(r.instance.snapshot.repoRoot) < this.cap(r.instance.snapshot.repoRoot)) return;
    }
    for (const w of this.settledWaiters.splice(0)) w();
  }
}

function capOf(value: number | ((repoRoot: string) => number)): (repoRoot: string) => number {
  if (typeof value === 'function') return (r) => validCap(value(r));
  const n = validCap(value);
  return () => n;
}

function validCap(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new GroveError('InvalidInput', `maxConcurrent must be a positive whole number, not ${n}.`);
  return n;
}
