/**
 * Shared vocabulary of Grove's core: instance states, snapshots and the events agent runners emit.
 * Plain data only, serialisable as JSON (the registry, the public API and the CLI all use these shapes).
 */

export type InstanceState =
  | 'queued'
  | 'provisioning'
  | 'starting'
  | 'running'
  | 'waiting'
  | 'done'
  | 'failed'
  | 'stopped'
  | 'interrupted';

export type AgentMode = 'background' | 'terminal';

/** Why an instance is waiting. */
export type WaitReason = 'user' | 'permission';

export interface PermissionRequest {
  requestId: string;
  toolName: string;
  input: Record<string, unknown>;
  /** A one-line human description, e.g. "Bash: npm test". */
  summary: string;
}

/** Everything Grove knows about one agent session on one worktree. */
export interface InstanceSnapshot {
  id: string;
  title: string;
  prompt: string;
  repoRoot: string;
  worktreePath: string;
  branch: string;
  baseRef: string;
  baseCommit: string;
  mode: AgentMode;
  profile: string;
  model?: string;
  permissionMode: string;
  sessionId?: string;
  state: InstanceState;
  waitReason?: WaitReason;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  updatedAt: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  turns: number;
  lastActivity?: string;
  /** The agent's final message (result text), kept for review and squash messages. */
  resultText?: string;
  error?: string;
  /** Title of another task this one starts after (plan `after:`). */
  after?: string;
  /** Process id of a background agent, to tell a live process from a dead one after a reload. */
  pid?: number;
  /** Where the raw stream / hook status of this instance is logged. */
  logPath?: string;
  /** Set once the instance's branch was merged into its base (it then shows in the Archived group). */
  merge?: MergeRecord;
  /** The worktree was removed after the merge (or by the user); the record stays for its prompt, cost and result. */
  archived?: boolean;
}

export interface MergeRecord {
  at: number;
  strategy: 'merge' | 'squash' | 'rebase';
  into: string;
  commit: string;
}

/** Typed events an agent runner emits, whatever the agent or mode. */
export type AgentEvent =
  | { type: 'started'; sessionId?: string; pid?: number; model?: string }
  | { type: 'session'; sessionId: string; model?: string }
  | { type: 'activity'; text: string; toolName?: string }
  | { type: 'assistantText'; text: string }
  | { type: 'permissionRequest'; request: PermissionRequest }
  | { type: 'waiting'; reason: WaitReason }
  | { type: 'running' }
  | { type: 'usage'; costUsd?: number; inputTokens?: number; outputTokens?: number; turns?: number }
  | { type: 'result'; isError: boolean; subtype: string; text: string; costUsd?: number; turns?: number }
  | { type: 'exit'; code: number | null; signal: string | null; stoppedByUser: boolean };
