import { isFinished } from '../../core/fleet/instance';
import type { InstanceSnapshot } from '../../core/model';
import type { Logger } from '../../core/util/logger';
import { str } from '../args';
import { CliContext } from '../context';
import { ProgressLines } from '../format';
import { readSettings } from '../settings';

/** Where a command writes: stdout for results, stderr for progress and messages. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

/** Logs core's messages to stderr with --verbose (or GROVE_VERBOSE=1); otherwise nowhere. */
export function stderrLogger(io: Io, verbose: boolean): Logger {
  const line = (level: string) => (m: string | Error) => {
    if (verbose) io.err(`[${level}] ${m instanceof Error ? m.message : m}`);
  };
  return { trace: () => undefined, info: line('info'), warn: line('warn'), error: line('error') };
}

export function settingsOf(values: Values) {
  return readSettings({
    'claude-path': str(values['claude-path']),
    max: str(values.max),
    'permission-mode': str(values['permission-mode']),
    'on-permission': str(values['on-permission']),
    model: str(values.model),
  });
}

export async function openContext(values: Values, io: Io, kind: 'cli' | 'mcp' | 'daemon' = 'cli'): Promise<CliContext> {
  return CliContext.open({ repo: str(values.repo), settings: settingsOf(values), kind, logger: stderrLogger(io, values.verbose === true || process.env.GROVE_VERBOSE === '1') });
}

/** Nothing more will happen to it without someone acting: finished, or queued behind a dependency that failed. */
export function isSettled(s: InstanceSnapshot): boolean {
  return isFinished(s.state) || (s.state === 'queued' && !!s.error?.startsWith('blocked:'));
}

/** Resolves with the instances' snapshots once every one of them is settled; `onChange` sees every change. */
export function waitForSettled(ctx: CliContext, ids: readonly string[], onChange?: (s: InstanceSnapshot) => void): Promise<InstanceSnapshot[]> {
  const fleet = ctx.grove.fleet;
  return new Promise((resolve) => {
    const current = () => ids.map((id) => fleet.get(id)).filter((s): s is InstanceSnapshot => !!s);
    const check = () => {
      const all = current();
      if (all.every(isSettled)) {
        sub.dispose();
        resolve(all);
      }
    };
    const sub = fleet.onDidChangeInstances((change) => {
      for (const s of change.changed) if (ids.includes(s.id)) onChange?.(s);
      check();
    });
    check();
  });
}

/** Signals that end a foreground run like Ctrl-C: a closed terminal sends SIGHUP, `kill` SIGTERM. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Drives `ids` in this process until they settle, printing progress lines (unless quiet) and permission answers.
 * Ctrl-C, SIGTERM and SIGHUP stop them (recorded as stopped, resumable); a second signal exits at once.
 */
export async function runInForeground(ctx: CliContext, ids: string[], io: Io, quiet: boolean): Promise<InstanceSnapshot[]> {
  const level = ctx.settings.settings.notifications;
  const progress = new ProgressLines();
  const say = (s: InstanceSnapshot) => {
    if (quiet || level === 'off') return;
    if (level === 'attention' && !(s.state === 'failed' || s.state === 'waiting')) return;
    const l = progress.line(s);
    if (l) io.err(l);
  };
  const sub = ctx.agents.onDidAnswerPermission((p) => {
    io.err(`${p.instance.id.slice(0, 8)} ${p.instance.title}: permission for ${p.summary} ${p.decision === 'deny' ? 'DENIED (--on-permission allow would allow it)' : 'allowed (--on-permission allow)'}`);
  });
  let interrupted = 0;
  const onSignal = (signal: string) => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    io.err(`${signal === 'SIGINT' ? 'Stopping' : `${signal}: stopping`} the agents… (again to exit at once)`);
    for (const id of ids) {
      const s = ctx.grove.fleet.get(id);
      if (s && !isSettled(s)) void ctx.grove.fleet.stopHere(id).catch(() => undefined);
    }
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  try {
    for (const id of ids) {
      const s = ctx.grove.fleet.get(id);
      if (s) say(s);
    }
    return await waitForSettled(ctx, ids, say);
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    sub.dispose();
  }
}
