/** The public shapes of the worktree engine (re-exported by worktreeManager.ts). */
import type { Logger } from '../util/logger';
import type { Liveness, ProcessIdentity, ProcessProbe } from '../platform/processes';
import type { IgnoredEntry } from './ignoredFiles';

export interface RepositoryInfo {
  /** Top level of the worktree containing the given path. */
  root: string;
  /** The repository's main worktree (where `.git` is a folder). */
  mainWorktree: string;
  /** Absolute real path of the git common dir (shared by all worktrees). */
  commonDir: string;
  /** Current branch, or undefined when HEAD is detached. */
  branch?: string;
  detached: boolean;
  head?: string;
  hasCommits: boolean;
  isBare: boolean;
}

export interface CreateWorktreeOptions {
  /** Any folder inside the repository's working tree. */
  repoRoot: string;
  /** Free text (a task title); turned into a safe slug. Never reaches a shell, an option position or a config key. */
  title: string;
  /** Branch, tag or commit to start from; the current branch by default. Required when HEAD is detached. */
  baseRef?: string;
  /** Branch name prefix; the branch is `<prefix>/<slug>`. Checked by {@link validateBranchPrefix}. */
  branchPrefix?: string;
  /** Parent folder of the worktrees; may contain `${repoParent}` and `${repoName}`; relative = to the repo. */
  worktreeRoot?: string;
  /** gitignore-style patterns of untracked files to copy from the repository into the new worktree. */
  copyFiles?: readonly string[];
  /** The user's setup command (e.g. `npm ci`), run through the shell in the new worktree. */
  setupCommand?: string;
  /** Extra environment for the setup command. */
  env?: Record<string, string>;
  /** The fleet instance the worktree is for; recorded in its metadata. */
  instanceId?: string;
  /** Take a spare of the warm pool (worktreePool.ts) for this repository and base when there is one. */
  fromPool?: boolean;
  signal?: AbortSignal;
  /** Output of submodule initialisation and of the setup command, as it arrives. */
  onOutput?: (chunk: string) => void;
}

export interface CreatedWorktree {
  path: string;
  branch: string;
  slug: string;
  baseRef: string;
  baseCommit: string;
  /** Port for the worktree's dev servers, also exported to the setup command as `GROVE_PORT`. */
  port: number;
  /** Relative paths copied from the repository (folders end with `/`). */
  copiedFiles: string[];
  /**
   * True when the setup command exited non-zero. The worktree is then KEPT (so the user can inspect it and
   * read the log) and `create` resolves rather than rejects; the caller marks the instance failed.
   */
  setupFailed: boolean;
  /** Exit code of the setup command (null if it was ended by a signal); absent when there was none. */
  setupExitCode?: number | null;
}

export interface WorktreeInfo {
  path: string;
  /** The branch checked out now (undefined when detached). */
  branch?: string;
  head?: string;
  detached: boolean;
  isMain: boolean;
  bare: boolean;
  managedByGrove: boolean;
  /** A spare of the warm pool (worktreePool.ts): detached at its base's tip, waiting for a dispatch. */
  spare?: boolean;
  slug?: string;
  port?: number;
  baseRef?: string;
  baseCommit?: string;
  /** The branch Grove created for the task (may differ from `branch` if someone checked out another one). */
  taskBranch?: string;
  instanceId?: string;
  /** Commits on the branch not in its base / in the base not on the branch; undefined without a base. */
  ahead?: number;
  behind?: number;
  /** Uncommitted (staged or not) plus untracked files; undefined when the folder is gone. */
  changedFiles?: number;
  locked: boolean;
  lockedReason?: string;
  /** The process a Grove lock names (recorded by {@link WorktreeManager.lock}). */
  lockOwner?: ProcessIdentity;
  /** The folder was deleted by hand; `prune` cleans it up. */
  stale: boolean;
}

export interface CommitSummary {
  sha: string;
  subject: string;
}

/** Commits of an initialised submodule that exist only in this worktree (its git dir goes with the worktree). */
export interface SubmoduleCommits {
  /** The submodule's path relative to the worktree (`vendor/lib`). */
  path: string;
  commits: CommitSummary[];
}

/** Exactly what removing a worktree (and, with it, possibly its task branch) would lose. */
export interface RemovalReport {
  path: string;
  /** The branch checked out in the worktree now. */
  branch?: string;
  /** The branch Grove created for the task: the only branch `remove` may delete. */
  taskBranch?: string;
  baseRef?: string;
  isMain: boolean;
  stale: boolean;
  locked: boolean;
  lockedReason?: string;
  lockOwner?: ProcessIdentity;
  /** Whether the lock's owner still runs (`unknown`: another host, or a lock without a recorded owner). */
  lockOwnerLiveness?: Liveness;
  /**
   * Modified, staged, deleted or conflicted tracked files — inside initialised submodules too, as
   * `<submodule>/<file>`.
   */
  uncommitted: string[];
  /** Untracked files that are not git-ignored (ignored files such as `node_modules` are not counted); submodules too. */
  untracked: string[];
  /**
   * Git-ignored files and folders removal would delete that are not regenerable (an edited `.env.local`, notes, a
   * nested repository; not `node_modules/` or build output), without copies Grove made that are still unchanged.
   * Listed in every confirmation; not a loss by itself (`hasLoss`): the remove flow snapshots them before removing.
   */
  ignored?: IgnoredEntry[];
  /**
   * Commits on the task branch (else the checked-out branch) not in its base; without a recorded base, the commits
   * reachable from no other branch, remote-tracking branch or tag. Lost only if that branch is deleted.
   */
  commits: CommitSummary[];
  /**
   * Commits reachable only from this worktree's HEAD — a detached HEAD, or commits made on a detached HEAD that only
   * the worktree's HEAD log still remembers — and from no branch, tag, remote-tracking branch or other worktree.
   * Removing the worktree loses them, whatever happens to the branches.
   */
  detachedCommits: CommitSummary[];
  /** Commits inside initialised submodules that no remote-tracking branch of the submodule has (lost with it). */
  submoduleCommits: SubmoduleCommits[];
  /** The task branch's tip is contained in its base (deleting the branch loses nothing). */
  merged: boolean;
  /** Anything at all in the lists above. */
  hasLoss: boolean;
  /** Something is lost by removing the worktree even when every branch is kept (files, detached, submodules). */
  hasWorktreeLoss: boolean;
}

export interface RemoveOptions {
  /** The user confirmed the loss listed by {@link WorktreeManager.inspectRemoval}. */
  force?: boolean;
  /**
   * A Grove lock this process holds although none of its agents runs there any more (the unlock after an agent's
   * exit is asynchronous): it does not block the removal.
   */
  releasedLockOf?: ProcessIdentity;
  /**
   * What to do with the task branch (the branch Grove created for this worktree; a branch someone else checked out
   * in it is never deleted). `ifMerged` (default): only when its tip is in its base.
   */
  deleteBranch?: 'ifMerged' | 'always' | 'never';
  /**
   * Called before the task branch is deleted, outside Grove's mutation queue (so it may run git mutations of its
   * own); if it throws, the branch is kept. Default: writes `refs/grove/backup/<branch>/<tip>` (BACKUP_REF_PREFIX).
   */
  beforeDeleteBranch?: (branch: string, tip: string) => Promise<void>;
  /** The repository, needed only when the worktree folder is gone and lies outside the repository. */
  repoRoot?: string;
  signal?: AbortSignal;
}

export interface RemoveResult {
  path: string;
  /** The branch the deletion decision was about: the task branch, else the branch that was checked out. */
  branch?: string;
  branchDeleted: boolean;
  /** Why the branch was kept, when it was. */
  branchKeptReason?: string;
  /** The backup ref written before deleting the branch (when the default `beforeDeleteBranch` ran). */
  backupRef?: string;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** The process whose life the lock stands for (default: this process). A removal refuses while it lives. */
  owner?: ProcessIdentity;
}

export interface WorktreeManagerOptions {
  logger?: Logger;
  /** First port handed out (default 41000). */
  portBase?: number;
  /** Process facts for lock owners (tests inject one). */
  probe?: ProcessProbe;
  /** How long a create waits for another process's creation lock (default 120 s). */
  creationLockTimeoutMs?: number;
}
