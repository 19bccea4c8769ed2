/**
 * Reading the process table, one way per platform: /proc on Linux (the marker from /proc/<pid>/environ), `ps -A -E`
 * on macOS (the environment follows the command), PowerShell on Windows. Read-only: nothing here signals a process
 * (see processTree.ts for who does, and why the table is read before anything is signalled).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { linuxStartTime } from './processes';

/** One row of the process table. */
export interface ProcessRow {
  pid: number;
  ppid: number;
  /** POSIX process group id. */
  pgid?: number;
  /** Start-time token: Linux clock ticks, Windows FILETIME (both decimal digits); absent where not read. */
  startTime?: string;
  /** The process carries the marker the caller asked for (its environment holds `<var>=<token>`). */
  marked?: boolean;
}

/** A marker to look for: processes whose environment holds `name=token`. */
export interface Marker {
  name: string;
  token: string;
}

/** Linux: every process from /proc (`stat` fields 4, 5 and 22; the marker from `environ`). */
export function linuxProcessTable(marker?: Marker, procDir = '/proc'): ProcessRow[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(procDir);
  } catch {
    return [];
  }
  const needle = marker ? Buffer.from(`\0${marker.name}=${marker.token}\0`) : undefined;
  const rows: ProcessRow[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`${procDir}/${e}/stat`, 'utf8');
    } catch {
      continue; // gone
    }
    const row = parseLinuxStat(stat);
    if (!row) continue;
    if (needle) {
      try {
        row.marked = Buffer.concat([Buffer.from([0]), fs.readFileSync(`${procDir}/${e}/environ`), Buffer.from([0])]).includes(needle);
      } catch {
        /* another user's process, or gone: not ours */
      }
    }
    rows.push(row);
  }
  return rows;
}

/** pid, ppid, pgrp and start time of one /proc/<pid>/stat line; zombies are left out (nothing to end). Pure. */
export function parseLinuxStat(stat: string): ProcessRow | undefined {
  const open = stat.indexOf(' (');
  const end = stat.lastIndexOf(')');
  if (open < 0 || end < 0) return undefined;
  const pid = Number(stat.slice(0, open));
  const f = stat.slice(end + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X') return undefined;
  const ppid = Number(f[1]);
  const pgid = Number(f[2]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(pgid)) return undefined;
  const startTime = linuxStartTime(stat);
  return { pid, ppid, pgid, ...(startTime !== undefined ? { startTime } : {}) };
}

/**
 * macOS: `ps -A -E -ww -o pid=,ppid=,pgid=,command=` — with -E the environment follows the command, which is where the
 * marker is found (for this user's processes).
 */
export function darwinProcessTable(marker?: Marker): ProcessRow[] {
  try {
    return parsePsTable(execFileSync('ps', darwinPsArgs(marker), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }), marker);
  } catch {
    return [];
  }
}

function darwinPsArgs(marker?: Marker): string[] {
  return ['-A', ...(marker ? ['-E'] : []), '-ww', '-o', 'pid=,ppid=,pgid=,command='];
}

/** Lines of `pid ppid pgid [command and environment]`. Zombies (`<defunct>`) are left out. Pure. */
export function parsePsTable(out: string, marker?: Marker): ProcessRow[] {
  const needle = marker ? `${marker.name}=${marker.token}` : undefined;
  const rows: ProcessRow[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)(?:\s(.*))?$/.exec(line);
    if (!m) continue;
    const rest = m[4] ?? '';
    if (/<defunct>/.test(rest)) continue;
    rows.push({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      pgid: Number(m[3]),
      ...(needle ? { marked: new RegExp(`(^|\\s)${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`).test(rest) } : {}),
    });
  }
  return rows;
}

/** Windows: pid, parent pid and creation time (FILETIME) of every process, from PowerShell/CIM. */
const WINDOWS_TABLE_SCRIPT =
  "Get-CimInstance Win32_Process -Property ProcessId,ParentProcessId,CreationDate | ForEach-Object { '{0} {1} {2}' -f $_.ProcessId,$_.ParentProcessId,$(if ($_.CreationDate) { $_.CreationDate.ToFileTimeUtc() } else { '' }) }";
const WINDOWS_TABLE_ARGS = ['-NoProfile', '-NonInteractive', '-Command', WINDOWS_TABLE_SCRIPT];

export function windowsProcessTable(): ProcessRow[] {
  try {
    const out = execFileSync('powershell.exe', WINDOWS_TABLE_ARGS, {
      encoding: 'utf8', windowsHide: true, timeout: 15_000, maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'],
    });
    return parseWindowsTable(out);
  } catch {
    return [];
  }
}

/** The table without blocking the event loop (PowerShell takes a second to start; `ps` with -E prints a lot). */
export function processTableAsync(marker?: Marker, platform: NodeJS.Platform = process.platform): Promise<ProcessRow[]> {
  if (platform === 'linux') return Promise.resolve(linuxProcessTable(marker));
  const [cmd, args, parse] =
    platform === 'win32'
      ? (['powershell.exe', WINDOWS_TABLE_ARGS, parseWindowsTable] as const)
      : (['ps', darwinPsArgs(marker), (out: string) => parsePsTable(out, marker)] as const);
  return new Promise((resolve) => {
    execFile(cmd, [...args], { encoding: 'utf8', windowsHide: true, timeout: 15_000, maxBuffer: 64 * 1024 * 1024 }, (err, out) => resolve(err ? [] : parse(out)));
  });
}

/** Lines of `pid ppid [filetime]`. Pure. */
export function parseWindowsTable(out: string): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const line of out.split(/\r?\n/)) {
    const m = /^\s*(\d+)\s+(\d+)(?:\s+(\d+))?\s*$/.exec(line);
    if (m) rows.push({ pid: Number(m[1]), ppid: Number(m[2]), ...(m[3] ? { startTime: m[3] } : {}) });
  }
  return rows;
}
