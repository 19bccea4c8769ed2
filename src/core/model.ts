/**
 * Shared vocabulary of Grove's core: instance states, snapshots and the events agent runners emit.
 * Plain data only, serialisable as JSON (the registry, the public API and the CLI all use these shapes).
 */
import type { ProcessIdentity } from './platform/processes';

/** Which kind of Grove process drives an instance. */
export type DriverKind = 'vscode' | 'cli' | 'mcp' | 'daemon' | 'test';

/**
 * The process that owns an instance while it is queued, provisioning or has a live agent: it alone changes the
 * instance; every other process asks it (stop and follow-up requests) and takes over only once it is dead.
 */
export interface DriverIdentity extends ProcessIdentity {
  kind: DriverKind;
}

export type InstanceState =
  | 'queued'
  | 'provisioning'
  | 'starting'
  | 'running'
  | 'waiting'
  | 'done'
  | 'failed'
  | 'stopped'
  | 'interrupted'
  /** Stopped by a rate or usage limit; resumes its session by itself at `pausedUntil`. Holds no slot. */
  | 'paused';

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
  /** The process that drives the instance (set while queued or active, cleared when it finishes). */
  driver?: DriverIdentity;
  /** The agent's own process (a background CLI, or a terminal's process), while it lives. */
  agent?: ProcessIdentity;
  /** `GROVE_PORT` of the instance's worktree: the port its dev servers should use. */
  port?: number;
  /** Untracked files Grove copied into the worktree (`.env`…): never staged or committed by Grove. */
  copiedFiles?: string[];
  /** Follow-ups sent while a turn was running, delivered in order when it ends. */
  pendingPrompts?: string[];
  /** While `paused`: when it resumes (epoch ms), why, and how many pauses in a row (for the backoff). */
  pausedUntil?: number;
  pauseReason?: string;
  pauseAttempts?: number;
  /** The account the agent runs on (a hash of its API endpoint and credentials): rate limits are per account. */
  account?: string;
  /** While `queued`: what it waits for besides a free slot ("budget", "memory", a rate limit). */
  waitingFor?: string;
  /** Cost per local day (`YYYY-MM-DD` → USD), for the daily fleet budget. */
  spend?: Record<string, number>;
  /** Context use of the last request: tokens in the window, and the window's size when the CLI reported it. */
  context?: { used: number; window?: number };
  /** Conversation compactions so far (auto or manual). */
  compactions?: number;
  /** The last turn ended because the conversation no longer fits the model's context. */
  contextExhausted?: boolean;
  /** Fresh sessions started to carry the task on after its context was exhausted. */
  continuations?: number;
  /** One of N attempts at the same task (Best of N): `group` is the id of attempt #1; `index` from 1 to `of`. */
  attempt?: { group: string; index: number; of: number };
  /** The lead agent that dispatched this one (an instance id, or a Claude Code session id): the tree nests it there. */
  lead?: string;
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
  | { type: 'started'; sessionId?: string; pid?: number; model?: string; /** Filled in by the fleet from `pid`. */ agent?: ProcessIdentity }
  | { type: 'session'; sessionId: string; model?: string }
  | { type: 'activity'; text: string; toolName?: string }
  | { type: 'assistantText'; text: string }
  | { type: 'permissionRequest'; request: PermissionRequest }
  | { type: 'waiting'; reason: WaitReason }
  | { type: 'running' }
  | { type: 'usage'; costUsd?: number; inputTokens?: number; outputTokens?: number; turns?: number }
  | { type: 'result'; isError: boolean; subtype: string; text: string; costUsd?: number; turns?: number; reason?: 'rateLimit' | 'contextExhausted' }
  /** A rate or usage limit refused the agent's request; `resetsAt` (epoch ms) when the CLI said when it ends. */
  | { type: 'rateLimited'; text: string; resetsAt?: number; limit?: string }
  /** Tokens of the last request in the model's context window (`window` when known). */
  | { type: 'context'; used?: number; window?: number }
  | { type: 'compacted'; trigger: string; preTokens?: number; postTokens?: number }
  | { type: 'exit'; code: number | null; signal: string | null; stoppedByUser: boolean };
