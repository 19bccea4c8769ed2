/**
 * Remove a worktree and the instances on it — the same rules for every surface:
 * - the person is asked before anything changes (a running agent is stopped only after the confirmation);
 * - what would be lost is listed exactly (uncommitted, untracked and worth-keeping ignored files, commits no other
 *   ref has) and nothing of it goes without an explicit confirmation (VS Code: a modal; CLI/MCP: `force`);
 * - a branch is deleted only when it is merged (its work landed, also by squash or rebase) or when the person chose
 *   to delete it; only the branch Grove created for the task.
 */
import fs from 'node:fs';
import { GroveError } from '../errors';
import { isGitError } from '../git/gitError';
import { describeLoss, type RemovalReport, type RemoveResult } from '../git/worktreeManager';
import { samePath } from '../util/fsPaths';
import { isOwned } from '../fleet/instance';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { requireInstance, stop } from './instances';
import { recordBeforeDestructive } from './restore';

export interface RemoveRequest {
  /** An instance (its worktree is removed with it)… */
  id?: string;
  /** …or a worktree (every instance on it goes too). */
  worktreePath?: string;
  repoRoot?: string;
  /** The loss listed in the refusal is accepted (CLI `--force`, MCP `force`). */
  force?: boolean;
  /** Delete the branch even if it holds commits that are not in its base (CLI `--delete-branch`). */
  deleteBranch?: boolean;
}

export interface RemovalPlan {
  /** Undefined when the worktree is already gone (only the records remain). */
  report?: RemovalReport;
  instances: InstanceSnapshot[];
  /** Instances whose agents will be stopped first. */
  running: InstanceSnapshot[];
  /** Anything at all would be lost. */
  hasLoss: boolean;
  /** The branch holds commits its base does not have (deleting it would lose them). */
  unmergedCommits: boolean;
  /**
   * The branch's commits are not in its base but their content is (landed by squash or rebase): git alone still
   * counts them, so the removal passes force for them.
   */
  landed?: boolean;
}

export type RemoveDecision = 'keepBranch' | 'deleteBranch';

export interface RemoveAsk {
  /** Shows the plan (what goes, what is lost, which agents stop) and returns the choice; undefined cancels. */
  confirm?(plan: RemovalPlan): Promise<RemoveDecision | undefined>;
}

export interface RemoveOutcome {
  cancelled?: boolean;
  removedInstances: string[];
  worktreePath?: string;
  branch?: string;
  branchDeleted: boolean;
  branchKeptReason?: string;
  /** What was discarded, as confirmed. */
  discarded?: Pick<RemovalReport, 'uncommitted' | 'untracked' | 'commits'>;
  /** The snapshot recorded first: `grove restore <id>` (Recently Removed → Restore) brings it all back. */
  snapshotId?: string;
}

export async function planRemoval(g: Grove, req: RemoveRequest): Promise<RemovalPlan> {
  let worktreePath = req.worktreePath;
  let repoRoot = req.repoRoot;
  if (req.id) {
    const inst = requireInstance(g, req.id);
    worktreePath = inst.archived ? undefined : inst.worktreePath || undefined;
    repoRoot = inst.repoRoot;
  }
  const instances = req.id
    ? [requireInstance(g, req.id), ...(worktreePath ? g.fleet.instances().filter((i) => i.id !== req.id && !i.archived && samePath(i.worktreePath, worktreePath!)) : [])]
    : g.fleet.instances().filter((i) => !i.archived && worktreePath && samePath(i.worktreePath, worktreePath));
  let report: RemovalReport | undefined;
  let landed = false;
  if (worktreePath) {
    try {
      report = await g.worktrees.inspectRemoval(worktreePath, { repoRoot });
    } catch (err) {
      // Removed by hand already: only the records remain.
      if (!isGitError(err, 'NotFound')) throw err;
    }
  }
  if (report?.isMain) throw new GroveError('InvalidInput', `${report.path} is the repository's main worktree, which Grove never removes.`);
  if (report && report.commits.length && report.branch && report.baseRef && !report.merged) {
    // Work landed by squash or rebase is in the base although its commits are not: it is not lost with the branch.
    landed = await g.merges.isContentMerged({ repoRoot: repoRoot ?? report.path, branch: report.branch, baseRef: report.baseRef }).catch(() => false);
    if (landed) report = { ...report, commits: [], merged: true, hasLoss: report.hasWorktreeLoss };
  }
  const running = instances.filter((i) => isOwned(i.state));
  return {
    ...(report ? { report } : {}),
    instances,
    running,
    hasLoss: !!report?.hasLoss && (report.hasWorktreeLoss || (report.commits.length > 0 && !report.merged)),
    unmergedCommits: !!report && report.commits.length > 0 && !report.merged,
    ...(landed ? { landed } : {}),
  };
}

/** Removes after the person's confirmation; refuses (changing nothing) when a loss or a running agent is not confirmed. */
export async function remove(g: Grove, req: RemoveRequest, ask: RemoveAsk = {}): Promise<RemoveOutcome> {
  const plan = await planRemoval(g, req);
  const report = plan.report;
  const name = plan.instances[0]?.title ?? report?.branch ?? report?.path ?? 'the worktree';
  let decision: RemoveDecision;
  if (ask.confirm) {
    const answer = await ask.confirm(plan);
    if (!answer) return { cancelled: true, removedInstances: [], branchDeleted: false };
    decision = answer;
  } else {
    if (plan.running.length && !req.force) {
      throw new GroveError('Busy', `"${plan.running[0]!.title}" is ${plan.running[0]!.state}: stop it first, or remove with force (it is stopped, then removed).`);
    }
    const losesCommits = !!req.deleteBranch && plan.unmergedCommits;
    const wouldLose = !!report && (report.hasWorktreeLoss || losesCommits);
    if (wouldLose && !req.force) {
      throw new GroveError('WouldLoseWork', `Removing "${name}" would lose work:\n${describeLoss(report!, { deleteBranch: !!req.deleteBranch }).join('\n')}\nNothing was removed. Merge it first, or remove with force to discard this.`, report);
    }
    decision = req.deleteBranch ? 'deleteBranch' : 'keepBranch';
  }
  for (const r of plan.running) await stop(g, r.id);
  const out: RemoveOutcome = { removedInstances: [], branchDeleted: false };
  if (report) {
    // Once the agents stopped (nothing writes any more) and before anything goes: restorable, even with force.
    const deletesBranch = decision === 'deleteBranch' || report.merged;
    // Work listed as lost goes (the confirmation or force accepted it): the `--force` of the snapshot's reason.
    const discards = report.hasWorktreeLoss || (decision === 'deleteBranch' && plan.unmergedCommits);
    const snapshot = await recordBeforeDestructive(g, {
      repoRoot: req.repoRoot ?? plan.instances[0]?.repoRoot ?? report.path,
      worktreePath: report.stale ? undefined : report.path,
      branch: deletesBranch ? report.taskBranch : undefined,
      reason: [discards ? 'remove --force' : 'remove', decision === 'deleteBranch' ? 'delete branch' : ''].filter(Boolean).join(', '),
      instance: plan.instances[0],
      forgets: plan.instances[0],
    });
    if (snapshot) out.snapshotId = snapshot.id;
    let result: RemoveResult;
    try {
      result = await g.worktrees.remove(report.path, {
        // Landed commits git alone still counts as a loss: the decision above covered them.
        force: report.hasLoss || !!plan.landed,
        // After the stop above, this process's own lock may linger until the asynchronous unlock: not a live agent.
        releasedLockOf: g.self,
        // The backup ref `remove` writes before deleting a branch stays (restorable); nothing drops it here.
        deleteBranch: decision === 'deleteBranch' || report.merged ? 'always' : 'ifMerged',
        repoRoot: req.repoRoot ?? plan.instances[0]?.repoRoot,
      });
    } catch (err) {
      if (isGitError(err)) throw new GroveError('Failed', `Could not remove the worktree of "${name}": ${err.message}`, undefined, { cause: err });
      throw err;
    }
    Object.assign(out, { worktreePath: result.path, branch: result.branch, branchDeleted: result.branchDeleted, ...(result.branchKeptReason ? { branchKeptReason: result.branchKeptReason } : {}) });
    if (report.hasLoss) out.discarded = { uncommitted: report.uncommitted, untracked: report.untracked, commits: decision === 'deleteBranch' ? report.commits : [] };
  }
  for (const inst of plan.instances) {
    const log = await g.logPath(inst).catch(() => undefined);
    await g.fleet.remove(inst.id);
    out.removedInstances.push(inst.id);
    if (log) fs.rmSync(log, { force: true });
  }
  return out;
}
