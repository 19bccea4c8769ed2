/**
 * Claude Code's own sessions (`claude --bg`, interactive sessions) as `claude agents --json` lists them, so Grove can
 * show the ones running in a repository's worktrees next to its own agents (read-only). Measured in
 * docs/strategy.md: the command works offline and without a login; its `status` describes the session process, not
 * the task, so Grove shows it as information only.
 */
import { execa } from 'execa';
import type { ResolvedCommand } from './agentProcess';

export interface ClaudeSession {
  id: string;
  sessionId?: string;
  pid?: number;
  cwd: string;
  kind: string;
  name: string;
  status?: string;
  startedAt?: number;
}

/** Pure parser of `claude agents --json`; entries without an id or cwd are dropped. */
export function parseClaudeSessions(stdout: string): ClaudeSession[] {
  let data: unknown;
  try {
    data = JSON.parse(stdout.trim() || '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const out: ClaudeSession[] = [];
  for (const raw of data) {
    if (!raw || typeof raw !== 'object') continue;
    const r = raw as Record<string, unknown>;
    if (typeof r.id !== 'string' || typeof r.cwd !== 'string') continue;
    out.push({
      id: r.id,
      cwd: r.cwd,
      sessionId: typeof r.sessionId === 'string' ? r.sessionId : undefined,
      pid: typeof r.pid === 'number' ? r.pid : undefined,
      kind: typeof r.kind === 'string' ? r.kind : 'session',
      name: typeof r.name === 'string' && r.name.trim() ? r.name.trim() : r.id,
      status: typeof r.status === 'string' ? r.status : undefined,
      startedAt: typeof r.startedAt === 'number' ? r.startedAt : undefined,
    });
  }
  return out;
}

/** Runs `claude agents --json` (argument array, no shell); an error or a CLI without the command gives []. */
export async function listClaudeSessions(exe: ResolvedCommand, env: Record<string, string | undefined>, timeoutMs = 10_000): Promise<ClaudeSession[]> {
  try {
    const r = await execa(exe.command, [...exe.prefixArgs, 'agents', '--json'], { env, extendEnv: false, timeout: timeoutMs, reject: false, stdin: 'ignore' });
    return r.exitCode === 0 ? parseClaudeSessions(String(r.stdout)) : [];
  } catch {
    return [];
  }
}
