/**
 * Memory facts for the scheduler and the Agents view: how much the machine has available, and how much an agent's
 * process tree holds. Linux reads /proc (MemAvailable counts reclaimable cache, unlike `os.freemem()` there); macOS
 * and Windows use `os.freemem()`, and `ps` / no tree RSS where a cheap reading does not exist.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** Available memory in MB. Pure given `read` (injectable for tests). */
export function availableMemoryMb(platform: NodeJS.Platform = process.platform, read: (file: string) => string = (f) => fs.readFileSync(f, 'utf8'), freemem: () => number = os.freemem): number {
  if (platform === 'linux') {
    try {
      const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(read('/proc/meminfo'));
      if (m) return Number(m[1]) / 1024;
    } catch {
      // fall through
    }
  }
  return freemem() / (1024 * 1024);
}

/** Resident memory of a process and all its descendants in MB, or undefined where it cannot be read cheaply. */
export function treeRssMb(pid: number, platform: NodeJS.Platform = process.platform): number | undefined {
  try {
    if (platform === 'linux') {
      const children = new Map<number, number[]>();
      for (const e of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(e)) continue;
        try {
          const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
        } catch {
          // gone meanwhile
        }
      }
      let kb = 0;
      const queue = [pid];
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        try {
          const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
          if (m) kb += Number(m[1]);
        } catch {
          continue;
        }
        queue.push(...(children.get(p) ?? []));
      }
      return kb ? kb / 1024 : undefined;
    }
    if (platform === 'darwin') {
      const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,rss='], { encoding: 'utf8', timeout: 5000 });
      const rows = table.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).filter((r) => r.length === 3 && r.every(Number.isFinite));
      const members = new Set([pid]);
      for (let grew = true; grew;) {
        grew = false;
        for (const [p, pp] of rows) if (!members.has(p!) && members.has(pp!)) (members.add(p!), grew = true);
      }
      const kb = rows.filter(([p]) => members.has(p!)).reduce((n, [, , rss]) => n + rss!, 0);
      return kb ? kb / 1024 : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
