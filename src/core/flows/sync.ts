/**
 * Bring the base into an agent's branch (inside its own worktree; the user's checkout is never touched), and the
 * conflict steps around it: complete, abort, or ask the agent to resolve.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GroveError } from '../errors';
import { isGitError } from '../git/gitError';
import { MergeBlockedError, type SyncResult, type SyncState, type SyncStrategy } from '../git/mergeService';
import { isOwned } from '../fleet/instance';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { followUp, requireInstance, type FollowUpResult } from './instances';
import { recordBeforeDestructive } from './restore';
import { requireWorktree } from './review';

const CONFLICT_MARKER = /^(<{7}|>{7})( |$)/m;

export interface SyncOutcome {
  instance: InstanceSnapshot;
  status: SyncResult['status'] | 'skipped';
  conflicts?: string[];
  /** Why it was skipped, or what happened, for the person. */
  message: string;
}

export interface SyncAsk {
  /** The worktree has uncommitted work: true to commit it first (VS Code asks; the CLI's `--commit`). */
  confirmCommit?(inst: InstanceSnapshot, files: string[]): Promise<boolean>;
  commit?: (inst: InstanceSnapshot) => Promise<unknown>;
}

/** Syncs each instance in turn; one that cannot be synced is skipped with the reason, never half done. */
export async function sync(g: Grove, ids: readonly string[], options: { strategy?: SyncStrategy; signal?: AbortSignal } = {}, ask: SyncAsk = {}): Promise<SyncOutcome[]> {
  const out: SyncOutcome[] = [];
  for (const id of ids) {
    const inst = requireInstance(g, id);
    if (isOwned(inst.state)) {
      out.push({ instance: inst, status: 'skipped', message: `"${inst.title}" is ${inst.state}: skipped` });
      continue;
    }
    const worktreePath = requireWorktree(inst);
    const strategy = options.strategy ?? g.settings(inst.repoRoot).syncStrategy;
    try {
      const r = await g.merges.syncFromBase({ worktreePath, branch: inst.branch, baseRef: inst.baseRef, strategy, signal: options.signal, exclude: inst.copiedFiles ?? [] });
      out.push({ instance: requireInstance(g, id), status: r.status, ...(r.conflicts ? { conflicts: r.conflicts } : {}), message: describeSync(inst, r) });
    } catch (err) {
      if (err instanceof MergeBlockedError && err.problems.some((p) => p.code === 'UncommittedWork')) {
        const files = err.problems.flatMap((p) => p.files ?? []);
        if (ask.confirmCommit && ask.commit && (await ask.confirmCommit(inst, files))) {
          await ask.commit(inst);
          const again = await sync(g, [id], options, {});
          out.push(...again);
          continue;
        }
        out.push({ instance: inst, status: 'skipped', message: `"${inst.title}": not synced (uncommitted work: ${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''})` });
        continue;
      }
      if (err instanceof MergeBlockedError) {
        out.push({ instance: inst, status: 'skipped', message: `"${inst.title}": ${err.problems.map((p) => p.message).join(' ')}` });
        continue;
      }
      if (isGitError(err)) throw new GroveError('Failed', `Syncing "${inst.title}" failed; its worktree is as it was. ${err.message}`, undefined, { cause: err });
      throw err;
    }
  }
  return out;
}

function describeSync(inst: InstanceSnapshot, r: SyncResult): string {
  if (r.status === 'conflicted') return `"${inst.title}": syncing ${inst.baseRef} stopped on conflicts in ${r.conflicts?.join(', ')}`;
  return `"${inst.title}": ${r.status === 'upToDate' ? 'already up to date' : `synced with ${inst.baseRef}`}`;
}

export async function syncState(g: Grove, id: string): Promise<SyncState> {
  return g.merges.syncState(requireWorktree(requireInstance(g, id)));
}

/**
 * Concludes a sync whose conflicts were resolved: refuses while a conflicted file still has conflict markers, stages
 * the resolved files, continues the merge or rebase. A rebase may stop again on a later commit (`conflicted`).
 */
export async function completeSync(g: Grove, id: string): Promise<SyncResult> {
  const inst = requireInstance(g, id);
  const wt = requireWorktree(inst);
  const state = await g.merges.syncState(wt);
  if (!state.operation) throw new GroveError('InvalidInput', `No sync is in progress in "${inst.title}".`);
  const unresolved = state.conflicts.filter((f) => CONFLICT_MARKER.test(readText(path.join(wt, f))));
  if (unresolved.length) throw new GroveError('Blocked', `Conflict markers remain in ${unresolved.join(', ')}. Resolve them, then Complete Sync.`, { files: unresolved });
  if (state.conflicts.length) await g.git.mutate(wt, ['add', '--', ...state.conflicts]);
  try {
    return await g.merges.completeSync(wt);
  } catch (err) {
    if (err instanceof MergeBlockedError) throw new GroveError('Blocked', err.message, err.problems, { cause: err });
    throw err;
  }
}

/** Ends a sync in progress; the branch and its worktree go back exactly to before it. */
export async function abortSync(g: Grove, id: string, ask: { confirm?(inst: InstanceSnapshot): Promise<boolean> } = {}): Promise<boolean> {
  const inst = requireInstance(g, id);
  const wt = requireWorktree(inst);
  const state = await g.merges.syncState(wt);
  if (!state.operation) throw new GroveError('InvalidInput', `No sync is in progress in "${inst.title}".`);
  if (ask.confirm && !(await ask.confirm(inst))) return false;
  // The conflict resolutions made so far go with the abort: restorable (in place, rebase and all).
  await recordBeforeDestructive(g, { repoRoot: inst.repoRoot, worktreePath: wt, reason: 'abort sync', instance: inst });
  await g.merges.abortSync(wt);
  return true;
}

/** The follow-up that asks the agent to resolve its conflicts. Pure. */
export function resolvePrompt(inst: Pick<InstanceSnapshot, 'baseRef' | 'branch'>, state: SyncState): string {
  const finish = state.operation === 'rebase' ? '`git add` each file, then run `git -c core.editor=true rebase --continue`' : '`git add` each file, then run `git commit --no-edit`';
  return [
    `Bringing \`${inst.baseRef}\` into your branch \`${inst.branch}\` stopped on conflicts in:`,
    ...state.conflicts.map((f) => `- ${f}`),
    '',
    `Resolve each conflict so that both sides' intent is kept, remove every conflict marker, then ${finish}. Run the tests if there are any.`,
  ].join('\n');
}

export async function askAgentToResolve(g: Grove, id: string): Promise<FollowUpResult> {
  const inst = requireInstance(g, id);
  const state = await g.merges.syncState(requireWorktree(inst));
  if (!state.conflicts.length) throw new GroveError('InvalidInput', `"${inst.title}" has no unresolved conflict.`);
  return followUp(g, id, resolvePrompt(inst, state));
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
