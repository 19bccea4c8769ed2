/**
 * This process's side of the ownership protocol (see ownership.ts): it mirrors what other Grove processes write,
 * honours the requests they send for instances this process drives, and records the instances of dead drivers as
 * `interrupted` — checked on every registry change and on a slow timer that runs only while some instance another
 * process drives is active.
 */
import fs from 'node:fs';
import { GroveError } from '../errors';
import type { InstanceSnapshot } from '../model';
import { liveness, type ProcessIdentity, type ProcessProbe } from '../platform/processes';
import { Disposable } from '../util/disposable';
import type { Logger } from '../util/logger';
import type { Dispatcher } from './dispatcher';
import { isFinished, isOwned } from './instance';
import { findOrphans } from './ownership';
import type { RegistryContents } from './registry';
import type { RepositoryStore } from './repositoryStore';

export interface PeersHost {
  dispatcher: Dispatcher;
  instances(): InstanceSnapshot[];
  store(repoRoot: string): RepositoryStore | undefined;
  stores(): string[];
  /** Another process removed it: forget it here and tell the observers. */
  forget(id: string): void;
  flush(): Promise<void>;
}

export interface PeersOptions {
  probe: ProcessProbe;
  logger: Logger;
  endOrphanAgent?: (agent: ProcessIdentity) => Promise<void>;
  orphanCheckMs?: number;
}

export class Peers extends Disposable {
  private timer?: NodeJS.Timeout;

  constructor(private readonly host: PeersHost, private readonly options: PeersOptions) {
    super();
    this._register(Disposable.from(() => clearInterval(this.timer)));
  }

  /** Applies the dead-driver rule to one repository now. Returns how many instances it recorded interrupted. */
  async reconcile(repoRoot: string): Promise<number> {
    const { dispatcher, logger } = { dispatcher: this.host.dispatcher, logger: this.options.logger };
    const orphans = findOrphans(this.host.instances().filter((s) => s.repoRoot === repoRoot), (id) => dispatcher.isDriving(id), this.options.probe);
    for (const o of orphans) {
      const inst = dispatcher.get(o.instance.id);
      if (!inst || !isOwned(inst.state)) continue;
      logger.info(`"${inst.title}": ${o.why}; recorded as interrupted`);
      const agent = inst.snapshot.agent;
      inst.transition('interrupted', { error: o.why });
      if (o.endAgent && agent && this.options.endOrphanAgent) {
        await this.options.endOrphanAgent(agent).catch((err: Error) => logger.warn(`ending the agent of "${inst.title}" (pid ${agent.pid}): ${err.message}`));
      }
    }
    // A finished instance whose worktree folder was deleted by hand says so (nobody owns a finished instance).
    for (const s of this.host.instances()) {
      if (s.repoRoot !== repoRoot || !isFinished(s.state) || s.archived || !s.worktreePath || s.error?.includes('worktree missing')) continue;
      if (!fs.existsSync(s.worktreePath)) dispatcher.get(s.id)?.update({ error: s.error ? `${s.error}; worktree missing` : 'worktree missing' });
    }
    this.armTimer();
    return orphans.length;
  }

  /**
   * Stops an instance whose driver is dead but whose agent still runs (a terminal session whose window went away):
   * its agent process is ended (only the very process recorded) and the instance recorded `stopped`.
   */
  async stopOrphan(id: string): Promise<void> {
    const inst = this.host.dispatcher.get(id);
    if (!inst) throw new GroveError('NotFound', `No instance ${id}.`);
    const s = inst.snapshot;
    if (this.host.dispatcher.isDriving(id) || !isOwned(s.state)) return;
    if (s.driver && liveness(s.driver, this.options.probe) !== 'dead') throw new GroveError('Busy', `"${s.title}" is driven by a live process.`);
    if (s.agent && this.options.endOrphanAgent) await this.options.endOrphanAgent(s.agent);
    if (isOwned(inst.state)) inst.transition('stopped');
  }

  /** Another process changed the registry: take its newer snapshots of instances we do not drive, and its removals. */
  mirror(repoRoot: string, contents: RegistryContents): void {
    const d = this.host.dispatcher;
    for (const s of contents.instances) {
      const inst = d.get(s.id);
      if (!inst) d.adopt(s);
      else if (!d.isDriving(s.id) && s.updatedAt > inst.snapshot.updatedAt) inst.mirror(s);
    }
    for (const id of contents.removed) {
      if (d.get(id) && !d.isDriving(id)) {
        d.forget(id);
        this.host.forget(id);
      }
    }
    void this.reconcile(repoRoot);
  }

  /** Stop, follow-up and resume requests another process posted for an instance this process drives. */
  honourRequests(id: string): void {
    const d = this.host.dispatcher;
    if (!d.isDriving(id)) return;
    const s = d.get(id)?.snapshot;
    const store = s && this.host.store(s.repoRoot);
    if (!store) return;
    for (const req of store.mailbox.take(id)) {
      this.options.logger.info(`"${s.title}": ${req.kind} requested by pid ${req.from.pid}`);
      if (req.kind === 'stop') void d.stop(id).then(() => this.host.flush());
      else if (req.kind === 'resume') {
        if (d.get(id)?.state === 'paused') d.resume(id);
      } else if (req.prompt?.trim()) {
        try {
          d.followUp(id, req.prompt);
        } catch (err) {
          this.options.logger.warn(`follow-up request for "${s.title}": ${(err as Error).message}`);
        }
      }
    }
  }

  /** Right before a queued instance starts: a stop request waiting for it wins. */
  takeStopRequest(s: InstanceSnapshot): boolean {
    const store = this.host.store(s.repoRoot);
    if (!store) return false;
    if (!store.mailbox.peek(s.id).some((q) => q.kind === 'stop')) return false;
    store.mailbox.take(s.id);
    return true;
  }

  /** A slow check of foreign drivers, armed only while some mirrored instance is owned by another process. */
  private armTimer(): void {
    const foreign = this.host.instances().some((s) => isOwned(s.state) && !this.host.dispatcher.isDriving(s.id));
    if (!foreign) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer || this.isDisposed) return;
    this.timer = setInterval(() => {
      for (const root of this.host.stores()) void this.reconcile(root);
    }, this.options.orphanCheckMs ?? 5000);
    this.timer.unref?.();
  }
}
