/**
 * `grove land [<id>…|--all] [--strategy merge|squash|rebase] [--commit] [--cleanup|--keep] [--retries N] [--json]`:
 * Land All in the foreground (core/flows/land.ts). Agents sent back with a follow-up run in this process; the train
 * waits for them. Ctrl-C cancels: the step under way is undone exactly, agents at work on a follow-up are stopped
 * (resumable), and the summary is printed.
 */
import { land, landText } from '../../core/flows/land';
import type { MergeStrategy } from '../../core/git/mergeService';
import { parse, str, UsageError } from '../args';
import { shortId } from '../format';
import { openContext, STOP_SIGNALS, type Io } from './common';

export async function landCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    verbose: { type: 'boolean' }, all: { type: 'boolean' }, strategy: { type: 'string' }, commit: { type: 'boolean' },
    cleanup: { type: 'boolean' }, keep: { type: 'boolean' }, retries: { type: 'string' }, quiet: { type: 'boolean', short: 'q' },
  });
  if (values.all && positionals.length) throw new UsageError('grove land takes <id>… or --all, not both');
  if (!values.all && !positionals.length) throw new UsageError('grove land takes <id>… or --all (every done agent)');
  const strategy = str(values.strategy);
  if (strategy !== undefined && !['merge', 'squash', 'rebase'].includes(strategy)) throw new UsageError(`--strategy must be merge, squash or rebase, not "${strategy}"`);
  if (values.cleanup && values.keep) throw new UsageError('--cleanup and --keep contradict each other');
  const retriesText = str(values.retries);
  const retries = retriesText === undefined ? undefined : Number(retriesText);
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0 || retries > 10)) throw new UsageError(`--retries must be a whole number from 0 to 10, not "${retriesText}"`);
  const quiet = values.json === true || values.quiet === true;
  const ctx = await openContext(values, io);
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    io.err('Cancelling Land All: the step under way is finished and undone… (again to exit at once)');
    ac.abort();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  try {
    const ids = values.all ? undefined : positionals.map((p) => ctx.resolve(p).id);
    const summary = await land(ctx.grove, {
      ...(ids ? { ids } : { repoRoot: ctx.repoRoot }),
      strategy: strategy as MergeStrategy | undefined,
      commit: values.commit === true,
      ...(values.cleanup ? { cleanup: 'always' as const } : values.keep ? { cleanup: 'never' as const } : {}),
      ...(retries !== undefined ? { retries } : {}),
      signal: ac.signal,
    }, {
      onProgress: (p) => {
        if (quiet) return;
        if (p.instance) io.err(`Landing ${p.position}/${p.total}: ${p.instance.title} — ${p.step === 'sync' ? 'syncing' : p.step === 'check' ? 'checking and merging' : 'merging'}`);
        else io.err(`Waiting for ${p.out} agent${p.out === 1 ? '' : 's'} sent back to fix their work…`);
      },
      onSentBack: (e) => quiet || io.err(`  sent back ${shortId(e.instance.id)} ${e.instance.title}: ${e.message}`),
      onCheckOutput: values.verbose ? (_i, c) => io.err(c.trimEnd()) : undefined,
    });
    if (!summary) return 1;
    // Cancelled: the agents at work on a follow-up from this train stop with this process (resumable).
    for (const e of summary.sentBack) if (ctx.grove.fleet.isDriving(e.instance.id)) await ctx.grove.fleet.stopHere(e.instance.id);
    io.out(values.json ? JSON.stringify({ ok: !summary.cancelled && !summary.left.length && !summary.sentBack.length, ...summary }, null, 2) : landText(summary));
    return summary.cancelled || summary.left.length || summary.sentBack.length ? 1 : 0;
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    await ctx.close();
  }
}
