/**
 * What the MCP tools share: the tool shape, the session, an instance's summary, the argument checks,
 * and the errors as a model can act on them: every refusal says what to call next
 * ("… is still running: call grove_wait with its id first").
 */
import { GroveError } from '../core/errors';
import { findInstance } from '../core/flows/instances';
import { isActive, isOwned } from '../core/fleet/instance';
import type { InstanceSnapshot } from '../core/model';
import { UsageError } from './args';
import type { Grove } from '../core/grove';

/** What a tool runs on: one repository of one core (the CLI's ToolHost; the extension's workspace repository). */
export interface ToolHost {
  readonly grove: Grove;
  readonly repoRoot: string;
  /** The instances of this repository. */
  instances(): InstanceSnapshot[];
}

/** What one server remembers between calls. */
export interface McpSession {
  /** Instances dispatched through this server: what grove_wait waits for when given no ids. */
  mine: Set<string>;
  /** The lead agent this server serves (a Grove instance id or a Claude Code session id), recorded on what it dispatches. */
  lead?: string;
  /** How to start the repository's background driver (grove_dispatch with detach). */
  driverStarter?(g: ToolHost): Promise<() => void>;
}

/** One tools/call. */
export interface ToolCall {
  session: McpSession;
  /** Aborted when the client cancels the request (notifications/cancelled) or goes away. */
  signal: AbortSignal;
  /** A notifications/progress to the client, when it sent a progressToken. `progress` increases with every call. */
  progress(progress: number, total: number | undefined, message: string): void;
  /**
   * The dispatch would run agents with bypassPermissions: ask the person (VS Code's modal). Absent: the person who
   * started the server chose it (a flag or variable), which is the confirmation.
   */
  confirmBypass?(tasks: number): Promise<boolean>;
}

export type Schema = { type: 'object'; properties: Record<string, unknown>; required?: string[]; additionalProperties?: boolean };

export interface Tool {
  name: string;
  description: string;
  inputSchema: Schema;
  run(g: ToolHost, args: Record<string, unknown>, call: ToolCall): Promise<unknown>;
}

export const idArg = { type: 'string', description: 'The instance: its id (from grove_dispatch or grove_status), a unique id prefix of 4+ characters, or its exact task title' };

/** The instances this server dispatched, and those recorded with its lead (dispatched by an earlier server of the same lead). */
export function mine(g: ToolHost, session: McpSession): InstanceSnapshot[] {
  return g.instances().filter((s) => session.mine.has(s.id) || (!!session.lead && s.lead === session.lead));
}

/** Refuses while an instance still works, saying what to call. */
export function requireStill(inst: InstanceSnapshot, what: string): void {
  if (inst.state === 'waiting') throw new UsageError(`"${inst.title}" is waiting for ${inst.waitReason === 'permission' ? 'a permission answer' : 'an answer'}: answer it with grove_follow_up (or grove_stop it), call grove_wait, then ${what} it.`);
  if (isOwned(inst.state)) throw new UsageError(`"${inst.title}" is still ${inst.state}: call grove_wait with its id first (or grove_stop it), then ${what} it.`);
}

export function summary(s: InstanceSnapshot) {
  return {
    id: s.id, title: s.title, state: s.state, ...(s.waitReason ? { waitReason: s.waitReason } : {}),
    active: isActive(s.state), branch: s.branch, baseRef: s.baseRef, worktreePath: s.worktreePath,
    costUsd: s.costUsd, turns: s.turns,
    ...(s.lastActivity ? { lastActivity: s.lastActivity } : {}),
    ...(s.error ? { error: s.error } : {}),
    ...(s.resultText ? { result: s.resultText } : {}),
    ...(s.after ? { after: s.after } : {}),
    ...(s.merge ? { merged: { into: s.merge.into, strategy: s.merge.strategy, commit: s.merge.commit } } : {}),
  };
}

/** An instance by id, unique id prefix or exact title, in this server's repository. @throws GroveError NotFound. */
export function instanceOf(g: ToolHost, ref: unknown, name = 'id'): InstanceSnapshot {
  return findInstance(g.grove, str(ref, name), g.repoRoot);
}

/** The message of a refusal, with the next step for a model. */
export function forModel(err: unknown): string {
  const m = (err as Error).message;
  if (!GroveError.is(err)) return m;
  switch (err.reason) {
    case 'Busy': return `${m} Call grove_wait with its id first (or grove_stop it).`;
    case 'NotFound': return `${m} grove_status lists the instances of this repository.`;
    case 'Ambiguous': return `${m} grove_status lists the ids.`;
    case 'Blocked': return `${m}\nAsk its agent to fix this with grove_follow_up (for conflicts: "merge the base branch into your branch, resolve the conflicts and commit"), call grove_wait, then land it again.`;
    case 'WouldLoseWork': return `${m}\nTo discard exactly that, call grove_remove again with force: true.`;
    case 'NoAnswer': return `${m} Try again in a few seconds.`;
    case 'NeedsConfirmation': return m;
    default: return m;
  }
}

export function str(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new UsageError(`${name} must be a string`);
  return v;
}
export function opt(v: unknown, name: string): string | undefined {
  return v === undefined ? undefined : str(v, name);
}
export function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new UsageError(`${name} must be true or false`);
  return v;
}
export function num(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new UsageError(`${name} must be a number from ${min} to ${max}`);
  return v;
}
export function arr(v: unknown, name: string): unknown[] {
  if (!Array.isArray(v) || !v.length) throw new UsageError(`give ${name} (a non-empty array) or plan`);
  return v;
}
export function strings(v: unknown, name: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new UsageError(`${name} must be an array of strings`);
  return v as string[];
}
export function obj(v: unknown, name: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${name} must be an object`);
  return v as Record<string, unknown>;
}
export function oneOf<T extends string>(v: unknown, name: string, values: readonly T[]): T | undefined {
  const s = opt(v, name);
  if (s !== undefined && !values.includes(s as T)) throw new UsageError(`${name} must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}, not "${s}"`);
  return s as T | undefined;
}
