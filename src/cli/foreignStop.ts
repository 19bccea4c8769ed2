/**
 * Stopping an agent driven by ANOTHER process (the VS Code extension, another `grove dispatch`, a `grove mcp`).
 *
 * The registry records, per instance, the pid of its agent (a process-group leader: AgentProcess spawns it
 * detached) or, before the agent is up, the pid of the process that drives the instance. Protocol:
 * 1. a stop request is written to `<common dir>/grove/stop-requests/<id>`; a Grove CLI driver (see
 *    {@link CliAgents}) checks it when its agent exits or is about to start, and records `stopped` itself;
 * 2. if the recorded pid is an agent process (it carries `GROVE_AGENT_PROCESS` in its environment), its process
 *    group gets SIGINT, then SIGTERM, then SIGKILL. A driver's own pid is never signalled;
 * 3. once the driver had time to record its verdict, an instance still active — or marked failed only because
 *    of the kill (a driver that does not know the protocol, e.g. the extension) — is written as `stopped`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAgentProcess, killAgentGroup } from '../core/agents/processControl';
import { isActive } from '../core/fleet/instance';
import { InstanceRegistry } from '../core/fleet/registry';
import type { InstanceSnapshot } from '../core/model';
import { groveDir } from '../core/paths';

function requestFile(commonDir: string, id: string): string {
  return path.join(groveDir(commonDir), 'stop-requests', id);
}

export function requestStop(commonDir: string, id: string): void {
  const file = requestFile(commonDir, id);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ pid: process.pid, at: Date.now() }));
}

/**
 * True when someone asked, at or after `since`, to stop this instance; the request is removed either way (an
 * older request concerns an earlier run, e.g. one the extension drove and never consumed).
 */
export function consumeStopRequest(commonDir: string, id: string, since = 0): boolean {
  const file = requestFile(commonDir, id);
  let at: number;
  try {
    at = Number((JSON.parse(fs.readFileSync(file, 'utf8')) as { at?: unknown }).at) || 0;
  } catch {
    return false;
  }
  fs.rmSync(file, { force: true });
  return at >= since;
}

export interface ForeignStopResult {
  snapshot: InstanceSnapshot;
  /** What was done, for the user. */
  how: string;
}

/** Stops an instance another process drives (see the file comment) and resolves with its final snapshot. */
export async function stopForeign(commonDir: string, id: string, options: { settleMs?: number } = {}): Promise<ForeignStopResult> {
  const registry = new InstanceRegistry(commonDir);
  try {
    const requestedAt = Date.now();
    requestStop(commonDir, id);
    const read = async () => (await registry.read()).find((s) => s.id === id);
    const deadline = Date.now() + (options.settleMs ?? 6000);
    let killed: number | undefined;
    let current = await read();
    while (current && (isActive(current.state) || current.state === 'queued') && Date.now() < deadline) {
      if (current.pid !== undefined && current.pid !== killed && isAgentProcess(current.pid)) {
        killed = current.pid;
        await killAgentGroup(current.pid);
      }
      await sleep(100);
      current = await read();
    }
    if (!current) throw new Error(`instance ${id} is gone from the registry`);
    const byKill = current.state === 'failed' && (current.endedAt ?? 0) >= requestedAt && killed !== undefined;
    if (isActive(current.state) || current.state === 'queued' || byKill) {
      const now = Math.max(Date.now(), current.updatedAt + 1);
      const next: InstanceSnapshot = { ...current, state: 'stopped', endedAt: now, updatedAt: now };
      delete next.pid;
      delete next.waitReason;
      delete next.error;
      await registry.upsert(next);
      await registry.flush();
      return { snapshot: next, how: killed !== undefined ? `ended its agent (pid ${killed}) and marked it stopped` : 'marked it stopped (its driver will not start it)' };
    }
    if (current.state === 'stopped') consumeStopRequest(commonDir, id);
    return { snapshot: current, how: killed !== undefined ? `ended its agent (pid ${killed}); its driver recorded it ${current.state}` : `its driver recorded it ${current.state}` };
  } finally {
    registry.dispose();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
