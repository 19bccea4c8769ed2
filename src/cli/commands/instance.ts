import { oneLine } from '../../core/agents/transcript';
import { GroveError } from '../../core/errors';
import { continueInFreshSession, ownerOf, resume, stop } from '../../core/flows/instances';
import { overlapDetails, withOverlaps } from '../../core/flows/radar';
import { merge } from '../../core/flows/merge';
import { remove } from '../../core/flows/remove';
import { review } from '../../core/flows/review';
import { transcript } from '../../core/flows/worktrees';
import { isActive } from '../../core/fleet/instance';
import type { MergeProblem, MergeStrategy } from '../../core/git/mergeService';
import { exactly, parse, str, UsageError } from '../args';
import { cost, reviewText, shortId, statusTable } from '../format';
import { openContext, runInForeground, type Io } from './common';

const VERBOSE = { verbose: { type: 'boolean' } } as const;
const RUN = { ...VERBOSE, quiet: { type: 'boolean', short: 'q' } } as const;

/** `grove status`: a read — it never changes an instance a live process owns. */
export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, VERBOSE);
  const ctx = await openContext(values, io);
  try {
    const list = await withOverlaps(ctx.grove, ctx.repoRoot, positionals.length ? positionals.map((p) => ctx.resolve(p)) : ctx.instances());
    if (values.json) io.out(JSON.stringify(list, null, 2));
    else {
      const radar = list.flatMap((s) => overlapDetails({ overlaps: s.overlaps, base: s.baseOverlap }).map((l) => `  ${shortId(s.id)} ${s.title}: ${l}`));
      io.out(`${statusTable(list)}${radar.length ? `\n\nConflict radar:\n${radar.join('\n')}` : ''}`);
    }
    if (!values.json && !positionals.length) {
      // The warm pool's spares (records only: no git process).
      const spares = (await ctx.grove.worktrees.pool.spares(ctx.repoRoot)).filter((s) => s.meta.spare.ready);
      if (spares.length) io.out(`${spares.length} spare worktree${spares.length === 1 ? '' : 's'} ready (grove.worktreePool): ${spares.map((s) => `${s.path} (from ${s.meta.baseRef})`).join(', ')}`);
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function stopCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, VERBOSE);
  const [ref] = exactly(positionals, ['id'], 'stop');
  const ctx = await openContext(values, io);
  try {
    const r = await stop(ctx.grove, ctx.resolve(ref!).id);
    io.out(values.json ? JSON.stringify(r, null, 2) : `${shortId(r.instance.id)} ${r.instance.title}: ${r.instance.state} — ${r.message}`);
    return isActive(r.instance.state) || r.instance.state === 'queued' ? 1 : 0;
  } finally {
    await ctx.close();
  }
}

/**
 * `grove resume <id>`: a stopped, failed or interrupted agent continues its session in the foreground; a paused one
 * (rate limited) resumes now — handed to the process that drives it, when one does.
 */
export async function resumeCommand(argv: string[], io: Io): Promise<number> {
  return continueCommandOf('resume', (ctx, id) => resume(ctx.grove, id))(argv, io);
}

/** `grove continue <id>`: the task goes on in a fresh session with a summary of the last (its context was exhausted). */
export async function continueCommand(argv: string[], io: Io): Promise<number> {
  return continueCommandOf('continue', (ctx, id) => continueInFreshSession(ctx.grove, id))(argv, io);
}

function continueCommandOf(name: string, start: (ctx: Awaited<ReturnType<typeof openContext>>, id: string) => Promise<unknown>) {
  return async (argv: string[], io: Io): Promise<number> => {
    const { values, positionals } = parse(argv, RUN);
    const [ref] = exactly(positionals, ['id'], name);
    const ctx = await openContext(values, io);
    try {
      const id = ctx.resolve(ref!).id;
      await start(ctx, id);
      const owner = await ownerOf(ctx.grove, id);
      if (owner.kind !== 'here') {
        // Another process drives it (a paused agent resumed there): that process runs the turn.
        const s = ctx.grove.fleet.get(id)!;
        io.out(values.json ? JSON.stringify({ ok: true, instance: s }, null, 2) : `${shortId(s.id)} ${s.title}: ${s.state}`);
        return 0;
      }
      const [final] = await runInForeground(ctx, [id], io, values.json === true || values.quiet === true);
      if (!final) throw new GroveError('NotFound', 'the instance disappeared');
      if (values.json === true) io.out(JSON.stringify({ ok: final.state === 'done', instance: final }, null, 2));
      else io.out(`${shortId(final.id)} ${final.title}: ${final.state}${final.error ? ` — ${final.error}` : ''}`);
      return final.state === 'done' ? 0 : 1;
    } finally {
      await ctx.close();
    }
  };
}

export async function reviewCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, stat: { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'review');
  const ctx = await openContext(values, io);
  try {
    const r = await review(ctx.grove, ctx.resolve(ref!).id, { patch: values.stat !== true });
    io.out(values.json ? JSON.stringify(r, null, 2) : reviewText(r));
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function mergeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, strategy: { type: 'string' }, commit: { type: 'boolean' }, cleanup: { type: 'boolean' }, keep: { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'merge');
  const strategy = str(values.strategy);
  if (strategy !== undefined && !['merge', 'squash', 'rebase'].includes(strategy)) throw new UsageError(`--strategy must be merge, squash or rebase, not "${strategy}"`);
  if (values.cleanup && values.keep) throw new UsageError('--cleanup and --keep contradict each other');
  const ctx = await openContext(values, io);
  try {
    let r;
    try {
      r = await merge(ctx.grove, {
        id: ctx.resolve(ref!).id,
        strategy: strategy as MergeStrategy | undefined,
        commit: values.commit === true,
        ...(values.cleanup ? { cleanup: 'always' as const } : values.keep ? { cleanup: 'never' as const } : {}),
      }, { onCheckOutput: values.verbose ? (c) => io.err(c.trimEnd()) : undefined });
    } catch (err) {
      if (GroveError.is(err, 'Blocked')) {
        for (const p of (err.details as MergeProblem[] | undefined) ?? []) {
          if (p.code === 'CheckFailed' && p.output) io.err(`--- output of the check (last 200 lines) ---\n${p.output.split('\n').slice(-200).join('\n').trimEnd()}\n---`);
        }
      }
      throw err;
    }
    if (!r) throw new GroveError('InvalidInput', 'Not merged.');
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      for (const n of r.notes) io.err(`note: ${n}`);
      if (r.committed) io.err(`Committed the agent's uncommitted work as ${r.committed.slice(0, 8)}.`);
      io.out(`Merged ${r.instance.branch} into ${r.into} (${r.strategy}): ${r.into} is now ${r.mergedCommit.slice(0, 8)}${r.updatedVia === 'checkout' ? ' (its checkout was fast-forwarded)' : ''}.`);
      if (r.cleanup && 'kept' in r.cleanup) io.err(`The worktree was kept: ${r.cleanup.kept}`);
      else if (r.cleanup) io.err(`Removed the worktree${r.cleanup.branchDeleted ? ` and branch ${r.cleanup.branch}` : ''}${r.cleanup.snapshotId ? ` (restorable: grove restore ${r.cleanup.snapshotId})` : ''}.`);
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function removeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, force: { type: 'boolean', short: 'f' }, 'delete-branch': { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'remove');
  const ctx = await openContext(values, io);
  try {
    const inst = ctx.resolve(ref!);
    const r = await remove(ctx.grove, { id: inst.id, force: values.force === true, deleteBranch: values['delete-branch'] === true });
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      const branch = r.branch ? (r.branchDeleted ? `; deleted branch ${r.branch}` : `; kept branch ${r.branch}${r.branchKeptReason ? ` (${r.branchKeptReason})` : ''}`) : '';
      const lost = r.discarded ? r.discarded.uncommitted.length + r.discarded.untracked.length : 0;
      io.out(`Removed ${shortId(inst.id)} ${inst.title}${r.worktreePath ? ` and its worktree ${r.worktreePath}` : ''}${branch}${lost ? `; discarded ${lost} uncommitted/untracked file(s)` : ''}.`);
      if (r.snapshotId) io.err(`Restorable: grove restore ${r.snapshotId}`);
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function logCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, raw: { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'log');
  const ctx = await openContext(values, io);
  try {
    const r = await transcript(ctx.grove, ctx.resolve(ref!).id, { raw: values.raw === true });
    if (values.json) io.out(JSON.stringify({ id: r.instance.id, title: r.instance.title, state: r.instance.state, cost: cost(r.instance.costUsd), transcript: r.text }, null, 2));
    else io.out(r.text.trimEnd() || `(empty log) ${oneLine(r.instance.title, 60)}`);
    return 0;
  } finally {
    await ctx.close();
  }
}
