/**
 * Memory facts for the scheduler and the Agents view: how much the machine has available, and how much an agent's
 * process tree holds. Linux reads /proc (MemAvailable counts reclaimable cache, unlike `os.freemem()` there); macOS
 * and Windows use `os.freemem()`, and `ps` / no tree RSS where a cheap reading does not exist.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';

const execFileAsync = promisify(execFile);

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

/**
 * Resident memory of each process in `pids` with all its descendants, in MB: one pass over the process table for
 * all of them (Linux: /proc; macOS: one `ps`). A pid that cannot be read, or a platform without a cheap reading
 * (Windows), is left out.
 */
export async function treeRssMb(pids: readonly number[], platform: NodeJS.Platform = process.platform): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (!pids.length) return out;
  let table: Array<{ pid: number; ppid: number; kb: () => number }>;
  try {
    if (platform === 'linux') {
      table = [];
      for (const e of await fs.promises.readdir('/proc')) {
        if (!/^\d+$/.test(e)) continue;
        try {
          const stat = await fs.promises.readFile(`/proc/${e}/stat`, 'utf8');
          const pid = Number(e);
          // Only the members of an agent's tree are read for their RSS.
          table.push({ pid, ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), kb: () => vmRssKb(pid) });
        } catch {
          // gone meanwhile
        }
      }
    } else if (platform === 'darwin') {
      const { stdout } = await execFileAsync('ps', ['-A', '-o', 'pid=,ppid=,rss='], { encoding: 'utf8', timeout: 5000 });
      table = stdout.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).filter((r) => r.length === 3 && r.every(Number.isFinite))
        .map(([pid, ppid, kb]) => ({ pid: pid!, ppid: ppid!, kb: () => kb! }));
    } else {
      return out;
    }
  } catch {
    return out;
  }
  const children = new Map<number, typeof table>();
  for (const row of table) children.set(row.ppid, [...(children.get(row.ppid) ?? []), row]);
  const byPid = new Map(table.map((r) => [r.pid, r]));
  for (const root of pids) {
    const first = byPid.get(root);
    if (!first) continue;
    let kb = 0;
    const seen = new Set<number>();
    for (const queue = [first]; queue.length;) {
      const row = queue.pop()!;
      if (seen.has(row.pid)) continue;
      seen.add(row.pid);
      kb += row.kb();
      queue.push(...(children.get(row.pid) ?? []));
    }
    if (kb > 0) out.set(root, kb / 1024);
  }
  return out;
}

function vmRssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
