/**
 * When the warm pool (git/worktreePool.ts) fills: only while no agent of the repository is queued, being dispatched or
 * working (a fill is a checkout of the whole tree: it would take disk and CPU from agents that are starting or working,
 * 8 agents of a 5,000-file repository were 10 % slower with it), and only on events — a spare was taken, a dispatch
 * created a worktree, the setting changed, the repository was opened, an instance changed state (the agents it waited
 * for are done or waiting). No timer: a full pool, or an idle fleet, costs nothing.
 *
 * One fill at a time for the whole process; a fill stops as soon as a dispatch needs the repository (the
 * WorktreeManager pauses it). A fill that fails (a setup command that fails) is not retried until the settings change
 * or the repository is reconciled again, so a broken setup command does not run in a loop.
 */
import type { WorktreePool, ReconcileResult } from '../git/worktreePool';
import type { InstanceSnapshot, InstanceState } from '../model';
import type { GroveSettings } from '../settings';
import { Disposable } from '../util/disposable';
import type { Event } from '../util/event';
import type { Logger } from '../util/logger';

export interface PoolKeeperOptions {
  pool: WorktreePool;
  settings(repoRoot: string): GroveSettings;
  /** False in an untrusted workspace: nothing is filled (a setup command would run); spares are still removed. */
  trusted(): boolean;
  instances(): InstanceSnapshot[];
  /** Fires when instances change (the fleet's onDidChangeInstances). */
  onDidChangeInstances: Event<unknown>;
  logger: Logger;
  /** Spares were created or removed (the VS Code layer refreshes the repository's rows). */
  onDidChangeSpares?(repoRoot: string): void;
}

const key = (repoRoot: string, base: string | undefined) => `${repoRoot}\n${base ?? ''}`;
/** States in which an agent of the repository is being dispatched or works: no fill meanwhile. */
const WORKING: ReadonlySet<InstanceState> = new Set(['queued', 'provisioning', 'starting', 'running']);

export class PoolKeeper extends Disposable {
  /** (repository, base) pairs whose pool may be short, in the order they were asked for. */
  private readonly wanted = new Map<string, { repoRoot: string; baseRef?: string }>();
  private running = false;

  constructor(private readonly o: PoolKeeperOptions) {
    super();
    this._register(o.onDidChangeInstances(() => this.kick()));
    this._register(Disposable.from(() => {
      this.wanted.clear();
      void o.pool.pause();
    }));
  }

  /** A dispatch used (or could have used) the pool of this repository and base: refill it once idle. */
  want(repoRoot: string, baseRef?: string): void {
    if (this.o.settings(repoRoot).worktreePool <= 0) return;
    this.wanted.set(key(repoRoot, baseRef), { repoRoot, baseRef });
    this.kick();
  }

  /**
   * The setting may have changed, or the repository was opened: at 0 every spare that holds no work is removed now;
   * above, the pool of the repository's current branch is filled once idle.
   */
  async reconcile(repoRoot: string): Promise<ReconcileResult | undefined> {
    if (this.o.settings(repoRoot).worktreePool > 0) {
      this.want(repoRoot);
      return undefined;
    }
    for (const [k, w] of this.wanted) if (w.repoRoot === repoRoot) this.wanted.delete(k);
    const result = await this.o.pool.reconcile({ repoRoot, size: 0 });
    this.report(repoRoot, result);
    return result;
  }

  private busy(repoRoot: string): boolean {
    return this.o.instances().some((i) => i.repoRoot === repoRoot && WORKING.has(i.state));
  }

  private kick(): void {
    if (this.running || !this.wanted.size || !this.o.trusted()) return;
    const next = [...this.wanted.entries()].find(([, w]) => !this.busy(w.repoRoot));
    if (!next) return; // an instance change fires once its agents are done or waiting
    const [k, w] = next;
    this.running = true;
    void this.fill(w.repoRoot, w.baseRef).then((result) => {
      // Paused by a dispatch: wanted still (its own want() or the next instance change brings it back).
      if (!result?.paused) this.wanted.delete(k);
    }, (err: Error) => {
      this.o.logger.warn(`the worktree pool of ${w.repoRoot} was not filled: ${err.message}`);
      this.wanted.delete(k);
    }).finally(() => {
      this.running = false;
      if (!this.isDisposed) this.kick();
    });
  }

  private async fill(repoRoot: string, baseRef: string | undefined): Promise<ReconcileResult | undefined> {
    const s = this.o.settings(repoRoot);
    if (s.worktreePool <= 0) return undefined;
    const result = await this.o.pool.reconcile({
      repoRoot, baseRef, size: s.worktreePool, worktreeRoot: s.worktreeRoot, copyFiles: s.copyFiles, setupCommand: s.setupCommand,
      onOutput: (chunk) => this.o.logger.info(`[spare setup] ${chunk.trimEnd()}`),
    });
    if (result.failed) this.o.logger.warn(`the worktree pool of ${repoRoot} stopped filling: ${result.failed}`);
    this.report(repoRoot, result);
    return result;
  }

  private report(repoRoot: string, r: ReconcileResult): void {
    for (const k of r.kept) this.o.logger.warn(`kept the spare worktree ${k.path}, which holds work:\n${k.reason}`);
    if (r.created.length || r.removed.length) this.o.onDidChangeSpares?.(repoRoot);
  }
}
