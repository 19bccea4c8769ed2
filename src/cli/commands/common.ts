import type { Logger } from '../../core/util/logger';
import type { InstanceSnapshot } from '../../core/model';
import { str } from '../args';
import { Grove } from '../context';
import { ProgressLines } from '../format';
import { isSettled, waitForSettled } from '../operations';
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

export async function openGrove(values: Values, io: Io): Promise<Grove> {
  const settings = readSettings({
    'claude-path': str(values['claude-path']),
    max: str(values.max),
    'permission-mode': str(values['permission-mode']),
    'on-permission': str(values['on-permission']),
    model: str(values.model),
  });
  return Grove.open({ repo: str(values.repo), settings, logger: stderrLogger(io, values.verbose === true || process.env.GROVE_VERBOSE === '1') });
}

/**
 * Drives `ids` in this process until they settle, printing progress lines (unless quiet) and permission
 * answers. Ctrl-C stops them (recorded as stopped); a second Ctrl-C exits at once.
 */
export async function runInForeground(g: Grove, ids: string[], io: Io, quiet: boolean): Promise<InstanceSnapshot[]> {
  const progress = new ProgressLines();
  const say = (s: InstanceSnapshot) => {
    const l = progress.line(s);
    if (l && !quiet) io.err(l);
  };
  const sub = g.agents.onDidAnswerPermission((p) => {
    io.err(`${p.instance.id.slice(0, 8)} ${p.instance.title}: permission for ${p.summary} ${p.decision === 'deny' ? 'DENIED (--on-permission allow would allow it)' : 'allowed (--on-permission allow)'}`);
  });
  let interrupted = 0;
  const onSigint = () => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    io.err('Stopping… (Ctrl-C again to exit at once)');
    for (const id of ids) {
      const s = g.fleet.get(id);
      if (s && !isSettled(s)) void g.fleet.stop(id).catch(() => undefined);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    for (const id of ids) {
      const s = g.fleet.get(id);
      if (s) say(s);
    }
    return await waitForSettled(g, ids, say);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    sub.dispose();
  }
}
