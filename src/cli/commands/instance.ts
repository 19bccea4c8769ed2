import { oneLine } from '../../core/agents/transcript';
import { isActive } from '../../core/fleet/instance';
import type { MergeStrategy } from '../../core/git/mergeService';
import { exactly, parse, str, UsageError } from '../args';
import { cost, reviewText, shortId, statusTable } from '../format';
import * as ops from '../operations';
import { openGrove, type Io } from './common';

const VERBOSE = { verbose: { type: 'boolean' } } as const;

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, VERBOSE);
  const g = await openGrove(values, io);
  try {
    const list = positionals.length ? positionals.map((p) => g.resolve(p)) : g.instances();
    io.out(values.json ? JSON.stringify(list, null, 2) : statusTable(list));
    return 0;
  } finally {
    await g.close();
  }
}

export async function stopCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, VERBOSE);
  const [ref] = exactly(positionals, ['id'], 'stop');
  const g = await openGrove(values, io);
  try {
    const r = await ops.stop(g, ref!);
    io.out(values.json ? JSON.stringify(r, null, 2) : `${shortId(r.instance.id)} ${r.instance.title}: ${r.instance.state} (${r.how})`);
    return isActive(r.instance.state) || r.instance.state === 'queued' ? 1 : 0;
  } finally {
    await g.close();
  }
}

export async function reviewCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, stat: { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'review');
  const g = await openGrove(values, io);
  try {
    const r = await ops.review(g, ref!, { patch: values.stat !== true });
    io.out(values.json ? JSON.stringify(r, null, 2) : reviewText(r));
    return 0;
  } finally {
    await g.close();
  }
}

export async function mergeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, strategy: { type: 'string' }, commit: { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'merge');
  const strategy = str(values.strategy) ?? 'merge';
  if (!['merge', 'squash', 'rebase'].includes(strategy)) throw new UsageError(`--strategy must be merge, squash or rebase, not "${strategy}"`);
  const g = await openGrove(values, io);
  try {
    const r = await ops.merge(g, ref!, { strategy: strategy as MergeStrategy, commit: values.commit === true });
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      for (const n of r.notes) io.err(`note: ${n}`);
      if (r.committed) io.err(`Committed the agent's uncommitted work as ${r.committed.slice(0, 8)}.`);
      io.out(`Merged ${r.instance.branch} into ${r.into} (${r.strategy}): ${r.into} is now ${r.mergedCommit.slice(0, 8)}${r.updatedVia === 'checkout' ? ' (its checkout was fast-forwarded)' : ''}.`);
    }
    return 0;
  } finally {
    await g.close();
  }
}

export async function removeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, force: { type: 'boolean', short: 'f' }, 'delete-branch': { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'remove');
  const g = await openGrove(values, io);
  try {
    const r = await ops.remove(g, ref!, { force: values.force === true, deleteBranch: values['delete-branch'] === true });
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      const branch = r.branch ? (r.branchDeleted ? `; deleted branch ${r.branch}` : `; kept branch ${r.branch}${r.branchKeptReason ? ` (${r.branchKeptReason})` : ''}`) : '';
      const lost = r.discarded ? r.discarded.uncommitted.length + r.discarded.untracked.length : 0;
      io.out(`Removed ${shortId(r.id)} ${r.title}${r.worktreePath ? ` and its worktree ${r.worktreePath}` : ''}${branch}${lost ? `; discarded ${lost} uncommitted/untracked file(s)` : ''}.`);
    }
    return 0;
  } finally {
    await g.close();
  }
}

export async function logCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...VERBOSE, raw: { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'log');
  const g = await openGrove(values, io);
  try {
    const r = ops.transcript(g, ref!, { raw: values.raw === true });
    if (values.json) io.out(JSON.stringify({ id: r.instance.id, title: r.instance.title, state: r.instance.state, cost: cost(r.instance.costUsd), transcript: r.text }, null, 2));
    else io.out(r.text.trimEnd() || `(empty log) ${oneLine(r.instance.title, 60)}`);
    return 0;
  } finally {
    await g.close();
  }
}
