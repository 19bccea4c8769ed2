/**
 * One repository's shared state on disk, as this process sees it: the registry (instances), the request mailbox
 * (ownership protocol), and this process's pending writes — state changes written at once, activity-only changes
 * (last activity, token counts) coalesced to at most one write per interval.
 */
import type { InstanceSnapshot } from '../model';
import { groveDir } from '../paths';
import { Disposable } from '../util/disposable';
import type { Logger } from '../util/logger';
import type { InstanceChange } from './instance';
import { RequestMailbox } from './ownership';
import { InstanceRegistry, type RegistryOptions } from './registry';

/** Fields whose change alone does not make a write urgent. */
const ACTIVITY_FIELDS = new Set(['lastActivity', 'updatedAt', 'inputTokens', 'outputTokens', 'costUsd', 'turns']);

export function isActivityOnly(change: InstanceChange): boolean {
  return change.previousState === change.snapshot.state && change.changedKeys.every((k) => ACTIVITY_FIELDS.has(k));
}

export class RepositoryStore extends Disposable {
  readonly registry: InstanceRegistry;
  readonly mailbox: RequestMailbox;
  private readonly lazy = new Map<string, InstanceSnapshot>();
  private lazyTimer?: NodeJS.Timeout;
  private readonly writes = new Set<Promise<void>>();

  constructor(
    commonDir: string,
    private readonly logger: Logger,
    private readonly options: { registry?: RegistryOptions; activityWriteMs?: number } = {},
  ) {
    super();
    this.registry = this._register(new InstanceRegistry(commonDir, { logger, ...options.registry }));
    this.mailbox = this._register(new RequestMailbox(groveDir(commonDir), { logger }));
    this._register(Disposable.from(() => clearTimeout(this.lazyTimer)));
  }

  /** Starts watching the registry and the mailbox for other processes' changes. */
  watch(): void {
    this.registry.watch();
    this.mailbox.watch();
  }

  /** Writes a change this process made: at once, or within the activity interval for activity-only changes. */
  persist(change: InstanceChange): void {
    if (isActivityOnly(change)) {
      this.lazy.set(change.snapshot.id, change.snapshot);
      this.lazyTimer ??= setTimeout(() => {
        this.lazyTimer = undefined;
        this.writeLazy();
      }, this.options.activityWriteMs ?? 1000);
      return;
    }
    this.lazy.delete(change.snapshot.id);
    this.write(() => this.registry.upsert(change.snapshot));
  }

  upsert(snapshots: InstanceSnapshot[]): void {
    for (const s of snapshots) this.lazy.delete(s.id);
    this.write(() => this.registry.upsert(snapshots));
  }

  remove(id: string): void {
    this.lazy.delete(id);
    this.write(() => this.registry.remove([id]));
  }

  /** Resolves when every change handed in so far is on disk. */
  async flush(): Promise<void> {
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    this.writeLazy();
    while (this.writes.size) await Promise.allSettled([...this.writes]);
    await this.registry.flush().catch(() => undefined);
  }

  private writeLazy(): void {
    if (!this.lazy.size) return;
    const batch = [...this.lazy.values()];
    this.lazy.clear();
    this.write(() => this.registry.upsert(batch));
  }

  private write(fn: () => Promise<void>): void {
    const p = fn()
      .catch((err: Error) => this.logger.error(`could not save the instances of ${this.registry.file}: ${err.message}`))
      .finally(() => this.writes.delete(p));
    this.writes.add(p);
  }
}
