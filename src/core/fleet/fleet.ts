/**
 * The fleet: every instance of every repository this process knows, the operations on the ones it drives, and
 * their persistence. The VS Code layer, the public API, the CLI and the MCP server observe this one object
 * (through the flows in core/flows).
 *
 * - Every change of an instance this process makes is written to its repository's registry: state changes at once,
 *   activity-only changes (last activity, token counts) coalesced to at most one write per second per repository.
 * - Changes other processes write are mirrored in for instances this process does not drive, removals included.
 * - The ownership protocol (see ownership.ts): requests for instances this process drives are honoured; instances
 *   whose driver died are recorded `interrupted` and their leftover background agents ended.
 */
import type { AgentHandle } from '../agents/port';
import type { AgentEvent, AgentMode, DriverIdentity, InstanceSnapshot, MergeRecord } from '../model';
import { localProbe, type ProcessIdentity, type ProcessProbe } from '../platform/processes';
import { GroveError } from '../errors';
import { Disposable, DisposableMap } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { Dispatcher, type FollowUpOutcome } from './dispatcher';
import { isActive, isFinished, isOwned, type Instance } from './instance';
import { Peers } from './peers';
import type { DispatcherPorts, DispatchOptions, TaskSpec } from './ports';
import type { Scheduler } from './scheduler';
import type { RegistryCorruption, RegistryOptions } from './registry';
import { RepositoryStore } from './repositoryStore';

export interface FleetPorts extends DispatcherPorts {
  /** The git common dir of a repository (absolute), where its registry lives. */
  commonDir(repoRoot: string): Promise<string>;
}

export interface FleetOptions {
  /** This process, recorded as the driver of what it runs. */
  self: DriverIdentity;
  /** Slots per repository; a function reads the current setting. Default 4. */
  maxConcurrent?: number | ((repoRoot: string) => number);
  logger?: Logger;
  now?: () => number;
  newId?: () => string;
  probe?: ProcessProbe;
  /** Ends a background agent whose driver died (its whole process tree). Default: nothing is signalled. */
  endOrphanAgent?: (agent: ProcessIdentity) => Promise<void>;
  registry?: RegistryOptions;
  /** How often drivers of mirrored active instances are checked while such instances exist (default 5 s). */
  orphanCheckMs?: number;
  /** Activity-only changes are written at most this often per repository (default 1000 ms). */
  activityWriteMs?: number;
  /** The scheduling rules besides the cap (rate limits, budget, memory); none by default. */
  scheduler?: Scheduler;
  /** When a rate-limited agent without a reset time tries again (attempt n → ms). */
  backoffMs?: (attempt: number) => number;
  /**
   * An instance this process drove ended with its context exhausted: the first prompt of a fresh session to carry it
   * on by itself, or undefined to leave it for the person (`autoContinue` off, or twice already).
   */
  autoContinue?: (instance: InstanceSnapshot) => Promise<string | undefined>;
}

export interface InstancesChange {
  /** New or changed instances (plain snapshots). */
  changed: InstanceSnapshot[];
  /** Ids of removed instances. */
  removed: string[];
}

export class Fleet extends Disposable {
  private readonly _onDidChangeInstances = this._register(new Emitter<InstancesChange>());
  readonly onDidChangeInstances = this._onDidChangeInstances.event;
  private readonly _onDidReportCorruption = this._register(new Emitter<RegistryCorruption>());
  /** A repository's registry file was unreadable; its content was kept as `backup`. */
  readonly onDidReportCorruption = this._onDidReportCorruption.event;

  private readonly dispatcher: Dispatcher;
  private readonly repos = new Map<string, Promise<RepositoryStore>>();
  /** Repositories whose registry is loaded, by repoRoot (synchronous access for the dispatcher's hooks). */
  private readonly loaded = new Map<string, RepositoryStore>();
  private readonly tracked = this._register(new DisposableMap<string, Disposable>());
  private readonly logger: Logger;
  private readonly probe: ProcessProbe;
  private readonly peers: Peers;

  constructor(
    private readonly ports: FleetPorts,
    private readonly options: FleetOptions,
  ) {
    super();
    this.logger = options.logger ?? nullLogger;
    this.probe = options.probe ?? localProbe;
    this.dispatcher = this._register(new Dispatcher(ports, {
      self: options.self,
      maxConcurrent: options.maxConcurrent,
      logger: options.logger,
      now: options.now,
      newId: options.newId,
      probe: this.probe,
      beforeStart: (s) => (this.peers.takeStopRequest(s) ? 'stop' : undefined),
      gate: options.scheduler ? (s) => options.scheduler!.decide(s, this.instances()) : undefined,
      backoffMs: options.backoffMs,
    }));
    this._register(this.dispatcher.onDidAddInstance((inst) => this.track(inst)));
    this._register(this.dispatcher.onDidRemoveInstance((s) => {
      this.tracked.deleteAndDispose(s.id);
      void this.repo(s.repoRoot).then((r) => r.remove(s.id), () => undefined);
      this._onDidChangeInstances.fire({ changed: [], removed: [s.id] });
    }));
    this.peers = this._register(new Peers({
      dispatcher: this.dispatcher,
      instances: () => this.instances(),
      store: (repoRoot) => this.loaded.get(repoRoot),
      stores: () => [...this.loaded.keys()],
      forget: (id) => {
        this.tracked.deleteAndDispose(id);
        this._onDidChangeInstances.fire({ changed: [], removed: [id] });
      },
      flush: () => this.flush(),
    }, { probe: this.probe, logger: this.logger, endOrphanAgent: options.endOrphanAgent, orphanCheckMs: options.orphanCheckMs }));
  }

  get self(): DriverIdentity {
    return this.options.self;
  }

  set maxConcurrent(value: number | ((repoRoot: string) => number)) {
    this.dispatcher.maxConcurrent = value;
  }

  /** Settings changed (a cap, a budget, a memory threshold): queued work that may start now starts. */
  settingsChanged(): void {
    this.dispatcher.pump();
  }

  maxConcurrentOf(repoRoot: string): number {
    return this.dispatcher.maxConcurrentOf(repoRoot);
  }

  /** Plain serialisable snapshots of all instances, oldest first. */
  instances(): InstanceSnapshot[] {
    return this.dispatcher.list().map((i) => i.snapshot).sort((a, b) => a.createdAt - b.createdAt);
  }

  get(id: string): InstanceSnapshot | undefined {
    return this.dispatcher.get(id)?.snapshot;
  }

  /** True while this process drives the instance. */
  isDriving(id: string): boolean {
    return this.dispatcher.isDriving(id);
  }

  /** Creates and queues one instance per task (validation and ordering: {@link Dispatcher.dispatch}). */
  async dispatch(tasks: readonly TaskSpec[], options: DispatchOptions): Promise<InstanceSnapshot[]> {
    await this.repo(options.repoRoot);
    const created = this.dispatcher.dispatch(tasks, options).map((i) => i.snapshot);
    // Queued instances are on disk at once: every other process sees them (and their driver) from now on.
    const fresh = created.map((s) => this.get(s.id)!).filter((s) => s.state === 'queued');
    if (fresh.length) (await this.repo(options.repoRoot)).upsert(fresh);
    return created;
  }

  /** Stops an instance this process drives; false when it does not drive it (see flows/instance.ts for the rest). */
  stopHere(id: string): Promise<boolean> {
    return this.dispatcher.stop(id);
  }

  /** A follow-up for an instance this process drives or nobody drives. */
  followUpHere(id: string, prompt: string): FollowUpOutcome {
    return this.dispatcher.followUp(id, prompt);
  }

  resumeHere(id: string): void {
    this.dispatcher.resume(id);
  }

  /** See {@link Dispatcher.continueFresh}. */
  continueFresh(id: string, prompt: string): void {
    this.dispatcher.continueFresh(id, prompt);
  }

  /** Posts a request to the process that drives the instance. */
  async request(id: string, kind: 'stop' | 'followUp' | 'resume', prompt?: string) {
    const s = this.require(id);
    const repo = await this.repo(s.repoRoot);
    return { request: repo.mailbox.post(id, kind, this.self, prompt), mailbox: repo.mailbox };
  }

  /**
   * Switches an instance between background and terminal mode (Take Over / Hand Back); its next follow-up or
   * resume starts the agent in that mode. @throws GroveError Busy while the instance is active.
   */
  setMode(id: string, mode: AgentMode): void {
    const inst = this.requireInstance(id);
    if (isActive(inst.state)) throw new GroveError('Busy', `Stop "${inst.title}" before switching it to ${mode} mode.`);
    if (inst.snapshot.mode !== mode) inst.update({ mode });
  }

  /**
   * Before the host exits: background agents this process drives die with it, so they are recorded `interrupted`
   * (Resume after the restart); queued work too. Terminal agents are left alone: their terminals survive a window
   * reload and are re-attached. The registry is flushed.
   */
  async shutdown(reason = 'Grove was closed while the agent was working'): Promise<void> {
    this.dispatcher.interruptAll((s) => s.mode === 'background' || s.state === 'queued' || s.state === 'provisioning', reason);
    await this.flush();
  }

  /** See {@link Dispatcher.attach}. */
  attach(id: string, connect: (onEvent: (event: AgentEvent) => void) => AgentHandle): void {
    this.dispatcher.attach(id, connect);
  }

  /** Records that an instance's branch was merged (and whether its worktree is gone). */
  recordMerge(id: string, merge: MergeRecord, archived: boolean): void {
    this.requireInstance(id).update({ merge, archived });
  }

  /** Marks an instance archived (its worktree was removed) without forgetting its prompt, cost and result. */
  archive(id: string): void {
    const inst = this.requireInstance(id);
    if (isActive(inst.state)) throw new GroveError('Busy', `Stop "${inst.title}" before archiving it.`);
    inst.update({ archived: true });
  }

  /** Changes plain fields of an instance nobody else drives (error text, worktree path after a restore…). */
  patch(id: string, patch: Parameters<Instance['update']>[0]): void {
    const inst = this.requireInstance(id);
    if (!this.isDriving(id) && (isOwned(inst.state))) {
      throw new GroveError('Busy', `"${inst.title}" is driven by another Grove process.`);
    }
    inst.update(patch);
  }

  /**
   * Brings back the row of an instance forgotten earlier (Restore of its removed worktree): finished — an agent that
   * was at work comes back `stopped` — and driven by no process, written to its repository's registry.
   */
  async reinstate(s: InstanceSnapshot): Promise<InstanceSnapshot> {
    const have = this.dispatcher.get(s.id);
    if (have) return have.snapshot;
    const repo = await this.repo(s.repoRoot);
    const { driver: _driver, agent: _agent, waitReason: _waitReason, ...rest } = s;
    const record: InstanceSnapshot = { ...rest, state: isFinished(s.state) ? s.state : 'stopped', updatedAt: (this.options.now ?? Date.now)() };
    const inst = this.dispatcher.adopt(record);
    repo.upsert([inst.snapshot]);
    return inst.snapshot;
  }

  /** Stops (if this process drives it) and forgets an instance. Its worktree and branch are the caller's. */
  async remove(id: string): Promise<void> {
    await this.dispatcher.remove(id);
  }

  /**
   * Loads the registries of `repoRoots` (watching them and their request folders from now on) and applies the
   * ownership protocol: instances whose driver died become `interrupted`. Returns the instances of these
   * repositories. Never changes an instance a live process drives.
   */
  async recover(repoRoots: readonly string[]): Promise<InstanceSnapshot[]> {
    const result: InstanceSnapshot[] = [];
    for (const repoRoot of repoRoots) {
      const repo = await this.repo(repoRoot);
      for (const stored of await repo.registry.read()) {
        if (!this.dispatcher.get(stored.id)) this.dispatcher.adopt(stored);
      }
      await this.reconcile(repoRoot);
      result.push(...this.instances().filter((s) => s.repoRoot === repoRoot));
    }
    return result;
  }

  /** Applies the dead-driver rule to one repository now (also runs on every registry change and on a slow timer). */
  reconcile(repoRoot: string): Promise<number> {
    return this.peers.reconcile(repoRoot);
  }

  /** Stops an instance whose driver is dead but whose agent still runs (see {@link Peers.stopOrphan}). */
  stopOrphan(id: string): Promise<void> {
    return this.peers.stopOrphan(id);
  }

  /** Resolves when every change so far is on disk. */
  async flush(): Promise<void> {
    await Promise.all([...this.repos.values()].map((p) => p.then((r) => r.flush(), () => undefined)));
  }

  /** Resolves when nothing this process drives runs and no queued task can start. */
  whenSettled(): Promise<void> {
    return this.dispatcher.whenSettled();
  }

  override dispose(): void {
    super.dispose();
    for (const r of this.loaded.values()) r.dispose();
  }

  // -------------------------------------------------------------------------------------------------------------

  private require(id: string): InstanceSnapshot {
    const s = this.get(id);
    if (!s) throw new GroveError('NotFound', `No instance ${id}.`);
    return s;
  }

  private requireInstance(id: string): Instance {
    const inst = this.dispatcher.get(id);
    if (!inst) throw new GroveError('NotFound', `No instance ${id}.`);
    return inst;
  }

  private track(inst: Instance): void {
    const repoRoot = inst.snapshot.repoRoot;
    this.tracked.set(inst.id, inst.onDidChange((e) => {
      if (!e.external) void this.repo(repoRoot).then((r) => r.persist(e), () => undefined);
      this._onDidChangeInstances.fire({ changed: [e.snapshot], removed: [] });
      if (!e.external && e.snapshot.contextExhausted && e.snapshot.state === 'failed' && e.previousState !== 'failed') void this.maybeContinue(e.snapshot);
    }));
    this._onDidChangeInstances.fire({ changed: [inst.snapshot], removed: [] });
  }

  private repo(repoRoot: string): Promise<RepositoryStore> {
    let r = this.repos.get(repoRoot);
    if (!r) {
      r = this.ports.commonDir(repoRoot).then((commonDir) => {
        const store = new RepositoryStore(commonDir, this.logger, { registry: this.options.registry, activityWriteMs: this.options.activityWriteMs });
        store.registry.onDidReportCorruption((c) => this._onDidReportCorruption.fire(c));
        store.registry.onDidChange((contents) => this.peers.mirror(repoRoot, contents));
        store.mailbox.onDidPost((id) => this.peers.honourRequests(id));
        if (!this.isDisposed) store.watch();
        this.loaded.set(repoRoot, store);
        return store;
      });
      r.catch(() => this.repos.delete(repoRoot));
      this.repos.set(repoRoot, r);
    }
    return r;
  }

  private async maybeContinue(s: InstanceSnapshot): Promise<void> {
    try {
      const prompt = await this.options.autoContinue?.(s);
      const now = this.get(s.id);
      if (prompt && now?.state === 'failed' && now.contextExhausted) {
        this.logger.info(`"${s.title}": context exhausted; continuing in a fresh session`);
        this.dispatcher.continueFresh(s.id, prompt);
      }
    } catch (err) {
      this.logger.warn(`"${s.title}": could not continue in a fresh session: ${(err as Error).message}`);
    }
  }


}
