/**
 * Merge into Base — the one implementation behind VS Code's command, the API, `grove merge` and MCP `grove_merge`:
 * the strategy (asked, configured or given), the agent's uncommitted work (committed only when a person agrees),
 * the preflight (conflict prediction, the user's checkout, the check command when the workspace is trusted), the
 * merge itself with one commit message per strategy, the record on the instance, and the cleanup afterwards.
 */
import { GroveError } from '../errors';
import { isGitError } from '../git/gitError';
import { MergeBlockedError, mergeMessage, suggestCommitMessage, type MergeProblem, type MergeResult, type MergeStrategy } from '../git/mergeService';
import { isOwned } from '../fleet/instance';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { commitAgentWork, uncommittedFiles } from './commit';
import { requireInstance } from './instances';
import { planRemoval, type RemoveOutcome } from './remove';
import { recordBeforeDestructive } from './restore';
import { requireWorktree } from './review';

export interface MergeRequest {
  id: string;
  /** Given by the caller (a flag, an argument, a pick); otherwise the setting, or {@link MergeAsk.chooseStrategy}. */
  strategy?: MergeStrategy;
  /** The person already agreed to commit the agent's uncommitted work (CLI `--commit`). */
  commit?: boolean;
  /** Overrides `cleanupAfterMerge`. */
  cleanup?: 'always' | 'never';
  /** Merge into this branch instead of the recorded base (see {@link landingTarget}). */
  into?: string;
  signal?: AbortSignal;
  /**
   * Ends the preflight only (the check command is killed; nothing is merged), never a git step under way: Land All's
   * Cancel, which must not interrupt a merge half-way.
   */
  checkSignal?: AbortSignal;
}

export interface MergeAsk {
  /** `mergeStrategy` is `ask`: the person's choice (undefined cancels). Absent: merge. */
  chooseStrategy?(inst: InstanceSnapshot): Promise<MergeStrategy | undefined>;
  /** The worktree has uncommitted work: true to commit it first. Absent: refuse. */
  confirmCommit?(inst: InstanceSnapshot, files: string[], message: string): Promise<boolean>;
  /** `cleanupAfterMerge` is `ask`: true to remove the worktree and merged branch. Absent: keep them. */
  confirmCleanup?(inst: InstanceSnapshot, result: MergeResult): Promise<boolean>;
  /** The check command's output as it arrives. */
  onCheckOutput?(chunk: string): void;
}

export interface MergeOutcome {
  instance: InstanceSnapshot;
  strategy: MergeStrategy;
  into: string;
  mergedCommit: string;
  updatedVia: 'checkout' | 'ref';
  /** The commit made of the agent's uncommitted work first. */
  committed?: string;
  /** Information that did not block the merge (e.g. the base moved). */
  notes: string[];
  /** The cleanup that followed, or why the worktree was kept. */
  cleanup?: RemoveOutcome | { kept: string };
}

/** The problems that block, as one refusal with the problems as details. */
export function blockedError(inst: InstanceSnapshot, problems: MergeProblem[]): GroveError {
  const blocking = problems.filter((p) => p.blocking);
  return new GroveError('Blocked', `Not merged: "${inst.title}" into ${inst.baseRef}:\n${blocking.map((p) => `  - ${p.message}${p.files?.length ? `\n      ${p.files.slice(0, 20).join('\n      ')}` : ''}`).join('\n')}`, blocking);
}

/**
 * Where an instance's work lands: its base, unless the base is the branch of another instance that was merged
 * already (a task that started `after:` another), then wherever that one landed, followed down the chain.
 */
export function landingTarget(g: Grove, inst: InstanceSnapshot): string {
  const seen = new Set<string>([inst.id]);
  let into = inst.baseRef;
  for (;;) {
    const dep = g.fleet.instances().find((s) => s.repoRoot === inst.repoRoot && !seen.has(s.id) && s.branch === into && s.merge);
    if (!dep) return into;
    seen.add(dep.id);
    into = dep.merge!.into;
  }
}

export async function merge(g: Grove, req: MergeRequest, ask: MergeAsk = {}): Promise<MergeOutcome | undefined> {
  let inst = requireInstance(g, req.id);
  const worktreePath = requireWorktree(inst);
  if (!inst.branch || !inst.baseRef) throw new GroveError('InvalidInput', `"${inst.title}" has no branch or base recorded.`);
  if (req.into !== undefined && req.into !== inst.baseRef) inst = { ...inst, baseRef: req.into };
  if (isOwned(inst.state)) throw new GroveError('Busy', `"${inst.title}" is ${inst.state}: wait for it to finish or stop it before merging.`);
  const settings = g.settings(inst.repoRoot);
  let strategy = req.strategy ?? (settings.mergeStrategy !== 'ask' ? settings.mergeStrategy : undefined);
  if (!strategy) {
    strategy = ask.chooseStrategy ? await ask.chooseStrategy(inst) : 'merge';
    if (!strategy) return undefined;
  }
  const checkCommand = g.trusted() ? settings.checkCommand : undefined;
  const preflight = () => g.merges.preflight({
    repoRoot: inst.repoRoot, worktreePath, branch: inst.branch, baseRef: inst.baseRef, running: false, strategy,
    checkCommand, onCheckOutput: ask.onCheckOutput, signal: req.checkSignal ?? req.signal, exclude: inst.copiedFiles ?? [],
  });
  let committed: string | undefined;
  try {
    let pre = await preflight();
    if (pre.problems.some((p) => p.code === 'UncommittedWork')) {
      const files = await uncommittedFiles(g, inst);
      const message = suggestCommitMessage(inst.title, files);
      const agreed = req.commit || (ask.confirmCommit ? await ask.confirmCommit(inst, files, message) : false);
      if (!agreed) {
        if (ask.confirmCommit) return undefined;
        throw new GroveError('NeedsConfirmation', `"${inst.title}" has uncommitted work (${files.slice(0, 8).join(', ')}${files.length > 8 ? ', …' : ''}): commit it first (\`--commit\` / commit: true commits it with the message from the task).`, { files });
      }
      committed = (await commitAgentWork(g, inst.id)).sha;
      pre = await preflight();
    }
    if (!pre.ok) throw blockedError(inst, pre.problems);
    const result = await g.merges.mergeIntoBase({
      repoRoot: inst.repoRoot, worktreePath, branch: inst.branch, baseRef: inst.baseRef, strategy, message: mergeMessage(strategy, inst) || undefined,
      signal: req.signal, exclude: inst.copiedFiles ?? [],
    });
    const into = inst.baseRef;
    g.fleet.recordMerge(inst.id, { at: Date.now(), strategy, into, commit: result.mergedCommit }, false);
    inst = requireInstance(g, inst.id);
    const outcome: MergeOutcome = {
      instance: inst, strategy, into, mergedCommit: result.mergedCommit, updatedVia: result.updatedVia,
      ...(committed ? { committed } : {}),
      notes: pre.problems.filter((p) => !p.blocking).map((p) => p.message),
    };
    const cleanup = req.cleanup ?? (settings.cleanupAfterMerge === 'ask' ? (ask.confirmCleanup && (await ask.confirmCleanup(inst, result)) ? 'always' : 'never') : settings.cleanupAfterMerge);
    if (cleanup === 'always') outcome.cleanup = await cleanupMerged(g, inst.id);
    outcome.instance = requireInstance(g, inst.id);
    return outcome;
  } catch (err) {
    if (err instanceof MergeBlockedError) throw blockedError(inst, err.problems);
    if (isGitError(err)) throw new GroveError('Failed', `Merging "${inst.title}" failed: ${err.message}`, undefined, { cause: err });
    throw err;
  }
}

/**
 * After a merge: removes the worktree and the merged branch, and archives the instance (its prompt, cost and result
 * stay). Work merged by squash or rebase counts as landed. Uncommitted or untracked work is never removed: the
 * worktree is then kept and the reason returned.
 */
export async function cleanupMerged(g: Grove, id: string): Promise<RemoveOutcome | { kept: string }> {
  const inst = requireInstance(g, id);
  try {
    const files = await uncommittedFiles(g, inst);
    if (files.length) return { kept: `its worktree has uncommitted files (${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''}); it was kept` };
    const outcome = await removeKeepingRecord(g, id);
    return outcome;
  } catch (err) {
    if (GroveError.is(err, 'WouldLoseWork') || GroveError.is(err, 'Busy')) return { kept: err.message };
    throw err;
  }
}

async function removeKeepingRecord(g: Grove, id: string): Promise<RemoveOutcome> {
  const inst = requireInstance(g, id);
  const plan = await planRemoval(g, { id });
  if (plan.hasLoss || plan.unmergedCommits) throw new GroveError('WouldLoseWork', `"${inst.title}" still holds work that is not in ${inst.baseRef}; its worktree was kept.`);
  const report = plan.report;
  // Nothing uncommitted and every commit landed (by merge, squash or rebase): `force` only overrides git's view that
  // squashed commits are unmerged.
  let snapshotId: string | undefined;
  if (report) {
    // Ignored files (`.env.local`) go with the folder, and a merge can be wrong: restorable.
    const snapshot = await recordBeforeDestructive(g, {
      repoRoot: inst.repoRoot, worktreePath: report.stale ? undefined : report.path, branch: report.taskBranch,
      reason: `cleanup after merge${inst.merge ? ` (${inst.merge.strategy})` : ''}`, instance: inst,
    });
    snapshotId = snapshot?.id;
    await g.worktrees.remove(report.path, { deleteBranch: 'always', repoRoot: inst.repoRoot, force: true, releasedLockOf: g.self });
  }
  g.fleet.archive(id);
  return { removedInstances: [], worktreePath: report?.path, branch: report?.branch, branchDeleted: !!report?.branch, ...(snapshotId ? { snapshotId } : {}) };
}

