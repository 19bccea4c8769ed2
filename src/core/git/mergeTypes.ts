/** Types shared by the sync and merge services, the facts they gather and the policy that judges them. */
import { GitError, type GitErrorCode } from './gitError';

export type SyncStrategy = 'merge' | 'rebase';
export type MergeStrategy = 'merge' | 'squash' | 'rebase';

/** Where backup refs of rebased branches live. */
export const BACKUP_REF_PREFIX = 'refs/grove/backup/';

export const MAX_CHECK_OUTPUT = 1024 * 1024;

export interface SyncOptions {
  worktreePath: string;
  branch: string;
  /** The base to bring in: a branch (local or remote-tracking) or any commit-ish. Its current tip is used. */
  baseRef: string;
  strategy: SyncStrategy;
  /**
   * Paths Grove copied into the worktree (`grove.copyFiles`, folders may end with `/`): they are the user's
   * local files, not the agent's work, so they never count as uncommitted work.
   */
  exclude?: readonly string[];
  signal?: AbortSignal;
}

export interface SyncResult {
  status: 'upToDate' | 'synced' | 'conflicted';
  /** Conflicted files (relative, `/` separators) when `conflicted`. */
  conflicts?: string[];
}

export interface SyncState {
  /** The operation in progress in the worktree, if any. */
  operation?: 'merge' | 'rebase' | 'cherry-pick' | 'revert';
  /** Files with unresolved conflicts (unmerged index entries). */
  conflicts: string[];
}

export type MergeProblemCode =
  | 'AgentRunning'
  | 'SyncInProgress'
  /** The worktree is not on the instance's branch (detached, or another branch checked out). */
  | 'NotOnBranch'
  | 'UncommittedWork'
  | 'NothingToMerge'
  | 'BaseNotABranch'
  | 'Conflicts'
  | 'BaseMoved'
  | 'UserCheckoutDirty'
  /** Files that are not committed anywhere (ignored or untracked) and that the operation would overwrite. */
  | 'FilesInTheWay'
  | 'CheckFailed';

export interface MergeProblem {
  code: MergeProblemCode;
  /** A sentence for the user that says what to do. */
  message: string;
  /** False for information only (see BaseMoved). */
  blocking: boolean;
  files?: string[];
  /** The checkout concerned (UserCheckoutDirty, FilesInTheWay). */
  worktreePath?: string;
  /** Output of the check command (CheckFailed). */
  output?: string;
}

export interface PreflightOptions {
  repoRoot: string;
  worktreePath: string;
  branch: string;
  baseRef: string;
  /** The instance's agent is running (its work is still changing). */
  running: boolean;
  strategy?: MergeStrategy;
  /** Paths Grove copied into the worktree: not the agent's work (see {@link SyncOptions.exclude}). */
  exclude?: readonly string[];
  /** The user's configured check (e.g. `npm test`); run through the platform shell in the worktree. */
  checkCommand?: string;
  /** Receives the check command's output as it arrives. */
  onCheckOutput?: (chunk: string) => void;
  signal?: AbortSignal;
}

export interface CheckRun {
  command: string;
  exitCode: number | null;
  passed: boolean;
  /** Combined stdout and stderr (the last {@link MAX_CHECK_OUTPUT} characters). */
  output: string;
}

export interface PreflightResult {
  /** No blocking problem. */
  ok: boolean;
  problems: MergeProblem[];
  /** Present when the check command ran (it is skipped while another problem already blocks the merge). */
  check?: CheckRun;
}

export interface ConflictPrediction {
  clean: boolean;
  conflicts: string[];
  /** The merged tree (with conflict markers when not clean). */
  tree: string;
}

export interface MergeOptions {
  repoRoot: string;
  worktreePath: string;
  branch: string;
  /** A local branch. */
  baseRef: string;
  strategy: MergeStrategy;
  /**
   * Commit message of the merge or squash commit (see {@link mergeMessage}); ignored for rebase. Default:
   * `mergeMessage(strategy, { title: branch, branch, baseRef })`. Passed to git through a file, so any text is fine.
   */
  message?: string;
  /** Paths Grove copied into the worktree: not the agent's work (see {@link SyncOptions.exclude}). */
  exclude?: readonly string[];
  signal?: AbortSignal;
}

export interface MergeResult {
  /** The base's new tip. */
  mergedCommit: string;
  strategy: MergeStrategy;
  /** How the base was moved: through its checkout, or by ref only. */
  updatedVia: 'checkout' | 'ref';
  /** The checkout that was fast-forwarded, when `updatedVia` is `checkout`. */
  checkoutPath?: string;
}

export interface CommitWorkOptions {
  worktreePath: string;
  /**
   * The commit message, or a function of the files the commit really contains (after `exclude`), e.g.
   * `(files) => suggestCommitMessage(title, files)`. Passed to git through a file, so any text is fine.
   */
  message: string | ((committedFiles: string[]) => string);
  /**
   * Paths never to stage (the files Grove copied into the worktree, `grove.copyFiles`; folders may end with
   * `/`). Taken literally: spaces, `*`, `?`, `[`, a leading `-` or `:` are just characters. A copied file the
   * agent staged itself is unstaged again (it stays on disk).
   */
  exclude?: readonly string[];
  signal?: AbortSignal;
}

/** A refused operation: `problems` says why and what to do. Nothing was changed. */
export class MergeBlockedError extends GitError {
  readonly problems: MergeProblem[];
  constructor(problems: MergeProblem[], code: GitErrorCode) {
    super(problems.map((p) => p.message).join('\n'), { code, details: problems });
    this.name = 'MergeBlockedError';
    this.problems = problems;
  }
}

const PROBLEM_ERROR_CODE: Record<MergeProblemCode, GitErrorCode> = {
  AgentRunning: 'WorktreeLocked',
  SyncInProgress: 'Conflict',
  NotOnBranch: 'DetachedHead',
  UncommittedWork: 'DirtyWorkTree',
  NothingToMerge: 'NotFound',
  BaseNotABranch: 'NotFound',
  Conflicts: 'Conflict',
  BaseMoved: 'RefLocked',
  UserCheckoutDirty: 'DirtyWorkTree',
  FilesInTheWay: 'DirtyWorkTree',
  CheckFailed: 'Unknown',
};

/** The error for blocking problems (the error code is the first problem's). Undefined when none blocks. */
export function blockedError(problems: readonly MergeProblem[]): MergeBlockedError | undefined {
  const blocking = problems.filter((p) => p.blocking);
  return blocking.length ? new MergeBlockedError(blocking, PROBLEM_ERROR_CODE[blocking[0]!.code]) : undefined;
}

/** Throws {@link blockedError} when some problem blocks. */
export function throwIfBlocked(problems: readonly MergeProblem[]): void {
  const error = blockedError(problems);
  if (error) throw error;
}
