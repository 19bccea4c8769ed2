import type { TaskSpec } from '../../core/fleet/dispatcher';
import { CliError, parse, str, UsageError } from '../args';
import { shortId } from '../format';
import * as ops from '../operations';
import { openGrove, runInForeground, type Io } from './common';

const RUN_OPTIONS = {
  max: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
} as const;

/** `grove dispatch --plan plan.md | --prompt "…"`: runs the tasks to completion in the foreground, like make. */
export async function dispatchCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...RUN_OPTIONS,
    plan: { type: 'string' },
    prompt: { type: 'string' },
    title: { type: 'string' },
    base: { type: 'string' },
    mode: { type: 'string' },
    select: { type: 'string', multiple: true },
  });
  if (positionals.length) throw new UsageError(`grove dispatch takes no positional arguments (got "${positionals[0]}"): use --plan <file> or --prompt "<text>"`);
  const plan = str(values.plan);
  const prompt = str(values.prompt);
  if (!!plan === !!prompt) throw new UsageError('grove dispatch needs exactly one of --plan <file> or --prompt "<text>"');
  if (values.title !== undefined && !prompt) throw new UsageError('--title goes with --prompt');
  const select = (values.select as string[] | undefined) ?? [];
  if (select.length && !plan) throw new UsageError('--select goes with --plan');
  const mode = str(values.mode);
  if (mode !== undefined && mode !== 'background' && mode !== 'terminal') throw new UsageError(`--mode must be background or terminal, not "${mode}"`);
  if (mode === 'terminal') throw new UsageError('terminal mode runs Claude Code in a VS Code terminal and is not available from the command line: use --mode background (the default), or dispatch from VS Code.');

  const tasks: TaskSpec[] = plan ? ops.planTasks(plan, select) : [ops.promptTask(prompt!, str(values.title))];
  const json = values.json === true;
  const g = await openGrove(values, io);
  try {
    const created = await ops.dispatch(g, { tasks, baseRef: str(values.base), mode });
    if (!json && !values.quiet) io.err(`Dispatched ${created.length} task(s) on ${g.repoRoot} (at most ${g.fleet.maxConcurrent} at once):`);
    const final = await runInForeground(g, created.map((c) => c.id), io, json || values.quiet === true);
    const ok = final.every((s) => s.state === 'done');
    if (json) io.out(JSON.stringify({ ok, instances: final }, null, 2));
    else {
      const done = final.filter((s) => s.state === 'done').length;
      io.err(`${done}/${final.length} done.${ok ? ' `grove review <id>` shows the work, `grove merge <id>` brings it in.' : ''}`);
      for (const s of final) io.out(`${shortId(s.id)}  ${s.state}  ${s.branch || '-'}  ${s.title}`);
    }
    return ok ? 0 : 1;
  } finally {
    await g.close();
  }
}

/** `grove follow-up <id> "<prompt>"`: one more turn in the instance's session, in the foreground. */
export async function followUpCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, RUN_OPTIONS);
  if (positionals.length !== 2) throw new UsageError('grove follow-up takes <id> "<prompt>"');
  const g = await openGrove(values, io);
  try {
    const started = await ops.followUp(g, positionals[0]!, positionals[1]!);
    const [final] = await runInForeground(g, [started.id], io, values.json === true || values.quiet === true);
    if (!final) throw new CliError('the instance disappeared');
    if (values.json === true) io.out(JSON.stringify({ ok: final.state === 'done', instance: final }, null, 2));
    else if (final.resultText) io.out(final.resultText);
    return final.state === 'done' ? 0 : 1;
  } finally {
    await g.close();
  }
}
