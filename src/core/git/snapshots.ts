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
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import { parseNameStatus, parseNumstat, type ChangedFile } from './changes';
import type { GitCallOptions, GitClient, GitResult, LockedRepository } from './gitClient';
import { GitError } from './gitError';
import { walkEntry, type IgnoredEntry } from './ignoredFiles';
import { normalizePath } from './provisioner';

export const SNAPSHOT_REF_PREFIX = 'refs/grove/snapshots/';
export const CHECKPOINT_REF_PREFIX = 'refs/grove/checkpoints/';
/** Total size of the ignored files one snapshot stores (stated in each snapshot's meta). */
export const DEFAULT_SIZE_LIMIT_BYTES = 50 * 1024 * 1024;
/** `grove.snapshotRetentionDays` default. */
export const DEFAULT_RETENTION_DAYS = 14;

export type SnapshotKind = 'worktree' | 'branch' | 'checkpoint';
export type SyncState = 'merge' | 'rebase' | 'am' | 'cherry-pick' | 'revert';

export interface SnapshotMeta {
  version: 1;
  /** The ref name below its prefix: `20250101-120000-a1b2c3` (snapshots), `<instanceId>/<turn>` (checkpoints). */
  id: string;
  ref: string;
  /** The snapshot commit (not stored in the meta itself: it is the ref's value). */
  commit: string;
  kind: SnapshotKind;
  /** Why it was taken: 'remove', 'remove --force', 'delete branch', 'abort sync', 'rebase', 'cleanup after merge', 'turn', 'revert turn', 'before restore'… */
  reason: string;
  /** Milliseconds since the epoch (the clock given to {@link Snapshots}). */
  createdAt: number;
  repoRoot: string;
  worktreePath?: string;
  /** The branch HEAD was on (worktree snapshots), or the branch recorded (branch snapshots). */
  branch?: string;
  /** The HEAD commit (branch snapshots: the branch tip); absent for an unborn branch. */
  head?: string;
  detached?: boolean;
  /** An operation in progress when the snapshot was taken. */
  syncState?: SyncState;
  /** The branch a rebase in progress will update (HEAD is detached meanwhile). */
  rebasing?: string;
  instanceId?: string;
  title?: string;
  turn?: number;
  phase?: 'start' | 'end' | 'undo';
  /** The tree of the worktree as on disk (`files/`): the two sides of a turn's diff. Empty tree for a branch. */
  filesTree: string;
  /** The caller passed a list of ignored files (an empty list counts): a revert may then delete ignored files new since. */
  ignoredListed: boolean;
  /** Ignored entries stored (as given: files, or folders ending with `/`). */
  ignoredIncluded: string[];
  ignoredSkipped: Array<{ path: string; bytes: number; reason: 'size limit' | 'repository' }>;
  sizeLimitBytes: number;
  counts: { indexEntries: number; changed: number; deleted: number; untracked: number; unmerged: number; ignoredFiles: number; ignoredBytes: number };
  /** What the snapshot could not hold (submodule checkouts, nested repositories…). */
  notes: string[];
}

export interface SnapshotsOptions {
  logger?: Logger;
  /** Total bytes of ignored files one snapshot stores; default {@link DEFAULT_SIZE_LIMIT_BYTES}. */
  sizeLimitBytes?: number;
  now?: () => number;
  /** Test seam: called before each restore step ('worktree', 'index', 'files', 'state', 'config'); may throw. */
  onStep?: (step: string) => void | Promise<void>;
}

interface CommonOptions {
  signal?: AbortSignal;
  /** The caller already holds the repository's mutation queue (inside {@link GitClient.exclusive}). */
  locked?: LockedRepository;
}

export interface SnapshotWorktreeOptions extends CommonOptions {
  reason: string;
  instanceId?: string;
  title?: string;
  /** Ignored files/folders to store (usually {@link listIgnoredWork}'s result), relative to the worktree's top. */
  ignored?: ReadonlyArray<string | IgnoredEntry>;
}

export interface CheckpointOptions extends CommonOptions {
  instanceId: string;
  turn: number;
  /** 'end' (default): the state once turn `turn` ended. 'start': before it started. */
  phase?: 'start' | 'end';
  title?: string;
  ignored?: ReadonlyArray<string | IgnoredEntry>;
}

export interface RestoreOptions extends CommonOptions {
  /** Recreate at this path instead of the recorded one. */
  path?: string;
  /** Restore on (or recreate) this branch instead of the recorded one. */
  branchName?: string;
  /** Restore with a detached HEAD at the recorded commit (no branch is created or reused). */
  detach?: boolean;
  /** In-place restores: ignored files of the current state to record in the undo snapshot. */
  ignored?: ReadonlyArray<string | IgnoredEntry>;
}

export interface RestoreResult {
  worktreePath?: string;
  branch?: string;
  /** Restored in place over an existing worktree (then `undoId` holds what it replaced). */
  inPlace: boolean;
  undoId?: string;
  notes: string[];
}

/** Details of GitError `BranchExists` from a restore. */
export interface BranchConflict {
  branch: string;
  /** Where the branch is now. */
  current: string;
  /** Where the snapshot recorded it. */
  recorded: string;
  /** It is checked out in this worktree. */
  checkedOutAt?: string;
}

export interface PruneOptions extends CommonOptions {
  olderThanDays: number;
  /** 'keep' (default): checkpoints untouched. 'ended': those of instances not in `liveInstanceIds`. 'all'. */
  checkpoints?: 'keep' | 'ended' | 'all';
  liveInstanceIds?: Iterable<string>;
}

export interface TurnChanges {
  from: SnapshotMeta;
  to: SnapshotMeta;
  files: ChangedFile[];
  /** `git diff` arguments for the same comparison (run them in the repository). */
  diffArgs: string[];
}

/** One changed, untracked or ignored file: restored with its exact bytes. */
interface DirtyFile {
  path: string;
  /** Blob as `git add` would store it (what `files/` holds). */
  blob: string;
  /** Blob of the exact bytes, when they differ from `blob`. */
  raw?: string;
  perm?: number;
  link?: true;
  ignored?: true;
}

interface RestoreData {
  version: 1;
  /** Blob of the raw index file (only when the tree below cannot say it all). */
  index?: string;
  /** The index's stage-0 entries as a tree. */
  indexTree?: string;
  dirty: DirtyFile[];
  /** In the index, not on disk. */
  deleted: string[];
  /** Permission bits of clean tracked files: the usual ones, and the exceptions (POSIX only). */
  perms?: { file: number; exec: number; exceptions: Array<[string, number]> };
  /** Files of the worktree's git dir, relative to it. */
  state: Array<{ path: string; blob: string }>;
  /** Branch tips recorded (`refs/heads/…` → sha). */
  refs: Record<string, string>;
  branchConfig: Array<[string, string]>;
}

type Run = (cwd: string, args: readonly string[], options?: GitCallOptions) => Promise<GitResult>;

interface Captured {
  meta: SnapshotMeta;
  data: RestoreData;
}

interface Target {
  ref: string;
  meta: SnapshotMeta;
  data: RestoreData;
}

/** Files of a worktree's git dir that make up an operation in progress (and Grove's own). */
const STATE_FILES = ['MERGE_HEAD', 'MERGE_MSG', 'MERGE_MODE', 'MERGE_AUTOSTASH', 'AUTO_MERGE', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'REBASE_HEAD', 'ORIG_HEAD', 'SQUASH_MSG', 'config.worktree'];
const STATE_DIRS = ['rebase-merge', 'rebase-apply', 'sequencer'];
const GROVE_METADATA = 'grove.json';
const EMPTY_TREE_SHA1 = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const EMPTY_TREE_SHA256 = '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321';
/** Keeps each command line far below Windows' 32,767 characters. */
const MAX_ARGS_CHARS = 24_000;
const IDENTITY = { GIT_AUTHOR_NAME: 'Grove', GIT_AUTHOR_EMAIL: 'grove@localhost', GIT_COMMITTER_NAME: 'Grove', GIT_COMMITTER_EMAIL: 'grove@localhost' };
const isWindows = process.platform === 'win32';

export class Snapshots {
  private readonly logger: Logger;
  private readonly sizeLimitBytes: number;
  private readonly now: () => number;
  private readonly onStep: (step: string) => void | Promise<void>;

  constructor(private readonly git: GitClient, options: SnapshotsOptions = {}) {
    this.logger = options.logger ?? nullLogger;
    this.sizeLimitBytes = options.sizeLimitBytes ?? DEFAULT_SIZE_LIMIT_BYTES;
    this.now = options.now ?? Date.now;
    this.onStep = options.onStep ?? (() => undefined);
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
      const { meta } = await this.capture(run, worktreePath, {
        ref: SNAPSHOT_REF_PREFIX + id, kind: 'worktree', reason: o.reason, instanceId: o.instanceId, title: o.title, ignored: o.ignored, signal: o.signal,
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
        filesTree: await emptyTree(run, repoRoot, signal), ignoredListed: false, ignoredIncluded: [], ignoredSkipped: [], sizeLimitBytes: this.sizeLimitBytes,
        counts: { indexEntries: 0, changed: 0, deleted: 0, untracked: 0, unmerged: 0, ignoredFiles: 0, ignoredBytes: 0 }, notes: [],
      };
      await withTemp(async (tmp) => {
        await this.commitSnapshot(run, repoRoot, tmp, { meta, data, trees: [], blobs: [], parents: [tip], overwrite: false, signal });
      });
      return meta;
    });
  }

  /** Records a worktree's state at a turn's end (or start): a checkpoint ref, no commit on the agent's branch. */
  async checkpoint(worktreePath: string, o: CheckpointOptions): Promise<SnapshotMeta> {
    checkInstanceId(o.instanceId);
    if (!Number.isInteger(o.turn) || o.turn < 0) throw new GitError(`Invalid turn number: ${o.turn}`, { code: 'Unknown' });
    const phase = o.phase ?? 'end';
    return this.withRepo(worktreePath, o, async (run) => {
      const { meta } = await this.capture(run, worktreePath, {
        ref: `${CHECKPOINT_REF_PREFIX}${o.instanceId}/${o.turn}${phase === 'start' ? '-start' : ''}`, kind: 'checkpoint', reason: 'turn',
        instanceId: o.instanceId, turn: o.turn, phase, title: o.title, ignored: o.ignored, signal: o.signal, overwrite: true,
      });
      return meta;
    });
  }

  // ---- listing -----------------------------------------------------------------------------------------------

  /** Every snapshot of the repository (not checkpoints), newest first. One `for-each-ref`. */
  async list(repoRoot: string, o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta[]> {
    const all = await this.readMetas(repoRoot, SNAPSHOT_REF_PREFIX, o.signal);
    return all.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }

  /** An instance's checkpoints in turn order (a turn's start before its end; undo checkpoints by time, last). */
  async checkpoints(repoRoot: string, instanceId: string, o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta[]> {
    checkInstanceId(instanceId);
    const all = await this.readMetas(repoRoot, `${CHECKPOINT_REF_PREFIX}${instanceId}/`, o.signal);
    const rank = (m: SnapshotMeta) => (m.phase === 'undo' ? [1, m.createdAt, 0] : [0, m.turn ?? 0, m.phase === 'start' ? 0 : 1]);
    return all.sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
    });
  }

  /** One snapshot or checkpoint by id (or full ref); undefined when it does not exist. */
  async get(repoRoot: string, id: string, o: { signal?: AbortSignal } = {}): Promise<SnapshotMeta | undefined> {
    const ref = toRef(id);
    const metas = await this.readMetas(repoRoot, ref, o.signal);
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
      const target = await this.readTarget(run, repoRoot, toRef(id), signal);
      const { meta } = target;
      if (meta.kind === 'branch') return this.restoreBranch(run, repoRoot, target, o);
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
        const undoId = await this.applyInPlace(run, existing.path, target, undoRef, o);
        return { worktreePath: existing.path, branch: meta.branch, inPlace: true, undoId, notes: [`Restored in place; the state it replaced is ${undoId}.`] };
      }
      return this.recreate(run, repoRoot, target, existing?.missing && !o.path ? existing : undefined, o);
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
      const target = await this.readTarget(run, worktreePath, toRef(checkpointId), signal);
      if (target.meta.kind === 'branch') throw new GitError(`${checkpointId} is a branch snapshot, not a worktree state.`, { code: 'Unknown' });
      const instanceId = target.meta.instanceId;
      const undoRef = instanceId ? `${CHECKPOINT_REF_PREFIX}${instanceId}/undo-${this.newId()}` : SNAPSHOT_REF_PREFIX + this.newId();
      const top = (await run(worktreePath, ['rev-parse', '--show-toplevel'], { signal })).stdout.trim();
      const undoId = await this.applyInPlace(run, top, target, undoRef, o);
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
      const doomed: SnapshotMeta[] = (await this.readMetas(repoRoot, SNAPSHOT_REF_PREFIX, signal, run)).filter((m) => m.createdAt < cutoff);
      if (mode !== 'keep') {
        const byInstance = new Map<string, SnapshotMeta[]>();
        for (const m of await this.readMetas(repoRoot, CHECKPOINT_REF_PREFIX, signal, run)) {
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
        else this.logger.warn(`snapshots: could not delete ${m.ref}: ${r.stderr.trim()}`);
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

  // ---- capture -----------------------------------------------------------------------------------------------

  private async capture(run: Run, worktreePath: string, o: {
    ref: string; kind: SnapshotKind; reason: string; instanceId?: string; title?: string; turn?: number; phase?: SnapshotMeta['phase'];
    ignored?: ReadonlyArray<string | IgnoredEntry>; signal?: AbortSignal; overwrite?: boolean;
  }): Promise<Captured> {
    const { signal } = o;
    const where = await locate(run, worktreePath, signal);
    const { top, gitDir, commonDir, indexFile } = where;
    const createdAt = this.now();
    const [head, symbolic] = await Promise.all([
      revParse(run, top, 'HEAD', signal),
      run(top, ['symbolic-ref', '-q', 'HEAD'], { signal, okExitCodes: [1] }),
    ]);
    const headRef = symbolic.exitCode === 0 ? symbolic.stdout.trim() : undefined;
    const branch = headRef?.startsWith('refs/heads/') ? headRef.slice('refs/heads/'.length) : undefined;
    const notes: string[] = [];

    return withTemp(async (tmp) => {
      const rawIndex = path.join(tmp, 'raw.index');
      const workIndex = path.join(tmp, 'work.index');
      const hasIndex = await copyIfExists(indexFile, rawIndex);
      if (hasIndex) await fs.promises.copyFile(rawIndex, workIndex);
      const withIndex = (file: string): GitCallOptions => ({ signal, env: { GIT_INDEX_FILE: file } });

      // 1. What is in the index, and what differs on disk.
      const [status, staged] = await Promise.all([
        run(top, ['status', '--porcelain=v2', '-z', '--no-renames', '--untracked-files=all', '--ignore-submodules=none'], withIndex(workIndex)),
        hasIndex ? run(top, ['ls-files', '--stage', '-v', '-z'], withIndex(rawIndex)) : Promise.resolve({ stdout: '', stderr: '', exitCode: 0 }),
      ]);
      const entries = parseStage(staged.stdout);
      // The index is kept as a tree (cheap: it shares everything with HEAD); its raw file only when a tree cannot
      // say it all: conflict stages, intent-to-add, skip-worktree or assume-unchanged bits.
      const stage0 = new Map(entries.filter((e) => e.stage === 0).map((e) => [e.path, e]));
      const inIndex = new Set(entries.map((e) => e.path));
      const st = parseStatus(status.stdout);
      if (st.submodules.length) notes.push(`Submodule checkouts are not recorded (their commits are): ${st.submodules.join(', ')}`);
      if (st.nested.length) notes.push(`Nested repositories are not recorded: ${st.nested.join(', ')}`);
      const keepRawIndex = st.intentToAdd || entries.some((e) => e.stage !== 0 || e.tag !== 'H');

      // 2. Classify the candidates by what is on disk.
      const dirty = new Map<string, DirtyFile & { bytes: number }>();
      const deleted = new Set<string>();
      for (const rel of st.candidates) {
        const stat = await lstatOrUndefined(path.join(top, ...rel.split('/')));
        if (stat && (stat.isFile() || stat.isSymbolicLink())) dirty.set(rel, { path: rel, blob: '', perm: stat.mode & 0o7777, bytes: stat.size, ...(stat.isSymbolicLink() ? { link: true as const } : {}) });
        else if (inIndex.has(rel)) deleted.add(rel);
      }

      // 3. Ignored files, in the order given, up to the size limit.
      const ignoredIncluded: string[] = [];
      const ignoredSkipped: SnapshotMeta['ignoredSkipped'] = [];
      let ignoredBytes = 0;
      let ignoredFiles = 0;
      for (const item of o.ignored ?? []) {
        const rel = safeRelative(typeof item === 'string' ? item : item.path);
        if (!rel) continue;
        const walked = await walkEntry(top, rel, signal);
        for (const repo of walked.repositories) ignoredSkipped.push({ path: repo, bytes: 0, reason: 'repository' });
        const files = walked.files.filter((f) => !inIndex.has(f.path) && !dirty.has(f.path));
        const bytes = files.reduce((n, f) => n + f.bytes, 0);
        if (!files.length) continue;
        if (ignoredBytes + bytes > this.sizeLimitBytes) {
          ignoredSkipped.push({ path: rel, bytes, reason: 'size limit' });
          continue;
        }
        ignoredBytes += bytes;
        ignoredIncluded.push(rel);
        for (const f of files) {
          const stat = await lstatOrUndefined(path.join(top, ...f.path.split('/')));
          if (!stat) continue;
          ignoredFiles++;
          dirty.set(f.path, { path: f.path, blob: '', perm: stat.mode & 0o7777, bytes: stat.size, ignored: true, ...(f.link ? { link: true as const } : {}) });
        }
      }
      throwIfAborted(signal);

      // 4-7 are independent of each other: run them together.
      // 4. Permission bits of the clean tracked files (the exceptions to the usual two).
      const permsStep = isWindows ? Promise.resolve(undefined) : cleanPerms(top, [...stage0.values()].filter((e) => !dirty.has(e.path) && !deleted.has(e.path)));

      // 5. Blobs of the changed files: as git would store them, and their exact bytes.
      const blobsStep = (async () => {
        const regular = [...dirty.values()].filter((d) => !d.link);
        const links = [...dirty.values()].filter((d) => d.link);
        const hashed = await this.hashDisk(run, top, regular.map((d) => d.path), signal);
        for (const d of regular) {
          const h = hashed.get(d.path);
          if (!h) {
            dirty.delete(d.path);
            if (inIndex.has(d.path)) deleted.add(d.path);
            continue;
          }
          d.blob = h.blob;
          if (h.raw !== h.blob) d.raw = h.raw;
        }
        if (links.length) {
          const files: string[] = [];
          for (const [i, d] of links.entries()) {
            const file = path.join(tmp, `link-${i}`);
            await fs.promises.writeFile(file, await fs.promises.readlink(path.join(top, ...d.path.split('/'))));
            files.push(file);
          }
          const shas = await hashFiles(run, top, files, true, signal);
          links.forEach((d, i) => (d.blob = shas[i]!));
        }
      })();

      // 6. The index: its stage-0 tree, and the other stages of a conflict.
      const indexStep = (async () => {
        if (!hasIndex) return undefined;
        const stage0Index = path.join(tmp, 'stage0.index');
        await fs.promises.copyFile(rawIndex, stage0Index);
        if (st.unmerged.size) await inChunks([...st.unmerged], (chunk) => run(top, ['update-index', '--force-remove', '--', ...chunk], withIndex(stage0Index)));
        return (await run(top, ['write-tree'], withIndex(stage0Index))).stdout.trim();
      })();
      const stageBlobs: Array<[string, string, string]> = entries.filter((e) => e.stage > 0).map((e) => [`stages/${e.stage}/${e.path}`, e.sha, e.mode]);

      // 7. The operation in progress and Grove's metadata, from the worktree's git dir; the commits they name.
      const stateStep = (async () => {
        const stateFiles = await listStateFiles(gitDir, gitDir !== commonDir);
        const stateShas = await hashFiles(run, top, [...stateFiles.map((f) => path.join(gitDir, ...f.split('/'))), ...(keepRawIndex ? [rawIndex] : [])], true, signal);
        const state = stateFiles.map((f, i) => ({ path: f, blob: stateShas[i]! }));
        const indexBlob = keepRawIndex ? stateShas[stateFiles.length] : undefined;
        const refs: Record<string, string> = {};
        if (branch && head) refs[`refs/heads/${branch}`] = head;
        let rebasing: string | undefined;
        for (const dir of ['rebase-merge', 'rebase-apply']) {
          const headName = (await readText(path.join(gitDir, dir, 'head-name')))?.trim();
          if (headName?.startsWith('refs/heads/')) {
            rebasing = headName.slice('refs/heads/'.length);
            const tip = await revParse(run, top, headName, signal);
            if (tip) refs[headName] = tip;
          }
        }
        const mentioned = new Set<string>();
        for (const f of stateFiles) {
          if (f === GROVE_METADATA || f === 'config.worktree') continue;
          const text = (await readText(path.join(gitDir, ...f.split('/')))) ?? '';
          for (const m of text.matchAll(/\b[0-9a-f]{40}(?:[0-9a-f]{24})?\b/g)) mentioned.add(m[0]);
        }
        const [named, config] = await Promise.all([
          existingCommits(run, top, [...mentioned], signal),
          branchConfig(run, top, unique([branch, rebasing]), signal),
        ]);
        return { stateFiles, state, indexBlob, refs, rebasing, named, config };
      })();

      const [perms, , indexTree, { stateFiles, state, indexBlob, refs, rebasing, named, config }] = await Promise.all([permsStep, blobsStep, indexStep, stateStep]);
      const syncState = detectSyncState(stateFiles);
      const parents = unique([head, ...Object.values(refs), ...named]);

      // 8. The worktree as on disk: the index with the changes applied.
      const removals = [...deleted, ...[...st.unmerged].filter((p) => !dirty.has(p))];
      await inChunks(removals, (chunk) => run(top, ['update-index', '--force-remove', '--', ...chunk], withIndex(workIndex)));
      const modeOf = (d: DirtyFile) => (d.link ? '120000' : isWindows ? (stage0.get(d.path)?.mode === '100755' ? '100755' : '100644') : (d.perm ?? 0) & 0o100 ? '100755' : '100644');
      await inChunks([...dirty.values()].map((d) => `${modeOf(d)},${d.blob},${d.path}`), (chunk) =>
        run(top, ['update-index', '--add', '--replace', ...chunk.flatMap((c) => ['--cacheinfo', c])], withIndex(workIndex)));
      const filesTree = (await run(top, ['write-tree'], withIndex(workIndex))).stdout.trim();

      const data: RestoreData = {
        version: 1,
        ...(indexBlob ? { index: indexBlob } : {}),
        ...(indexTree ? { indexTree } : {}),
        dirty: [...dirty.values()].map(({ bytes: _bytes, ...d }) => d),
        deleted: [...deleted],
        ...(perms ? { perms } : {}),
        state,
        refs,
        branchConfig: config,
      };
      const id = o.ref.startsWith(SNAPSHOT_REF_PREFIX) ? o.ref.slice(SNAPSHOT_REF_PREFIX.length) : o.ref.slice(CHECKPOINT_REF_PREFIX.length);
      const meta: SnapshotMeta = {
        version: 1, id, ref: o.ref, commit: '', kind: o.kind, reason: o.reason, createdAt, repoRoot: where.repoRoot, worktreePath: top,
        ...(branch ? { branch } : {}), ...(head ? { head } : {}), ...(head && !branch ? { detached: true } : {}),
        ...(syncState ? { syncState } : {}), ...(rebasing ? { rebasing } : {}),
        ...(o.instanceId ? { instanceId: o.instanceId } : {}), ...(o.title ? { title: o.title } : {}),
        ...(o.turn !== undefined ? { turn: o.turn } : {}), ...(o.phase ? { phase: o.phase } : {}),
        filesTree, ignoredListed: o.ignored !== undefined, ignoredIncluded, ignoredSkipped, sizeLimitBytes: this.sizeLimitBytes,
        counts: {
          indexEntries: entries.length,
          changed: [...dirty.values()].filter((d) => !d.ignored && inIndex.has(d.path)).length,
          deleted: deleted.size,
          untracked: st.untracked.length,
          unmerged: st.unmerged.size,
          ignoredFiles,
          ignoredBytes,
        },
        notes,
      };
      const blobs: Array<[string, string, string]> = state.map((s) => [`git/state/${s.path}`, s.blob, '100644']);
      if (indexBlob) blobs.push(['git/index', indexBlob, '100644']);
      for (const d of dirty.values()) if (d.raw) blobs.push([`raw/${d.path}`, d.raw, '100644']);
      blobs.push(...stageBlobs);
      const trees: Array<[string, string]> = [['files', filesTree], ...(indexTree ? [['index', indexTree] as [string, string]] : [])];
      await this.commitSnapshot(run, top, tmp, { meta, data, trees, blobs, parents, overwrite: !!o.overwrite, signal });
      return { meta, data };
    });
  }

  /** Hashes worktree files twice (with and without filters). Files that vanish meanwhile are left out. */
  private async hashDisk(run: Run, top: string, paths: string[], signal?: AbortSignal): Promise<Map<string, { blob: string; raw: string }>> {
    const out = new Map<string, { blob: string; raw: string }>();
    if (!paths.length) return out;
    let present = paths;
    for (let attempt = 0; ; attempt++) {
      try {
        const [blobs, raws] = await Promise.all([hashFiles(run, top, present, false, signal), hashFiles(run, top, present, true, signal)]);
        present.forEach((p, i) => out.set(p, { blob: blobs[i]!, raw: raws[i]! }));
        return out;
      } catch (err) {
        if (attempt > 0 || (err instanceof GitError && err.code === 'Cancelled')) throw err;
        const still: string[] = [];
        for (const p of present) if (await lstatOrUndefined(path.join(top, ...p.split('/')))) still.push(p);
        this.logger.warn(`snapshots: ${present.length - still.length} file(s) vanished while being recorded; retrying`);
        present = still;
      }
    }
  }

  private async commitSnapshot(run: Run, cwd: string, tmp: string, o: {
    meta: SnapshotMeta; data: RestoreData; trees: Array<[string, string]>; blobs: Array<[string, string, string]>; parents: string[]; overwrite: boolean; signal?: AbortSignal;
  }): Promise<void> {
    const { meta, signal } = o;
    const stored: Omit<SnapshotMeta, 'commit'> & { commit?: string } = { ...meta };
    delete stored.commit;
    const metaJson = JSON.stringify(stored);
    const metaFile = path.join(tmp, 'meta.json');
    const restoreFile = path.join(tmp, 'restore.json');
    await fs.promises.writeFile(metaFile, `${JSON.stringify(stored, null, 2)}\n`);
    await fs.promises.writeFile(restoreFile, `${JSON.stringify(o.data)}\n`);
    const [metaBlob, restoreBlob] = await hashFiles(run, cwd, [metaFile, restoreFile], true, signal);
    // The small entries go through a private index; the big trees (files/, index/) are added to the root tree
    // directly (reading 5,000 entries into an index just to write them out again costs more than the rest).
    const miscIndex = path.join(tmp, 'misc.index');
    const env = { signal, env: { GIT_INDEX_FILE: miscIndex } };
    const blobs: Array<[string, string, string]> = [['meta.json', metaBlob!, '100644'], ['restore.json', restoreBlob!, '100644'], ...o.blobs];
    await inChunks(blobs.map(([p, sha, mode]) => `${mode},${sha},${p}`), (chunk) => run(cwd, ['update-index', '--add', ...chunk.flatMap((c) => ['--cacheinfo', c])], env));
    const misc = (await run(cwd, ['write-tree'], env)).stdout.trim();
    const tree = await addToTree(run, cwd, tmp, misc, o.trees, signal);
    const message = path.join(tmp, 'message');
    await fs.promises.writeFile(message, `grove ${meta.kind}: ${meta.reason}\n\n${metaJson}\n`);
    const seconds = Math.floor(meta.createdAt / 1000);
    const date = `@${seconds} +0000`;
    const commit = (await run(cwd, ['commit-tree', '--no-gpg-sign', tree, ...o.parents.flatMap((p) => ['-p', p]), '-F', message], {
      signal, env: { ...IDENTITY, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    })).stdout.trim();
    // A new snapshot must not replace another one (empty old value: the ref must not exist); checkpoints of a
    // retried turn replace the earlier one.
    await run(cwd, ['update-ref', '-m', `grove: ${meta.kind}`, meta.ref, commit, ...(o.overwrite ? [] : [''])], { signal });
    meta.commit = commit;
    this.logger.info(`snapshots: recorded ${meta.ref} (${meta.reason}) → ${commit.slice(0, 12)}`);
  }

  // ---- restore -----------------------------------------------------------------------------------------------

  private async readTarget(run: Run, cwd: string, ref: string, signal?: AbortSignal): Promise<Target> {
    const metas = await this.readMetas(cwd, ref, signal, run);
    const meta = metas.find((m) => m.ref === ref);
    if (!meta) throw new GitError(`There is no snapshot ${ref.replace(/^refs\/grove\/(snapshots|checkpoints)\//, '')}.`, { code: 'NotFound' });
    const text = (await run(cwd, ['cat-file', 'blob', `${meta.commit}:restore.json`], { signal })).stdout;
    return { ref, meta, data: JSON.parse(text) as RestoreData };
  }

  private async restoreBranch(run: Run, repoRoot: string, target: Target, o: RestoreOptions): Promise<RestoreResult> {
    const { meta, data } = target;
    const branch = o.branchName ?? meta.branch!;
    const tip = meta.head!;
    await checkBranchName(run, repoRoot, branch, o.signal);
    const current = await revParse(run, repoRoot, `refs/heads/${branch}`, o.signal);
    if (current === tip) return { branch, inPlace: false, notes: [`Branch ${branch} is already at ${tip.slice(0, 12)}.`] };
    if (current) throw branchConflict({ branch, current, recorded: tip });
    await run(repoRoot, ['update-ref', '-m', `grove: restore ${meta.id}`, `refs/heads/${branch}`, tip, ''], { signal: o.signal });
    const notes = await setBranchConfig(run, repoRoot, data.branchConfig, meta.branch!, branch, o.signal);
    return { branch, inPlace: false, notes };
  }

  /** A new worktree for a snapshot whose worktree is gone. Undoes what it did when a step fails. */
  private async recreate(run: Run, repoRoot: string, target: Target, stale: { path: string; locked: boolean } | undefined, o: RestoreOptions): Promise<RestoreResult> {
    const { meta, data } = target;
    const { signal } = o;
    const notes: string[] = [];
    if (!meta.head) throw new GitError('The snapshot was taken on a branch with no commits yet; there is nothing to check out.', { code: 'NoCommits' });
    const recorded = o.path ?? meta.worktreePath;
    if (!recorded) throw new GitError('The snapshot has no worktree path; pass one.', { code: 'NotFound' });
    // A registered worktree whose folder is gone can be re-added over with --force (unless it is locked).
    const reuseStale = !!stale && !stale.locked;
    const wtPath = reuseStale ? recorded : freePath(recorded);
    if (wtPath !== recorded) notes.push(`${recorded} is occupied; restored at ${wtPath}.`);

    // Decide HEAD before changing anything.
    // A detached snapshot stays detached unless a branch name is given (then that branch is made at its commit).
    const detach = o.detach || (!meta.branch && !o.branchName);
    const branch = detach ? undefined : (o.branchName ?? meta.branch!);
    let createBranch = false;
    if (branch) {
      await checkBranchName(run, repoRoot, branch, signal);
      const current = await revParse(run, repoRoot, `refs/heads/${branch}`, signal);
      const checkedOutAt = await checkedOutIn(run, repoRoot, branch, signal);
      if (current && current !== meta.head) throw branchConflict({ branch, current, recorded: meta.head, ...(checkedOutAt ? { checkedOutAt } : {}) });
      if (current && checkedOutAt && !(reuseStale && normalizePath(checkedOutAt) === normalizePath(wtPath))) {
        throw branchConflict({ branch, current, recorded: meta.head, checkedOutAt });
      }
      createBranch = !current;
    }
    const undo: Array<() => Promise<unknown>> = [];
    try {
      await this.onStep('worktree');
      // A rebase in progress also needs the branch it will update.
      for (const [ref, sha] of Object.entries(data.refs)) {
        if (meta.branch && ref === `refs/heads/${meta.branch}`) continue;
        const now = await revParse(run, repoRoot, ref, signal);
        if (!now) {
          await run(repoRoot, ['update-ref', '-m', `grove: restore ${meta.id}`, ref, sha, ''], { signal });
          undo.push(() => run(repoRoot, ['update-ref', '-d', ref, sha], { okExitCodes: [1, 128] }));
          const name = ref.slice('refs/heads/'.length);
          notes.push(`Recreated branch ${name} at ${sha.slice(0, 12)}.`, ...(await setBranchConfig(run, repoRoot, data.branchConfig, name, name, signal)));
        } else if (now !== sha) {
          notes.push(`${ref.replace('refs/heads/', 'Branch ')} has moved since the snapshot (now ${now.slice(0, 12)}, recorded ${sha.slice(0, 12)}).`);
        }
      }
      await fs.promises.mkdir(path.dirname(wtPath), { recursive: true });
      const add = ['worktree', 'add', '--no-checkout', ...(reuseStale ? ['--force'] : [])];
      if (!branch) add.push('--detach', '--', wtPath, meta.head);
      else if (createBranch) add.push('-b', branch, '--', wtPath, meta.head);
      else add.push('--', wtPath, branch);
      await run(repoRoot, add, { signal });
      undo.push(async () => {
        await run(repoRoot, ['worktree', 'remove', '--force', '--force', wtPath], { okExitCodes: [1, 128] });
        await fs.promises.rm(wtPath, { recursive: true, force: true });
        await run(repoRoot, ['worktree', 'prune'], { okExitCodes: [1, 128] });
      });
      if (createBranch) undo.push(() => run(repoRoot, ['update-ref', '-d', `refs/heads/${branch}`, meta.head!], { okExitCodes: [1, 128] }));
      const where = await locate(run, wtPath, signal);
      const commonDir = where.commonDir;

      await this.onStep('index');
      if (data.index) {
        await withTemp(async (tmp) => {
          const file = await unpackBlob(run, commonDir, tmp, data.index!, signal);
          await fs.promises.copyFile(file, where.indexFile);
        });
        await run(wtPath, ['checkout-index', '--all', '--force', '-u'], { signal });
      } else if (data.indexTree) {
        // The same machinery (and cost) as the checkout of `git worktree add`; no hooks run.
        await run(wtPath, ['read-tree', '--reset', '-u', data.indexTree], { signal });
      }

      await this.onStep('files');
      for (const rel of data.deleted) await removeFile(wtPath, rel);
      await writeDirty(run, commonDir, wtPath, data.dirty, signal);
      if (data.perms) await applyCleanPerms(run, wtPath, data, signal);

      await this.onStep('state');
      await writeState(run, commonDir, where.gitDir, data.state, [], branch !== meta.branch ? branch : undefined, signal);

      await this.onStep('config');
      if (createBranch && branch && meta.branch) notes.push(...(await setBranchConfig(run, repoRoot, data.branchConfig, meta.branch, branch, signal)));
      if (branch && branch !== meta.branch) notes.push(`Restored on branch ${branch} (recorded: ${meta.branch}).`);
      if (!branch && meta.branch) notes.push(`Restored with a detached HEAD at ${meta.head.slice(0, 12)} (recorded on branch ${meta.branch}).`);
      notes.push(...meta.notes);
      for (const s of meta.ignoredSkipped) notes.push(`${s.path} (${formatBytes(s.bytes)}) was not kept (${s.reason === 'size limit' ? `over the ${formatBytes(meta.sizeLimitBytes)} limit for ignored files` : 'a nested repository'}).`);
      this.logger.info(`snapshots: restored ${meta.ref} at ${wtPath}`);
      return { worktreePath: wtPath, ...(branch ? { branch } : {}), inPlace: false, notes };
    } catch (err) {
      for (const step of undo.reverse()) {
        try {
          await step();
        } catch (e) {
          this.logger.warn(`snapshots: rollback step failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      throw err;
    }
  }

  /**
   * Makes an existing worktree exactly the target state, touching only what differs (unchanged files keep their
   * timestamps). Records the current state under `undoRef` first and returns its id; on failure applies it back.
   */
  private async applyInPlace(run: Run, worktreePath: string, target: Target, undoRef: string, o: CommonOptions & { ignored?: ReadonlyArray<string | IgnoredEntry> }): Promise<string> {
    const { signal } = o;
    const { meta } = target;
    const ignored = [...(o.ignored ?? []).map((i) => (typeof i === 'string' ? i : i.path)), ...meta.ignoredIncluded];
    const current = await this.capture(run, worktreePath, {
      ref: undoRef, kind: meta.kind === 'checkpoint' ? 'checkpoint' : 'worktree', reason: meta.kind === 'checkpoint' ? 'revert turn' : 'before restore',
      ...(meta.instanceId ? { instanceId: meta.instanceId } : {}), ...(meta.kind === 'checkpoint' ? { phase: 'undo' as const } : {}),
      ignored: unique(ignored), signal,
    });
    const undo: Target = { ref: undoRef, meta: current.meta, data: current.data };
    try {
      await this.transform(run, worktreePath, undo, target, signal);
    } catch (err) {
      this.logger.warn(`snapshots: restoring ${meta.ref} failed (${err instanceof Error ? err.message : String(err)}); putting back ${undoRef}`);
      try {
        await this.transform(run, worktreePath, target, undo, undefined, true);
      } catch (e) {
        this.logger.error(`snapshots: could not put back ${undoRef}: ${e instanceof Error ? e.message : String(e)}`);
      }
      // Typed, with the undo id: the surface can offer the recorded state even when putting it back failed too.
      const details = { ...(err instanceof GitError && typeof err.details === 'object' ? (err.details as object) : {}), undoId: current.meta.id };
      if (err instanceof GitError) throw new GitError(err.message, { code: err.code, args: err.args, stderr: err.stderr, cause: err, details });
      throw new GitError(err instanceof Error ? err.message : String(err), { code: 'Unknown', cause: err, details });
    }
    return current.meta.id;
  }

  /** From state `from` (what is on disk now, just recorded) to state `to`. */
  private async transform(run: Run, top: string, from: Target, to: Target, signal?: AbortSignal, rollingBack = false): Promise<void> {
    const { meta, data } = to;
    const where = await locate(run, top, signal);
    const { commonDir, gitDir, indexFile } = where;
    // HEAD, as it is now (not as recorded: a rollback starts from a half-done state): decide before changing anything.
    const [curHead, symbolic] = await Promise.all([revParse(run, top, 'HEAD', signal), run(top, ['symbolic-ref', '-q', 'HEAD'], { signal, okExitCodes: [1] })]);
    const curRef = symbolic.exitCode === 0 ? symbolic.stdout.trim() : '';
    const curBranch = curRef.startsWith('refs/heads/') ? curRef.slice('refs/heads/'.length) : undefined;
    let headStep: (() => Promise<unknown>) | undefined;
    const msg = `grove: ${rollingBack ? 'put back' : 'restore'} ${meta.id}`;
    if (!meta.head) {
      if (curHead || meta.branch !== curBranch) throw new GitError('The recorded state has no commit (an unborn branch); it cannot be restored over this worktree.', { code: 'NoCommits' });
    } else if (!meta.branch) {
      if (curBranch || curHead !== meta.head) headStep = () => run(top, ['update-ref', '--no-deref', '-m', msg, 'HEAD', meta.head!], { signal });
    } else if (meta.branch === curBranch) {
      if (curHead !== meta.head) headStep = () => run(top, ['update-ref', '-m', msg, `refs/heads/${meta.branch}`, meta.head!, ...(curHead ? [curHead] : [])], { signal });
    } else {
      const current = await revParse(run, top, `refs/heads/${meta.branch}`, signal);
      const checkedOutAt = await checkedOutIn(run, top, meta.branch, signal);
      if ((current && current !== meta.head) || (checkedOutAt && normalizePath(checkedOutAt) !== normalizePath(top))) {
        throw branchConflict({ branch: meta.branch, current: current ?? '', recorded: meta.head, ...(checkedOutAt ? { checkedOutAt } : {}) });
      }
      headStep = async () => {
        if (!current) await run(top, ['update-ref', '-m', msg, `refs/heads/${meta.branch}`, meta.head!, ''], { signal });
        await run(top, ['symbolic-ref', '-m', msg, 'HEAD', `refs/heads/${meta.branch}`], { signal });
      };
    }
    // The rebased branch of a rebase in progress: recreate it if it is gone.
    for (const [ref, sha] of Object.entries(data.refs)) {
      if (ref === `refs/heads/${meta.branch}`) continue;
      if (!(await revParse(run, top, ref, signal))) await run(top, ['update-ref', '-m', msg, ref, sha, ''], { signal });
    }

    const lock = `${indexFile}.lock`;
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new GitError(`Unable to create '${lock}': File exists. Another git process seems to be running in this worktree.`, { code: 'IndexLocked' });
      }
      throw err;
    }
    let committed = false;
    try {
      await withTemp(async (tmp) => {
        await this.onStep('index');
        const newIndex = path.join(tmp, 'index');
        if (data.index) {
          await fs.promises.copyFile(await unpackBlob(run, commonDir, tmp, data.index, signal), newIndex);
        } else if (data.indexTree) {
          // From the current index, so that entries that stay the same keep their stat data (`git status` stays fast).
          await copyIfExists(indexFile, newIndex);
          await run(top, ['read-tree', '--reset', data.indexTree], { signal, env: { GIT_INDEX_FILE: newIndex } });
        }

        await this.onStep('files');
        // What differs between the two recorded trees, plus every changed/untracked/ignored file on either side.
        const diff = await run(top, ['diff-tree', '-r', '-z', '--no-renames', '--raw', from.meta.filesTree, meta.filesTree], { signal });
        const changes = parseRawDiff(diff.stdout);
        const targetDirty = new Map(data.dirty.map((d) => [d.path, d]));
        const currentDirty = new Map(from.data.dirty.map((d) => [d.path, d]));
        const writes = new Set<string>();
        const deletes = new Set<string>();
        const deletable = (rel: string) => {
          const cur = currentDirty.get(rel);
          if (!cur?.ignored) return true;
          // An ignored file new since the target: delete it only if the target listed ignored files and did not skip it.
          return meta.ignoredListed && !meta.ignoredSkipped.some((s) => rel === s.path || (s.path.endsWith('/') && rel.startsWith(s.path)));
        };
        const lacks = new Set<string>();
        for (const c of changes) {
          if (c.status === 'D') {
            lacks.add(c.path);
            if (deletable(c.path)) deletes.add(c.path);
          } else writes.add(c.path);
        }
        for (const d of data.dirty) writes.add(d.path);
        // Exact bytes may differ where the stored blobs do not (line-ending conversion): rewrite both sides' changed files.
        for (const d of from.data.dirty) if (!lacks.has(d.path)) writes.add(d.path);
        for (const rel of data.deleted) deletes.add(rel);
        for (const rel of writes) deletes.delete(rel);

        const sorted = [...deletes].sort((a, b) => b.split('/').length - a.split('/').length);
        for (const rel of sorted) await removeFile(top, rel);
        const clean = [...writes].filter((p) => !targetDirty.has(p));
        for (const rel of clean) {
          const stat = await lstatOrUndefined(path.join(top, ...rel.split('/')));
          if (stat?.isDirectory()) throw new GitError(`${rel} is a folder now; it would have to be deleted to restore the file. Nothing was changed there.`, { code: 'DirtyWorkTree' });
        }
        if (clean.length) {
          await inChunks(clean, (chunk) => run(top, ['checkout-index', '--force', '-u', '--', ...chunk], { signal, env: { GIT_INDEX_FILE: newIndex } }));
        }
        await writeDirty(run, commonDir, top, [...writes].map((p) => targetDirty.get(p)).filter((d): d is DirtyFile => !!d), signal);
        if (data.perms && !isWindows) {
          const exceptions = new Map(data.perms.exceptions);
          const check = new Set([...clean, ...exceptions.keys(), ...(from.data.perms?.exceptions ?? []).map(([p]) => p)]);
          const modes = await indexModes(run, top, newIndex, [...check], signal);
          for (const rel of check) {
            const mode = modes.get(rel);
            if (!mode || targetDirty.has(rel)) continue;
            const want = exceptions.get(rel) ?? (mode === '100755' ? data.perms.exec : data.perms.file);
            await chmodIfNeeded(path.join(top, ...rel.split('/')), want);
          }
        }

        await this.onStep('state');
        // Grove's own metadata of a live worktree is not part of its state: left as it is.
        const notGrove = (list: RestoreData['state']) => list.filter((x) => x.path !== GROVE_METADATA);
        await writeState(run, commonDir, gitDir, notGrove(data.state), notGrove(from.data.state), undefined, signal);

        // The index last: rename the lock over it, as git does.
        if (data.index || data.indexTree) {
          await handle.writeFile(await fs.promises.readFile(newIndex));
          await handle.close();
          await fs.promises.rename(lock, indexFile);
        } else {
          await handle.close();
          await fs.promises.rm(lock, { force: true });
          await fs.promises.rm(indexFile, { force: true });
        }
        committed = true;
        if (headStep) await headStep();
      });
    } finally {
      if (!committed) {
        await handle.close().catch(() => undefined);
        await fs.promises.rm(lock, { force: true });
      }
    }
  }

  // ---- plumbing ----------------------------------------------------------------------------------------------

  private async readMetas(cwd: string, prefix: string, signal?: AbortSignal, run?: Run): Promise<SnapshotMeta[]> {
    const args = ['for-each-ref', '--format=%(refname)%00%(objectname)%00%(contents:body)%00', prefix];
    const { stdout } = run ? await run(cwd, args, { signal }) : await this.git.read(cwd, args, { signal });
    const fields = stdout.split('\0');
    const out: SnapshotMeta[] = [];
    for (let i = 0; i + 2 < fields.length; i += 3) {
      const ref = fields[i]!.trim();
      const commit = fields[i + 1]!.trim();
      try {
        const meta = JSON.parse(fields[i + 2]!.trim()) as SnapshotMeta;
        if (meta.version !== 1) continue;
        out.push({ ...meta, ref, commit, id: ref.startsWith(SNAPSHOT_REF_PREFIX) ? ref.slice(SNAPSHOT_REF_PREFIX.length) : ref.slice(CHECKPOINT_REF_PREFIX.length) });
      } catch {
        this.logger.warn(`snapshots: ${ref} has no readable metadata; ignored`);
      }
    }
    return out;
  }

  private withRepo<T>(cwd: string, o: CommonOptions, fn: (run: Run) => Promise<T>): Promise<T> {
    if (o.locked) return fn((dir, args, options) => o.locked!.run(dir, args, options));
    return this.git.exclusive(cwd, (repo) => fn((dir, args, options) => repo.run(dir, args, options)), o.signal);
  }

  private newId(): string {
    const d = new Date(this.now());
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${randomBytes(3).toString('hex')}`;
  }
}

// ---- helpers (module-private) ------------------------------------------------------------------------------------

interface Location {
  top: string;
  gitDir: string;
  commonDir: string;
  indexFile: string;
  /** The main worktree's top (what `repoRoot` means elsewhere in Grove). */
  repoRoot: string;
}

async function locate(run: Run, cwd: string, signal?: AbortSignal): Promise<Location> {
  const out = (await run(cwd, ['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-dir', '--git-common-dir', '--git-path', 'index'], { signal })).stdout;
  const [top, gitDir, commonDir, indexFile] = out.split(/\r?\n/);
  if (!top || !gitDir || !commonDir || !indexFile) throw new GitError(`${cwd} is not inside a git worktree.`, { code: 'NotAGitRepository' });
  const real = (p: string) => {
    try {
      return fs.realpathSync.native(p);
    } catch {
      return p;
    }
  };
  const list = (await run(cwd, ['worktree', 'list', '--porcelain'], { signal })).stdout;
  const first = /^worktree (.*)$/m.exec(list)?.[1];
  return { top: real(top), gitDir: real(gitDir), commonDir: real(commonDir), indexFile, repoRoot: first ?? real(top) };
}

async function revParse(run: Run, cwd: string, rev: string, signal?: AbortSignal): Promise<string | undefined> {
  if (rev.startsWith('-')) return undefined;
  const r = await run(cwd, ['rev-parse', '-q', '--verify', `${rev}^{commit}`], { signal, okExitCodes: [1, 128] });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

async function emptyTree(run: Run, cwd: string, signal?: AbortSignal): Promise<string> {
  const format = await run(cwd, ['rev-parse', '--show-object-format'], { signal, okExitCodes: [128, 129] });
  return format.stdout.trim() === 'sha256' ? EMPTY_TREE_SHA256 : EMPTY_TREE_SHA1;
}

async function checkBranchName(run: Run, cwd: string, branch: string, signal?: AbortSignal): Promise<void> {
  const r = branch.startsWith('-') ? { exitCode: 1 } : await run(cwd, ['check-ref-format', '--branch', branch], { signal, okExitCodes: [1, 128] });
  if (r.exitCode !== 0) throw new GitError(`'${branch}' is not a valid branch name.`, { code: 'InvalidBranchName' });
}

/** The worktree that has `branch` checked out (or is rebasing it), if any. */
async function checkedOutIn(run: Run, cwd: string, branch: string, signal?: AbortSignal): Promise<string | undefined> {
  const list = (await run(cwd, ['worktree', 'list', '--porcelain'], { signal })).stdout;
  let current: string | undefined;
  for (const line of list.split('\n')) {
    if (line.startsWith('worktree ')) current = line.slice(9);
    else if (line === `branch refs/heads/${branch}`) return current;
  }
  return undefined;
}

async function findWorktree(run: Run, cwd: string, wtPath: string, signal?: AbortSignal): Promise<{ path: string; missing: boolean; locked: boolean; branch?: string } | undefined> {
  const list = (await run(cwd, ['worktree', 'list', '--porcelain'], { signal })).stdout;
  const wanted = normalizePath(wtPath);
  for (const block of list.split(/\n\n+/)) {
    const p = /^worktree (.*)$/m.exec(block)?.[1];
    if (!p || normalizePath(p) !== wanted) continue;
    if (/^bare$/m.test(block)) return undefined;
    const branch = /^branch refs\/heads\/(.*)$/m.exec(block)?.[1];
    return { path: p, missing: !fs.existsSync(p), locked: /^locked/m.test(block), ...(branch ? { branch } : {}) };
  }
  return undefined;
}

/** The branch a rebase in progress in the worktree `wt` will update. */
async function rebasingIn(run: Run, wt: string, signal?: AbortSignal): Promise<string | undefined> {
  const gitDir = (await run(wt, ['rev-parse', '--path-format=absolute', '--git-dir'], { signal })).stdout.trim();
  for (const dir of ['rebase-merge', 'rebase-apply']) {
    const headName = (await readText(path.join(gitDir, dir, 'head-name')))?.trim();
    if (headName?.startsWith('refs/heads/')) return headName.slice('refs/heads/'.length);
  }
  return undefined;
}

function branchConflict(c: BranchConflict): GitError {
  const where = c.checkedOutAt ? ` and is checked out in ${c.checkedOutAt}` : '';
  const at = c.current && c.current !== c.recorded ? ` is at ${c.current.slice(0, 12)} (the snapshot recorded ${c.recorded.slice(0, 12)})` : ' exists';
  return new GitError(`Branch ${c.branch}${at}${where}. Restore under another branch name or detached; Grove never moves it.`, { code: 'BranchExists', details: c });
}

function freePath(wanted: string): string {
  const free = (p: string) => {
    try {
      const stat = fs.lstatSync(p);
      return stat.isDirectory() && fs.readdirSync(p).length === 0;
    } catch {
      return true;
    }
  };
  if (free(wanted)) return wanted;
  for (let i = 1; ; i++) {
    const candidate = `${wanted}-restored${i === 1 ? '' : `-${i}`}`;
    if (free(candidate)) return candidate;
  }
}

/** A snapshot id has no `/`; a checkpoint id is `<instanceId>/…`; a full `refs/grove/…` name is taken as is. */
function toRef(id: string): string {
  const ref = id.startsWith('refs/grove/') ? id : id.includes('/') ? CHECKPOINT_REF_PREFIX + id : SNAPSHOT_REF_PREFIX + id;
  if (!/^refs\/grove\/(snapshots|checkpoints)\/[\w.\-/]+$/.test(ref) || ref.includes('..') || ref.includes('//') || ref.endsWith('/') || ref.endsWith('.lock')) {
    throw new GitError(`Invalid snapshot id: ${id}`, { code: 'NotFound' });
  }
  return ref;
}

function checkInstanceId(id: string): void {
  if (!/^[\w][\w.-]*$/.test(id) || id.includes('..') || id.endsWith('.lock') || id.endsWith('.')) throw new GitError(`Invalid instance id: ${id}`, { code: 'Unknown' });
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'grove-snap-'));
  try {
    return await fn(dir);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

async function copyIfExists(from: string, to: string): Promise<boolean> {
  try {
    await fs.promises.copyFile(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function lstatOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(p);
  } catch {
    return undefined;
  }
}

async function readText(p: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(p, 'utf8');
  } catch {
    return undefined;
  }
}

function unique<T>(xs: Array<T | undefined>): T[] {
  return [...new Set(xs.filter((x): x is T => x !== undefined && x !== ''))];
}

function safeRelative(p: string): string | undefined {
  const rel = p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  if (!rel || rel.startsWith('/') || /^[A-Za-z]:/.test(rel) || rel.split('/').some((s) => s === '..' || s === '.git')) return undefined;
  return rel;
}

/** Runs `fn` over `items` in argument-list-sized chunks, one after the other. */
async function inChunks(items: string[], fn: (chunk: string[]) => Promise<unknown>): Promise<void> {
  let chunk: string[] = [];
  let size = 0;
  for (const item of items) {
    if (chunk.length && size + item.length + 16 > MAX_ARGS_CHARS) {
      await fn(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(item);
    size += item.length + 16;
  }
  if (chunk.length) await fn(chunk);
}

/** `hash-object -w` of files (relative to `cwd` or absolute), in order. */
async function hashFiles(run: Run, cwd: string, files: string[], noFilters: boolean, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  await inChunks(files, async (chunk) => {
    const r = await run(cwd, ['hash-object', '-w', ...(noFilters ? ['--no-filters'] : []), '--', ...chunk], { signal });
    out.push(...r.stdout.split(/\r?\n/).filter(Boolean));
  });
  if (out.length !== files.length) throw new GitError(`hash-object returned ${out.length} ids for ${files.length} files`, { code: 'Unknown' });
  return out;
}

/** Commits among `shas` that exist (a state file may name objects that are gone). */
async function existingCommits(run: Run, cwd: string, shas: string[], signal?: AbortSignal): Promise<string[]> {
  if (!shas.length) return [];
  const r = await run(cwd, ['rev-list', '--no-walk', '--ignore-missing', ...shas], { signal, okExitCodes: [1, 128] });
  return r.exitCode === 0 ? r.stdout.split(/\r?\n/).filter(Boolean) : [];
}

interface StageEntry {
  /** `ls-files -v` tag: H cached, S skip-worktree, M unmerged, lowercase assume-unchanged ('' without -v). */
  tag: string;
  mode: string;
  sha: string;
  stage: number;
  path: string;
}

/** `ls-files --stage [-v] -z`: `[<tag> ]<mode> <sha> <stage>\t<path>\0`. */
function parseStage(stdout: string): StageEntry[] {
  const out: StageEntry[] = [];
  for (const rec of stdout.split('\0')) {
    const m = /^(?:([A-Za-z?]) )?(\d+) ([0-9a-f]+) (\d)\t([\s\S]*)$/.exec(rec);
    if (m) out.push({ tag: m[1] ?? '', mode: m[2]!, sha: m[3]!, stage: Number(m[4]), path: m[5]! });
  }
  return out;
}

/**
 * A tree with `base`'s entries plus `add` (name → tree) at its top level, written by us: git's tree format is
 * `<octal mode> <name>\0<binary id>` per entry, sorted by name with folders compared as `name/`.
 */
async function addToTree(run: Run, cwd: string, tmp: string, base: string, add: Array<[string, string]>, signal?: AbortSignal): Promise<string> {
  const empty = new Set([EMPTY_TREE_SHA1, EMPTY_TREE_SHA256]);
  const extra = add.filter(([, sha]) => !empty.has(sha));
  if (!extra.length) return base;
  const listed = (await run(cwd, ['ls-tree', '-z', base], { signal })).stdout.split('\0').filter(Boolean).map((rec) => {
    const m = /^(\d+) (\w+) ([0-9a-f]+)\t([\s\S]*)$/.exec(rec)!;
    return { mode: m[1]!.replace(/^0+/, ''), tree: m[2] === 'tree', sha: m[3]!, name: m[4]! };
  });
  const entries = [...listed.filter((e) => !extra.some(([n]) => n === e.name)), ...extra.map(([name, sha]) => ({ mode: '40000', tree: true, sha, name }))];
  const key = (e: { name: string; tree: boolean }) => Buffer.from(e.tree ? `${e.name}/` : e.name, 'utf8');
  entries.sort((a, b) => Buffer.compare(key(a), key(b)));
  const file = path.join(tmp, 'root.tree');
  await fs.promises.writeFile(file, Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`, 'utf8'), Buffer.from(e.sha, 'hex')])));
  return (await run(cwd, ['hash-object', '-t', 'tree', '-w', '--', file], { signal })).stdout.trim();
}

interface StatusSummary {
  /** Paths whose worktree side differs from the index (or that are untracked or conflicted). */
  candidates: string[];
  unmerged: Set<string>;
  untracked: string[];
  submodules: string[];
  nested: string[];
  /** Some entry is intent-to-add (`git add -N`). */
  intentToAdd: boolean;
}

/** `status --porcelain=v2 -z --no-renames`. */
function parseStatus(stdout: string): StatusSummary {
  const s: StatusSummary = { candidates: [], unmerged: new Set(), untracked: [], submodules: [], nested: [], intentToAdd: false };
  for (const rec of stdout.split('\0')) {
    if (rec.startsWith('1 ')) {
      const f = splitFields(rec, 9);
      const [xy, sub, p] = [f[1]!, f[2]!, f[8]!];
      if (sub.startsWith('S')) {
        if (xy !== '..') s.submodules.push(p);
        continue;
      }
      if (xy === '.A') s.intentToAdd = true;
      if (xy[1] !== '.') s.candidates.push(p);
    } else if (rec.startsWith('u ')) {
      const f = splitFields(rec, 11);
      const p = f[10]!;
      if (f[2]!.startsWith('S')) {
        s.submodules.push(p);
        continue;
      }
      s.unmerged.add(p);
      s.candidates.push(p);
    } else if (rec.startsWith('? ')) {
      const p = rec.slice(2);
      if (p.endsWith('/')) s.nested.push(p);
      else {
        s.untracked.push(p);
        s.candidates.push(p);
      }
    }
  }
  return s;
}

/** Splits the first `n - 1` space-separated fields; the last one (a path) keeps its spaces. */
function splitFields(rec: string, n: number): string[] {
  const out: string[] = [];
  let rest = rec;
  for (let i = 0; i < n - 1; i++) {
    const sp = rest.indexOf(' ');
    out.push(rest.slice(0, sp));
    rest = rest.slice(sp + 1);
  }
  out.push(rest);
  return out;
}

/** `diff-tree -r -z --raw`: `:m1 m2 s1 s2 X\0path\0`. */
function parseRawDiff(stdout: string): Array<{ status: string; path: string }> {
  const fields = stdout.split('\0');
  const out: Array<{ status: string; path: string }> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const head = fields[i]!;
    if (!head.startsWith(':')) break;
    out.push({ status: head.split(' ')[4]![0]!, path: fields[i + 1]! });
  }
  return out;
}

function detectSyncState(stateFiles: string[]): SyncState | undefined {
  const has = (p: string) => stateFiles.some((f) => f === p || f.startsWith(`${p}/`));
  if (has('rebase-merge')) return 'rebase';
  if (has('rebase-apply')) return has('rebase-apply/applying') ? 'am' : 'rebase';
  if (has('MERGE_HEAD')) return 'merge';
  if (has('CHERRY_PICK_HEAD')) return 'cherry-pick';
  if (has('REVERT_HEAD')) return 'revert';
  if (has('sequencer')) return 'cherry-pick';
  return undefined;
}

async function listStateFiles(gitDir: string, linked: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const name of [...STATE_FILES, ...(linked ? [GROVE_METADATA] : [])]) {
    const stat = await lstatOrUndefined(path.join(gitDir, name));
    if (stat?.isFile()) out.push(name);
  }
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(gitDir, ...rel.split('/'));
    const stat = await lstatOrUndefined(abs);
    if (!stat) return;
    if (stat.isDirectory()) for (const child of (await fs.promises.readdir(abs)).sort()) await walk(`${rel}/${child}`);
    else if (stat.isFile()) out.push(rel);
  };
  for (const dir of STATE_DIRS) await walk(dir);
  return out;
}

async function branchConfig(run: Run, cwd: string, branches: string[], signal?: AbortSignal): Promise<Array<[string, string]>> {
  if (!branches.length) return [];
  const r = await run(cwd, ['config', '--local', '-z', '--list'], { signal, okExitCodes: [1] });
  const out: Array<[string, string]> = [];
  for (const rec of r.stdout.split('\0')) {
    const nl = rec.indexOf('\n');
    const key = nl < 0 ? rec : rec.slice(0, nl);
    const value = nl < 0 ? '' : rec.slice(nl + 1);
    if (branches.some((b) => key.startsWith(`branch.${b}.`) && !key.slice(`branch.${b}.`.length).includes('.'))) out.push([key, value]);
  }
  return out;
}

async function setBranchConfig(run: Run, cwd: string, config: Array<[string, string]>, from: string, to: string, signal?: AbortSignal): Promise<string[]> {
  const notes: string[] = [];
  for (const [key, value] of config) {
    if (!key.startsWith(`branch.${from}.`)) continue;
    const name = `branch.${to}.${key.slice(`branch.${from}.`.length)}`;
    try {
      await run(cwd, ['config', '--local', '--add', name, value], { signal });
    } catch (err) {
      notes.push(`Could not restore ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return notes;
}

/** Permission bits of clean tracked files: the most common ones for regular and executable files, and the rest. */
async function cleanPerms(top: string, entries: StageEntry[]): Promise<RestoreData['perms']> {
  const files = entries.filter((e) => e.mode === '100644' || e.mode === '100755');
  const seen = new Map<string, number>();
  const found: Array<[StageEntry, number]> = [];
  for (let i = 0; i < files.length; i++) {
    const e = files[i]!;
    try {
      const perm = fs.lstatSync(path.join(top, ...e.path.split('/'))).mode & 0o7777;
      found.push([e, perm]);
      const key = `${e.mode}:${perm}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    } catch {
      // vanished meanwhile
    }
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const common = (mode: string, fallback: number) => {
    let best = fallback;
    let n = -1;
    for (const [key, count] of seen) {
      const [m, p] = key.split(':');
      if (m === mode && count > n) [best, n] = [Number(p), count];
    }
    return best;
  };
  const file = common('100644', 0o644);
  const exec = common('100755', 0o755);
  const exceptions: Array<[string, number]> = found.filter(([e, p]) => p !== (e.mode === '100755' ? exec : file)).map(([e, p]) => [e.path, p]);
  return { file, exec, exceptions };
}

/** After `checkout-index`: gives every clean tracked file its recorded permission bits. */
async function applyCleanPerms(run: Run, top: string, data: RestoreData, signal?: AbortSignal): Promise<void> {
  if (!data.perms || isWindows) return;
  const dirty = new Set([...data.dirty.map((d) => d.path), ...data.deleted]);
  const exceptions = new Map(data.perms.exceptions);
  // checkout-index wrote 0666/0777 less the umask: when those are the recorded usual bits, only the exceptions differ.
  const umask = process.umask();
  if (data.perms.file === (0o666 & ~umask) && data.perms.exec === (0o777 & ~umask)) {
    for (const [rel, perm] of data.perms.exceptions) if (!dirty.has(rel)) await chmodIfNeeded(path.join(top, ...rel.split('/')), perm);
    return;
  }
  const listed = parseStage((await run(top, ['ls-files', '--stage', '-z'], { signal })).stdout).filter((e) => e.stage === 0 && (e.mode === '100644' || e.mode === '100755'));
  for (let i = 0; i < listed.length; i++) {
    const e = listed[i]!;
    if (dirty.has(e.path)) continue;
    await chmodIfNeeded(path.join(top, ...e.path.split('/')), exceptions.get(e.path) ?? (e.mode === '100755' ? data.perms.exec : data.perms.file));
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
}

async function indexModes(run: Run, top: string, indexFile: string, paths: string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!paths.length) return out;
  const wanted = new Set(paths);
  const listed = parseStage((await run(top, ['ls-files', '--stage', '-z'], { signal, env: { GIT_INDEX_FILE: indexFile } })).stdout);
  for (const e of listed) if (e.stage === 0 && wanted.has(e.path)) out.set(e.path, e.mode);
  return out;
}

async function chmodIfNeeded(abs: string, perm: number): Promise<void> {
  const stat = await lstatOrUndefined(abs);
  if (stat?.isFile() && (stat.mode & 0o7777) !== perm) await fs.promises.chmod(abs, perm);
}

/** `git unpack-file`: a blob's exact bytes (no filters) in a file of `dir`; returns its path. */
async function unpackBlob(run: Run, commonDir: string, dir: string, blob: string, signal?: AbortSignal): Promise<string> {
  const { stdout } = await run(dir, [`--git-dir=${commonDir}`, 'unpack-file', blob], { signal });
  return path.join(dir, stdout.trim());
}

/**
 * Writes changed/untracked/ignored files with their exact bytes and permission bits. Files whose bytes git would
 * not convert on checkout (no `text`/`eol`/`filter`/`ident`/`working-tree-encoding` attribute, no
 * `core.autocrlf=true`) and symbolic links go through one `checkout-index` from a private index; the others are
 * unpacked one by one with no filter at all (`unpack-file`, 4 at a time).
 */
async function writeDirty(run: Run, commonDir: string, top: string, files: DirtyFile[], signal?: AbortSignal): Promise<void> {
  if (!files.length) return;
  for (const d of files) {
    const stat = await lstatOrUndefined(path.join(top, ...d.path.split('/')));
    if (stat?.isDirectory()) throw new GitError(`${d.path} is a folder now; it would have to be deleted to restore the file. Nothing was changed there.`, { code: 'DirtyWorkTree' });
  }
  const safe = await conversionFree(run, top, files.filter((d) => !d.link && !d.raw).map((d) => d.path), signal);
  const viaCheckout = files.filter((d) => d.link || safe.has(d.path));
  const viaUnpack = files.filter((d) => !d.link && !safe.has(d.path));
  await withTemp(async (tmp) => {
    if (viaCheckout.length) {
      const index = path.join(tmp, 'dirty.index');
      const env = { signal, env: { GIT_INDEX_FILE: index } };
      const mode = (d: DirtyFile) => (d.link ? '120000' : (d.perm ?? 0) & 0o100 ? '100755' : '100644');
      await inChunks(viaCheckout.map((d) => `${mode(d)},${d.blob},${d.path}`), (chunk) => run(top, ['update-index', '--add', ...chunk.flatMap((c) => ['--cacheinfo', c])], env));
      await inChunks(viaCheckout.map((d) => d.path), (chunk) => run(top, ['checkout-index', '--force', '--', ...chunk], env));
      if (!isWindows) for (const d of viaCheckout) if (!d.link && d.perm !== undefined) await fs.promises.chmod(path.join(top, ...d.path.split('/')), d.perm);
    }
    let next = 0;
    const worker = async () => {
      while (next < viaUnpack.length) {
        throwIfAborted(signal);
        const d = viaUnpack[next++]!;
        const dest = path.join(top, ...d.path.split('/'));
        const unpacked = await unpackBlob(run, commonDir, tmp, d.raw ?? d.blob, signal);
        await fs.promises.mkdir(path.dirname(dest), { recursive: true });
        await removeFile(top, d.path, false);
        try {
          await fs.promises.rename(unpacked, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await fs.promises.copyFile(unpacked, dest);
          await fs.promises.rm(unpacked, { force: true });
        }
        if (!isWindows && d.perm !== undefined) await fs.promises.chmod(dest, d.perm);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, viaUnpack.length) }, worker));
  });
}

/** Attributes that make checkout change a blob's bytes. */
const CONVERTING_ATTRIBUTES = ['text', 'crlf', 'eol', 'filter', 'ident', 'working-tree-encoding'];

/** The paths among `paths` whose blob checkout would write unchanged (see {@link writeDirty}). */
async function conversionFree(run: Run, top: string, paths: string[], signal?: AbortSignal): Promise<Set<string>> {
  const safe = new Set<string>();
  if (!paths.length || paths.some((p) => p === '.gitattributes' || p.endsWith('/.gitattributes'))) return safe;
  const autocrlf = (await run(top, ['config', '--type=bool', '--get', 'core.autocrlf'], { signal, okExitCodes: [1, 128] })).stdout.trim();
  if (autocrlf === 'true') return safe;
  const unsafe = new Set<string>();
  await inChunks(paths, async (chunk) => {
    const fields = (await run(top, ['check-attr', '-z', ...CONVERTING_ATTRIBUTES, '--', ...chunk], { signal })).stdout.split('\0');
    for (let i = 0; i + 2 < fields.length; i += 3) {
      const [p, attr, value] = [fields[i]!, fields[i + 1]!, fields[i + 2]!];
      if (value !== 'unspecified' && !((attr === 'text' || attr === 'crlf') && value === 'unset')) unsafe.add(p);
    }
  });
  for (const p of paths) if (!unsafe.has(p)) safe.add(p);
  return safe;
}

/** Deletes a file or link of the worktree (never a folder), then (by default) the folders it leaves empty. */
async function removeFile(top: string, rel: string, pruneEmpty = true): Promise<void> {
  const abs = path.join(top, ...rel.split('/'));
  const stat = await lstatOrUndefined(abs);
  if (!stat || stat.isDirectory()) return;
  await fs.promises.rm(abs, { force: true });
  if (!pruneEmpty) return;
  let dir = path.dirname(abs);
  while (dir !== top && dir.startsWith(top)) {
    try {
      await fs.promises.rmdir(dir);
    } catch {
      break; // not empty
    }
    dir = path.dirname(dir);
  }
}

/**
 * Writes the recorded git-dir files of an operation in progress into `gitDir`, after deleting the current ones
 * (`current`) the target does not have. `renameBranch`: the restored branch differs from the recorded one (Grove's
 * metadata then names the new one).
 */
async function writeState(run: Run, commonDir: string, gitDir: string, state: RestoreData['state'], current: RestoreData['state'], renameBranch: string | undefined, signal?: AbortSignal): Promise<void> {
  const wanted = new Set(state.map((s) => s.path));
  for (const s of current) {
    if (!wanted.has(s.path)) await fs.promises.rm(path.join(gitDir, ...s.path.split('/')), { force: true });
  }
  for (const dir of STATE_DIRS) {
    if (!state.some((s) => s.path.startsWith(`${dir}/`))) await fs.promises.rm(path.join(gitDir, dir), { recursive: true, force: true });
  }
  if (!state.length) return;
  await withTemp(async (tmp) => {
    for (const s of state) {
      const dest = path.join(gitDir, ...s.path.split('/'));
      await fs.promises.mkdir(path.dirname(dest), { recursive: true });
      const file = await unpackBlob(run, commonDir, tmp, s.blob, signal);
      if (s.path === GROVE_METADATA && renameBranch) {
        try {
          const meta = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { branch?: string };
          meta.branch = renameBranch;
          await fs.promises.writeFile(file, JSON.stringify(meta, null, 2));
        } catch {
          // not JSON: copied as is
        }
      }
      await fs.promises.copyFile(file, dest);
    }
  });
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 * 1024) return `${Math.round(n / 1024 ** 2)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
