/**
 * Best of N: the same task given to N agents on N worktrees ("Fix the parser #1", "#2"…, optionally one model each),
 * compared side by side (size of the change, the check's result, cost), and one of them landed — the others removed
 * only after the person saw what that discards. One implementation for VS Code and the CLI.
 */
import { GroveError } from '../errors';
import { isOwned } from '../fleet/instance';
import { runSetupCommand } from '../git/provisioner';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { dispatch, type DispatchAsk, type DispatchRequest, type DispatchResult } from './dispatch';
import { requireInstance } from './instances';
import { lastLines } from './landTypes';
import { merge, type MergeAsk, type MergeOutcome, type MergeRequest } from './merge';
import { planRemoval, remove, type RemovalPlan, type RemoveOutcome } from './remove';
import { review } from './review';

export const MAX_ATTEMPTS = 5;

export interface AttemptsRequest extends Omit<DispatchRequest, 'tasks'> {
  title: string;
  prompt: string;
  /** 2 to {@link MAX_ATTEMPTS}. */
  attempts: number;
  /** One model per attempt (optional; missing ones use the dispatch's model). */
  models?: readonly (string | undefined)[];
}

/** Dispatches N attempts at one task; each knows its group, index and count (`attempt`). */
export async function dispatchAttempts(g: Grove, req: AttemptsRequest, ask: DispatchAsk = {}): Promise<DispatchResult> {
  const n = req.attempts;
  if (!Number.isInteger(n) || n < 2 || n > MAX_ATTEMPTS) throw new GroveError('InvalidInput', `Run 2 to ${MAX_ATTEMPTS} attempts, not ${n}.`);
  if ((req.models?.length ?? 0) > n) throw new GroveError('InvalidInput', `${req.models!.length} models for ${n} attempts: give at most one model per attempt.`);
  const title = req.title.trim();
  const tasks = Array.from({ length: n }, (_, i) => ({ title: `${title} #${i + 1}`, prompt: req.prompt, ...(req.models?.[i] ? { model: req.models[i] } : {}) }));
  const { repoRoot, baseRef, mode, model, profile, permissionMode, lead } = req;
  const result = await dispatch(g, { repoRoot, baseRef, mode, model, profile, permissionMode, lead, tasks }, ask);
  const group = result.instances[0]!.id;
  result.instances.forEach((s, i) => g.fleet.patch(s.id, { attempt: { group, index: i + 1, of: n } }));
  return { ...result, instances: result.instances.map((s) => requireInstance(g, s.id)) };
}

/** The attempts of the group `id` belongs to, by index (the instance alone when it is no attempt). */
export function attemptsOf(g: Grove, id: string): InstanceSnapshot[] {
  const inst = requireInstance(g, id);
  if (!inst.attempt) return [inst];
  const group = inst.attempt.group;
  return g.fleet.instances().filter((s) => s.attempt?.group === group).sort((a, b) => a.attempt!.index - b.attempt!.index);
}

export interface AttemptSummary {
  instance: InstanceSnapshot;
  /** Changed files, lines added and removed against the merge-base (uncommitted work included). */
  files: number;
  insertions: number;
  deletions: number;
  costUsd: number;
  /** The check command's result in the attempt's worktree (absent: no check configured, untrusted, or not asked). */
  check?: { passed: boolean; exitCode: number | null; output: string };
  /** Why it could not be read (no worktree…). */
  error?: string;
}

/** Size, cost and (when `check`) the check's result of each attempt of `id`'s group, by index. Reads only, besides the check. */
export async function compareAttempts(g: Grove, id: string, options: { check?: boolean; signal?: AbortSignal } = {}): Promise<AttemptSummary[]> {
  const list = attemptsOf(g, id);
  if (list.length < 2) throw new GroveError('InvalidInput', `"${list[0]!.title}" is not one of several attempts.`);
  const out: AttemptSummary[] = [];
  for (const inst of list) {
    const base: AttemptSummary = { instance: inst, files: 0, insertions: 0, deletions: 0, costUsd: inst.costUsd };
    if (!inst.worktreePath || inst.archived) {
      out.push({ ...base, error: 'its worktree was removed' });
      continue;
    }
    try {
      const r = await review(g, inst.id, { patch: false });
      Object.assign(base, { files: r.files.length, insertions: r.insertions, deletions: r.deletions });
      const command = g.trusted() ? g.settings(inst.repoRoot).checkCommand : undefined;
      if (options.check && command && !isOwned(inst.state)) {
        let output = '';
        const env = { ...process.env, GROVE_WORKTREE: inst.worktreePath, GROVE_BRANCH: inst.branch };
        const run = await runSetupCommand(command, inst.worktreePath, env, (c) => void (output = (output + c).slice(-200_000)), options.signal);
        base.check = { passed: run.exitCode === 0, exitCode: run.exitCode, output: lastLines(output, 200) };
      }
      out.push(base);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      out.push({ ...base, error: (err as Error).message });
    }
  }
  return out;
}

export interface LandAttemptAsk extends MergeAsk {
  /**
   * The chosen attempt landed: what removing each other attempt would discard. True removes them all (their loss
   * accepted); false keeps them. Absent: they are kept.
   */
  confirmRemoveOthers?(others: Array<{ instance: InstanceSnapshot; plan: RemovalPlan }>): Promise<boolean>;
}

export interface LandAttemptOutcome {
  merged: MergeOutcome;
  /** The other attempts removed (after the confirmation), and those kept with the reason. */
  removed: Array<{ instance: InstanceSnapshot; outcome: RemoveOutcome }>;
  kept: Array<{ instance: InstanceSnapshot; reason: string }>;
}

/** Land This Attempt: merges it (see {@link merge}), then offers to remove the other attempts, with their loss report. */
export async function landAttempt(g: Grove, req: MergeRequest, ask: LandAttemptAsk = {}): Promise<LandAttemptOutcome | undefined> {
  const others = attemptsOf(g, req.id).filter((s) => s.id !== req.id && !s.archived);
  const merged = await merge(g, req, ask);
  if (!merged) return undefined;
  const plans = [];
  for (const s of others) plans.push({ instance: s, plan: await planRemoval(g, { id: s.id }) });
  const agreed = plans.length > 0 && !!ask.confirmRemoveOthers && (await ask.confirmRemoveOthers(plans));
  const removed: LandAttemptOutcome['removed'] = [];
  const kept: LandAttemptOutcome['kept'] = [];
  for (const { instance } of plans) {
    if (!agreed) {
      kept.push({ instance, reason: 'not confirmed' });
      continue;
    }
    try {
      // The person saw this plan's loss and accepted it; the branch goes too (its work lost to the landed attempt).
      removed.push({ instance, outcome: await remove(g, { id: instance.id, force: true, deleteBranch: true }, {}) });
    } catch (err) {
      kept.push({ instance, reason: (err as Error).message });
    }
  }
  return { merged, removed, kept };
}
