import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { listChanges, type ChangeSet } from '../../core/git/changes';
import type { GitClient } from '../../core/git/gitClient';
import type { MergeService, SyncState } from '../../core/git/mergeService';
import type { Fleet } from '../../core/fleet/fleet';
import type { InstanceSnapshot } from '../../core/model';
import { Disposable } from '../../core/util/disposable';
import { Emitter } from '../../core/util/event';
import { pathKey } from '../../core/util/fsPaths';
import type { Logger } from '../../core/util/logger';
import type { RepositoriesChange, WorkspaceRepositories } from '../repositories';

export interface InstanceReview {
  /** The changed files; only for instances someone looks at (expanded in the view, or reviewed). */
  changes?: ChangeSet;
  sync: SyncState;
}

/**
 * What each instance changed (against the merge-base with its base, uncommitted and untracked work included) and
 * whether a sync is in progress with conflicts. An instance's facts are recomputed only when its worktree or its
 * repository's refs changed, and only while someone looks: the view is visible (the sync state, no git process
 * unless a sync is under way) and the instance is expanded (its changed files). Never on a timer.
 */
export class ReviewModel extends Disposable {
  private readonly _onDidChange = this._register(new Emitter<readonly string[]>());
  /** The ids of the instances whose facts changed. */
  readonly onDidChange = this._onDidChange.event;
  private readonly cache = new Map<string, InstanceReview>();
  /** Instances whose facts may be out of date. */
  private readonly stale = new Set<string>();
  /** Instances whose changed files are wanted (expanded in the view). */
  private readonly watched = new Set<string>();
  private readonly computing = new Map<string, Promise<InstanceReview | undefined>>();
  private visible = false;
  private flushing?: Promise<void>;
  private again = false;

  constructor(
    private readonly git: GitClient,
    private readonly merges: MergeService,
    private readonly fleet: Fleet,
    repos: WorkspaceRepositories,
    private readonly log: Logger,
  ) {
    super();
    this._register(repos.onDidChange((c) => this.invalidate(c)));
    const placement = new Map<string, string>();
    this._register(fleet.onDidChangeInstances((c) => {
      for (const id of c.removed) (this.cache.delete(id), this.stale.delete(id), this.watched.delete(id), placement.delete(id));
      for (const s of c.changed) {
        // A new worktree or base (dispatch, resume elsewhere, a sync that moved the base) makes the facts stale.
        const key = `${s.worktreePath}\0${s.baseRef}\0${s.baseCommit}\0${s.archived ?? ''}`;
        if (placement.get(s.id) !== key) (placement.set(s.id, key), this.stale.add(s.id));
      }
      if (this.visible) void this.flush();
    }));
  }

  get(instanceId: string): InstanceReview | undefined {
    return this.cache.get(instanceId);
  }

  /** The view became visible or hidden: while hidden nothing is computed. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) void this.flush();
  }

  /** Whether the instance's changed files are wanted (its row is expanded). */
  watch(instanceId: string, wanted: boolean): void {
    if (wanted) this.watched.add(instanceId);
    else this.watched.delete(instanceId);
  }

  /** The instance's facts with its changed files, computed now unless they are current. */
  async ensure(instanceId: string): Promise<InstanceReview | undefined> {
    this.watched.add(instanceId);
    const have = this.cache.get(instanceId);
    if (have?.changes && !this.stale.has(instanceId)) return have;
    const inst = this.fleet.get(instanceId);
    return inst ? this.compute(inst) : undefined;
  }

  /** Recomputes one instance now (after a sync or merge, or for a review), with its changed files. */
  async refreshOne(inst: InstanceSnapshot): Promise<InstanceReview | undefined> {
    // Reviewed, synced or merged: someone looks at its changed files from now on.
    this.watched.add(inst.id);
    this.stale.add(inst.id);
    return this.compute(inst);
  }

  private invalidate(change: RepositoriesChange): void {
    const keys = change.worktrees ? new Set(change.worktrees.map((p) => pathKey(p))) : undefined;
    for (const i of this.fleet.instances()) {
      if (!i.worktreePath) continue;
      if (keys ? keys.has(pathKey(i.worktreePath)) : !change.root || pathKey(i.repoRoot) === pathKey(change.root)) this.stale.add(i.id);
    }
    if (this.visible) void this.flush();
  }

  /** Recomputes the stale instances (changed files only for the watched ones); coalesces overlapping calls. */
  private flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.again = false;
        const due = this.fleet.instances().filter((i) => this.stale.has(i.id));
        await Promise.all(due.map((i) => this.compute(i)));
      } while (this.again && this.visible);
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private compute(inst: InstanceSnapshot): Promise<InstanceReview | undefined> {
    const running = this.computing.get(inst.id);
    if (running) return running.then(() => (this.stale.has(inst.id) ? this.compute(inst) : this.cache.get(inst.id)));
    this.stale.delete(inst.id);
    const p = this.computeOne(inst, this.watched.has(inst.id)).then((r) => {
      const before = JSON.stringify(this.cache.get(inst.id));
      if (r) this.cache.set(inst.id, r);
      else this.cache.delete(inst.id);
      if (JSON.stringify(r) !== before) this._onDidChange.fire([inst.id]);
      return r;
    }).finally(() => this.computing.delete(inst.id));
    this.computing.set(inst.id, p);
    return p;
  }

  private async computeOne(inst: InstanceSnapshot, withChanges: boolean): Promise<InstanceReview | undefined> {
    if (!inst.worktreePath || inst.archived || !fs.existsSync(inst.worktreePath) || !inst.baseRef) return undefined;
    try {
      const sync = await this.merges.syncState(inst.worktreePath);
      // A collapsed instance's file list is not kept once its worktree changed: it is read again on expand.
      if (!withChanges) return { sync };
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
