/**
 * Brings an instance's work back: sync the base into the instance's branch (syncService.ts), check that a
 * merge is safe, and merge the branch into its base with a merge commit, a squash or a rebase plus
 * fast-forward — without ever touching uncommitted work in the user's checkout (nor files git ignores there),
 * and without losing commits.
 *
 * Checks are facts plus rules: {@link gatherMergeFacts} reads everything once, {@link evaluate} (pure) says
 * what blocks. {@link MergeService.preflight} = gather + evaluate + the check command;
 * {@link MergeService.mergeIntoBase} = inside the repository's queue, gather again + evaluate + execute.
 *
 * How the base branch is updated:
 * - The new base commit is always built first without any work tree: `git merge-tree --write-tree` gives the
 *   merged tree and `git commit-tree` the merge or squash commit (for a rebase, the rebased branch tip).
 * - Base checked out nowhere: `git update-ref refs/heads/<base> <new> <old>` — an atomic compare-and-swap, so
 *   a base that moved in the meantime is never overwritten.
 * - Base checked out in some worktree (usually the user's main checkout): that checkout is fast-forwarded with
 *   `git merge --ff-only --no-overwrite-ignore <new>` so its files stay consistent with its branch. git's
 *   two-way checkout keeps unrelated local changes (staged or not) and refuses, changing nothing, if a local
 *   change or an ignored file would be overwritten; Grove checks the same things first to give a clear message.
 *
 * Rebases rewrite the branch; the previous tip is kept as `refs/grove/backup/<branch>/<sha>` until it is an
 * ancestor of the branch again, so no commit ever becomes unreachable ({@link MergeService.dropBackups}
 * removes them with the branch). Commit messages always reach git through a file (`-F`), never as arguments.
 */
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import { literalPathspec, parseNameStatus } from './changes';
import type { GitClient, LockedRepository } from './gitClient';
import { GitError, isGitError } from './gitError';
import {
  backupRefs, dropRedundantBackups, mergeTree, resolveCommit, syncState, withMessageFile, writeBackup,
} from './gitQueries';
import { gatherCheckouts, gatherMergeFacts } from './mergeFacts';
import { checkoutProblems, evaluate, problem } from './mergePolicy';
import { mergeMessage } from './mergeMessages';
import {
  BACKUP_REF_PREFIX, MAX_CHECK_OUTPUT, blockedError, throwIfBlocked,
  type CheckRun, type CommitWorkOptions, type ConflictPrediction, type MergeOptions, type MergeResult,
  type PreflightOptions, type PreflightResult, type SyncOptions, type SyncResult, type SyncState,
} from './mergeTypes';
import { runSetupCommand } from './provisioner';
import { SyncService } from './syncService';

export * from './mergeTypes';
export { describeFiles, mergeMessage, squashMessage, suggestCommitMessage, type MergeMessageInput } from './mergeMessages';
export { evaluate, evaluateSync, type EvaluateOptions } from './mergePolicy';
export type { CheckoutFacts, MergeFacts, SyncFacts, WorktreeFacts } from './mergeFacts';
export type { FileInTheWay } from './inTheWay';

export class MergeService {
  private readonly logger: Logger;
  private readonly sync: SyncService;

  constructor(
    private readonly git: GitClient,
    logger?: Logger,
  ) {
    this.logger = logger ?? nullLogger;
    this.sync = new SyncService(git, this.logger);
  }

  // ---------------------------------------------------------------------------------------------- sync

  /** See {@link SyncService.syncFromBase}. */
  syncFromBase(options: SyncOptions): Promise<SyncResult> {
    return this.sync.syncFromBase(options);
  }

  /** Whether a merge or rebase is in progress in the worktree and which files are conflicted. */
  syncState(worktreePath: string, signal?: AbortSignal): Promise<SyncState> {
    return this.sync.syncState(worktreePath, signal);
  }

  /** See {@link SyncService.completeSync}. */
  completeSync(worktreePath: string, signal?: AbortSignal): Promise<SyncResult> {
    return this.sync.completeSync(worktreePath, signal);
  }

  /** Ends a sync in progress and restores exactly the state before it (HEAD, index and files). */
  abortSync(worktreePath: string, signal?: AbortSignal): Promise<void> {
    return this.sync.abortSync(worktreePath, signal);
  }

  // ---------------------------------------------------------------------------------------------- checks

  /** Predicts the conflicts of merging `branch` into `baseRef` with `git merge-tree` (no work tree touched). */
  async predictConflicts(options: { repoRoot: string; branch: string; baseRef: string; signal?: AbortSignal }): Promise<ConflictPrediction> {
    const { repoRoot, signal } = options;
    const base = await resolveCommit(this.git, repoRoot, options.baseRef, signal);
    const tip = await resolveCommit(this.git, repoRoot, options.branch, signal);
    return mergeTree(this.git, repoRoot, base, tip, signal);
  }

  /**
   * Everything that blocks merging the instance now ({@link evaluate}). The check command runs last, and only
   * when nothing else blocks (no point running a test suite for a merge that cannot happen).
   */
  async preflight(options: PreflightOptions): Promise<PreflightResult> {
    const { worktreePath, branch, signal } = options;
    const command = options.checkCommand?.trim();
    const facts = await gatherMergeFacts(this.git, options);
    const problems = evaluate(facts, { strategy: options.strategy ?? 'merge', checkConfigured: !!command, running: options.running });
    let check: CheckRun | undefined;
    if (command && !problems.some((p) => p.blocking)) {
      check = await this.runCheck(command, worktreePath, branch, options.onCheckOutput, signal);
      if (!check.passed) problems.push(problem.checkFailed(command, check.exitCode, check.output));
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
   * Stages everything except `exclude` (`git add -A -- :/ ':(exclude,literal)<path>'…`) and commits it in the
   * worktree. Returns the new commit, or undefined when there was nothing to commit. A failed commit (a hook,
   * no identity…) restores the index as it was.
   */
  async commitWork(options: CommitWorkOptions): Promise<string | undefined> {
    const { worktreePath, signal } = options;
    const exclude = options.exclude ?? [];
    if (typeof options.message === 'string' && !options.message.trim()) throw new GitError('A commit message is required.', { code: 'Unknown' });
    return this.git.exclusive(worktreePath, async (repo) => {
      const state = await syncState(this.git, worktreePath, signal);
      if (state.operation) throwIfBlocked([problem.syncInProgress(worktreePath, state.operation, state.conflicts)]);
      const savedIndex = (await repo.run(worktreePath, ['write-tree'], { signal })).stdout.trim();
      const restoreIndex = () => repo.run(worktreePath, ['read-tree', savedIndex]).then(() => undefined, () => undefined);
      try {
        // The copied files are not named to `add` (an ignored one, like .env, would make it refuse): they are put back
        // to HEAD's version in the index afterwards, also when the agent staged one itself (the file stays on disk).
        await repo.run(worktreePath, ['add', '-A', '--', ':/'], { signal });
        if (exclude.length) await repo.run(worktreePath, ['reset', '-q', '--', ...exclude.map(literalPathspec)], { signal });
        const staged = await repo.run(worktreePath, ['diff', '--cached', '--quiet'], { signal, okExitCodes: [1] });
        if (staged.exitCode === 0) {
          await restoreIndex();
          return undefined;
        }
        const files = parseNameStatus((await repo.run(worktreePath, ['diff', '--cached', '--name-status', '-z', '-M', 'HEAD', '--'], { signal })).stdout).map((f) => f.path);
        const message = typeof options.message === 'function' ? options.message(files) : options.message;
        if (!message.trim()) throw new GitError('A commit message is required.', { code: 'Unknown' });
        await withMessageFile(message, (file) => repo.run(worktreePath, ['commit', '-q', '-F', file], { signal }));
      } catch (err) {
        await restoreIndex();
        throw err;
      }
      return (await repo.run(worktreePath, ['rev-parse', 'HEAD'])).stdout.trim();
    }, signal);
  }

  // ---------------------------------------------------------------------------------------------- merge

  /**
   * Merges the instance's branch into its base. Inside the repository's queue, gathers the facts again and
   * refuses with MergeBlockedError what {@link evaluate} blocks (the check command and "agent running" are
   * {@link preflight}'s). On any failure the repository is left as it was; if even that restore fails, the
   * error says how to finish.
   */
  async mergeIntoBase(options: MergeOptions): Promise<MergeResult> {
    const { repoRoot, worktreePath, branch, baseRef, strategy, signal } = options;
    return this.git.exclusive(repoRoot, async (repo) => {
      const facts = await gatherMergeFacts(this.git, options);
      throwIfBlocked(evaluate(facts, { strategy, checkConfigured: false, running: false }));
      const { base, tip, prediction } = facts;
      if (!base || !tip || !prediction) throw new GitError(`Cannot merge ${branch}: its state could not be read.`, { code: 'Unknown' });

      let newTip: string;
      let undo: (() => Promise<void>) | undefined;
      if (strategy === 'rebase') {
        if (!facts.baseMoved) {
          newTip = tip;
        } else {
          newTip = await this.rebaseForMerge(repo, worktreePath, branch, base.tip, baseRef, tip, signal);
          undo = () => this.undoRebase(repo, worktreePath, branch, tip);
        }
      } else {
        const message = options.message?.trim() || mergeMessage(strategy, { title: strategy === 'squash' ? branch : '', branch, baseRef: base.name });
        const parents = strategy === 'merge' ? ['-p', base.tip, '-p', tip] : ['-p', base.tip];
        newTip = (await withMessageFile(message, (file) => repo.run(repoRoot, ['commit-tree', prediction.tree, ...parents, '-F', file], { signal }))).stdout.trim();
      }

      try {
        let checkouts = facts.checkouts;
        const newTree = (await this.git.read(repoRoot, ['rev-parse', `${newTip}^{tree}`], { signal })).stdout.trim();
        if (newTree !== prediction.tree) {
          // The rebase strategy's real result may touch a slightly different set of files: check again.
          checkouts = await gatherCheckouts(this.git, repoRoot, base, newTip, signal);
          throwIfBlocked(checkoutProblems(checkouts, base.name));
        }
        const checkout = checkouts.find((c) => !c.rebasing);
        if (checkout) {
          const head = await resolveCommit(this.git, checkout.path, 'HEAD', signal);
          if (head !== base.tip) throw blockedError([problem.baseMovedWhileMerging(baseRef)])!;
          await repo.run(checkout.path, ['merge', '--ff-only', '--no-edit', '--no-overwrite-ignore', newTip], { signal });
          this.logger.info(`merged ${branch} into ${baseRef} (${strategy}) through the checkout ${checkout.path}: ${newTip}`);
          return { mergedCommit: newTip, strategy, updatedVia: 'checkout', checkoutPath: checkout.path };
        }
        if (checkouts.length) throwIfBlocked([problem.checkoutBusy(checkouts[0]!.path, base.name, 'rebase', [])]);
        try {
          await repo.run(repoRoot, ['update-ref', '-m', `grove: ${strategy} ${branch}`, base.ref, newTip, base.tip], { signal });
        } catch (err) {
          if (isGitError(err) && !isGitError(err, 'Cancelled')) {
            const error = blockedError([problem.baseMovedWhileMerging(baseRef)])!;
            (error as { cause?: unknown }).cause = err;
            throw error;
          }
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
    await writeBackup(repo, worktreePath, branch, oldTip, signal);
    try {
      await repo.run(worktreePath, ['rebase', baseTip], { signal });
    } catch (err) {
      const state = await syncState(this.git, worktreePath);
      if (state.operation === 'rebase') await repo.run(worktreePath, ['rebase', '--abort']);
      await dropRedundantBackups(this.git, repo, worktreePath, branch);
      if (state.conflicts.length) throwIfBlocked([problem.rebaseStops(branch, baseRef, state.conflicts)]);
      throw err;
    }
    return resolveCommit(this.git, worktreePath, 'HEAD', signal);
  }

  private async undoRebase(repo: LockedRepository, worktreePath: string, branch: string, oldTip: string): Promise<void> {
    // --keep: restores HEAD, index and files but refuses rather than overwrite a change made meanwhile.
    await repo.run(worktreePath, ['reset', '-q', '--keep', oldTip]);
    await dropRedundantBackups(this.git, repo, worktreePath, branch);
  }

  /**
   * True when merging the branch into the base would change nothing (its work is in the base, e.g. after a
   * squash): then deleting the branch loses no content even though its commits are not ancestors of the base.
   */
  async isContentMerged(options: { repoRoot: string; branch: string; baseRef: string; signal?: AbortSignal }): Promise<boolean> {
    const { repoRoot, signal } = options;
    const base = await resolveCommit(this.git, repoRoot, options.baseRef, signal);
    const tip = await resolveCommit(this.git, repoRoot, options.branch, signal);
    const result = await mergeTree(this.git, repoRoot, base, tip, signal);
    const baseTree = (await this.git.read(repoRoot, ['rev-parse', `${base}^{tree}`], { signal })).stdout.trim();
    return result.clean && result.tree === baseTree;
  }

  /** Deletes the rebase backups of a branch (call when the branch itself is deleted, after confirmation). */
  async dropBackups(repoRoot: string, branch: string, signal?: AbortSignal): Promise<void> {
    const refs = await backupRefs(this.git, repoRoot, branch, signal);
    if (!refs.length) return;
    await this.git.exclusive(repoRoot, async (repo) => {
      for (const ref of refs) await repo.run(repoRoot, ['update-ref', '-d', ref.ref], { signal });
    }, signal);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
