/**
 * Syncing the base into an instance's branch, inside the instance's own worktree: merge or rebase, stop on
 * conflicts for the merge editor, complete or abort. Refuses (nothing changed) while the worktree has
 * uncommitted work, or when the sync would overwrite files git ignores there (git replaces those silently).
 */
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import type { GitClient, LockedRepository } from './gitClient';
import { parseNulList } from './changes';
import { GitError, isGitError } from './gitError';
import { dropRedundantBackups, headBranchOrRebasing, leftoverMarkers, syncState, withMessageFile, writeBackup } from './gitQueries';
import { gatherSyncFacts } from './mergeFacts';
import { evaluateSync, problem } from './mergePolicy';
import { throwIfBlocked, type SyncOptions, type SyncResult, type SyncState } from './mergeTypes';

export class SyncService {
  private readonly logger: Logger;

  constructor(
    private readonly git: GitClient,
    logger?: Logger,
  ) {
    this.logger = logger ?? nullLogger;
  }

  /**
   * Brings the current tip of the base into the instance's branch inside its worktree, by merge or rebase.
   * Refuses (MergeBlockedError, nothing changed) when the worktree has uncommitted or untracked files
   * (`UncommittedWork`: the caller may offer to commit first), is not on the branch, or holds ignored or
   * untracked files the sync would overwrite (`FilesInTheWay`). On conflicts the worktree is left in the
   * merge/rebase state for the merge editor; then {@link completeSync} or {@link abortSync}.
   */
  async syncFromBase(options: SyncOptions): Promise<SyncResult> {
    const { worktreePath, branch, baseRef, strategy, signal } = options;
    return this.git.exclusive(worktreePath, async (repo) => {
      const facts = await gatherSyncFacts(this.git, options);
      throwIfBlocked(evaluateSync(facts));
      if (facts.upToDate) return { status: 'upToDate' };
      this.logger.info(`sync ${branch} from ${baseRef} (${strategy})`);
      if (strategy === 'rebase') {
        await writeBackup(repo, worktreePath, branch, facts.head, signal);
        return this.runUntilStop(repo, worktreePath, ['rebase', facts.baseTip], branch, signal);
      }
      return withMessageFile(`Merge ${baseRef} into ${branch}`, (file) =>
        this.runUntilStop(repo, worktreePath, ['merge', '--no-edit', '--no-overwrite-ignore', '-F', file, facts.baseTip], branch, signal));
    }, signal);
  }

  /** Whether a merge or rebase is in progress in the worktree and which files are conflicted. */
  syncState(worktreePath: string, signal?: AbortSignal): Promise<SyncState> {
    return syncState(this.git, worktreePath, signal);
  }

  /**
   * Concludes a sync whose conflicts the user resolved (and staged — VS Code's merge editor stages a file on
   * "Complete Merge"). Refuses, listing them, while files are unmerged or staged content still holds conflict
   * markers. A rebase may stop again on a later commit: the result is then `conflicted` with the new files.
   */
  async completeSync(worktreePath: string, signal?: AbortSignal): Promise<SyncResult> {
    return this.git.exclusive(worktreePath, async (repo) => {
      const state = await syncState(this.git, worktreePath, signal);
      if (state.operation !== 'merge' && state.operation !== 'rebase') {
        throw new GitError(`No sync is in progress in ${worktreePath}.`, { code: 'NotFound' });
      }
      if (state.conflicts.length) throwIfBlocked([problem.unresolved(state.conflicts)]);
      const markers = await leftoverMarkers(this.git, worktreePath, signal);
      if (markers.length) throwIfBlocked([problem.markersLeft(markers)]);
      const branch = await headBranchOrRebasing(this.git, worktreePath, signal);
      if (state.operation === 'merge') {
        // --no-edit: take git's prepared message; never open an editor.
        await repo.run(worktreePath, ['commit', '--no-edit'], { signal });
        await dropRedundantBackups(this.git, repo, worktreePath, branch, signal);
        return { status: 'synced' };
      }
      // `rebase --continue` refuses while tracked files have unstaged changes (edits made after the stop):
      // say so first, and never abort — aborting would throw those edits and the resolution away.
      const unstaged = parseNulList((await this.git.read(worktreePath, ['diff', '--name-only', '-z'], { signal })).stdout);
      if (unstaged.length) throwIfBlocked([problem.unstagedWhileRebasing(worktreePath, unstaged)]);
      // A rebase stopped on a conflict: commit the resolution ourselves with --no-edit (so no editor can be
      // needed whatever GIT_EDITOR says), unless the resolution made the commit empty (then it is dropped).
      const staged = await this.git.read(worktreePath, ['diff', '--cached', '--quiet'], { signal, okExitCodes: [1] });
      if (staged.exitCode === 1) await repo.run(worktreePath, ['commit', '--no-edit'], { signal });
      return this.runUntilStop(repo, worktreePath, ['-c', 'core.editor=true', 'rebase', '--continue'], branch, signal, false);
    }, signal);
  }

  /** Ends a sync in progress and restores exactly the state before it (HEAD, index and files). */
  async abortSync(worktreePath: string, signal?: AbortSignal): Promise<void> {
    await this.git.exclusive(worktreePath, async (repo) => {
      const state = await syncState(this.git, worktreePath, signal);
      if (!state.operation) return;
      const branch = await headBranchOrRebasing(this.git, worktreePath, signal);
      await repo.run(worktreePath, [state.operation, '--abort'], { signal });
      await dropRedundantBackups(this.git, repo, worktreePath, branch, signal);
    }, signal);
  }

  /**
   * Runs a merge/rebase step; distinguishes "stopped on conflicts" (kept) from any other failure: undone when
   * the step started the sync (`undo`: the worktree was clean, so aborting restores exactly the state before),
   * kept otherwise (a sync being completed holds the user's resolutions; aborting would lose them).
   */
  private async runUntilStop(repo: LockedRepository, worktreePath: string, args: string[], branch: string | undefined, signal?: AbortSignal, undo = true): Promise<SyncResult> {
    let failure: unknown;
    try {
      await repo.run(worktreePath, args, { signal });
    } catch (err) {
      failure = err;
    }
    if (failure === undefined) {
      await dropRedundantBackups(this.git, repo, worktreePath, branch, signal);
      return { status: 'synced' };
    }
    const state = await syncState(this.git, worktreePath, signal);
    if (state.operation && state.conflicts.length) {
      this.logger.info(`sync stopped on conflicts in ${worktreePath}: ${state.conflicts.join(', ')}`);
      return { status: 'conflicted', conflicts: state.conflicts };
    }
    if (!undo && state.operation) {
      throw new GitError(
        `The ${state.operation} could not continue (${failure instanceof Error ? failure.message : String(failure)}). It is still in progress in ${worktreePath}, with your resolutions: fix that and complete the sync again, or abort it.`,
        { code: isGitError(failure) ? failure.code : 'Unknown', cause: failure },
      );
    }
    // Stopped for another reason (an untracked file in the way, a hook…): undo so the worktree is as before.
    if (state.operation === 'rebase') await repo.run(worktreePath, ['rebase', '--abort']).catch(() => undefined);
    else if (state.operation === 'merge') await repo.run(worktreePath, ['merge', '--abort']).catch(() => undefined);
    await dropRedundantBackups(this.git, repo, worktreePath, branch).catch(() => undefined);
    throw failure;
  }
}
