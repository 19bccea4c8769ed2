import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { listChanges, type ChangeSet } from '../../core/git/changes';
import type { GitClient } from '../../core/git/gitClient';
import type { MergeService, SyncState } from '../../core/git/mergeService';
import type { Fleet } from '../../core/fleet/fleet';
import type { InstanceSnapshot } from '../../core/model';
import { Disposable } from '../../core/util/disposable';
import { Emitter } from '../../core/util/event';
import type { Logger } from '../../core/util/logger';
import type { WorkspaceRepositories } from '../repositories';

export interface InstanceReview {
  changes?: ChangeSet;
  sync: SyncState;
}

/**
 * What each instance changed (against the merge-base with its base, uncommitted and untracked work included) and
 * whether a sync is in progress with conflicts. Recomputed when the repositories model refreshes — itself driven by
 * file events in the worktrees — never on a timer.
 */
export class ReviewModel extends Disposable {
  private readonly _onDidChange = this._register(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;
  private readonly cache = new Map<string, InstanceReview>();
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly git: GitClient,
    private readonly merges: MergeService,
    private readonly fleet: Fleet,
    repos: WorkspaceRepositories,
    private readonly log: Logger,
  ) {
    super();
    this._register(repos.onDidChange(() => void this.refresh()));
  }

  get(instanceId: string): InstanceReview | undefined {
    return this.cache.get(instanceId);
  }

  /** Recomputes every instance that has a worktree; coalesces overlapping calls. */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.compute();
      } while (this.again);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Recomputes one instance now (after a sync or merge). */
  async refreshOne(inst: InstanceSnapshot): Promise<InstanceReview | undefined> {
    const r = await this.computeOne(inst);
    if (r) this.cache.set(inst.id, r);
    else this.cache.delete(inst.id);
    this._onDidChange.fire();
    return r;
  }

  private async compute(): Promise<void> {
    const live = this.fleet.instances().filter((i) => i.worktreePath && !i.archived);
    const ids = new Set(live.map((i) => i.id));
    for (const id of [...this.cache.keys()]) if (!ids.has(id)) this.cache.delete(id);
    await Promise.all(live.map(async (inst) => {
      const r = await this.computeOne(inst);
      if (r) this.cache.set(inst.id, r);
      else this.cache.delete(inst.id);
    }));
    this._onDidChange.fire();
  }

  private async computeOne(inst: InstanceSnapshot): Promise<InstanceReview | undefined> {
    if (!inst.worktreePath || !fs.existsSync(inst.worktreePath) || !inst.baseRef) return undefined;
    try {
      const sync = await this.merges.syncState(inst.worktreePath);
      const changes = await listChanges(this.git, { worktreePath: inst.worktreePath, baseRef: inst.baseRef, baseCommit: inst.baseCommit || undefined });
      return { changes, sync };
    } catch (err) {
      this.log.warn(`review of "${inst.title}": ${(err as Error).message}`);
      return undefined;
    }
  }
}

export function changeUri(worktreePath: string, relPath: string): vscode.Uri {
  return vscode.Uri.joinPath(vscode.Uri.file(worktreePath), ...relPath.split('/'));
}
