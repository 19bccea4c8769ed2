/**
 * Restorable by design (issue 13): before a destructive step Grove records the full state of a worktree (or a
 * branch) as a commit under `refs/grove/snapshots/<id>`; at each agent turn it records a checkpoint under
 * `refs/grove/checkpoints/<instanceId>/<turn>`. Restore recreates exactly what was recorded.
 *
 * What a worktree snapshot holds (one commit, its tree laid out as):
 *   files/          the worktree as on disk: every tracked and untracked (not ignored) file, plus the listed ignored
 *                   files up to the size limit; content as `git add` would store it (so diffs between checkpoints
 *                   and against commits look like git's own)
 *   raw/            the exact bytes of changed/untracked/ignored files whose on-disk bytes differ from `files/`
 *                   (only with line-ending conversion or clean filters, e.g. `core.autocrlf`, LFS)
 *   index/          the index's stage-0 entries as a tree (a staged change that differs from the file is here)
 *   stages/1..3/    the three sides of a conflict
 *   git/index       the raw index file, byte for byte, only when a tree cannot say it all: conflict stages,
 *                   intent-to-add, skip-worktree or assume-unchanged bits
 *   git/state/…     MERGE_HEAD, MERGE_MSG, rebase-merge/…, rebase-apply/…, sequencer/…, CHERRY_PICK_HEAD,
 *                   REVERT_HEAD, AUTO_MERGE, ORIG_HEAD, …, Grove's grove.json and config.worktree
 *   meta.json       {@link SnapshotMeta} (also the commit message body, so listing is one `for-each-ref`)
 *   restore.json    what restore needs besides the trees (changed/deleted paths, permissions, branch config)
 * Its parents are the recorded HEAD, the recorded branch tips and every commit an in-progress merge/rebase/
 * cherry-pick names (MERGE_HEAD, onto, orig-head, autostash…), so `git gc` keeps them while the ref exists.
 * Ignored and staged blobs are kept by the tree. Identical content is stored once by git, so a snapshot of a
 * 5,000-file worktree with 20 changed files adds the 20 blobs, the trees on their paths and one commit (about
 * 32 KiB, 60 loose objects: docs/benchmarks.md). `files/` and `index/` are added to the root tree directly
 * (its one level is written by us), never read into an index.
 *
 * Decisions:
 * - Capture touches nothing the user sees: it works on private copies of the index (`GIT_INDEX_FILE`) and only
 *   writes objects and one ref. Changed files are hashed twice (`hash-object` with and without filters); clean
 *   tracked files are not read at all (their index blob is reused).
 * - Restore writes clean tracked files with `checkout-index` (git's own conversion, exactly as they were checked
 *   out) and every changed, untracked or ignored file with its exact recorded bytes, permission bits included
 *   (`.env.local` at 0600 stays 0600; POSIX only — Windows has no such bits): through one `checkout-index` from a
 *   private index when no attribute or `core.autocrlf` would convert them, else one by one with `unpack-file`.
 * - Snapshots are consistent per file, not atomic across files (like `git stash`): take them while no agent writes.
 * - Restore of a snapshot whose worktree still exists at its path (abort sync, rebase, cleanup after merge)
 *   restores it in place, after recording the current state as a new snapshot (returned as `undoId`). Otherwise it
 *   recreates the worktree at its old path, or at a free sibling (`<path>-restored`, `-restored-2`…; the result says
 *   so) when that path is occupied.
 * - Branches: a missing branch is recreated at the recorded tip (with its `branch.<name>.*` config: upstream,
 *   Grove's base). A branch that exists at the recorded commit is reused. A branch that exists at another commit is
 *   never moved: restore refuses with GitError `BranchExists` (details: {@link BranchConflict}) unless asked to
 *   restore under another name (`branchName`) or detached (`detach`). The only branch ever moved is the one the
 *   worktree being reverted in place has checked out (an explicit revert of that worktree; the undo keeps its tip).
 * - Every step that changes refs, the index or files runs under the repository's mutation queue (`exclusive`, or
 *   the caller's `locked` when it already holds it). No shell; user text (titles) travels in files and blobs,
 *   never in arguments. A failed snapshot leaves no ref (only unreachable objects `gc` removes); a failed
 *   recreation removes the worktree and branch it created; a failed in-place restore puts the recorded
 *   current state back.
 * - Size limit: ignored entries are stored in the order given until their total would pass `sizeLimitBytes`
 *   (default 50 MiB); the rest is listed in `ignoredSkipped` with its size, so a surface can say
 *   "node_modules (312 MB) was not kept". Tracked and untracked (not ignored) files are always stored.
 * - Retention: `prune` removes snapshots older than N days by their recorded `createdAt`. Checkpoints are kept
 *   unless asked (`checkpoints: 'ended'` with the live instance ids, or `'all'`); an instance's checkpoints are
 *   pruned all together, when the newest of them is older than N days and the instance is not live.
 * - Checkpoints: `<instanceId>/<turn>` is the state at the end of turn `turn` (turn 0: before the first prompt),
 *   `<instanceId>/<turn>-start` the optional state at its start (when the user may have edited between turns),
 *   `<instanceId>/undo-<stamp>` the state a revert replaced. Nothing is ever committed on the agent's branch.
 * - In-place restores (revertTo, restore over a live worktree) touch only the paths that differ, so unchanged files
 *   keep their timestamps (no rebuild storm) and the index keeps its stat data. Ignored files are deleted only when
 *   the target listed ignored files (`ignoredListed`) and did not skip them for size: a `.env.local` an agent
 *   created goes, a `node_modules/` nobody listed is never touched. A path that is a folder now but a file in the
 *   target is refused (GitError `DirtyWorkTree`) rather than deleted with whatever is inside.
 *
 * Not captured (listed in `notes`): submodule checkouts (their commit is in the index), nested repositories,
 * empty folders (git has no notion of them), owner/group and timestamps. Skip-worktree (sparse) files are
 * recorded from the index. File names that are not valid UTF-8 are not supported (GitClient decodes output as
 * UTF-8). With `core.splitIndex`, a snapshot that needs the raw index file (conflicts, index bits) may not be
 * restorable after its worktree is gone (the shared part lives in the worktree's git dir).
 *
 * Modules: snapshotTypes (meta, options, constants), snapshotCapture (recording), snapshotRestore (recreating what
 * is gone), snapshotInPlace (restoring over a live worktree), snapshotFiles (writing files and git-dir state),
 * snapshotRepo (repository facts), snapshotUtil (helpers). This class is the one entry point.
 */
import { randomBytes } from 'node:crypto';
import { Emitter, type Event } from '../util/event';
import { nullLogger } from '../util/logger';
import { parseNameStatus, parseNumstat, type ChangedFile } from './changes';
import type { GitClient } from './gitClient';
import { GitError } from './gitError';
import type { IgnoredEntry } from './ignoredFiles';
import { normalizePath } from './provisioner';
import { capture, commitSnapshot } from './snapshotCapture';
import { applyInPlace } from './snapshotInPlace';
import { branchConfig, emptyTree, findWorktree, readMetas, rebasingIn, revParse } from './snapshotRepo';
import { readTarget, recreate, restoreBranch } from './snapshotRestore';
import {
  CHECKPOINT_REF_PREFIX, DEFAULT_SIZE_LIMIT_BYTES, SNAPSHOT_REF_PREFIX,
  type CheckpointOptions, type CommonOptions, type PruneOptions, type RestoreData, type RestoreOptions, type RestoreResult, type Run,
  type SnapshotContext, type SnapshotMeta, type SnapshotsOptions, type SnapshotWorktreeOptions, type TurnChanges,
} from './snapshotTypes';
import { checkInstanceId, toRef, unique, withTemp } from './snapshotUtil';

export {
  CHECKPOINT_REF_PREFIX, DEFAULT_RETENTION_DAYS, DEFAULT_SIZE_LIMIT_BYTES, SNAPSHOT_REF_PREFIX,
  type BranchConflict, type CheckpointOptions, type PruneOptions, type RestoreOptions, type RestoreResult, type SnapshotKind, type SnapshotMeta,
  type SnapshotsOptions, type SnapshotWorktreeOptions, type SyncState, type TurnChanges,
} from './snapshotTypes';

export class Snapshots {
  private readonly ctx: SnapshotContext;
  private readonly changes = new Emitter<{ path: string }>();
  /** Snapshots or checkpoints may have changed (recorded, restored, pruned, dropped) in the repository of `path`. */
  readonly onDidChange: Event<{ path: string }> = this.changes.event;

  constructor(private readonly git: GitClient, options: SnapshotsOptions = {}) {
    this.ctx = {
      logger: options.logger ?? nullLogger,
      sizeLimitBytes: options.sizeLimitBytes ?? DEFAULT_SIZE_LIMIT_BYTES,
      now: options.now ?? Date.now,
      onStep: options.onStep ?? (() => undefined),
      mainWorktrees: new Map(),
    };
  }

  private now(): number {
    return this.ctx.now();
  }

  // ---- recording ---------------------------------------------------------------------------------------------

  /**
   * Records a worktree's full state: HEAD (branch or detached), the index (conflicts, intent-to-add…), every
   * tracked and untracked file as on disk, the given ignored files up to the size limit, and an operation in
   * progress (merge, rebase, cherry-pick, revert). Changes nothing the user sees.
   */
  async snapshotWorktree(worktreePath: string, o: SnapshotWorktreeOptions): Promise<SnapshotMeta> {
    return this.withRepo(worktreePath, o, async (run) => {
      const id = this.newId();
      const { meta } = await capture(this.ctx, run, worktreePath, {
        ref: SNAPSHOT_REF_PREFIX + id, kind: 'worktree', reason: o.reason, instanceId: o.instanceId, title: o.title, record: o.record, ignored: o.ignored, signal: o.signal,
      });
      return meta;
    });
  }

  /** Records a branch (its tip and `branch.<name>.*` config) before it is deleted or moved. */
  async snapshotBranch(repoRoot: string, branch: string, o: CommonOptions & { reason: string; instanceId?: string; title?: string }): Promise<SnapshotMeta> {
    const { signal } = o;
    return this.withRepo(repoRoot, o, async (run) => {
      const tip = await revParse(run, repoRoot, `refs/heads/${branch}`, signal);
      if (!tip || branch.startsWith('-')) throw new GitError(`There is no branch '${branch}'.`, { code: 'NotFound' });
      const id = this.newId();
      const ref = SNAPSHOT_REF_PREFIX + id;
      const refs = { [`refs/heads/${branch}`]: tip };
      const data: RestoreData = { version: 1, dirty: [], deleted: [], state: [], refs, branchConfig: await branchConfig(run, repoRoot, [branch], signal) };
      const meta: SnapshotMeta = {
        version: 1, id, ref, commit: '', kind: 'branch', reason: o.reason, createdAt: this.now(), repoRoot, branch, head: tip,
        ...(o.instanceId ? { instanceId: o.instanceId } : {}), ...(o.title ? { title: o.title } : {}),
        filesTree: await emptyTree(run, repoRoot, signal), ignoredListed: false, ignoredIncluded: [], ignoredSkipped: [], sizeLimitBytes: this.ctx.sizeLimitBytes,
        counts: { indexEntries: 0, changed: 0, deleted: 0, untracked: 0, unmerged: 0, ignoredFiles: 0, ignoredBytes: 0 }, notes: [],
      };
      await withTemp(async (tmp) => {
        await commitSnapshot(this.ctx, run, repoRoot, tmp, { meta, data, objectFormat: tip.length === 64 ? 'sha256' : 'sha1', entries: [], blobs: [], parents: [tip], overwrite: false, signal });
      });
      return meta;
    });
  }

  /** Records a worktree's state at a turn's end (or start): a checkpoint ref, no commit on the agent's branch. */
  async checkpoint(worktreePath: string, o: CheckpointOptions): Promise<SnapshotMeta> {
    checkInstanceId(o.instanceId);
    if (!Number.isInteger(o.turn) || o.turn < 0) throw new GitError(`Invalid turn number: ${o.turn}`, { code: 'Unknown' });
    const phase = o.phase ?? 'end';
    const record = async (run: Run) => {
      const { meta } = await capture(this.ctx, run, worktreePath, {
        ref: `${CHECKPOINT_REF_PREFIX}${o.instanceId}/${o.turn}${phase === 'start' ? '-start' : ''}`, kind: 'checkpoint', reason: 'turn',
        instanceId: o.instanceId, turn: o.turn, phase, title: o.title, ignored: o.ignored, signal: o.signal, overwrite: true,
      });
      return meta;
    };
    return this.withRepo(worktreePath, o, record, !!o.unshared);
  }

  // ---- listing -----------------------------------------------------------------------------------------------

  /** Every snapshot of the repository (not checkpoints), newest first. One `for-each-ref`. */
  async list(repoRoot: string, o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta[]> {
    const all = await readMetas(this.ctx.logger, this.read, repoRoot, SNAPSHOT_REF_PREFIX, o.signal);
    return all.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }

  /** An instance's checkpoints in turn order (a turn's start before its end; undo checkpoints by time, last). */
  async checkpoints(repoRoot: string, instanceId: string, o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta[]> {
    checkInstanceId(instanceId);
    const all = await readMetas(this.ctx.logger, this.read, repoRoot, `${CHECKPOINT_REF_PREFIX}${instanceId}/`, o.signal);
    const rank = (m: SnapshotMeta) => (m.phase === 'undo' ? [1, m.createdAt, 0] : [0, m.turn ?? 0, m.phase === 'start' ? 0 : 1]);
    return all.sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
    });
  }

  /** One snapshot or checkpoint by id (or full ref); undefined when it does not exist. */
  async get(repoRoot: string, id: string, o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta | undefined> {
    const ref = toRef(id);
    const metas = await readMetas(this.ctx.logger, this.read, repoRoot, ref, o.signal);
    return metas.find((m) => m.ref === ref);
  }

  /**
   * The changes of one turn: from the state before it (its start checkpoint, else the previous turn's end or
   * start, else turn 0) to its end checkpoint. Both sides are trees of the worktree as on disk (untracked files
   * included); open a side's file with `showFileAt(git, repoRoot, meta.filesTree, path)`.
   */
  async turnChanges(repoRoot: string, instanceId: string, turn: number, o: { signal?: AbortSignal } = {}): Promise<TurnChanges> {
    const { signal } = o;
    const cps = await this.checkpoints(repoRoot, instanceId, { signal });
    const to = cps.find((c) => c.phase === 'end' && c.turn === turn);
    if (!to) throw new GitError(`No checkpoint at the end of turn ${turn} of ${instanceId}.`, { code: 'NotFound' });
    const from = this.beforeTurnIn(cps, turn);
    if (!from) throw new GitError(`No checkpoint before turn ${turn} of ${instanceId}.`, { code: 'NotFound' });
    const range = [from.filesTree, to.filesTree];
    const [names, numstat] = await Promise.all([
      this.git.read(repoRoot, ['diff-tree', '-r', '-z', '-M', '--name-status', ...range], { signal }),
      this.git.read(repoRoot, ['diff-tree', '-r', '-z', '-M', '--numstat', ...range], { signal }),
    ]);
    const counts = new Map(parseNumstat(numstat.stdout).map((n) => [n.path, n]));
    const files = parseNameStatus(names.stdout).map((e): ChangedFile => {
      const n = counts.get(e.path);
      return { ...e, binary: n?.binary ?? false, ...(n && !n.binary ? { insertions: n.insertions, deletions: n.deletions } : {}) };
    });
    return { from, to, files, diffArgs: ['diff', '-M', ...range] };
  }

  /** The checkpoint "Revert to Before This Turn" goes back to (see {@link turnChanges}). */
  async beforeTurn(repoRoot: string, instanceId: string, turn: number, o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta | undefined> {
    return this.beforeTurnIn(await this.checkpoints(repoRoot, instanceId, o), turn);
  }

  private beforeTurnIn(cps: SnapshotMeta[], turn: number): SnapshotMeta | undefined {
    const start = cps.find((c) => c.phase === 'start' && c.turn === turn);
    if (start) return start;
    return cps.filter((c) => c.phase !== 'undo' && (c.turn ?? 0) < turn).pop();
  }

  // ---- restoring ---------------------------------------------------------------------------------------------

  /**
   * Recreates exactly what a snapshot (or checkpoint) recorded. Branch snapshots: the branch. Worktree snapshots:
   * in place when the worktree still exists at its path, else a new worktree at that path (or a free sibling),
   * on its branch, with its index, files, listed ignored files and operation in progress. See the file comment for
   * the branch rules.
   */
  async restore(repoRoot: string, id: string, o: RestoreOptions = {}): Promise<RestoreResult> {
    const { signal } = o;
    return this.withRepo(repoRoot, o, async (run) => {
      const target = await readTarget(this.ctx, run, repoRoot, toRef(id), signal);
      const { meta } = target;
      if (meta.kind === 'branch') return restoreBranch(run, repoRoot, target, o);
      const existing = !o.path && meta.worktreePath ? await findWorktree(run, repoRoot, meta.worktreePath, signal) : undefined;
      // The same worktree still there (after an aborted sync, a rebase, a cleanup): on the recorded branch (or the
      // one a recorded rebase was updating), or detached when the snapshot was. Another worktree that took the path
      // since is left alone (the restore goes to a sibling path).
      const mine = unique([meta.branch, meta.rebasing]);
      const theirs = existing && !existing.missing ? unique([existing.branch, await rebasingIn(run, existing.path, signal)]) : [];
      const same = !!existing && !existing.missing && (theirs.length ? theirs.some((b) => mine.includes(b)) : !meta.branch);
      if (existing && same && !o.detach && !o.branchName) {
        const undoRef = meta.kind === 'checkpoint' && meta.instanceId
          ? `${CHECKPOINT_REF_PREFIX}${meta.instanceId}/undo-${this.newId()}`
          : SNAPSHOT_REF_PREFIX + this.newId();
        const undoId = await applyInPlace(this.ctx, run, existing.path, target, undoRef, o);
        return { worktreePath: existing.path, branch: meta.branch, inPlace: true, undoId, notes: [`Restored in place; the state it replaced is ${undoId}.`] };
      }
      return recreate(this.ctx, run, repoRoot, target, existing?.missing && !o.path ? existing : undefined, o);
    });
  }

  /**
   * Restores a worktree exactly to a checkpoint: HEAD (moving the worktree's own branch if the agent committed),
   * index, files, listed ignored files. Before doing so it records the current state as an undo checkpoint and
   * returns its id, so that `revertTo(worktreePath, undoId)` undoes the revert.
   */
  async revertTo(worktreePath: string, checkpointId: string, o: CommonOptions & { ignored?: ReadonlyArray<string | IgnoredEntry> } = {}): Promise<{ undoId: string; notes: string[] }> {
    const { signal } = o;
    return this.withRepo(worktreePath, o, async (run) => {
      const target = await readTarget(this.ctx, run, worktreePath, toRef(checkpointId), signal);
      if (target.meta.kind === 'branch') throw new GitError(`${checkpointId} is a branch snapshot, not a worktree state.`, { code: 'Unknown' });
      const instanceId = target.meta.instanceId;
      const undoRef = instanceId ? `${CHECKPOINT_REF_PREFIX}${instanceId}/undo-${this.newId()}` : SNAPSHOT_REF_PREFIX + this.newId();
      const top = (await run(worktreePath, ['rev-parse', '--show-toplevel'], { signal })).stdout.trim();
      const undoId = await applyInPlace(this.ctx, run, top, target, undoRef, o);
      const notes = target.meta.worktreePath && normalizePath(target.meta.worktreePath) !== normalizePath(top) ? [`The checkpoint was taken in ${target.meta.worktreePath}.`] : [];
      return { undoId, notes };
    });
  }

  // ---- retention ---------------------------------------------------------------------------------------------

  /** Deletes snapshots (and, if asked, checkpoints of ended instances) older than `olderThanDays`; returns their ids. */
  async prune(repoRoot: string, o: PruneOptions): Promise<string[]> {
    const { signal } = o;
    const cutoff = this.now() - o.olderThanDays * 86_400_000;
    const mode = o.checkpoints ?? 'keep';
    if (mode === 'ended' && !o.liveInstanceIds) throw new GitError("prune: checkpoints 'ended' needs the live instance ids", { code: 'Unknown' });
    const live = new Set(o.liveInstanceIds ?? []);
    return this.withRepo(repoRoot, o, async (run) => {
      const doomed: SnapshotMeta[] = (await readMetas(this.ctx.logger, run, repoRoot, SNAPSHOT_REF_PREFIX, signal)).filter((m) => m.createdAt < cutoff);
      if (mode !== 'keep') {
        const byInstance = new Map<string, SnapshotMeta[]>();
        for (const m of await readMetas(this.ctx.logger, run, repoRoot, CHECKPOINT_REF_PREFIX, signal)) {
          const key = m.instanceId ?? m.id.split('/')[0]!;
          byInstance.set(key, [...(byInstance.get(key) ?? []), m]);
        }
        for (const [instanceId, list] of byInstance) {
          if (mode === 'ended' && live.has(instanceId)) continue;
          if (Math.max(...list.map((m) => m.createdAt)) < cutoff) doomed.push(...list);
        }
      }
      const removed: string[] = [];
      for (const m of doomed) {
        // The expected value makes a concurrent re-creation of the same ref win over the deletion.
        const r = await run(repoRoot, ['update-ref', '-d', m.ref, m.commit], { signal, okExitCodes: [1, 128] });
        if (r.exitCode === 0) removed.push(m.id);
        else this.ctx.logger.warn(`snapshots: could not delete ${m.ref}: ${r.stderr.trim()}`);
      }
      return removed;
    });
  }

  /** Deletes one snapshot or checkpoint. */
  async drop(repoRoot: string, id: string, o: CommonOptions = {}): Promise<boolean> {
    const ref = toRef(id);
    return this.withRepo(repoRoot, o, async (run) => {
      const r = await run(repoRoot, ['update-ref', '-d', ref], { signal: o.signal, okExitCodes: [1, 128] });
      return r.exitCode === 0;
    });
  }

  // ---- plumbing ----------------------------------------------------------------------------------------------

  private readonly read: Run = (cwd, args, options) => this.git.read(cwd, args, options);

  /**
   * Every step that writes refs goes through here; listeners hear of it once it is done (or failed). `unshared`: every
   * command runs beside the repository's queue, the final `update-ref` too, when no queued flow ran git in `cwd`
   * meanwhile (GitClient.quietSince); otherwise (or when one is running in it) all of it runs again in the queue.
   */
  private async withRepo<T>(cwd: string, o: CommonOptions, fn: (run: Run) => Promise<T>, unshared = false): Promise<T> {
    try {
      if (o.locked) return await fn((dir, args, options) => o.locked!.run(dir, args, options));
      const quiet = unshared ? this.git.quietSince(cwd) : undefined;
      if (quiet) {
        try {
          return await fn((dir, args, options) => {
            if (args[0] !== 'update-ref') return this.read(dir, args, options);
            // The checkpoint's own ref (nothing else writes it while its instance lives): recorded beside the queue,
            // unless a queued flow ran git in this worktree while it was read (the capture may hold half of it).
            if (!quiet.stillQuiet()) throw new ActedOnMeanwhile();
            return this.git.writeBeside(dir, args, options);
          });
        } catch (err) {
          if (!(err instanceof ActedOnMeanwhile)) throw err;
          this.ctx.logger.info(`snapshots: ${cwd} changed under a queued flow while it was read; recorded again in the queue`);
        }
      }
      return await this.git.exclusive(cwd, (repo) => fn((dir, args, options) => repo.run(dir, args, options)), o.signal);
    } finally {
      this.changes.fire({ path: cwd });
    }
  }

  private newId(): string {
    const d = new Date(this.now());
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${randomBytes(3).toString('hex')}`;
  }
}

/** A queued flow ran git in the worktree while a checkpoint read it beside the queue. */
class ActedOnMeanwhile extends Error {}
