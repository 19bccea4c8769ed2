/**
 * What the fleet needs of an agent runner, whatever the agent (Claude Code, another CLI) or mode (background
 * process, terminal). The agents layer implements it; the fleet consumes it (so `core/agents` never imports
 * `core/fleet`).
 */
import type { AgentEvent, InstanceSnapshot } from '../model';

export interface AgentStartOptions {
  /** What to send: the task prompt on a first start, a follow-up, or {@link RESUME_PROMPT}. */
  prompt: string;
  /** Continue `instance.sessionId` (e.g. `claude --resume <id>`) instead of starting a new session. */
  resume: boolean;
  /** A spending cap for this start (what is left of the fleet budget), below the setting's own. */
  maxBudgetUsd?: number;
}

export interface AgentHandle {
  /** Ends the agent (its whole process tree); resolves when it is gone. An `exit` event with `stoppedByUser` is expected. */
  stop(): Promise<void>;
  /**
   * True when the live agent takes more input while it works (an interactive terminal session types it into its
   * prompt). False for one-process-per-turn runners: the fleet then keeps a follow-up for the next turn.
   */
  readonly acceptsInput: boolean;
  /** Sends another prompt to the live session; only called when {@link acceptsInput}. */
  followUp(prompt: string): void;
}

export interface AgentPort {
  /**
   * Starts an agent in `instance.worktreePath` and reports everything through `onEvent` (at least `started` once
   * the process is up, and `exit` when it is gone). May throw synchronously if it cannot start at all.
   */
  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle;
}

/** The prompt sent when resuming an interrupted session. */
export const RESUME_PROMPT = 'Grove was interrupted while you were working. Continue the task where you left off.';
