/** Types and constants of {@link Snapshots} (see snapshots.ts for what a snapshot holds and the decisions). */
import type { Logger } from '../util/logger';
import type { ChangedFile } from './changes';
import type { GitCallOptions, GitResult, LockedRepository } from './gitClient';
import type { IgnoredEntry } from './ignoredFiles';

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
  /** An opaque record the caller kept with the snapshot (the removed agent's registry row, so Restore brings it back). */
  record?: Record<string, unknown>;
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
  /** Test seam: called before each restore step ('worktree', 'index', 'files', 'state', 'config') and before a capture is committed ('captured'); may throw. */
  onStep?: (step: string) => void | Promise<void>;
}

export interface CommonOptions {
  signal?: AbortSignal;
  /** The caller already holds the repository's mutation queue (inside {@link GitClient.exclusive}). */
  locked?: LockedRepository;
}

export interface SnapshotWorktreeOptions extends CommonOptions {
  reason: string;
  instanceId?: string;
  title?: string;
  /** Kept as {@link SnapshotMeta.record}. */
  record?: Record<string, unknown>;
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
  /**
   * Read and recorded beside the repository's mutation queue (its own private index and new objects, as the radar
   * does, and its own new ref): a turn's checkpoint does not wait behind the other worktrees' creates, syncs and lands.
   * When a queued flow is running git in this worktree, or ran some while it was read (a sync, a rebase), it is
   * recorded again in the queue, after that flow, so it never holds half of one.
   */
  unshared?: boolean;
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
export interface DirtyFile {
  path: string;
  /** Blob as `git add` would store it (what `files/` holds). */
  blob: string;
  /** Blob of the exact bytes, when they differ from `blob`. */
  raw?: string;
  perm?: number;
  link?: true;
  ignored?: true;
}

export interface RestoreData {
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

export type Run = (cwd: string, args: readonly string[], options?: GitCallOptions) => Promise<GitResult>;

export interface Captured {
  meta: SnapshotMeta;
  data: RestoreData;
}

export interface Target {
  ref: string;
  meta: SnapshotMeta;
  data: RestoreData;
}

/** Files of a worktree's git dir that make up an operation in progress (and Grove's own). */
export const STATE_FILES = ['MERGE_HEAD', 'MERGE_MSG', 'MERGE_MODE', 'MERGE_AUTOSTASH', 'AUTO_MERGE', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'REBASE_HEAD', 'ORIG_HEAD', 'SQUASH_MSG', 'config.worktree'];
export const STATE_DIRS = ['rebase-merge', 'rebase-apply', 'sequencer'];
export const GROVE_METADATA = 'grove.json';
export const EMPTY_TREE_SHA1 = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
export const EMPTY_TREE_SHA256 = '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321';
/** Keeps each command line far below Windows' 32,767 characters. */
export const MAX_ARGS_CHARS = 24_000;
export const IDENTITY = { GIT_AUTHOR_NAME: 'Grove', GIT_AUTHOR_EMAIL: 'grove@localhost', GIT_COMMITTER_NAME: 'Grove', GIT_COMMITTER_EMAIL: 'grove@localhost' };
export const isWindows = process.platform === 'win32';

/** What the recording and restoring steps need of their {@link Snapshots}. */
export interface SnapshotContext {
  logger: Logger;
  /** Total bytes of ignored files one snapshot stores. */
  sizeLimitBytes: number;
  now: () => number;
  onStep: (step: string) => void | Promise<void>;
  /** Common dir → main worktree, as `worktree list` said (see `locate`). */
  mainWorktrees?: Map<string, string>;
}
