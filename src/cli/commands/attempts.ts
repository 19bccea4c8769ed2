/**
 * Best of N on the command line: `grove compare <id> [--check] [--json]` (each attempt's size, cost and, with
 * --check, the check's result) and `grove land-attempt <id> [--strategy …] [--commit] [--remove-others]` (merge it; the
 * other attempts are removed only with --remove-others, after their loss is printed — otherwise kept).
 */
import { compareAttempts, landAttempt } from '../../core/flows/attempts';
import { describeLoss } from '../../core/git/worktreeRemoval';
import type { MergeStrategy } from '../../core/git/mergeService';
import { exactly, parse, str, UsageError } from '../args';
import { shortId, table } from '../format';
import { openContext, type Io } from './common';

export async function compareCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { verbose: { type: 'boolean' }, check: { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'compare');
  const ctx = await openContext(values, io);
  try {
    const list = await compareAttempts(ctx.grove, ctx.resolve(ref!).id, { check: values.check === true });
    if (values.json) io.out(JSON.stringify(list, null, 2));
    else {
      io.out(table([
        ['ID', 'ATTEMPT', 'STATE', 'FILES', 'LINES', 'CHECK', 'COST', 'MODEL'],
        ...list.map((a) => [
          shortId(a.instance.id), a.instance.title, a.instance.state, a.error ? '-' : String(a.files), a.error ?? `+${a.insertions} -${a.deletions}`,
          a.check ? (a.check.passed ? 'passed' : `failed (${a.check.exitCode ?? 'killed'})`) : '-', `$${a.costUsd.toFixed(2)}`, a.instance.model ?? 'default',
        ]),
      ]));
      io.err('`grove review <id>` shows an attempt\'s diff; `grove land-attempt <id> --remove-others` lands one and removes the rest.');
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function landAttemptCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { verbose: { type: 'boolean' }, strategy: { type: 'string' }, commit: { type: 'boolean' }, 'remove-others': { type: 'boolean' } });
  const [ref] = exactly(positionals, ['id'], 'land-attempt');
  const strategy = str(values.strategy);
  if (strategy !== undefined && !['merge', 'squash', 'rebase'].includes(strategy)) throw new UsageError(`--strategy must be merge, squash or rebase, not "${strategy}"`);
  const ctx = await openContext(values, io);
  try {
    const r = await landAttempt(ctx.grove, { id: ctx.resolve(ref!).id, strategy: strategy as MergeStrategy | undefined, commit: values.commit === true }, {
      confirmRemoveOthers: async (others) => {
        for (const o of others) {
          const loss = o.plan.report ? describeLoss(o.plan.report, { deleteBranch: true }) : [];
          io.err(`${values['remove-others'] ? 'Removing' : 'Keeping'} ${shortId(o.instance.id)} ${o.instance.title}${loss.length ? `:\n${loss.map((l) => `  ${l}`).join('\n')}` : ' (nothing is lost)'}`);
        }
        return values['remove-others'] === true;
      },
    });
    if (!r) return 1;
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      io.out(`Landed ${r.merged.instance.title} into ${r.merged.into} (${r.merged.strategy}): ${r.merged.mergedCommit.slice(0, 8)}.`);
      if (r.removed.length) io.out(`Removed ${r.removed.map((x) => x.instance.title).join(', ')}.`);
      if (r.kept.length) io.err(`Kept ${r.kept.map((x) => `${x.instance.title} (${x.reason})`).join(', ')}${values['remove-others'] ? '' : '; --remove-others removes them'}.`);
    }
    return 0;
  } finally {
    await ctx.close();
  }
}
