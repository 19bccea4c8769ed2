/**
 * The rules of merging and syncing, as pure functions of gathered facts (mergeFacts.ts): which problems
 * block, and the one sentence for each. No git, no I/O: unit-tested with literal facts.
 *
 * BaseMoved policy: the base having moved since the branch's fork point never makes a merge, squash or rebase
 * unsafe by itself — a clean `merge-tree` proves the combination is well defined, and a squash builds exactly
 * what `git merge --squash` would. It is information, and blocks only when a check command is configured: the
 * check then ran on a tree that is not what would land, so a sync (which brings the base in and lets the check
 * run on the combination) is required first.
 */
import type { FileInTheWay } from './inTheWay';
import type { CheckoutFacts, MergeFacts, SyncFacts, WorktreeFacts } from './mergeFacts';
import { describeFiles } from './mergeMessages';
import type { MergeProblem, MergeStrategy } from './mergeTypes';

export interface EvaluateOptions {
  strategy: MergeStrategy;
  /** A check command is configured (it runs after, and only when nothing blocks). */
  checkConfigured: boolean;
  /** The instance's agent is running. */
  running: boolean;
}

/** Every problem with merging, in the order the user should deal with them. */
export function evaluate(facts: MergeFacts, options: EvaluateOptions): MergeProblem[] {
  const problems: MergeProblem[] = [];
  if (options.running) problems.push(problem.agentRunning());
  problems.push(...worktreeProblems(facts.worktree, facts.branch));
  if (!facts.base) return [...problems, problem.baseNotABranch(facts.baseRef)];
  if (facts.merged && !facts.worktree.dirty.length) return [...problems, problem.nothingToMerge(facts.branch, facts.baseRef)];
  if (facts.prediction && !facts.prediction.clean) {
    problems.push(problem.conflicts(facts.baseRef, facts.prediction.conflicts));
  } else {
    problems.push(...checkoutProblems(facts.checkouts, facts.base.name));
    if (options.strategy === 'rebase' && facts.rebaseInTheWay?.length) {
      problems.push(problem.inTheWay(facts.rebaseInTheWay, facts.worktree.path, `Rebasing ${facts.branch} onto ${facts.baseRef}`, 'merge'));
    }
  }
  if (facts.baseMoved) problems.push(problem.baseMoved(facts.baseRef, options.checkConfigured));
  return problems;
}

/** What blocks a sync from the base (nothing when it is up to date and the worktree is ready). */
export function evaluateSync(facts: SyncFacts): MergeProblem[] {
  const problems = worktreeProblems(facts.worktree, facts.branch);
  if (problems.length || facts.upToDate) return problems;
  const inTheWay = facts.inTheWay.filter((f) => !facts.worktree.dirty.includes(f.path));
  if (inTheWay.length) {
    const action = facts.strategy === 'rebase' ? `Rebasing ${facts.branch} onto ${facts.baseRef}` : `Merging ${facts.baseRef} into ${facts.branch}`;
    problems.push(problem.inTheWay(inTheWay, facts.worktree.path, action, 'sync'));
  }
  return problems;
}

/** The agent's worktree must be on its branch, with nothing in progress and nothing uncommitted. */
export function worktreeProblems(w: WorktreeFacts, branch: string): MergeProblem[] {
  if (w.operation) return [problem.syncInProgress(w.path, w.operation, w.conflicts)];
  const problems: MergeProblem[] = [];
  if (w.headBranch !== branch) problems.push(problem.notOnBranch(w.path, branch, w.headBranch));
  if (w.dirty.length) problems.push(problem.uncommitted(w.path, w.dirty));
  return problems;
}

/** Problems of the checkouts of the base: each must take the update without losing anything. */
export function checkoutProblems(checkouts: readonly CheckoutFacts[], baseName: string): MergeProblem[] {
  const problems: MergeProblem[] = [];
  for (const c of checkouts) {
    if (c.operation) {
      problems.push(problem.checkoutBusy(c.path, baseName, c.operation, c.conflicts));
      continue;
    }
    if (c.dirtyTouched.length) problems.push(problem.checkoutDirty(c.path, baseName, c.dirtyTouched));
    if (c.inTheWay.length) problems.push(problem.inTheWay(c.inTheWay, c.path, `Updating ${baseName}, which is checked out there,`, 'merge'));
  }
  return problems;
}

function kindOf(files: readonly FileInTheWay[]): string {
  const ignored = files.some((f) => f.ignored);
  const untracked = files.some((f) => !f.ignored);
  return ignored && untracked ? 'files that are not committed (ignored or untracked)' : ignored ? 'files git ignores' : 'untracked files';
}

/** Every problem sentence, written once. */
export const problem = {
  agentRunning: (): MergeProblem => ({
    code: 'AgentRunning', blocking: true,
    message: 'The agent is still running: wait for it to finish or stop it before merging.',
  }),
  syncInProgress: (path: string, operation: string, conflicts: readonly string[]): MergeProblem => ({
    code: 'SyncInProgress', blocking: true, files: [...conflicts],
    message: `A ${operation} is in progress in ${path}${conflicts.length ? ` with conflicts in ${describeFiles(conflicts)}` : ''}: complete or abort it first.`,
  }),
  notOnBranch: (path: string, branch: string, actual: string | undefined): MergeProblem => ({
    code: 'NotOnBranch', blocking: true, worktreePath: path,
    message: `${path} is not on ${branch} (it is on ${actual ?? 'a detached HEAD'}): check out ${branch} there first.`,
  }),
  uncommitted: (path: string, files: readonly string[]): MergeProblem => ({
    code: 'UncommittedWork', blocking: true, files: [...files], worktreePath: path,
    message: `${path} has changes that are not committed (${describeFiles(files)}): commit them first.`,
  }),
  baseNotABranch: (baseRef: string): MergeProblem => ({
    code: 'BaseNotABranch', blocking: true,
    message: `The base '${baseRef}' is not a local branch: Grove merges into local branches only.`,
  }),
  nothingToMerge: (branch: string, baseRef: string): MergeProblem => ({
    code: 'NothingToMerge', blocking: true,
    message: `${branch} has no commits that are not already in ${baseRef}.`,
  }),
  conflicts: (baseRef: string, files: readonly string[]): MergeProblem => ({
    code: 'Conflicts', blocking: true, files: [...files],
    message: `Merging into ${baseRef} would conflict in ${describeFiles(files)}: sync the instance from ${baseRef} and resolve them there first.`,
  }),
  rebaseStops: (branch: string, baseRef: string, files: readonly string[]): MergeProblem => ({
    code: 'Conflicts', blocking: true, files: [...files],
    message: `Rebasing ${branch} onto ${baseRef} stops on conflicts in ${describeFiles(files)} (one of its commits conflicts even though the whole merge would not). Nothing was changed: merge or squash instead, or sync with rebase and resolve.`,
  }),
  baseMoved: (baseRef: string, checkConfigured: boolean): MergeProblem => ({
    code: 'BaseMoved', blocking: checkConfigured,
    message: checkConfigured
      ? `${baseRef} moved since the agent's work was based on it: sync the instance from ${baseRef} so the check runs on what would be merged.`
      : `${baseRef} has new commits since the agent's work was based on it; the merge is still clean.`,
  }),
  baseMovedWhileMerging: (baseRef: string): MergeProblem => ({
    code: 'BaseMoved', blocking: true,
    message: `${baseRef} moved while merging; nothing was changed. Merge again.`,
  }),
  checkoutBusy: (path: string, baseName: string, operation: string, conflicts: readonly string[]): MergeProblem => ({
    code: 'UserCheckoutDirty', blocking: true, worktreePath: path, files: [...conflicts],
    message: `A ${operation} is in progress in ${path}, where ${baseName} is checked out: finish or abort it, then merge again.`,
  }),
  checkoutDirty: (path: string, baseName: string, files: readonly string[]): MergeProblem => ({
    code: 'UserCheckoutDirty', blocking: true, worktreePath: path, files: [...files],
    message: `${baseName} is checked out in ${path} with uncommitted changes to files the merge would update (${describeFiles(files)}): commit or stash them there, then merge again.`,
  }),
  /** `action` is a sentence start such as `Rebasing x onto main`; `then` the operation to run again. */
  inTheWay: (files: readonly FileInTheWay[], path: string, action: string, then: 'merge' | 'sync'): MergeProblem => ({
    code: 'FilesInTheWay', blocking: true, worktreePath: path, files: files.map((f) => f.path),
    message: `${action} would overwrite ${kindOf(files)} in ${path} (${describeFiles(files.map((f) => f.path))}): move or rename them (or commit them), then ${then} again.`,
  }),
  unresolved: (files: readonly string[]): MergeProblem => ({
    code: 'SyncInProgress', blocking: true, files: [...files],
    message: `Resolve the conflicts first (${describeFiles(files)}): open each in the merge editor and complete it, or stage the resolved file.`,
  }),
  markersLeft: (files: readonly string[]): MergeProblem => ({
    code: 'SyncInProgress', blocking: true, files: [...files],
    message: `These files still contain conflict markers: ${describeFiles(files)}. Edit them, stage them, then complete the sync.`,
  }),
  unstagedWhileRebasing: (path: string, files: readonly string[]): MergeProblem => ({
    code: 'SyncInProgress', blocking: true, worktreePath: path, files: [...files],
    message: `These files were changed in ${path} after the rebase stopped and are not staged: ${describeFiles(files)}. Stage them to make them part of the resolved commit, or undo those changes, then complete the sync.`,
  }),
  checkFailed: (command: string, exitCode: number | null, output: string): MergeProblem => ({
    code: 'CheckFailed', blocking: true, output,
    message: `The check \`${command}\` failed (exit ${exitCode ?? 'signal'}): see its log.`,
  }),
};
