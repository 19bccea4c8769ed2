/**
 * Restorable by design (issue 13) — the one implementation behind VS Code's Recently Removed group and Restore,
 * `grove snapshots` / `grove restore <id>` and MCP `grove_snapshots` / `grove_restore`:
 * - {@link recordBeforeDestructive}: every flow that deletes or rewrites work (remove, even with force; delete a
 *   branch; abort a sync; cleanup after a merge) records a snapshot first, and refuses (changing nothing) when it
 *   cannot. A worktree snapshot holds HEAD, the branch and its config, the index, every tracked and untracked file
 *   and the ignored files worth keeping (those Remove lists, up to the engine's size limit, which each snapshot
 *   states); a branch snapshot holds the branch's tip and config.
 * - {@link listSnapshots}: the Recently Removed rows, newest first.
 * - {@link restoreSnapshot}: recreates the worktree (or branch) exactly; a worktree that still exists is restored
 *   in place, after its current state was itself recorded (the undo). A branch that moved since is never moved
 *   back: the person picks another name or a detached HEAD ({@link RestoreAsk}).
 * - {@link pruneSnapshots}: snapshots older than `snapshotRetentionDays` go (after each new snapshot).
 */
import fs from 'node:fs';
import { GroveError } from '../errors';
import { isGitError } from '../git/gitError';
import { listIgnoredWork, type IgnoredEntry } from '../git/ignoredFiles';
import type { BranchConflict, RestoreResult, SnapshotMeta } from '../git/snapshots';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';

export interface DestructiveStep {
  repoRoot: string;
  /** The worktree about to be removed or rewritten; when its folder is gone, `branch` is recorded instead. */
  worktreePath?: string;
  /** The branch about to be deleted (recorded on its own when there is no worktree to record). */
  branch?: string;
  /** 'remove', 'remove --force', 'delete branch', 'abort sync', 'cleanup after merge (squash)'… */
  reason: string;
  instance?: Pick<InstanceSnapshot, 'id' | 'title'>;
  /** The agent the step forgets (Remove): kept with the snapshot, so Restore brings its row back. */
  forgets?: InstanceSnapshot;
  signal?: AbortSignal;
}

/**
 * Records what a destructive step is about to delete. Throws GroveError `Failed` when it cannot: the caller then
 * changes nothing. Returns undefined when there is nothing left to record (no worktree folder, no branch).
 */
export async function recordBeforeDestructive(g: Grove, step: DestructiveStep): Promise<SnapshotMeta | undefined> {
  const who = step.instance ? { instanceId: step.instance.id, title: step.instance.title } : {};
  let meta: SnapshotMeta | undefined;
  try {
    if (step.worktreePath && fs.existsSync(step.worktreePath)) {
      const ignored = await ignoredWorthKeeping(g, step.repoRoot, step.worktreePath, step.signal);
      meta = await g.snapshots.snapshotWorktree(step.worktreePath, { reason: step.reason, ignored, signal: step.signal, ...who, ...(step.forgets ? { record: { ...step.forgets } } : {}) });
    } else if (step.branch) {
      meta = await g.snapshots.snapshotBranch(step.repoRoot, step.branch, { reason: step.reason, signal: step.signal, ...who });
    }
  } catch (err) {
    if (isGitError(err, 'Cancelled')) throw err;
    // The branch is gone already: nothing left to lose.
    if (isGitError(err, 'NotFound') && !(step.worktreePath && fs.existsSync(step.worktreePath))) return undefined;
    const what = step.instance ? `"${step.instance.title}"` : step.worktreePath ?? step.branch ?? 'it';
    throw new GroveError('Failed', `Could not record a snapshot of ${what} before "${step.reason}", so it was not done: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
  }
  if (meta) {
    await pruneSnapshots(g, step.repoRoot).catch((err: Error) => g.logger.warn(`snapshots: pruning failed: ${err.message}`));
  }
  return meta;
}

/** The snapshots of these repositories (each repository once), newest first: the Recently Removed rows. */
export async function listSnapshots(g: Grove, repoRoots: readonly string[], o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta[]> {
  const seen = new Set<string>();
  const out: SnapshotMeta[] = [];
  for (const root of repoRoots) {
    const dir = await g.commonDir(root).catch(() => undefined);
    if (!dir || seen.has(dir)) continue;
    seen.add(dir);
    out.push(...(await g.snapshots.list(root, o)));
  }
  return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
}

/** One snapshot by id among these repositories' (NotFound when none has it). */
export async function findSnapshot(g: Grove, repoRoots: readonly string[], id: string): Promise<SnapshotMeta> {
  // A checkpoint (`<instance>/<turn>`, `<instance>/undo-…`) is restorable too, by its full id.
  if (id.includes('/')) {
    for (const root of repoRoots) {
      const meta = await g.snapshots.get(root, id).catch(() => undefined);
      if (meta) return meta;
    }
  }
  const all = await listSnapshots(g, repoRoots);
  const meta = all.find((m) => m.id === id);
  if (!meta) throw new GroveError('NotFound', `There is no snapshot ${id}${all.length ? ` (${all.length} kept: grove snapshots lists them)` : ''}.`);
  return meta;
}

export interface RestoreRequest {
  repoRoot: string;
  id: string;
  /** Restore on this branch (a new one at the recorded commit) instead of the recorded one. */
  branchName?: string;
  /** Restore with a detached HEAD at the recorded commit. */
  detach?: boolean;
  /** Recreate the worktree here instead of at its recorded path. */
  path?: string;
  signal?: AbortSignal;
}

export interface RestoreAsk {
  /**
   * The recorded branch exists at another commit (Grove never moves it): another branch name, a detached HEAD,
   * or undefined to cancel. Absent: refuse, saying how to choose.
   */
  onBranchConflict?(conflict: BranchConflict, meta: SnapshotMeta): Promise<{ branchName: string } | { detach: true } | undefined>;
}

export interface RestoreOutcome extends RestoreResult {
  cancelled?: boolean;
  snapshot: SnapshotMeta;
  /** The agent Remove forgot, back in the fleet (finished, driven by no one) on the restored worktree. */
  instance?: InstanceSnapshot;
}

/** Restores a snapshot exactly (see the file comment). */
export async function restoreSnapshot(g: Grove, req: RestoreRequest, ask: RestoreAsk = {}): Promise<RestoreOutcome> {
  const snapshot = await findSnapshot(g, [req.repoRoot], req.id);
  let choice: { branchName?: string; detach?: boolean } = { ...(req.branchName ? { branchName: req.branchName } : {}), ...(req.detach ? { detach: true } : {}) };
  for (;;) {
    try {
      // An in-place restore first records the current state; its ignored files worth keeping go into that undo.
      const live = !req.path && snapshot.worktreePath && fs.existsSync(snapshot.worktreePath) ? snapshot.worktreePath : undefined;
      const ignored = live ? await ignoredWorthKeeping(g, req.repoRoot, live, req.signal).catch(() => undefined) : undefined;
      const r = await g.snapshots.restore(req.repoRoot, req.id, { ...choice, ...(req.path ? { path: req.path } : {}), ...(ignored ? { ignored } : {}), signal: req.signal });
      const instance = await reinstate(g, snapshot, r);
      return { ...r, snapshot, ...(instance ? { instance } : {}) };
    } catch (err) {
      if (isGitError(err, 'BranchExists')) {
        const conflict = err.details as BranchConflict;
        const answer = ask.onBranchConflict ? await ask.onBranchConflict(conflict, snapshot) : undefined;
        if (answer) {
          choice = answer;
          continue;
        }
        if (ask.onBranchConflict) return { cancelled: true, inPlace: false, notes: [], snapshot };
        throw new GroveError('Blocked', `${err.message} (CLI: --branch <name> or --detach; MCP: branchName or detach)`, conflict, { cause: err });
      }
      if (isGitError(err, 'NotFound')) throw new GroveError('NotFound', err.message, undefined, { cause: err });
      if (isGitError(err)) throw new GroveError('Failed', `Restoring ${req.id} failed: ${err.message}`, err.details, { cause: err });
      throw err;
    }
  }
}

/** Deletes the repository's snapshots older than `snapshotRetentionDays` (and checkpoints of instances Grove no longer has). */
export async function pruneSnapshots(g: Grove, repoRoot: string): Promise<string[]> {
  const days = g.settings(repoRoot).snapshotRetentionDays;
  const live = g.fleet.instances().map((i) => i.id);
  return g.snapshots.prune(repoRoot, { olderThanDays: days, checkpoints: 'ended', liveInstanceIds: live });
}

/** A short line for a snapshot row: what it was, why, when. Pure. */
export function describeSnapshot(m: SnapshotMeta, now = Date.now()): { label: string; detail: string } {
  const what = m.title ?? m.branch ?? m.worktreePath ?? m.id;
  const parts = [m.reason, ago(now - m.createdAt)];
  if (m.kind === 'worktree') {
    const c = m.counts;
    const files = c.changed + c.untracked + c.deleted + c.ignoredFiles;
    if (files) parts.push(`${files} changed or untracked file${files === 1 ? '' : 's'} kept`);
  }
  if (m.ignoredSkipped.length) parts.push(`not kept: ${m.ignoredSkipped.map((s) => s.path).join(', ')}`);
  return { label: what, detail: parts.join(' · ') };
}

function ago(ms: number): string {
  const min = Math.max(0, Math.round(ms / 60_000));
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

/** The ignored files Remove lists as worth keeping (not regenerable; `copyFiles` always). */
async function ignoredWorthKeeping(g: Grove, repoRoot: string, worktreePath: string, signal?: AbortSignal): Promise<IgnoredEntry[]> {
  const entries = await listIgnoredWork(g.git, worktreePath, { copyPatterns: g.settings(repoRoot).copyFiles, ...(signal ? { signal } : {}) });
  return entries.filter((e) => !e.repository);
}

/**
 * The agent Remove forgot comes back with its worktree: its row, prompt, session (Follow Up resumes it) and turns
 * (Fleet.reinstate drops who drove it). Not when the fleet has it again, or still.
 */
async function reinstate(g: Grove, snapshot: SnapshotMeta, r: RestoreResult): Promise<InstanceSnapshot | undefined> {
  const rec = snapshot.record as Partial<InstanceSnapshot> | undefined;
  if (!rec || typeof rec.id !== 'string' || !r.worktreePath || g.fleet.get(rec.id)) return undefined;
  try {
    return await g.fleet.reinstate({ ...(rec as InstanceSnapshot), worktreePath: r.worktreePath, ...(r.branch ? { branch: r.branch } : {}) });
  } catch (err) {
    g.logger.warn(`restore: the agent "${rec.title ?? rec.id}" could not be brought back: ${(err as Error).message}`);
    return undefined;
  }
}
