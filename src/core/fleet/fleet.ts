/**
 * The fleet: every instance of every repository this process knows, the operations on them, and their
 * persistence. The VS Code layer, the public API and a future CLI observe this one object.
 *
 * Every change of an instance is written to its repository's registry (coalesced, see {@link InstanceRegistry});
 * changes other windows write are mirrored in for instances this process does not drive.
 */
import fs from 'node:fs';
import type { AgentEvent, AgentMode, InstanceSnapshot, MergeRecord } from '../model';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { Dispatcher, type AgentHandle, type DispatcherOptions, type DispatcherPorts, type DispatchOptions, type TaskSpec } from './dispatcher';
import { isActive, type Instance } from './instance';
import { isProcessAlive } from '../platform/processes';
import { InstanceRegistry, type RegistryCorruption, type RegistryOptions } from './registry';

export interface FleetPorts extends DispatcherPorts {
  /** The git common dir of a repository (`git rev-parse --git-common-dir`, absolute), where its registry lives. */
  commonDir(repoRoot: string): Promise<string>;
}

export interface FleetOptions extends DispatcherOptions {
  registry?: RegistryOptions;
  /** Default `process.kill(pid, 0)`. */
  isProcessAlive?: (pid: number) => boolean;
  /** Default `fs.existsSync`. */
  pathExists?: (path: string) => boolean;
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
  private readonly registries = new Map<string, Promise<InstanceRegistry>>();
  private readonly logger: Logger;
  private readonly alive: (pid: number) => boolean;
  private readonly exists: (path: string) => boolean;
  /** Instances whose current change comes from recover() or a mirror: do not rewrite what we just read. */
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly ports: FleetPorts,
    private readonly options: FleetOptions = {},
  ) {
    super();
    this.logger = options.logger ?? nullLogger;
    this.alive = options.isProcessAlive ?? isProcessAlive;
    this.exists = options.pathExists ?? ((p) => fs.existsSync(p));
    this.dispatcher = this._register(new Dispatcher(ports, options));
    this._register(this.dispatcher.onDidAddInstance((inst) => this.track(inst)));
    this._register(
      this.dispatcher.onDidRemoveInstance((s) => {
        this.persist(s.repoRoot, (r) => r.remove([s.id]));
        this._onDidChangeInstances.fire({ changed: [], removed: [s.id] });
      }),
    );
  }

  get maxConcurrent(): number {
    return this.dispatcher.maxConcurrent;
  }

  set maxConcurrent(n: number) {
    this.dispatcher.maxConcurrent = n;
  }

  /** Plain serialisable snapshots of all instances, oldest first. */
  instances(): InstanceSnapshot[] {
    return this.dispatcher
      .list()
      .map((i) => i.snapshot)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  get(id: string): InstanceSnapshot | undefined {
    return this.dispatcher.get(id)?.snapshot;
  }

  /** Creates and queues one instance per task (see {@link Dispatcher.dispatch} for validation and ordering). */
  async dispatch(tasks: readonly TaskSpec[], options: DispatchOptions): Promise<InstanceSnapshot[]> {
    await this.registry(options.repoRoot);
    return this.dispatcher.dispatch(tasks, options).map((i) => i.snapshot);
  }

  stop(id: string): Promise<void> {
    return this.dispatcher.stop(id);
  }

  async followUp(id: string, prompt: string): Promise<void> {
    this.dispatcher.followUp(id, prompt);
  }

  async resume(id: string): Promise<void> {
    this.dispatcher.resume(id);
  }

  /**
   * Switches an instance between background and terminal mode (Take Over / Hand Back); its next follow-up or
   * resume starts the agent in that mode. @throws Error while the instance is active.
   */
  setMode(id: string, mode: AgentMode): void {
    const inst = this.dispatcher.get(id);
    if (!inst) throw new Error(`Grove: no instance ${id}`);
    if (isActive(inst.state)) throw new Error(`Grove: stop "${inst.title}" before switching it to ${mode} mode`);
    if (inst.snapshot.mode !== mode) inst.update({ mode });
  }

  /**
   * Before the host exits: background agents this process drives die with it, so they are recorded as
   * `interrupted` (Resume after the restart) rather than failed by their killing; the registry is flushed. Terminal
   * agents are left alone: their terminals survive a window reload and are re-attached.
   */
  async shutdown(): Promise<void> {
    this.dispatcher.interruptAll((s) => s.mode === 'background', 'Grove was closed while the agent was working');
    await this.flush();
  }

  /** See {@link Dispatcher.attach}. */
  attach(id: string, connect: (onEvent: (event: AgentEvent) => void) => AgentHandle): void {
    this.dispatcher.attach(id, connect);
  }

  /** Records that an instance's branch was merged (and whether its worktree is gone): kept, persisted, shown as archived. */
  recordMerge(id: string, merge: MergeRecord, archived: boolean): void {
    const inst = this.dispatcher.get(id);
    if (!inst) throw new Error(`Grove: no instance ${id}`);
    inst.update({ merge, archived });
  }

  /** Marks an instance archived (its worktree was removed) without forgetting its prompt, cost and result. */
  archive(id: string): void {
    const inst = this.dispatcher.get(id);
    if (!inst) throw new Error(`Grove: no instance ${id}`);
    if (isActive(inst.state)) throw new Error(`Grove: stop "${inst.title}" before archiving it`);
    inst.update({ archived: true });
  }

  /** Stops (if needed) and forgets an instance. Its worktree and branch are left alone (the caller removes them). */
  async remove(id: string): Promise<void> {
    await this.dispatcher.remove(id);
  }

  /**
   * Loads the registries of `repoRoots` and reconciles them with reality:
   * - an active or queued instance whose `pid` is no longer alive becomes `interrupted` (Resume offered), with
   *   everything else kept (prompt, session id, cost, branch…); one whose process lives (another window, or an
   *   agent that survived) keeps its state;
   * - an instance whose worktree folder is gone gets error `worktree missing` (and `interrupted` if it was active).
   * Returns the instances of these repositories.
   */
  async recover(repoRoots: readonly string[]): Promise<InstanceSnapshot[]> {
    const result: InstanceSnapshot[] = [];
    for (const repoRoot of repoRoots) {
      const registry = await this.registry(repoRoot);
      const changed: InstanceSnapshot[] = [];
      for (const stored of await registry.read()) {
        if (this.dispatcher.get(stored.id)) continue;
        const inst = this.dispatcher.adopt(stored);
        const s = inst.snapshot;
        const wasActive = isActive(s.state) || s.state === 'queued';
        const processAlive = s.pid !== undefined && this.alive(s.pid);
        const worktreeMissing = s.worktreePath !== '' && !this.exists(s.worktreePath);
        if (wasActive && (!processAlive || worktreeMissing)) {
          const why = worktreeMissing
            ? 'worktree missing'
            : s.state === 'queued'
              ? 'interrupted before it started'
              : s.state === 'provisioning'
                ? 'interrupted while its worktree was being created'
                : 'the agent process ended while Grove was not watching it';
          inst.transition('interrupted', { pid: undefined, error: why });
        } else if (worktreeMissing && s.error !== 'worktree missing') {
          inst.update({ error: 'worktree missing' });
        }
        if (inst.snapshot.updatedAt !== stored.updatedAt) changed.push(inst.snapshot);
      }
      if (changed.length) await registry.upsert(changed);
      result.push(...this.instances().filter((s) => s.repoRoot === repoRoot));
    }
    return result;
  }

  /** Resolves when every change so far is on disk. */
  async flush(): Promise<void> {
    while (this.writes.size) await Promise.allSettled([...this.writes]);
    for (const r of this.registries.values()) await (await r).flush().catch(() => undefined);
  }

  /** Resolves when nothing runs and no queued task can start. */
  whenSettled(): Promise<void> {
    return this.dispatcher.whenSettled();
  }

  override dispose(): void {
    super.dispose();
    for (const r of this.registries.values()) void r.then((reg) => reg.dispose());
  }

  // -------------------------------------------------------------------------------------------------------------

  private track(inst: Instance): void {
    const repoRoot = inst.snapshot.repoRoot;
    this._register(
      inst.onDidChange((e) => {
        if (!e.external) this.persist(repoRoot, (r) => r.upsert(e.snapshot));
        this._onDidChangeInstances.fire({ changed: [e.snapshot], removed: [] });
      }),
    );
    this._onDidChangeInstances.fire({ changed: [inst.snapshot], removed: [] });
  }

  private persist(repoRoot: string, write: (r: InstanceRegistry) => Promise<void>): void {
    const p = this.registry(repoRoot)
      .then(write)
      .catch((err: Error) => this.logger.error(`Grove: could not save instances of ${repoRoot}: ${err.message}`))
      .finally(() => this.writes.delete(p));
    this.writes.add(p);
  }

  private registry(repoRoot: string): Promise<InstanceRegistry> {
    let r = this.registries.get(repoRoot);
    if (!r) {
      r = this.ports.commonDir(repoRoot).then((dir) => {
        const reg = new InstanceRegistry(dir, { logger: this.logger, ...this.options.registry });
        reg.onDidReportCorruption((c) => this._onDidReportCorruption.fire(c));
        reg.onDidChange((all) => this.mirror(all));
        if (!this.isDisposed) reg.watch();
        return reg;
      });
      r.catch(() => this.registries.delete(repoRoot));
      this.registries.set(repoRoot, r);
    }
    return r;
  }

  /** Another window changed the registry: take over its newer snapshots of instances we do not drive. */
  private mirror(all: InstanceSnapshot[]): void {
    for (const s of all) {
      const inst = this.dispatcher.get(s.id);
      if (!inst) {
        this.dispatcher.adopt(s);
      } else if (!this.dispatcher.isDriving(s.id) && s.updatedAt > inst.snapshot.updatedAt) {
        inst.mirror(s);
      }
    }
  }
}
