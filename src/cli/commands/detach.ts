/**
 * `grove dispatch … --detach` and `grove driver`: the tasks go to the repository's background driver, a detached
 * `grove driver` process started on demand (stdio to `<git common dir>/grove/driver/driver.log`, its own process
 * group / session so a closed terminal does not reach it, no console window on Windows) and reused while it runs.
 * The protocol is core's (flows/detach.ts); this file only knows how to start the process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { dispatchDetached, serveAsDriver } from '../../core/flows/detach';
import { driverPaths } from '../../core/fleet/backgroundDriver';
import type { TaskSpec } from '../../core/fleet/ports';
import type { PermissionMode } from '../../core/settings';
import { parse, str, UsageError } from '../args';
import type { CliContext } from '../context';
import { shortId } from '../format';
import { openContext, STOP_SIGNALS, type Io, type Values } from './common';

/** Flags a new driver is started with, from the dispatching command's (its environment is inherited too). */
const PASSED_ON = ['claude-path', 'permission-mode', 'on-permission', 'model', 'max'] as const;

/** The script a driver runs: this very CLI. */
export function cliScript(): string {
  return require.main?.filename ?? process.argv[1]!;
}

/** Starts a background driver for the repository: this CLI, detached, with the flags given to this command. */
export function driverStarter(repoRoot: string, commonDir: string, values: Values, io: Io): () => void {
  const { log, dir } = driverPaths(commonDir);
  return () => {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const out = fs.openSync(log, 'a', 0o600);
    const args = [cliScript(), 'driver', '--repo', repoRoot];
    for (const flag of PASSED_ON) if (typeof values[flag] === 'string') args.push(`--${flag}`, values[flag] as string);
    if (values.verbose === true) args.push('--verbose');
    const child = spawn(process.execPath, args, { cwd: repoRoot, detached: true, stdio: ['ignore', out, out], windowsHide: true, env: process.env });
    child.on('error', (err) => io.err(`grove: could not start the background driver: ${err.message}`));
    child.unref();
    fs.closeSync(out);
  };
}

export async function detachedDispatch(ctx: CliContext, tasks: TaskSpec[], values: Values, io: Io, options: { baseRef?: string; mode?: 'background' | 'terminal' }): Promise<number> {
  const startDriver = driverStarter(ctx.repoRoot, await ctx.grove.commonDir(ctx.repoRoot), values, io);
  const permissionMode = str(values['permission-mode']) as PermissionMode | undefined;
  const r = await dispatchDetached(ctx.grove, ctx.repoRoot, {
    tasks, ...(options.baseRef ? { baseRef: options.baseRef } : {}), ...(options.mode ? { mode: options.mode } : {}),
    ...(permissionMode ? { permissionMode } : {}), ...(str(values.model) ? { model: str(values.model) } : {}),
  }, { startDriver });
  for (const w of r.warnings) io.err(`warning: ${w}`);
  if (values.json === true) {
    io.out(JSON.stringify({ ok: true, detached: true, driver: { pid: r.driver.pid, started: r.started, log: r.log }, instances: r.instances }, null, 2));
    return 0;
  }
  if (values.quiet !== true) {
    io.err(`${r.started ? 'Started' : 'Handed to'} the background driver (pid ${r.driver.pid}; log ${path.relative(process.cwd(), r.log) || r.log}): ${r.instances.length} task(s) queued. \`grove status\` follows them; \`grove stop <id>\` stops one.`);
  }
  for (const s of r.instances) io.out(`${shortId(s.id)}  ${s.state}  ${s.title}`);
  return 0;
}

/** `grove driver`: the background driver itself (started by `dispatch --detach`; not for typing). */
export async function driverCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { max: { type: 'string' }, verbose: { type: 'boolean' } });
  if (positionals.length) throw new UsageError('grove driver takes no arguments');
  const ctx = await openContext(values, io, 'daemon');
  const stamp = () => new Date().toISOString();
  const say = (m: string) => io.err(`${stamp()} ${m}`);
  // Detached: no terminal can hang it up. SIGTERM / SIGINT stop its agents (recorded stopped, resumable) first.
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    say(`${signal}: stopping the agents this driver runs`);
    for (const s of ctx.instances()) if (ctx.grove.fleet.isDriving(s.id)) void ctx.grove.fleet.stopHere(s.id).catch(() => undefined);
  };
  process.on('SIGHUP', () => say('SIGHUP ignored: the background driver outlives terminals'));
  for (const sig of STOP_SIGNALS.filter((s) => s !== 'SIGHUP')) process.on(sig, onSignal);
  try {
    const outcome = await serveAsDriver(ctx.grove, ctx.repoRoot, { log: say });
    if (outcome === 'another') say('another background driver runs for this repository; it takes the dispatch');
    return 0;
  } finally {
    await ctx.close();
  }
}
