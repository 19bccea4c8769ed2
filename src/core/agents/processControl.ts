/**
 * Signalling agent processes Grove started from another process (a stop from the CLI, a window that finds an
 * agent of an earlier run): only agent process trees are ever signalled — never a driver (a VS Code window,
 * a `grove` CLI, an MCP server), whose pid the registry may hold before its agent is up.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { isProcessAlive } from '../platform/processes';
import { localTreeIo, ProcessTree, type Marker, type TreeIo } from '../platform/processTree';
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

/**
 * The marker token an agent process carries (`GROVE_AGENT_PROCESS=<token>` in its environment), which its
 * descendants inherit: Linux from /proc/<pid>/environ, macOS from `ps -E`. Undefined elsewhere or when unreadable.
 */
export function agentMarkerOf(pid: number, platform: NodeJS.Platform = process.platform): Marker | undefined {
  try {
    let env: string;
    if (platform === 'linux') env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').join('\n');
    else if (platform === 'darwin') env = execFileSync('ps', ['-E', '-ww', '-o', 'command=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    else return undefined;
    const m = new RegExp(`(?:^|\\s)${MARKER_VAR}=([0-9a-f-]{36})(?:\\s|$)`, 'm').exec(env);
    return m ? { name: MARKER_VAR, token: m[1] } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ends an agent started by another process, with its whole tree (read before the first signal; see
 * {@link ProcessTree}): SIGINT, SIGTERM, SIGKILL, waiting up to `waitMs` for the agent to go between steps; what it
 * leaves behind is killed. Windows: taskkill of the tree.
 */
export async function killAgentGroup(pid: number, waitMs = 2000, io: TreeIo = localTreeIo): Promise<void> {
  const tree = new ProcessTree(pid, agentMarkerOf(pid, io.platform), io);
  await tree.snapshotAsync();
  const steps: NodeJS.Signals[] = io.platform === 'win32' ? ['SIGKILL', 'SIGKILL'] : ['SIGINT', 'SIGTERM', 'SIGKILL'];
  for (const sig of steps) {
    if (!io.isAlive(pid)) break;
    await tree.signalAsync(sig);
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && io.isAlive(pid)) await sleep(50);
  }
  // The agent is gone: whatever it left (re-parented tool processes, marked or seen in the snapshot) goes too.
  tree.rootExited();
  if (tree.alive().length > 0 || io.platform !== 'win32') await tree.signalAsync('SIGKILL');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
