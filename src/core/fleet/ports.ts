/**
 * What the fleet needs from the rest of Grove, and the shapes of a dispatch. Kept minimal; the composition roots
 * adapt the real WorktreeManager and agent runners to them.
 */
import type { AgentPort } from '../agents/port';
import { GroveError } from '../errors';
import type { AgentMode, InstanceSnapshot } from '../model';
import type { PermissionMode } from '../settings';

export interface WorktreeRequest {
  repoRoot: string;
  /** The instance the worktree is for (its setup output belongs in that instance's log). */
  instanceId: string;
  /** The task title; the port derives the branch and folder names from it (it may be long or contain any character). */
  title: string;
  /** Ref to base the new branch on; undefined = the port's default (e.g. the current branch). */
  baseRef?: string;
  /**
   * Aborted when the user cancels. Contract: if aborted before `create` settles, `create` must undo whatever it
   * did (worktree folder, branch, admin files) and reject.
   */
  signal: AbortSignal;
}

export interface ProvisionedWorktree {
  path: string;
  branch: string;
  /** The ref the branch was created from, as resolved by the port. */
  baseRef: string;
  baseCommit: string;
  /** `GROVE_PORT` of the worktree. */
  port?: number;
  /** Untracked files copied into it (never to be committed by Grove). */
  copiedFiles?: string[];
  /** The worktree exists but its setup command failed: the instance records it and fails with this message. */
  setupFailed?: string;
}

export interface WorktreePort {
  create(request: WorktreeRequest): Promise<ProvisionedWorktree>;
}

/** Records a worktree's state at an agent's turn boundaries (issue 13): never on the agent's branch, never blocking. */
export interface CheckpointPort {
  /** The worktree as provisioned, before the first prompt (turn 0); awaited before the agent starts. */
  beforeFirstTurn(instance: InstanceSnapshot): Promise<void>;
  /** A turn ended (the agent's result); a follow-up kept for the next turn starts once this settled. */
  turnEnded(instance: InstanceSnapshot): Promise<void>;
}

export interface DispatcherPorts {
  worktrees: WorktreePort;
  agents: AgentPort;
  checkpoints?: CheckpointPort;
}

/** One task to run; a plan's {@link import('./plan').PlanTask} fits. */
export interface TaskSpec {
  title: string;
  prompt: string;
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
  profile?: string;
  /** Title of another task of the same dispatch. */
  after?: string;
}

/** Defaults for a dispatch; a task's own fields win. */
export interface DispatchOptions {
  repoRoot: string;
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
  /** Agent profile (default `claude`). */
  profile?: string;
  /** Permission mode handed to the agent (default `acceptEdits`). */
  permissionMode?: PermissionMode;
  /** The lead agent dispatching these tasks (its instance id or Claude Code session id), when an agent dispatches. */
  lead?: string;
}

/**
 * For each task, the index of the task it starts after (titles match case-insensitively). Pure.
 * @throws GroveError InvalidInput for an empty or duplicate title, an `after:` naming no task of `tasks`, or a cycle.
 */
export function resolveDependencies(tasks: readonly TaskSpec[]): (number | undefined)[] {
  const byTitle = new Map<string, number>();
  tasks.forEach((t, i) => {
    const key = t.title.trim().toLowerCase();
    if (!key) throw new GroveError('InvalidInput', `Task ${i + 1} has no title.`);
    if (byTitle.has(key)) throw new GroveError('InvalidInput', `Two tasks are titled "${t.title}".`);
    byTitle.set(key, i);
  });
  const deps = tasks.map((t) => {
    if (t.after === undefined) return undefined;
    const d = byTitle.get(t.after.trim().toLowerCase());
    if (d === undefined) throw new GroveError('InvalidInput', `Task "${t.title}" is after "${t.after}", which is not one of the dispatched tasks.`);
    return d;
  });
  deps.forEach((_, start) => {
    const seen = new Set<number>();
    for (let i: number | undefined = start; i !== undefined; i = deps[i]) {
      if (seen.has(i)) throw new GroveError('InvalidInput', `Tasks "${tasks[start]!.title}" and "${tasks[i]!.title}" depend on each other (a cycle).`);
      seen.add(i);
    }
  });
  return deps;
}
