import fs from 'node:fs';
import { dispatchAttempts, MAX_ATTEMPTS } from '../../core/flows/attempts';
import { dispatch, planTasks, specOf, taskFromPrompt } from '../../core/flows/dispatch';
import { followUp } from '../../core/flows/instances';
import type { TaskSpec } from '../../core/fleet/ports';
import { CliError, parse, str, UsageError } from '../args';
import { shortId } from '../format';
import { openContext, runInForeground, type Io } from './common';
import { detachedDispatch } from './detach';

const RUN_OPTIONS = {
  max: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
} as const;

/** Reads a plan file for the CLI or MCP. @throws CliError */
export function readPlan(file: string, select: readonly string[]): TaskSpec[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read the plan ${file}: ${(err as Error).message}`);
  }
  return planTasks(text, { select, source: file }).map(specOf);
}

/**
 * `grove dispatch --plan plan.md | --prompt "…"`: runs the tasks to completion in the foreground, like make; with
 * `--detach`, hands them to the repository's background driver and returns at once.
 */
export async function dispatchCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...RUN_OPTIONS,
    plan: { type: 'string' },
    prompt: { type: 'string' },
    title: { type: 'string' },
    base: { type: 'string' },
    mode: { type: 'string' },
    select: { type: 'string', multiple: true },
    detach: { type: 'boolean' },
    attempts: { type: 'string' },
    models: { type: 'string' },
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

  const attempts = str(values.attempts) === undefined ? 1 : Number(values.attempts);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) throw new UsageError(`--attempts must be a whole number from 1 to ${MAX_ATTEMPTS}, not "${str(values.attempts)}"`);
  if (attempts > 1 && !prompt) throw new UsageError('--attempts goes with --prompt');
  const models = str(values.models)?.split(',').map((m) => m.trim() || undefined);
  if (models && attempts < 2) throw new UsageError('--models goes with --attempts N (one model per attempt)');
  if (models && models.length > attempts) throw new UsageError(`--models names ${models.length} models for ${attempts} attempts`);

  const tasks: TaskSpec[] = plan ? readPlan(plan, select) : [taskFromPrompt(prompt!, str(values.title))];
  const json = values.json === true;
  const ctx = await openContext(values, io);
  try {
    if (values.detach === true) return await detachedDispatch(ctx, tasks, values, io, { baseRef: str(values.base), mode: mode as 'background' | 'terminal' | undefined });
    // The CLI's permission mode is what the person typed (a flag or GROVE_PERMISSION_MODE): that is the confirmation.
    const common = { repoRoot: ctx.repoRoot, baseRef: str(values.base), mode: mode as 'background' | 'terminal' | undefined };
    const { instances: created, warnings } = attempts > 1
      ? await dispatchAttempts(ctx.grove, { ...common, title: tasks[0]!.title, prompt: tasks[0]!.prompt, attempts, models }, { confirmBypass: async () => true })
      : await dispatch(ctx.grove, { ...common, tasks }, { confirmBypass: async () => true });
    for (const w of warnings) io.err(`warning: ${w}`);
    if (!json && !values.quiet) io.err(`Dispatched ${created.length} task(s) on ${ctx.repoRoot} (at most ${ctx.grove.fleet.maxConcurrentOf(ctx.repoRoot)} at once):`);
    const final = await runInForeground(ctx, created.map((c) => c.id), io, json || values.quiet === true);
    const ok = final.every((s) => s.state === 'done');
    if (json) io.out(JSON.stringify({ ok, instances: final }, null, 2));
    else {
      const done = final.filter((s) => s.state === 'done').length;
      io.err(`${done}/${final.length} done.${ok ? ' `grove review <id>` shows the work, `grove merge <id>` brings it in.' : ''}`);
      for (const s of final) io.out(`${shortId(s.id)}  ${s.state}  ${s.branch || '-'}  ${s.title}`);
    }
    return ok ? 0 : 1;
  } finally {
    await ctx.close();
  }
}

/**
 * `grove follow-up <id> "<prompt>"`: one more turn in the instance's session. When this process starts the turn it
 * runs it in the foreground; when another process drives the instance, that process gets it.
 */
export async function followUpCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, RUN_OPTIONS);
  if (positionals.length !== 2) throw new UsageError('grove follow-up takes <id> "<prompt>"');
  const ctx = await openContext(values, io);
  try {
    const inst = ctx.resolve(positionals[0]!);
    const r = await followUp(ctx.grove, inst.id, positionals[1]!);
    if (r.outcome === 'requested') {
      if (values.json === true) io.out(JSON.stringify({ ok: true, outcome: r.outcome, message: r.message, instance: r.instance }, null, 2));
      else io.out(r.message);
      return 0;
    }
    const [final] = await runInForeground(ctx, [inst.id], io, values.json === true || values.quiet === true);
    if (!final) throw new CliError('the instance disappeared');
    if (values.json === true) io.out(JSON.stringify({ ok: final.state === 'done', outcome: r.outcome, instance: final }, null, 2));
    else if (final.resultText) io.out(final.resultText);
    return final.state === 'done' ? 0 : 1;
  } finally {
    await ctx.close();
  }
}
