/** `grove snapshots` and `grove restore <id>`: the Recently Removed list and Restore of core/flows/restore. */
import { oneLine } from '../../core/agents/transcript';
import { describeSnapshot, listSnapshots, pruneSnapshots, restoreSnapshot } from '../../core/flows/restore';
import { revertToBeforeTurn, turnChanges, turns } from '../../core/flows/turns';
import type { SnapshotMeta } from '../../core/git/snapshots';
import { exactly, parse, str, UsageError } from '../args';
import { shortId, table } from '../format';
import { openContext, type Io } from './common';

const VERBOSE = { verbose: { type: 'boolean' } } as const;

/** `grove snapshots [--prune] [--json]`: what can be restored, newest first (`--prune` first drops the expired). */
export async function snapshotsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, prune: { type: 'boolean' } });
  exactly(positionals, [], 'snapshots');
  const ctx = await openContext(values, io);
  try {
    if (values.prune) {
      const pruned = await pruneSnapshots(ctx.grove, ctx.repoRoot);
      if (!values.json) io.err(`Pruned ${pruned.length} snapshot(s) older than ${ctx.settings.settings.snapshotRetentionDays} days.`);
    }
    const list = await listSnapshots(ctx.grove, [ctx.repoRoot]);
    io.out(values.json ? JSON.stringify(list, null, 2) : snapshotTable(list));
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `grove restore <id> [--branch <name> | --detach] [--path <dir>]`: the worktree (or branch) back, exactly. */
export async function restoreCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, branch: { type: 'string' }, detach: { type: 'boolean' }, path: { type: 'string' } });
  const [id] = exactly(positionals, ['id'], 'restore');
  if (values.branch && values.detach) throw new UsageError('--branch and --detach exclude each other');
  const ctx = await openContext(values, io);
  try {
    const branchName = str(values.branch);
    const where = str(values.path);
    const r = await restoreSnapshot(ctx.grove, { repoRoot: ctx.repoRoot, id: id!, ...(branchName ? { branchName } : {}), ...(values.detach ? { detach: true } : {}), ...(where ? { path: where } : {}) });
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      const what = r.worktreePath ? `the worktree ${r.worktreePath}${r.branch ? ` on ${r.branch}` : ' (detached)'}` : `branch ${r.branch}`;
      io.out(`Restored ${r.inPlace ? 'in place ' : ''}${what} from ${r.snapshot.id} (${r.snapshot.reason}).`);
      if (r.instance) io.out(`Its agent "${r.instance.title}" is back as ${r.instance.id} (${r.instance.state}): grove follow-up ${r.instance.id} "…" goes on in its session.`);
      for (const n of r.notes) io.err(`note: ${n}`);
      if (r.undoId) io.err(`What it replaced is snapshot ${r.undoId}: grove restore ${r.undoId} undoes this.`);
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export function snapshotTable(list: readonly SnapshotMeta[], now = Date.now()): string {
  if (!list.length) return 'No snapshots. Grove records one before it removes, deletes, aborts or cleans up anything.';
  return table([
    ['ID', 'WHAT', 'KIND', 'DETAIL'],
    ...list.map((m) => {
      const d = describeSnapshot(m, now);
      return [m.id, oneLine(d.label, 40), m.kind, oneLine(d.detail, 80)];
    }),
  ]);
}

/** `grove turns <id> [--json]`: the instance's turn checkpoints and what each turn changed. */
export async function turnsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, VERBOSE);
  const [ref] = exactly(positionals, ['id'], 'turns');
  const ctx = await openContext(values, io);
  try {
    const inst = ctx.resolve(ref!);
    const list = [];
    for (const t of await turns(ctx.grove, inst.id)) {
      const files = t.turn ? (await turnChanges(ctx.grove, inst.id, t.turn).catch(() => undefined))?.files : undefined;
      list.push({ turn: t.turn ?? 0, id: t.id, createdAt: t.createdAt, ...(files ? { files } : {}) });
    }
    if (values.json) io.out(JSON.stringify(list, null, 2));
    else if (!list.length) io.out(`${shortId(inst.id)} ${inst.title}: no turn recorded yet.`);
    else {
      io.out(table([['TURN', 'WHEN', 'CHANGED'], ...list.map((l) => [String(l.turn), new Date(l.createdAt).toLocaleString(), l.turn === 0 ? '(before the first prompt)' : (l.files ?? []).map((f) => `${f.status} ${f.path}`).join(', ') || 'nothing'])]));
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `grove revert <id> --before-turn N [--yes]`: the worktree back to before turn N (what goes is listed first). */
export async function revertCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, 'before-turn': { type: 'string' }, yes: { type: 'boolean', short: 'y' } });
  const [ref] = exactly(positionals, ['id'], 'revert');
  const turn = Number(str(values['before-turn']));
  if (!Number.isInteger(turn) || turn < 1) throw new UsageError('grove revert needs --before-turn N (a turn number ≥ 1, as grove turns lists them)');
  const ctx = await openContext(values, io);
  try {
    const inst = ctx.resolve(ref!);
    const r = await revertToBeforeTurn(ctx.grove, inst.id, turn, {}, values.yes === true);
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      io.out(`Reverted ${shortId(inst.id)} ${inst.title} to before turn ${turn}.`);
      for (const n of r.notes) io.err(`note: ${n}`);
      if (r.undoId) io.err(`What it replaced is checkpoint ${r.undoId} (grove restore ${r.undoId} undoes this).`);
    }
    return 0;
  } finally {
    await ctx.close();
  }
}
