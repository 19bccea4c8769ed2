/**
 * Brings an instance's work back: sync the base into the instance's branch (inside its own worktree), check
 * that a merge is safe, and merge the branch into its base with a merge commit, a squash or a rebase plus
 * fast-forward — without ever touching uncommitted work in the user's checkout, and without losing commits.
 *
 * How the base branch is updated:
 * - The new base commit is always built first without any work tree: `git merge-tree --write-tree` gives the
 *   merged tree and `git commit-tree` the merge or squash commit (for a rebase, the rebased branch tip).
 * - Base checked out nowhere: `git update-ref refs/heads/<base> <new> <old>` — an atomic compare-and-swap, so
 *   a base that moved in the meantime is never overwritten.
 * - Base checked out in some worktree (usually the user's main checkout): that checkout is fast-forwarded with
 *   `git merge --ff-only <new>` so its files stay consistent with its branch. git's two-way checkout keeps
 *   unrelated local changes (staged or not) and refuses, changing nothing, if a local change would be
 *   overwritten; Grove checks the same thing first to give a clear message.
 *
 * Rebases rewrite the branch; the previous tip is kept as `refs/grove/backup/<branch>/<sha>` until it is an
 * ancestor of the branch again, so no commit ever becomes unreachable ({@link MergeService.dropBackups}
 * removes them with the branch).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import { parseNulList } from './changes';
import type { GitClient, LockedRepository } from './gitClient';
import { GitError, isGitError, type GitErrorCode } from './gitError';
import { normalizePath, readAdminDirs, runSetupCommand } from './provisioner';
import { parseStatus, parseWorktreeList } from './worktreeParser';

export type SyncStrategy = 'merge' | 'rebase';
export type MergeStrategy = 'merge' | 'squash' | 'rebase';

/** Where backup refs of rebased branches live. */
export const BACKUP_REF_PREFIX = 'refs/grove/backup/';

export interface SyncOptions {
  worktreePath: string;
  branch: string;
  /** The base to bring in: a branch (local or remote-tracking) or any commit-ish. Its current tip is used. */
  baseRef: string;
  strategy: SyncStrategy;
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
  | 'UncommittedWork'
  | 'NothingToMerge'
  | 'BaseNotABranch'
  | 'Conflicts'
  | 'BaseMoved'
  | 'UserCheckoutDirty'
  | 'CheckFailed';

export interface MergeProblem {
  code: MergeProblemCode;
  /** A sentence for the user that says what to do. */
  message: string;
  /** False for information only (see BaseMoved). */
  blocking: boolean;
  files?: string[];
  /** The checkout concerned (UserCheckoutDirty). */
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
  /** Commit message of the merge or squash commit (see {@link squashMessage}); ignored for rebase. */
  message?: string;
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
  message: string;
  /** Paths never to stage (the files Grove copied into the worktree). */
  exclude?: readonly string[];
  signal?: AbortSignal;
}

export const MAX_CHECK_OUTPUT = 1024 * 1024;

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
  UncommittedWork: 'DirtyWorkTree',
  NothingToMerge: 'NotFound',
  BaseNotABranch: 'NotFound',
  Conflicts: 'Conflict',
  BaseMoved: 'RefLocked',
  UserCheckoutDirty: 'DirtyWorkTree',
  CheckFailed: 'Unknown',
};

function blocked(problem: Omit<MergeProblem, 'blocking'>): MergeBlockedError {
  return new MergeBlockedError([{ ...problem, blocking: true }], PROBLEM_ERROR_CODE[problem.code]);
}

export class MergeService {
  private readonly logger: Logger;

  constructor(
    private readonly git: GitClient,
    logger?: Logger,
  ) {
    this.logger = logger ?? nullLogger;
  }

  // ---------------------------------------------------------------------------------------------- sync

  /**
   * Brings the current tip of the base into the instance's branch inside its worktree, by merge or rebase.
   * Refuses (MergeBlockedError `UncommittedWork`, nothing changed) when the worktree has uncommitted or
   * untracked files: the caller may offer {@link commitWork} first. On conflicts the worktree is left in the
   * merge/rebase state for the merge editor; then {@link completeSync} or {@link abortSync}.
   */
  async syncFromBase(options: SyncOptions): Promise<SyncResult> {
    const { worktreePath, branch, baseRef, strategy, signal } = options;
    return this.git.exclusive(worktreePath, async (repo) => {
      await this.assertReadyWorktree(worktreePath, branch, signal);
      const baseTip = await this.resolveCommit(worktreePath, baseRef, signal);
      const head = await this.resolveCommit(worktreePath, 'HEAD', signal);
      if (await this.isAncestor(worktreePath, baseTip, head, signal)) return { status: 'upToDate' };
      this.logger.info(`sync ${branch} from ${baseRef} (${strategy})`);
      if (strategy === 'rebase') {
        await this.writeBackup(repo, worktreePath, branch, head, signal);
        return this.runUntilStop(repo, worktreePath, ['rebase', baseTip], branch, signal);
      }
      return this.runUntilStop(repo, worktreePath, ['merge', '--no-edit', '-m', `Merge ${baseRef} into ${branch}`, baseTip], branch, signal);
    }, signal);
  }

  /** Whether a merge or rebase is in progress in the worktree and which files are conflicted. */
  async syncState(worktreePath: string, signal?: AbortSignal): Promise<SyncState> {
    const gitDir = (await this.git.read(worktreePath, ['rev-parse', '--absolute-git-dir'], { signal })).stdout.trim();
    const has = (name: string) => fs.existsSync(path.join(gitDir, name));
    let operation: SyncState['operation'];
    if (has('rebase-merge') || has('rebase-apply')) operation = 'rebase';
    else if (has('MERGE_HEAD')) operation = 'merge';
    else if (has('CHERRY_PICK_HEAD')) operation = 'cherry-pick';
    else if (has('REVERT_HEAD')) operation = 'revert';
    return { operation, conflicts: await this.unmerged(worktreePath, signal) };
  }

  /**
   * Concludes a sync whose conflicts the user resolved (and staged — VS Code's merge editor stages a file on
   * "Complete Merge"). Refuses, listing them, while files are unmerged or staged content still holds conflict
   * markers. A rebase may stop again on a later commit: the result is then `conflicted` with the new files.
   */
  async completeSync(worktreePath: string, signal?: AbortSignal): Promise<SyncResult> {
    return this.git.exclusive(worktreePath, async (repo) => {
      const state = await this.syncState(worktreePath, signal);
      if (state.operation !== 'merge' && state.operation !== 'rebase') {
        throw new GitError(`No sync is in progress in ${worktreePath}.`, { code: 'NotFound' });
      }
      if (state.conflicts.length) {
        throw blocked({
          code: 'SyncInProgress', files: state.conflicts,
          message: `Resolve the conflicts first (${state.conflicts.join(', ')}): open each in the merge editor and complete it, or stage the resolved file.`,
        });
      }
      const markers = await this.leftoverMarkers(worktreePath, signal);
      if (markers.length) {
        throw blocked({
          code: 'SyncInProgress', files: markers,
          message: `These files still contain conflict markers: ${markers.join(', ')}. Edit them, stage them, then complete the sync.`,
        });
      }
      const branch = await this.headBranchOrRebasing(worktreePath, signal);
      if (state.operation === 'merge') {
        // --no-edit: take git's prepared message; never open an editor.
        await repo.run(worktreePath, ['commit', '--no-edit'], { signal });
        await this.dropRedundantBackups(repo, worktreePath, branch, signal);
        return { status: 'synced' };
      }
      // A rebase stopped on a conflict: commit the resolution ourselves with --no-edit (so no editor can be
      // needed whatever GIT_EDITOR says), unless the resolution made the commit empty (then it is dropped).
      const staged = await this.git.read(worktreePath, ['diff', '--cached', '--quiet'], { signal, okExitCodes: [1] });
      if (staged.exitCode === 1) await repo.run(worktreePath, ['commit', '--no-edit'], { signal });
      return this.runUntilStop(repo, worktreePath, ['-c', 'core.editor=true', 'rebase', '--continue'], branch, signal);
    }, signal);
  }

  /** Ends a sync in progress and restores exactly the state before it (HEAD, index and files). */
  async abortSync(worktreePath: string, signal?: AbortSignal): Promise<void> {
    await this.git.exclusive(worktreePath, async (repo) => {
      const state = await this.syncState(worktreePath, signal);
      if (!state.operation) return;
      const branch = await this.headBranchOrRebasing(worktreePath, signal);
      if (state.operation === 'rebase') await repo.run(worktreePath, ['rebase', '--abort'], { signal });
      else await repo.run(worktreePath, [state.operation, '--abort'], { signal });
      await this.dropRedundantBackups(repo, worktreePath, branch, signal);
    }, signal);
  }

  /** Runs a merge/rebase step; distinguishes "stopped on conflicts" (kept) from any other failure (undone). */
  private async runUntilStop(repo: LockedRepository, worktreePath: string, args: string[], branch: string | undefined, signal?: AbortSignal): Promise<SyncResult> {
    let failure: unknown;
    try {
      await repo.run(worktreePath, args, { signal });
    } catch (err) {
      failure = err;
    }
    if (failure === undefined) {
      await this.dropRedundantBackups(repo, worktreePath, branch, signal);
      return { status: 'synced' };
    }
    const state = await this.syncState(worktreePath, signal);
    if (state.operation && state.conflicts.length) {
      this.logger.info(`sync stopped on conflicts in ${worktreePath}: ${state.conflicts.join(', ')}`);
      return { status: 'conflicted', conflicts: state.conflicts };
    }
    // Stopped for another reason (an untracked file in the way, a hook…): undo so the worktree is as before.
    if (state.operation === 'rebase') await repo.run(worktreePath, ['rebase', '--abort']).catch(() => undefined);
    else if (state.operation === 'merge') await repo.run(worktreePath, ['merge', '--abort']).catch(() => undefined);
    await this.dropRedundantBackups(repo, worktreePath, branch).catch(() => undefined);
    throw failure;
  }

  // ---------------------------------------------------------------------------------------------- checks

  /** Predicts the conflicts of merging `branch` into `baseRef` with `git merge-tree` (no work tree touched). */
  async predictConflicts(options: { repoRoot: string; branch: string; baseRef: string; signal?: AbortSignal }): Promise<ConflictPrediction> {
    const { repoRoot, signal } = options;
    const base = await this.resolveCommit(repoRoot, options.baseRef, signal);
    const tip = await this.resolveCommit(repoRoot, options.branch, signal);
    return this.mergeTree(repoRoot, base, tip, signal);
  }

  /**
   * Everything that blocks merging the instance now. The check command runs last, and only when nothing else
   * blocks (no point running a test suite for a merge that cannot happen).
   *
   * BaseMoved policy: the base having moved since the branch's merge-base never makes a merge, squash or
   * rebase unsafe by itself — a clean `merge-tree` proves the combination is well defined, and a squash
   * builds exactly what `git merge --squash` would. It is reported as information, and becomes blocking only
   * when a check command is configured: the check then ran on a tree that is not what would land, so a sync
   * (which brings the base in and lets the check run on the combination) is required first.
   */
  async preflight(options: PreflightOptions): Promise<PreflightResult> {
    const { repoRoot, worktreePath, branch, baseRef, signal } = options;
    const problems: MergeProblem[] = [];
    const add = (p: MergeProblem) => problems.push(p);
    if (options.running) {
      add({ code: 'AgentRunning', blocking: true, message: 'The agent is still running: wait for it to finish or stop it before merging.' });
    }
    const state = await this.syncState(worktreePath, signal);
    if (state.operation) {
      add({
        code: 'SyncInProgress', blocking: true, files: state.conflicts,
        message: `A ${state.operation} is in progress in the worktree${state.conflicts.length ? ` with conflicts in ${state.conflicts.join(', ')}` : ''}: complete or abort the sync first.`,
      });
    }
    const dirty = await this.dirtyFiles(worktreePath, signal);
    if (dirty.length && !state.operation) {
      add({ code: 'UncommittedWork', blocking: true, files: dirty, message: `The agent's work is not committed (${describeFiles(dirty)}): commit it first.` });
    }
    const base = await this.localBranch(repoRoot, baseRef, signal);
    if (!base) {
      add({ code: 'BaseNotABranch', blocking: true, message: `The base '${baseRef}' is not a local branch: Grove merges into local branches only.` });
      return { ok: false, problems };
    }
    const tip = await this.resolveCommit(repoRoot, `refs/heads/${branch}`, signal);
    if ((await this.isAncestor(repoRoot, tip, base.tip, signal)) && !dirty.length) {
      add({ code: 'NothingToMerge', blocking: true, message: `${branch} has no commits that are not already in ${baseRef}.` });
      return { ok: false, problems };
    }
    const prediction = await this.mergeTree(repoRoot, base.tip, tip, signal);
    if (!prediction.clean) {
      add({
        code: 'Conflicts', blocking: true, files: prediction.conflicts,
        message: `Merging into ${baseRef} would conflict in ${describeFiles(prediction.conflicts)}: sync the instance from ${baseRef} and resolve them there first.`,
      });
    } else {
      const touched = await this.changedPaths(repoRoot, base.tip, prediction.tree, signal);
      problems.push(...(await this.checkoutProblems(repoRoot, base.ref, touched, signal)));
    }
    const mergeBase = (await this.git.read(repoRoot, ['merge-base', base.tip, tip], { signal })).stdout.trim();
    if (mergeBase !== base.tip) {
      const gated = !!options.checkCommand?.trim();
      add({
        code: 'BaseMoved', blocking: gated,
        message: gated
          ? `${baseRef} moved since the agent's work was based on it: sync the instance from ${baseRef} so the check runs on what would be merged.`
          : `${baseRef} has new commits since the agent's work was based on it; the merge is still clean.`,
      });
    }
    let check: CheckRun | undefined;
    const command = options.checkCommand?.trim();
    if (command && !problems.some((p) => p.blocking)) {
      check = await this.runCheck(command, worktreePath, branch, options.onCheckOutput, signal);
      if (!check.passed) {
        add({ code: 'CheckFailed', blocking: true, output: check.output, message: `The check \`${command}\` failed (exit ${check.exitCode ?? 'signal'}): see its log.` });
      }
    }
    return { ok: !problems.some((p) => p.blocking), problems, ...(check ? { check } : {}) };
  }

  private async runCheck(command: string, worktreePath: string, branch: string, onOutput: ((c: string) => void) | undefined, signal?: AbortSignal): Promise<CheckRun> {
    let output = '';
    this.logger.info(`check: ${command} (in ${worktreePath})`);
    // The user's own configured command line, so it runs through the platform shell on purpose (like a
    // task in tasks.json); it is never built from agent or git output.
    const env = { ...process.env, GROVE_WORKTREE: worktreePath, GROVE_BRANCH: branch };
    const result = await runSetupCommand(command, worktreePath, env, (chunk) => {
      output += chunk;
      if (output.length > MAX_CHECK_OUTPUT * 2) output = output.slice(-MAX_CHECK_OUTPUT);
      onOutput?.(chunk);
    }, signal);
    return { command, exitCode: result.exitCode, passed: result.exitCode === 0, output: output.slice(-MAX_CHECK_OUTPUT) };
  }

  // ---------------------------------------------------------------------------------------------- commit

  /**
   * Stages everything (`git add -A`) and commits it in the worktree. Returns the new commit, or undefined
   * when there was nothing to commit. A failed commit (a hook, no identity…) restores the index as it was.
   */
  async commitWork(options: CommitWorkOptions): Promise<string | undefined> {
    const { worktreePath, message, signal } = options;
    if (!message.trim()) throw new GitError('A commit message is required.', { code: 'Unknown' });
    return this.git.exclusive(worktreePath, async (repo) => {
      const state = await this.syncState(worktreePath, signal);
      if (state.operation) {
        throw blocked({ code: 'SyncInProgress', files: state.conflicts, message: `A ${state.operation} is in progress in ${worktreePath}: complete or abort it first.` });
      }
      const savedIndex = (await repo.run(worktreePath, ['write-tree'], { signal })).stdout.trim();
      await repo.run(worktreePath, ['add', '-A'], { signal });
      const staged = await repo.run(worktreePath, ['diff', '--cached', '--quiet'], { signal, okExitCodes: [1] });
      if (staged.exitCode === 0) {
        await repo.run(worktreePath, ['read-tree', savedIndex]);
        return undefined;
      }
      try {
        await repo.run(worktreePath, ['commit', '-q', '-m', message], { signal });
      } catch (err) {
        await repo.run(worktreePath, ['read-tree', savedIndex]).catch(() => undefined);
        throw err;
      }
      return (await repo.run(worktreePath, ['rev-parse', 'HEAD'])).stdout.trim();
    }, signal);
  }

  // ---------------------------------------------------------------------------------------------- merge

  /**
   * Merges the instance's branch into its base. Re-checks inside the repository's queue what must hold (the
   * worktree is clean and on the branch, no conflicts, the user's checkout would not lose anything) and
   * refuses with MergeBlockedError otherwise; the check command and "agent running" are {@link preflight}'s.
   * On any failure the repository is left as it was; if even that restore fails, the error says how to finish.
   */
  async mergeIntoBase(options: MergeOptions): Promise<MergeResult> {
    const { repoRoot, worktreePath, branch, baseRef, strategy, signal } = options;
    return this.git.exclusive(repoRoot, async (repo) => {
      await this.assertReadyWorktree(worktreePath, branch, signal);
      const base = await this.localBranch(repoRoot, baseRef, signal);
      if (!base) throw blocked({ code: 'BaseNotABranch', message: `The base '${baseRef}' is not a local branch: Grove merges into local branches only.` });
      const tip = await this.resolveCommit(repoRoot, `refs/heads/${branch}`, signal);
      if (await this.isAncestor(repoRoot, tip, base.tip, signal)) {
        throw blocked({ code: 'NothingToMerge', message: `${branch} has no commits that are not already in ${baseRef}.` });
      }
      const prediction = await this.mergeTree(repoRoot, base.tip, tip, signal);
      if (!prediction.clean) {
        throw blocked({
          code: 'Conflicts', files: prediction.conflicts,
          message: `Merging into ${baseRef} would conflict in ${describeFiles(prediction.conflicts)}: sync the instance from ${baseRef} and resolve them there first.`,
        });
      }
      const predictedTouched = await this.changedPaths(repoRoot, base.tip, prediction.tree, signal);
      const checkoutIssues = (await this.checkoutProblems(repoRoot, base.ref, predictedTouched, signal)).filter((p) => p.blocking);
      if (checkoutIssues.length) throw new MergeBlockedError(checkoutIssues, 'DirtyWorkTree');

      let newTip: string;
      let undo: (() => Promise<void>) | undefined;
      if (strategy === 'rebase') {
        if (await this.isAncestor(repoRoot, base.tip, tip, signal)) {
          newTip = tip;
        } else {
          newTip = await this.rebaseForMerge(repo, worktreePath, branch, base.tip, baseRef, tip, signal);
          undo = () => this.undoRebase(repo, worktreePath, branch, tip);
        }
      } else {
        const message = options.message?.trim() || (strategy === 'squash' ? squashMessage(branch) : `Merge branch '${branch}' into ${base.name}`);
        const parents = strategy === 'merge' ? ['-p', base.tip, '-p', tip] : ['-p', base.tip];
        newTip = (await repo.run(repoRoot, ['commit-tree', prediction.tree, ...parents, '-m', message], { signal })).stdout.trim();
      }

      try {
        const checkouts = await this.checkoutsOf(repoRoot, base.ref, signal);
        const checkout = checkouts.find((c) => !c.rebasing);
        if (checkout) {
          // The rebase strategy's real result may touch a slightly different set of files: check again.
          const touched = await this.changedPaths(repoRoot, base.tip, newTip, signal);
          const issues = (await this.checkoutProblems(repoRoot, base.ref, touched, signal)).filter((p) => p.blocking);
          if (issues.length) throw new MergeBlockedError(issues, 'DirtyWorkTree');
          const head = await this.resolveCommit(checkout.path, 'HEAD', signal);
          if (head !== base.tip) throw baseMovedError(baseRef);
          await repo.run(checkout.path, ['merge', '--ff-only', '--no-edit', newTip], { signal });
          this.logger.info(`merged ${branch} into ${baseRef} (${strategy}) through the checkout ${checkout.path}: ${newTip}`);
          return { mergedCommit: newTip, strategy, updatedVia: 'checkout', checkoutPath: checkout.path };
        }
        if (checkouts.length) {
          throw blocked({ code: 'UserCheckoutDirty', worktreePath: checkouts[0]!.path, message: `${baseRef} is being rebased in ${checkouts[0]!.path}: finish or abort that rebase first.` });
        }
        try {
          await repo.run(repoRoot, ['update-ref', '-m', `grove: ${strategy} ${branch}`, base.ref, newTip, base.tip], { signal });
        } catch (err) {
          if (isGitError(err) && !isGitError(err, 'Cancelled')) throw baseMovedError(baseRef, err);
          throw err;
        }
        this.logger.info(`merged ${branch} into ${baseRef} (${strategy}) by ref: ${newTip}`);
        return { mergedCommit: newTip, strategy, updatedVia: 'ref' };
      } catch (err) {
        if (undo) {
          try {
            await undo();
          } catch (undoErr) {
            const backup = `${BACKUP_REF_PREFIX}${branch}/${tip}`;
            throw new GitError(
              `Merging failed (${errorMessage(err)}) after ${branch} was rebased, and restoring it failed (${errorMessage(undoErr)}). ` +
              `${baseRef} was not changed. The branch's previous tip is kept as ${backup}: run \`git reset --keep ${tip}\` in ${worktreePath} to restore it, or merge again.`,
              { code: 'Unknown', cause: err },
            );
          }
        }
        throw err;
      }
    }, signal);
  }

  /** Rebases the branch onto the base tip in the agent's worktree; on a conflict, aborts and refuses. */
  private async rebaseForMerge(repo: LockedRepository, worktreePath: string, branch: string, baseTip: string, baseRef: string, oldTip: string, signal?: AbortSignal): Promise<string> {
    await this.writeBackup(repo, worktreePath, branch, oldTip, signal);
    try {
      await repo.run(worktreePath, ['rebase', baseTip], { signal });
    } catch (err) {
      const state = await this.syncState(worktreePath);
      if (state.operation === 'rebase') await repo.run(worktreePath, ['rebase', '--abort']);
      await this.dropRedundantBackups(repo, worktreePath, branch);
      if (state.conflicts.length) {
        throw blocked({
          code: 'Conflicts', files: state.conflicts,
          message: `Rebasing ${branch} onto ${baseRef} stops on conflicts in ${describeFiles(state.conflicts)} (one of its commits conflicts even though the whole merge would not). Nothing was changed: merge or squash instead, or sync with rebase and resolve.`,
        });
      }
      throw err;
    }
    return this.resolveCommit(worktreePath, 'HEAD', signal);
  }

  private async undoRebase(repo: LockedRepository, worktreePath: string, branch: string, oldTip: string): Promise<void> {
    // --keep: restores HEAD, index and files but refuses rather than overwrite a change made meanwhile.
    await repo.run(worktreePath, ['reset', '-q', '--keep', oldTip]);
    await this.dropRedundantBackups(repo, worktreePath, branch);
  }

  /**
   * True when merging the branch into the base would change nothing (its work is in the base, e.g. after a
   * squash): then deleting the branch loses no content even though its commits are not ancestors of the base.
   */
  async isContentMerged(options: { repoRoot: string; branch: string; baseRef: string; signal?: AbortSignal }): Promise<boolean> {
    const { repoRoot, signal } = options;
    const base = await this.resolveCommit(repoRoot, options.baseRef, signal);
    const tip = await this.resolveCommit(repoRoot, options.branch, signal);
    const result = await this.mergeTree(repoRoot, base, tip, signal);
    const baseTree = (await this.git.read(repoRoot, ['rev-parse', `${base}^{tree}`], { signal })).stdout.trim();
    return result.clean && result.tree === baseTree;
  }

  /** Deletes the rebase backups of a branch (call when the branch itself is deleted, after confirmation). */
  async dropBackups(repoRoot: string, branch: string, signal?: AbortSignal): Promise<void> {
    const refs = await this.backupRefs(repoRoot, branch, signal);
    if (!refs.length) return;
    await this.git.exclusive(repoRoot, async (repo) => {
      for (const ref of refs) await repo.run(repoRoot, ['update-ref', '-d', ref.ref], { signal });
    }, signal);
  }

  // ---------------------------------------------------------------------------------------------- helpers

  /** The worktree is on `branch`, nothing is in progress and there is nothing uncommitted. */
  private async assertReadyWorktree(worktreePath: string, branch: string, signal?: AbortSignal): Promise<void> {
    const state = await this.syncState(worktreePath, signal);
    if (state.operation) {
      throw blocked({ code: 'SyncInProgress', files: state.conflicts, message: `A ${state.operation} is in progress in ${worktreePath}: complete or abort it first.` });
    }
    const head = await this.git.read(worktreePath, ['symbolic-ref', '-q', '--short', 'HEAD'], { signal, okExitCodes: [1] });
    if (head.exitCode !== 0 || head.stdout.trim() !== branch) {
      throw new GitError(`${worktreePath} is not on ${branch} (it is on ${head.stdout.trim() || 'a detached HEAD'}).`, { code: 'DetachedHead' });
    }
    const dirty = await this.dirtyFiles(worktreePath, signal);
    if (dirty.length) {
      throw blocked({ code: 'UncommittedWork', files: dirty, message: `${worktreePath} has uncommitted changes (${describeFiles(dirty)}): commit them first.` });
    }
  }

  private async dirtyFiles(worktreePath: string, signal?: AbortSignal): Promise<string[]> {
    const { stdout } = await this.git.read(worktreePath, ['status', '--porcelain=v1', '-z', '--no-renames', '--untracked-files=all'], { signal });
    const { changed, untracked } = parseStatus(stdout);
    return [...changed, ...untracked];
  }

  private async unmerged(worktreePath: string, signal?: AbortSignal): Promise<string[]> {
    const { stdout } = await this.git.read(worktreePath, ['diff', '--name-only', '--diff-filter=U', '-z'], { signal });
    return [...new Set(parseNulList(stdout))];
  }

  /** Staged files whose added lines are leftover conflict markers (`git diff --check`). */
  private async leftoverMarkers(worktreePath: string, signal?: AbortSignal): Promise<string[]> {
    const result = await this.git.read(worktreePath, ['diff', '--cached', '--check'], { signal, okExitCodes: [2] });
    const files = new Set<string>();
    for (const line of result.stdout.split('\n')) {
      const m = /^(.*):\d+: leftover conflict marker$/.exec(line);
      if (m) files.add(m[1]!);
    }
    return [...files];
  }

  private async resolveCommit(cwd: string, rev: string, signal?: AbortSignal): Promise<string> {
    if (!rev || rev.startsWith('-')) throw new GitError(`Invalid revision: ${rev}`, { code: 'NotFound' });
    const r = await this.git.read(cwd, ['rev-parse', '--verify', '-q', `${rev}^{commit}`], { signal, okExitCodes: [1] });
    if (r.exitCode !== 0) throw new GitError(`'${rev}' does not exist.`, { code: 'NotFound' });
    return r.stdout.trim();
  }

  private async localBranch(cwd: string, baseRef: string, signal?: AbortSignal): Promise<{ ref: string; name: string; tip: string } | undefined> {
    if (!baseRef || baseRef.startsWith('-')) return undefined;
    const name = baseRef.startsWith('refs/heads/') ? baseRef.slice('refs/heads/'.length) : baseRef;
    const ref = `refs/heads/${name}`;
    const r = await this.git.read(cwd, ['rev-parse', '--verify', '-q', `${ref}^{commit}`], { signal, okExitCodes: [1] });
    return r.exitCode === 0 ? { ref, name, tip: r.stdout.trim() } : undefined;
  }

  private async isAncestor(cwd: string, ancestor: string, of: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.git.read(cwd, ['merge-base', '--is-ancestor', ancestor, of], { signal, okExitCodes: [1] })).exitCode === 0;
  }

  private async mergeTree(cwd: string, base: string, tip: string, signal?: AbortSignal): Promise<ConflictPrediction> {
    let result;
    try {
      result = await this.git.read(cwd, ['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', base, tip], { signal, okExitCodes: [1] });
    } catch (err) {
      if (isGitError(err) && /write-tree|usage: git merge-tree/.test(err.stderr)) {
        throw new GitError('Predicting conflicts needs git 2.38 or later (`git merge-tree --write-tree`): update git.', { code: 'Unknown', cause: err });
      }
      throw err;
    }
    const [tree = '', ...files] = parseNulList(result.stdout);
    return { clean: result.exitCode === 0, conflicts: result.exitCode === 0 ? [] : [...new Set(files)], tree: tree.trim() };
  }

  private async changedPaths(cwd: string, from: string, to: string, signal?: AbortSignal): Promise<string[]> {
    const { stdout } = await this.git.read(cwd, ['diff', '--name-only', '--no-renames', '-z', from, to, '--'], { signal });
    return parseNulList(stdout);
  }

  /** Worktrees that have `ref` checked out, or are in the middle of rebasing it. */
  private async checkoutsOf(repoRoot: string, ref: string, signal?: AbortSignal): Promise<Array<{ path: string; rebasing: boolean }>> {
    const entries = parseWorktreeList((await this.git.read(repoRoot, ['worktree', 'list', '--porcelain', '-z'], { signal })).stdout);
    const commonDir = await this.git.commonDir(repoRoot, signal);
    const adminDirs = await readAdminDirs(commonDir);
    const out: Array<{ path: string; rebasing: boolean }> = [];
    for (const [i, e] of entries.entries()) {
      if (e.bare || e.prunable) continue;
      if (e.branchRef === ref) {
        out.push({ path: e.path, rebasing: false });
        continue;
      }
      if (!e.detached) continue;
      const gitDir = i === 0 ? commonDir : adminDirs.get(normalizePath(e.path));
      if (gitDir && (await rebasingRef(gitDir)) === ref) out.push({ path: e.path, rebasing: true });
    }
    return out;
  }

  /** UserCheckoutDirty problems for each checkout of the base whose local changes the update would touch. */
  private async checkoutProblems(repoRoot: string, ref: string, touched: string[], signal?: AbortSignal): Promise<MergeProblem[]> {
    const problems: MergeProblem[] = [];
    const name = ref.slice('refs/heads/'.length);
    for (const checkout of await this.checkoutsOf(repoRoot, ref, signal)) {
      const state = await this.syncState(checkout.path, signal);
      if (state.operation) {
        problems.push({
          code: 'UserCheckoutDirty', blocking: true, worktreePath: checkout.path, files: state.conflicts,
          message: `A ${state.operation} is in progress in ${checkout.path}, where ${name} is checked out: finish or abort it, then merge again.`,
        });
        continue;
      }
      const touchedSet = new Set(touched);
      const dirty = (await this.dirtyFiles(checkout.path, signal)).filter((f) => touchedSet.has(f));
      if (dirty.length) {
        problems.push({
          code: 'UserCheckoutDirty', blocking: true, worktreePath: checkout.path, files: dirty,
          message: `${name} is checked out in ${checkout.path} with uncommitted changes to files the merge would update (${describeFiles(dirty)}): commit or stash them there, then merge again.`,
        });
      }
    }
    return problems;
  }

  private async writeBackup(repo: LockedRepository, cwd: string, branch: string, tip: string, signal?: AbortSignal): Promise<void> {
    await repo.run(cwd, ['update-ref', '-m', 'grove: before rebase', `${BACKUP_REF_PREFIX}${branch}/${tip}`, tip], { signal });
  }

  private async backupRefs(cwd: string, branch: string, signal?: AbortSignal): Promise<Array<{ ref: string; sha: string }>> {
    const { stdout } = await this.git.read(cwd, ['for-each-ref', '--format=%(refname) %(objectname)', `${BACKUP_REF_PREFIX}${branch}/`], { signal });
    return stdout.split('\n').filter(Boolean).map((line) => {
      const [ref = '', sha = ''] = line.split(' ');
      return { ref, sha };
    });
  }

  /** Deletes backups that are ancestors of the branch again (their commits are reachable from it). */
  private async dropRedundantBackups(repo: LockedRepository, cwd: string, branch: string | undefined, signal?: AbortSignal): Promise<void> {
    if (!branch) return;
    for (const backup of await this.backupRefs(cwd, branch, signal)) {
      if (await this.isAncestor(cwd, backup.sha, `refs/heads/${branch}`, signal)) {
        await repo.run(cwd, ['update-ref', '-d', backup.ref, backup.sha], { signal });
      }
    }
  }

  /** The worktree's branch, also while a rebase has detached HEAD. */
  private async headBranchOrRebasing(worktreePath: string, signal?: AbortSignal): Promise<string | undefined> {
    const head = await this.git.read(worktreePath, ['symbolic-ref', '-q', '--short', 'HEAD'], { signal, okExitCodes: [1] });
    if (head.exitCode === 0) return head.stdout.trim();
    const gitDir = (await this.git.read(worktreePath, ['rev-parse', '--absolute-git-dir'], { signal })).stdout.trim();
    const ref = await rebasingRef(gitDir);
    return ref?.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  }
}

/** The branch a rebase in progress in this git dir will update, if any. */
async function rebasingRef(gitDir: string): Promise<string | undefined> {
  for (const dir of ['rebase-merge', 'rebase-apply']) {
    try {
      return (await fs.promises.readFile(path.join(gitDir, dir, 'head-name'), 'utf8')).trim();
    } catch {
      // not rebasing with this backend
    }
  }
  return undefined;
}

function baseMovedError(baseRef: string, cause?: unknown): GitError {
  const error = new MergeBlockedError([{
    code: 'BaseMoved', blocking: true,
    message: `${baseRef} moved while merging; nothing was changed. Merge again.`,
  }], 'RefLocked');
  if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
  return error;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function describeFiles(files: string[]): string {
  const shown = files.slice(0, 8).join(', ');
  return files.length > 8 ? `${shown}, … (${files.length - 8} more)` : shown;
}

function firstLine(text: string): string {
  return (text.split(/\r?\n/).find((l) => l.trim()) ?? '').trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

function tidy(text: string): string {
  return text.split(/\r?\n/).map((l) => l.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

/**
 * The message of a squash commit: the task title as the subject and the agent's final summary as the body.
 * A title too long for a subject line is shortened there and kept whole in the body. Pure.
 */
export function squashMessage(title: string, summary?: string): string {
  const whole = tidy(title);
  const subject = truncate(firstLine(whole) || 'Squashed changes', 72);
  const parts = [subject];
  if (whole && subject !== whole) parts.push(whole);
  const body = tidy(summary ?? '');
  if (body) parts.push(truncate(body, 10_000));
  return parts.join('\n\n');
}

/** A commit message for the agent's uncommitted work: the task title and the files it touched. Pure. */
export function suggestCommitMessage(title: string, changedFiles: readonly string[]): string {
  const subject = truncate(firstLine(tidy(title)) || 'Agent work', 72);
  if (!changedFiles.length) return subject;
  const shown = changedFiles.slice(0, 20).map((f) => `- ${f}`);
  if (changedFiles.length > 20) shown.push(`- … and ${changedFiles.length - 20} more`);
  return `${subject}\n\n${shown.join('\n')}`;
}
