/**
 * The queue: turns task specs into instances and runs them under a concurrency cap, honouring `after:`.
 *
 * Decisions (also in the README):
 * - **Slots.** An instance holds one of `maxConcurrent` slots while it is provisioning, starting, running or
 *   waiting — i.e. while its worktree is being made or its agent process lives. An agent waiting for the user
 *   keeps its slot: its process (and its memory, its API session) is still there, and freeing the slot would let
 *   the fleet grow without bound while the operator is away.
 * - **Follow-ups and resumes** the user asks for start at once, even above the cap (the user is explicitly
 *   steering that instance); they count toward the cap, so queued tasks wait for them.
 * - **`after:`** A task with `after: X` (X = another task of the same `dispatch()` call, or, for a recovered
 *   instance, the newest instance of the same repository titled X) stays `queued` until X is `done`; its worktree
 *   is then created from X's branch (overriding its own `base:`). If X is `failed`, `stopped` or
 *   `interrupted`, the dependent stays `queued` with error `blocked: X failed` (resp. stopped/interrupted); if X
 *   is later followed up or resumed and reaches `done`, the dependent starts and the error is cleared. Stopping
 *   or removing the dependent gives up on it; removing X leaves it blocked with `blocked: X removed`.
 * - **Cancel during provisioning** aborts the {@link WorktreeRequest.signal}; the worktree port rolls back and
 *   the instance becomes `stopped`.
 */
import { randomUUID } from 'node:crypto';
import type { AgentEvent, AgentMode, InstanceSnapshot } from '../model';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { isAgentProcess, killAgentGroup } from '../agents/processControl';
import { createSnapshot, Instance, isActive, isFinished } from './instance';

// ---------------------------------------------------------------------------------------------------------------
// Ports: what the dispatcher needs from the rest of Grove. Kept minimal; the composition root adapts the real
// WorktreeManager and agent runners to them.
// ---------------------------------------------------------------------------------------------------------------

export interface WorktreeRequest {
  repoRoot: string;
  /** The instance the worktree is for (its setup output belongs in that instance's log); set by the dispatcher. */
  instanceId?: string;
  /** The task title; the port derives the branch and folder names from it (it may be long or contain any character). */
  title: string;
  /** Ref to base the new branch on; undefined = the port's default (e.g. the current branch). */
  baseRef?: string;
  /**
   * Aborted when the user cancels. Contract: if aborted before `create` settles, `create` must undo whatever it
   * did (worktree folder, branch, admin files) and reject.
   */
  signal: AbortSignal;
}

export interface ProvisionedWorktree {
  path: string;
  branch: string;
  /** The ref the branch was created from, as resolved by the port. */
  baseRef: string;
  baseCommit: string;
}

export interface WorktreePort {
  create(request: WorktreeRequest): Promise<ProvisionedWorktree>;
}

export interface AgentStartOptions {
  /** What to send: the task prompt on a first start, the follow-up text, or {@link RESUME_PROMPT}. */
  prompt: string;
  /** Continue `instance.sessionId` (e.g. `claude --resume <id>`) instead of starting a new session. */
  resume: boolean;
}

export interface AgentHandle {
  /** Ends the agent (its whole process group); resolves when it is gone. An `exit` event with `stoppedByUser` is expected. */
  stop(): Promise<void>;
  /** Sends another prompt to the live session (only called while the handle's process lives). */
  followUp(prompt: string): void;
}

export interface AgentPort {
  /**
   * Starts an agent in `instance.worktreePath` and reports everything through `onEvent` (at least `started` once
   * the process is up, and `exit` when it is gone). May throw synchronously if it cannot start at all.
   */
  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle;
}

export interface DispatcherPorts {
  worktrees: WorktreePort;
  agents: AgentPort;
}

/** The prompt sent when resuming an interrupted session. */
export const RESUME_PROMPT = 'Grove was interrupted while you were working. Continue the task where you left off.';

// ---------------------------------------------------------------------------------------------------------------

/** One task to run; a plan's {@link import('./plan').PlanTask} fits. */
export interface TaskSpec {
  title: string;
  prompt: string;
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
  profile?: string;
  /** Title of another task of the same dispatch. */
  after?: string;
}

/** Defaults for a dispatch; a task's own fields win. */
export interface DispatchOptions {
  repoRoot: string;
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
  /** Agent profile (default `claude`). */
  profile?: string;
  /** Permission mode handed to the agent (default `acceptEdits`). */
  permissionMode?: string;
}

export interface DispatcherOptions {
  /** Default 4. */
  maxConcurrent?: number;
  logger?: Logger;
  now?: () => number;
  newId?: () => string;
  /** Used to stop an agent this process has no handle for (started by an earlier or another window). */
  killProcess?: (pid: number) => void;
}

interface AgentRun {
  handle?: AgentHandle;
  exited: boolean;
}

export class Dispatcher extends Disposable {
  private readonly _onDidAddInstance = this._register(new Emitter<Instance>());
  readonly onDidAddInstance = this._onDidAddInstance.event;
  private readonly _onDidRemoveInstance = this._register(new Emitter<InstanceSnapshot>());
  readonly onDidRemoveInstance = this._onDidRemoveInstance.event;

  private readonly instances = new Map<string, Instance>();
  private readonly subscriptions = new Map<string, Disposable>();
  /** Ids waiting for a slot, in dispatch order. */
  private readonly queue: string[] = [];
  /** Dependency (instance id) of a queued instance, resolved at dispatch. */
  private readonly dependencies = new Map<string, string>();
  private readonly provisioning = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly runs = new Map<string, AgentRun>();
  private readonly settledWaiters: (() => void)[] = [];
  private pumping = false;
  private pumpAgain = false;

  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly killProcess: (pid: number) => void;
  private cap: number;

  constructor(
    private readonly ports: DispatcherPorts,
    options: DispatcherOptions = {},
  ) {
    super();
    this.cap = validCap(options.maxConcurrent ?? 4);
    this.logger = options.logger ?? nullLogger;
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? randomUUID;
    // Only an agent's own process group is signalled: before its agent is up, an instance records the pid of the
    // process driving it (a window, a CLI), which must never be killed.
    this.killProcess = options.killProcess ?? ((pid) => {
      if (isAgentProcess(pid)) void killAgentGroup(pid);
    });
    this._register(
      Disposable.from(() => {
        for (const p of this.provisioning.values()) p.controller.abort();
        for (const s of this.subscriptions.values()) s.dispose();
        for (const i of this.instances.values()) i.dispose();
      }),
    );
  }

  get maxConcurrent(): number {
    return this.cap;
  }

  /** Changing the cap takes effect at once for queued tasks; running ones are never stopped by it. */
  set maxConcurrent(value: number) {
    this.cap = validCap(value);
    this.pump();
  }

  get(id: string): Instance | undefined {
    return this.instances.get(id);
  }

  list(): Instance[] {
    return [...this.instances.values()];
  }

  /** Instances holding a slot. */
  activeCount(): number {
    let n = 0;
    for (const i of this.instances.values()) if (isActive(i.state)) n++;
    return n;
  }

  /** True while this process drives the instance (queued here, provisioning, or with a live agent handle). */
  isDriving(id: string): boolean {
    return this.queue.includes(id) || this.provisioning.has(id) || this.runs.has(id);
  }

  /**
   * Creates one `queued` instance per task and starts as many as the cap allows.
   * @throws Error before creating anything if an `after:` names no task of `tasks`, a dependency cycle exists, or
   *   two tasks share a title.
   */
  dispatch(tasks: readonly TaskSpec[], options: DispatchOptions): Instance[] {
    const byTitle = new Map<string, number>();
    tasks.forEach((t, i) => {
      const key = t.title.trim().toLowerCase();
      if (!key) throw new Error(`Grove: task ${i + 1} has no title`);
      if (byTitle.has(key)) throw new Error(`Grove: two tasks are titled "${t.title}"`);
      byTitle.set(key, i);
    });
    const depIndex = tasks.map((t) => {
      if (t.after === undefined) return undefined;
      const d = byTitle.get(t.after.trim().toLowerCase());
      if (d === undefined) throw new Error(`Grove: task "${t.title}" is after "${t.after}", which is not one of the dispatched tasks`);
      return d;
    });
    depIndex.forEach((_, start) => {
      const seen = new Set<number>();
      for (let i: number | undefined = start; i !== undefined; i = depIndex[i]) {
        if (seen.has(i)) throw new Error(`Grove: tasks "${tasks[start].title}" and "${tasks[i].title}" depend on each other (cycle)`);
        seen.add(i);
      }
    });

    const created = tasks.map((t) => {
      const snapshot = createSnapshot(
        {
          id: this.newId(),
          title: t.title,
          prompt: t.prompt,
          repoRoot: options.repoRoot,
          mode: t.mode ?? options.mode ?? 'background',
          profile: t.profile ?? options.profile ?? 'claude',
          permissionMode: options.permissionMode ?? 'acceptEdits',
          baseRef: t.baseRef ?? options.baseRef,
          model: t.model ?? options.model,
          after: t.after !== undefined ? tasks[byTitle.get(t.after.trim().toLowerCase())!].title : undefined,
        },
        this.now(),
      );
      // Until its agent reports a pid, an instance carries the pid of the process that drives it, so another
      // window's recover() can tell a live queue from an abandoned one.
      snapshot.pid = process.pid;
      return this.add(snapshot);
    });
    created.forEach((inst, i) => {
      const d = depIndex[i];
      if (d !== undefined) this.dependencies.set(inst.id, created[d].id);
      this.queue.push(inst.id);
    });
    this.pump();
    return created;
  }

  /** Takes over a snapshot loaded from the registry; it is not scheduled until resumed or followed up. */
  adopt(snapshot: InstanceSnapshot): Instance {
    const existing = this.instances.get(snapshot.id);
    if (existing) return existing;
    return this.add(snapshot);
  }

  /**
   * The host is going away (window closing or reloading): agents matching `filter` that this process drives cannot
   * outlive it, so they are marked `interrupted` now — with `reason`, Resume offered after the restart — and their
   * remaining events (the exit their killing causes) are ignored. Returns how many were interrupted.
   */
  interruptAll(filter: (s: InstanceSnapshot) => boolean, reason: string): number {
    let n = 0;
    for (const id of [...this.runs.keys()]) {
      const inst = this.instances.get(id);
      if (!inst || !isActive(inst.state) || !filter(inst.snapshot)) continue;
      this.runs.delete(id);
      inst.transition('interrupted', { pid: undefined, error: reason });
      n++;
    }
    return n;
  }

  /**
   * Re-attaches a live agent that outlived the process that started it (a terminal that survived a window
   * reload): its events flow into the instance again and Stop/Follow Up reach it.
   * @throws Error if the instance is unknown or already driven by this process.
   */
  attach(id: string, connect: (onEvent: (event: AgentEvent) => void) => AgentHandle): void {
    const inst = this.require(id);
    if (this.runs.has(id)) throw new Error(`Grove: "${inst.title}" is already attached`);
    const run: AgentRun = { exited: false };
    this.runs.set(id, run);
    run.handle = connect((e) => this.onAgentEvent(inst, run, e));
    if (run.exited && this.runs.get(id) === run) this.runs.delete(id);
  }

  /**
   * Stops an instance: a queued one is not started, a provisioning one is rolled back, a live agent is ended.
   * Resolves when it is `stopped` (or already finished).
   */
  async stop(id: string): Promise<void> {
    const inst = this.require(id);
    if (inst.state === 'queued') {
      this.dequeue(id);
      inst.transition('stopped', { pid: undefined });
      return;
    }
    const prov = this.provisioning.get(id);
    if (prov) {
      prov.controller.abort();
      await prov.done;
      return;
    }
    const run = this.runs.get(id);
    if (run?.handle) {
      await run.handle.stop();
      // The runner should have reported `exit`; make sure the instance does not stay active if it did not.
      if (this.runs.get(id) === run) this.runs.delete(id);
      if (isActive(inst.state)) inst.transition('stopped', { pid: undefined });
      this.pump();
      return;
    }
    if (isActive(inst.state)) {
      // Started by an earlier or another Grove process: end its process if it still lives.
      const pid = inst.snapshot.pid;
      if (pid !== undefined && pid !== process.pid) {
        try {
          this.killProcess(pid);
        } catch (err) {
          this.logger.warn(`stopping ${inst.title}: could not signal pid ${pid}: ${(err as Error).message}`);
        }
      }
      inst.transition('stopped', { pid: undefined });
    }
  }

  /**
   * Sends `prompt` to an instance: to its live agent if it has one (running or waiting), otherwise by starting the
   * agent again in the same session (`resume: true` when a session id is known).
   * @throws Error if the instance has no worktree yet (queued, provisioning) or is starting.
   */
  followUp(id: string, prompt: string): void {
    const inst = this.require(id);
    const run = this.runs.get(id);
    if (run?.handle && !run.exited && (inst.state === 'running' || inst.state === 'waiting')) {
      run.handle.followUp(prompt);
      return;
    }
    if (!isFinished(inst.state) && inst.state !== 'waiting') {
      throw new Error(`Grove: cannot follow up "${inst.title}" while it is ${inst.state}`);
    }
    if (!inst.snapshot.worktreePath) throw new Error(`Grove: "${inst.title}" has no worktree to follow up in`);
    this.startAgent(inst, { prompt, resume: inst.snapshot.sessionId !== undefined });
  }

  /**
   * Continues an interrupted (or stopped/failed) instance: with a worktree, its session is resumed with
   * {@link RESUME_PROMPT} (or started afresh with its prompt if it never got a session id); without one it goes
   * back to the queue.
   */
  resume(id: string): void {
    const inst = this.require(id);
    if (!isFinished(inst.state) || inst.state === 'done') {
      throw new Error(`Grove: cannot resume "${inst.title}": it is ${inst.state}`);
    }
    const s = inst.snapshot;
    if (!s.worktreePath) {
      if (inst.state !== 'interrupted') throw new Error(`Grove: "${inst.title}" never got a worktree; dispatch it again`);
      inst.transition('queued', { pid: process.pid, error: undefined });
      this.queue.push(id);
      this.pump();
      return;
    }
    const resume = s.sessionId !== undefined;
    this.startAgent(inst, { prompt: resume ? RESUME_PROMPT : s.prompt, resume });
  }

  /** Stops the instance if needed and forgets it. */
  async remove(id: string): Promise<InstanceSnapshot> {
    const inst = this.require(id);
    if (isActive(inst.state) || inst.state === 'queued') await this.stop(id);
    const snapshot = inst.snapshot;
    this.dequeue(id);
    this.dependencies.delete(id);
    this.runs.delete(id);
    this.subscriptions.get(id)?.dispose();
    this.subscriptions.delete(id);
    this.instances.delete(id);
    inst.dispose();
    this._onDidRemoveInstance.fire(snapshot);
    this.pump();
    return snapshot;
  }

  /** Resolves when nothing is active and no queued task can start (all done, or blocked). For tests and benchmarks. */
  whenSettled(): Promise<void> {
    return new Promise((resolve) => {
      this.settledWaiters.push(resolve);
      this.checkSettled();
    });
  }

  // -------------------------------------------------------------------------------------------------------------

  private add(snapshot: InstanceSnapshot): Instance {
    const inst = new Instance(snapshot, this.now);
    this.instances.set(inst.id, inst);
    this.subscriptions.set(
      inst.id,
      inst.onDidChange((e) => {
        if (e.previousState !== e.snapshot.state) this.pump();
      }),
    );
    this._onDidAddInstance.fire(inst);
    return inst;
  }

  private require(id: string): Instance {
    const inst = this.instances.get(id);
    if (!inst) throw new Error(`Grove: no instance ${id}`);
    return inst;
  }

  private dequeue(id: string): void {
    const i = this.queue.indexOf(id);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Starts queued instances while slots are free. Re-entrant calls (from the state changes it causes) are folded. */
  private pump(): void {
    if (this.isDisposed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (const id of [...this.queue]) {
          if (this.activeCount() >= this.cap) break;
          const inst = this.instances.get(id);
          if (!inst || inst.state !== 'queued') {
            this.dequeue(id);
            continue;
          }
          const base = this.dependencyBase(inst);
          if (base === undefined) continue;
          this.dequeue(id);
          void this.provision(inst, base || undefined);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.checkSettled();
  }

  /**
   * For a queued instance: '' if it has no dependency, the dependency's branch if that is done, undefined if it
   * must keep waiting (then its `blocked:` error is set or cleared).
   */
  private dependencyBase(inst: Instance): string | undefined {
    const s = inst.snapshot;
    if (s.after === undefined) return '';
    const depId = this.dependencies.get(inst.id) ?? this.findByTitle(s.repoRoot, s.after, inst.id)?.id;
    const dep = depId !== undefined ? this.instances.get(depId) : undefined;
    let blocked: string | undefined;
    if (!dep) blocked = `blocked: ${s.after} removed`;
    else if (dep.state === 'done') {
      const branch = dep.snapshot.branch;
      if (branch) return branch;
      blocked = `blocked: ${s.after} has no branch`;
    } else if (isFinished(dep.state)) blocked = `blocked: ${s.after} ${dep.state}`;
    if (s.error !== blocked) inst.update({ error: blocked });
    return undefined;
  }

  private findByTitle(repoRoot: string, title: string, except: string): Instance | undefined {
    const key = title.toLowerCase();
    let best: Instance | undefined;
    for (const i of this.instances.values()) {
      const s = i.snapshot;
      if (i.id === except || s.repoRoot !== repoRoot || s.title.toLowerCase() !== key) continue;
      if (!best || s.createdAt > best.snapshot.createdAt) best = i;
    }
    return best;
  }

  private async provision(inst: Instance, baseFromDependency: string | undefined): Promise<void> {
    const controller = new AbortController();
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    this.provisioning.set(inst.id, { controller, done });
    try {
      inst.transition('provisioning', { error: undefined, ...(baseFromDependency ? { baseRef: baseFromDependency } : {}) });
      const s = inst.snapshot;
      let wt: ProvisionedWorktree;
      try {
        wt = await this.ports.worktrees.create({ repoRoot: s.repoRoot, instanceId: s.id, title: s.title, baseRef: s.baseRef || undefined, signal: controller.signal });
      } catch (err) {
        if (controller.signal.aborted) {
          inst.transition('stopped', { pid: undefined, error: 'cancelled during provisioning; the worktree was rolled back' });
        } else {
          inst.transition('failed', { pid: undefined, error: `could not create the worktree: ${(err as Error).message}` });
        }
        return;
      }
      inst.update({ worktreePath: wt.path, branch: wt.branch, baseRef: wt.baseRef, baseCommit: wt.baseCommit });
      if (controller.signal.aborted) {
        // The port finished before it saw the abort: keep the worktree recorded so nothing is left untracked.
        inst.transition('stopped', { pid: undefined, error: 'cancelled during provisioning; the worktree was created and kept' });
        return;
      }
      this.provisioning.delete(inst.id);
      this.startAgent(inst, { prompt: s.prompt, resume: false });
    } catch (err) {
      this.logger.error(`dispatch of "${inst.title}" failed: ${(err as Error).message}`);
    } finally {
      this.provisioning.delete(inst.id);
      settle();
    }
  }

  private startAgent(inst: Instance, options: AgentStartOptions): void {
    inst.transition('starting', { pid: process.pid });
    const run: AgentRun = { exited: false };
    this.runs.set(inst.id, run);
    try {
      run.handle = this.ports.agents.start(inst.snapshot, (e) => this.onAgentEvent(inst, run, e), options);
    } catch (err) {
      this.runs.delete(inst.id);
      inst.transition('failed', { pid: undefined, error: `the agent did not start: ${(err as Error).message}` });
      return;
    }
    if (run.exited && this.runs.get(inst.id) === run) this.runs.delete(inst.id);
  }

  private onAgentEvent(inst: Instance, run: AgentRun, event: AgentEvent): void {
    if (this.runs.get(inst.id) !== run || this.instances.get(inst.id) !== inst) {
      this.logger.trace(`ignoring ${event.type} from a previous run of "${inst.title}"`);
      return;
    }
    try {
      inst.applyEvent(event);
    } catch (err) {
      this.logger.error(`"${inst.title}": ${(err as Error).message}`);
    }
    if (event.type === 'exit') {
      run.exited = true;
      this.runs.delete(inst.id);
      this.pump();
    }
  }

  private checkSettled(): void {
    if (this.settledWaiters.length === 0) return;
    if (this.activeCount() > 0) return;
    const startable = this.queue.some((id) => {
      const inst = this.instances.get(id);
      return inst?.state === 'queued' && inst.snapshot.error === undefined && this.activeCount() < this.cap;
    });
    if (startable) return;
    for (const w of this.settledWaiters.splice(0)) w();
  }
}

function validCap(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`Grove: maxConcurrent must be a positive integer, not ${n}`);
  return n;
}
