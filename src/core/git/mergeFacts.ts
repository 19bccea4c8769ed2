/**
 * Everything that decides whether an instance can be merged (or synced), gathered once into plain data:
 * the agent's worktree, the branch, the base, every checkout of the base and the predicted result. The
 * decision itself is {@link evaluate} (mergePolicy.ts), pure, so preflight and merge judge the same facts by
 * the same rules and the rules are tested with literal facts.
 */
import { worktreeStatus } from './changes';
import type { GitClient } from './gitClient';
import {
  addedPaths, changedPaths, checkoutsOf, headBranch, isAncestor, localBranch, mergeTree, pathsOfCommits, resolveCommit, syncState,
  type LocalBranch,
} from './gitQueries';
import { filesInTheWay, type FileInTheWay } from './inTheWay';
import type { ConflictPrediction, MergeStrategy, SyncState, SyncStrategy } from './mergeTypes';

export interface WorktreeFacts {
  path: string;
  /** The branch checked out there; undefined when HEAD is detached. */
  headBranch?: string;
  operation?: SyncState['operation'];
  /** Unmerged files of the operation in progress. */
  conflicts: string[];
  /** Uncommitted changes and untracked files (renames as both paths), the files Grove copied there left out. */
  dirty: string[];
}

export interface CheckoutFacts {
  /** A worktree (usually the user's main checkout) that has the base checked out, or is rebasing it. */
  path: string;
  rebasing: boolean;
  operation?: SyncState['operation'];
  conflicts: string[];
  /** Local changes there (staged, unstaged, untracked) to files the merge updates. */
  dirtyTouched: string[];
  /** Ignored or untracked files there that the update would overwrite or delete (not in `dirtyTouched`). */
  inTheWay: FileInTheWay[];
}

export interface MergeFacts {
  branch: string;
  baseRef: string;
  worktree: WorktreeFacts;
  /** The base as a local branch; undefined when it is not one (then nothing else is gathered). */
  base?: LocalBranch;
  /** The branch's tip. */
  tip?: string;
  /** Every commit of the branch is already in the base. */
  merged?: boolean;
  /** The base has commits the branch's fork point does not have. */
  baseMoved?: boolean;
  prediction?: ConflictPrediction;
  /** Checkouts of the base (gathered when the prediction is clean). */
  checkouts: CheckoutFacts[];
  /** Rebase strategy: ignored/untracked files in the agent's worktree that replaying the branch would overwrite. */
  rebaseInTheWay?: FileInTheWay[];
}

export interface GatherMergeOptions {
  repoRoot: string;
  worktreePath: string;
  branch: string;
  baseRef: string;
  strategy?: MergeStrategy;
  exclude?: readonly string[];
  signal?: AbortSignal;
}

export async function gatherWorktree(git: GitClient, worktreePath: string, exclude: readonly string[] = [], signal?: AbortSignal): Promise<WorktreeFacts> {
  const [state, head, status] = await Promise.all([
    syncState(git, worktreePath, signal),
    headBranch(git, worktreePath, signal),
    worktreeStatus(git, worktreePath, { exclude, signal }),
  ]);
  return {
    path: worktreePath, ...(head ? { headBranch: head } : {}), ...(state.operation ? { operation: state.operation } : {}),
    conflicts: state.conflicts, dirty: status.paths,
  };
}

/** Facts for merging `branch` into `baseRef` (a local branch) with `strategy`. Reads only. */
export async function gatherMergeFacts(git: GitClient, options: GatherMergeOptions): Promise<MergeFacts> {
  const { repoRoot, worktreePath, branch, baseRef, signal } = options;
  const [worktree, base] = await Promise.all([
    gatherWorktree(git, worktreePath, options.exclude, signal),
    localBranch(git, repoRoot, baseRef, signal),
  ]);
  const facts: MergeFacts = { branch, baseRef, worktree, checkouts: [] };
  if (!base) return facts;
  facts.base = base;
  const tip = await resolveCommit(git, repoRoot, `refs/heads/${branch}`, signal);
  facts.tip = tip;
  facts.merged = await isAncestor(git, repoRoot, tip, base.tip, signal);
  if (facts.merged && !worktree.dirty.length) return facts;
  const [prediction, forkPoint] = await Promise.all([
    mergeTree(git, repoRoot, base.tip, tip, signal),
    git.read(repoRoot, ['merge-base', base.tip, tip], { signal }),
  ]);
  facts.prediction = prediction;
  facts.baseMoved = forkPoint.stdout.trim() !== base.tip;
  if (!prediction.clean) return facts;
  facts.checkouts = await gatherCheckouts(git, repoRoot, base, prediction.tree, signal);
  if (options.strategy === 'rebase' && facts.baseMoved && !worktree.operation) {
    facts.rebaseInTheWay = await rebaseInTheWay(git, worktreePath, tip, base.tip, signal);
  }
  return facts;
}

/**
 * The checkouts of the base and what updating them from the base's tip to `target` (a tree or commit) would
 * touch there: local changes to those files, and ignored or untracked files in the way.
 */
export async function gatherCheckouts(git: GitClient, repoRoot: string, base: LocalBranch, target: string, signal?: AbortSignal): Promise<CheckoutFacts[]> {
  const checkouts = await checkoutsOf(git, repoRoot, base.ref, signal);
  if (!checkouts.length) return [];
  const [touched, added] = await Promise.all([
    changedPaths(git, repoRoot, base.tip, target, signal),
    addedPaths(git, repoRoot, base.tip, target, signal),
  ]);
  const touchedSet = new Set(touched);
  return Promise.all(checkouts.map(async (checkout): Promise<CheckoutFacts> => {
    const state = await syncState(git, checkout.path, signal);
    if (state.operation) return { ...checkout, operation: state.operation, conflicts: state.conflicts, dirtyTouched: [], inTheWay: [] };
    const [status, inTheWay] = await Promise.all([
      worktreeStatus(git, checkout.path, { signal }),
      filesInTheWay(git, checkout.path, added, signal),
    ]);
    const dirtyTouched = status.paths.filter((f) => touchedSet.has(f));
    const reported = new Set(dirtyTouched);
    return { ...checkout, conflicts: [], dirtyTouched, inTheWay: inTheWay.filter((f) => !reported.has(f.path)) };
  }));
}

/**
 * Ignored or untracked files in a worktree at `head` that rebasing onto `onto` would overwrite: the rebase
 * first checks out `onto` (every path it has that `head` lacks), then replays each commit (their paths).
 */
export async function rebaseInTheWay(git: GitClient, worktreePath: string, head: string, onto: string, signal?: AbortSignal): Promise<FileInTheWay[]> {
  const forkPoint = (await git.read(worktreePath, ['merge-base', head, onto], { signal })).stdout.trim();
  const [fromOnto, replayed] = await Promise.all([
    addedPaths(git, worktreePath, head, onto, signal),
    pathsOfCommits(git, worktreePath, forkPoint, head, signal),
  ]);
  return filesInTheWay(git, worktreePath, [...new Set([...fromOnto, ...replayed])], signal);
}

export interface SyncFacts {
  worktree: WorktreeFacts;
  branch: string;
  baseRef: string;
  strategy: SyncStrategy;
  head: string;
  baseTip: string;
  /** The base's tip is already in the branch. */
  upToDate: boolean;
  /** Ignored or untracked files in the worktree that the sync would overwrite. */
  inTheWay: FileInTheWay[];
}

/** Facts for syncing the base into the worktree's branch. Reads only. */
export async function gatherSyncFacts(
  git: GitClient,
  options: { worktreePath: string; branch: string; baseRef: string; strategy: SyncStrategy; exclude?: readonly string[]; signal?: AbortSignal },
): Promise<SyncFacts> {
  const { worktreePath, signal } = options;
  const worktree = await gatherWorktree(git, worktreePath, options.exclude, signal);
  const [baseTip, head] = await Promise.all([resolveCommit(git, worktreePath, options.baseRef, signal), resolveCommit(git, worktreePath, 'HEAD', signal)]);
  const upToDate = await isAncestor(git, worktreePath, baseTip, head, signal);
  const facts: SyncFacts = { worktree, branch: options.branch, baseRef: options.baseRef, strategy: options.strategy, head, baseTip, upToDate, inTheWay: [] };
  if (upToDate || worktree.operation) return facts;
  if (options.strategy === 'rebase') {
    facts.inTheWay = await rebaseInTheWay(git, worktreePath, head, baseTip, signal);
  } else {
    const merged = await mergeTree(git, worktreePath, head, baseTip, signal);
    facts.inTheWay = await filesInTheWay(git, worktreePath, await addedPaths(git, worktreePath, head, merged.tree, signal), signal);
  }
  return facts;
}
