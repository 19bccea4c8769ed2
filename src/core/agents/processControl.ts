/**
 * Signalling agent processes Grove started from another process (a stop from the CLI, a window that finds an
 * agent of an earlier run): only agent process groups are ever signalled — never a driver (a VS Code window,
 * a `grove` CLI, an MCP server), whose pid the registry may hold before its agent is up.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { isProcessAlive } from '../platform/processes';
import { MARKER_VAR } from './agentProcess';

/** True when `pid` is an agent process Grove started (never a driver: a window, a CLI, an MCP server). */
export function isAgentProcess(pid: number): boolean {
  if (pid === process.pid || !isProcessAlive(pid)) return false;
  if (process.platform === 'linux') {
    try {
      const environ = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${pid}/environ`)]);
      return environ.includes(Buffer.from(`\0${MARKER_VAR}=`));
    } catch {
      return false;
    }
  }
  if (process.platform === 'win32') return false;
  try {
    // Elsewhere: a group leader whose command is Claude Code (agents are spawned as group leaders).
    const [pgid, ...cmd] = execFileSync('ps', ['-o', 'pgid=,args=', '-p', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/);
    return Number(pgid) === pid && /claude/i.test(cmd.join(' '));
  } catch {
    return false;
  }
}

/** SIGINT, SIGTERM, SIGKILL to the process group of an agent, waiting for it to go between steps. */
export async function killAgentGroup(pid: number, waitMs = 2000): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    try {
      process.kill(process.platform === 'win32' ? pid : -pid, sig);
    } catch {
      return; // gone
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!isProcessAlive(pid)) return;
      await sleep(50);
    }
  }
}


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
