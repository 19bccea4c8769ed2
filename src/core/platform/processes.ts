/**
 * Facts about processes of this machine, one implementation per platform. Nothing here signals a process; core
 * gets these functions from a composition root (see {@link ProcessProbe}) so tests can inject others.
 *
 * A pid alone does not name a process: pids are reused. A process is identified by pid + host + start time
 * ({@link ProcessIdentity}); a recorded identity whose pid now belongs to a process that started at another time
 * is dead.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** Who a process is, across pid reuse: compared with {@link sameProcess}. */
export interface ProcessIdentity {
  pid: number;
  host: string;
  /**
   * An opaque token of the process's start time (Linux: clock ticks after boot from /proc/<pid>/stat; macOS: `ps`'s
   * lstart; Windows: the creation time from PowerShell). Absent where it could not be read: then only the pid counts.
   */
  startTime?: string;
}

export interface ProcessProbe {
  isAlive(pid: number): boolean;
  startTime(pid: number): string | undefined;
  readonly host: string;
}

/** `process.kill(pid, 0)` probes a process without signalling it, on Windows too. EPERM means it exists. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The start-time token of a live process, or undefined (gone, or unreadable on this platform). */
export function processStartTime(pid: number, platform: NodeJS.Platform = process.platform): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    if (platform === 'linux') return linuxStartTime(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    if (platform === 'win32') {
      const out = execFileSync('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', `(Get-Process -Id ${pid}).StartTime.ToFileTimeUtc()`], {
        encoding: 'utf8', windowsHide: true, timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      return /^\d+$/.test(out) ? out : undefined;
    }
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Field 22 (`starttime`) of /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so fields are counted from the last `)`. Pure.
 */
export function linuxStartTime(stat: string): string | undefined {
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  // After ") " come field 3 (state) onwards; starttime is field 22, the 20th of those.
  const fields = stat.slice(end + 2).split(' ');
  const v = fields[19];
  return v && /^\d+$/.test(v) ? v : undefined;
}

/** The machine's probe. */
export const localProbe: ProcessProbe = {
  isAlive: isProcessAlive,
  startTime: (pid) => processStartTime(pid),
  host: os.hostname(),
};

/** The identity of this very process (its start time read once). */
export function currentProcess(probe: ProcessProbe = localProbe): ProcessIdentity {
  const startTime = probe.startTime(process.pid);
  return { pid: process.pid, host: probe.host, ...(startTime !== undefined ? { startTime } : {}) };
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/**
 * Whether the process a recorded identity names still runs: `unknown` for another host (its processes cannot be
 * seen from here), `dead` when the pid is gone or now belongs to a process started at another time.
 */
export function liveness(id: ProcessIdentity, probe: ProcessProbe = localProbe): Liveness {
  if (id.host !== probe.host) return 'unknown';
  if (!probe.isAlive(id.pid)) return 'dead';
  if (id.startTime === undefined) return 'alive';
  const now = probe.startTime(id.pid);
  if (now === undefined) return probe.isAlive(id.pid) ? 'alive' : 'dead';
  return now === id.startTime ? 'alive' : 'dead';
}

export function sameProcess(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.pid === b.pid && a.host === b.host && (a.startTime === undefined || b.startTime === undefined || a.startTime === b.startTime);
}
