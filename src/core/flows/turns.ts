/**
 * An agent's turns (issue 13 part 2): Grove records a checkpoint of the worktree before the first prompt and at the
 * end of each turn (see Grove.checkpointTurn), under `refs/grove/checkpoints/<instance>/<turn>` — never a commit on
 * the agent's branch. The one implementation behind listing them, Show Turn Changes and Revert to Before This Turn.
 */
import { GroveError } from '../errors';
import { isOwned } from '../fleet/instance';
import type { ChangedFile } from '../git/changes';
import { isGitError } from '../git/gitError';
import { listIgnoredWork } from '../git/ignoredFiles';
import type { SnapshotMeta, TurnChanges } from '../git/snapshots';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { requireInstance } from './instances';
import { requireWorktree } from './review';

/** The checkpoints at the end of each of the instance's turns, in order (turn 0: before the first prompt). */
export async function turns(g: Grove, id: string): Promise<SnapshotMeta[]> {
  const inst = requireInstance(g, id);
  await g.checkpointsRecorded(inst.id); // the turn that just ended is listed, not missing for a moment
  return (await g.snapshots.checkpoints(inst.repoRoot, inst.id)).filter((c) => c.phase === 'end');
}

/** What one turn changed: from the state before it to its end (untracked files included). */
export async function turnChanges(g: Grove, id: string, turn: number): Promise<TurnChanges> {
  const inst = requireInstance(g, id);
  await g.checkpointsRecorded(inst.id);
  try {
    return await g.snapshots.turnChanges(inst.repoRoot, inst.id, turn);
  } catch (err) {
    if (isGitError(err, 'NotFound')) throw new GroveError('NotFound', err.message, undefined, { cause: err });
    throw err;
  }
}

export interface RevertAsk {
  /** Lists what goes (the files this turn and the later ones changed); false cancels. Absent: `confirmed` decides. */
  confirm?(inst: InstanceSnapshot, files: ChangedFile[], before: SnapshotMeta): Promise<boolean>;
}

export interface RevertOutcome {
  cancelled?: boolean;
  /** The checkpoint the worktree went back to. */
  before?: SnapshotMeta;
  /** The state it replaced (restore it to undo the revert). */
  undoId?: string;
  notes: string[];
}

/**
 * Restores the worktree exactly as it was before turn `turn` (HEAD included: commits the agent made since go off
 * its branch, kept by the undo checkpoint). Refused while the agent runs, and without a confirmation.
 */
export async function revertToBeforeTurn(g: Grove, id: string, turn: number, ask: RevertAsk = {}, confirmed = false): Promise<RevertOutcome> {
  const inst = requireInstance(g, id);
  const wt = requireWorktree(inst);
  if (isOwned(inst.state)) throw new GroveError('Busy', `"${inst.title}" is ${inst.state}: stop it before reverting a turn.`);
  const before = await g.snapshots.beforeTurn(inst.repoRoot, inst.id, turn);
  if (!before) throw new GroveError('NotFound', `"${inst.title}" has no checkpoint before turn ${turn}.`);
  const files = new Map<string, ChangedFile>();
  for (const t of await turns(g, id)) {
    if ((t.turn ?? 0) < turn) continue;
    for (const f of (await turnChanges(g, id, t.turn ?? 0)).files) files.set(f.path, f);
  }
  const list = [...files.values()];
  if (ask.confirm) {
    if (!(await ask.confirm(inst, list, before))) return { cancelled: true, notes: [] };
  } else if (!confirmed) {
    throw new GroveError('NeedsConfirmation', `Reverting "${inst.title}" to before turn ${turn} undoes the changes of ${list.length} file(s)${list.length ? `: ${list.slice(0, 10).map((f) => f.path).join(', ')}${list.length > 10 ? ', …' : ''}` : ''} (and anything changed since). Confirm to go on; the current state is kept as a checkpoint.`, { files: list });
  }
  const ignored = (await listIgnoredWork(g.git, wt, { copyPatterns: g.settings(inst.repoRoot).copyFiles })).filter((e) => !e.repository);
  try {
    const r = await g.snapshots.revertTo(wt, before.id, { ignored });
    return { before, undoId: r.undoId, notes: r.notes };
  } catch (err) {
    if (isGitError(err)) throw new GroveError('Failed', `Reverting "${inst.title}" failed: ${err.message}`, err.details, { cause: err });
    throw err;
  }
}
