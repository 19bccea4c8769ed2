/**
 * Dispatch — one task, a plan, or a selection of a plan's tasks — the same for every surface: trust, validation,
 * the permission policy and the plan selection rules live here once.
 *
 * Permission policy: `bypassPermissions` (agents run anything without asking) applies only when a person
 * confirmed it for this dispatch: VS Code asks in a modal, the CLI takes its explicit flag or variable as the
 * confirmation, the public API and MCP must name it explicitly in the call (a setting alone is not enough there:
 * nobody could be asked). Without a confirmation the dispatch is refused, never silently downgraded.
 */
import { GroveError } from '../errors';
import { parsePlan, PlanError, type PlanTask } from '../fleet/plan';
import type { DispatchOptions, TaskSpec } from '../fleet/ports';
import type { Grove } from '../grove';
import type { AgentMode, InstanceSnapshot } from '../model';
import { PERMISSION_MODES, type PermissionMode } from '../settings';

export interface DispatchRequest {
  repoRoot: string;
  tasks: readonly TaskSpec[];
  /** Defaults for every task (a task's own fields win). */
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
  profile?: string;
  /** Asked for explicitly by the caller; otherwise the repository's `permissionMode` setting. */
  permissionMode?: PermissionMode;
  /** The lead agent dispatching (see InstanceSnapshot.lead). */
  lead?: string;
}

export interface DispatchAsk {
  /**
   * The dispatch would run agents with `bypassPermissions`: true when a person confirmed it (a modal), or when the
   * caller asked for it explicitly (a CLI flag). Absent = no one can confirm.
   */
  confirmBypass?(tasks: number): Promise<boolean>;
}

export interface DispatchResult {
  instances: InstanceSnapshot[];
  /** Things the person should know (e.g. a copy pattern matching a file git does not ignore). */
  warnings: string[];
}

export async function dispatch(g: Grove, req: DispatchRequest, ask: DispatchAsk = {}): Promise<DispatchResult> {
  if (!g.trusted()) throw new GroveError('Untrusted', 'Grove starts no agents in an untrusted workspace. Trust the workspace first.');
  if (!req.tasks.length) throw new GroveError('InvalidInput', 'Nothing to dispatch: no tasks.');
  const settings = g.settings(req.repoRoot);
  for (const t of req.tasks) {
    if (!t.prompt.trim()) throw new GroveError('InvalidInput', `Task "${t.title}" has an empty prompt.`);
    const mode = t.mode ?? req.mode ?? settings.defaultMode;
    if (mode !== 'background' && mode !== 'terminal') throw new GroveError('InvalidInput', `Unknown mode "${String(mode)}": background or terminal.`);
    const profile = t.profile ?? req.profile ?? 'claude';
    if (profile !== 'claude' && !settings.agents.some((p) => p.name === profile)) {
      throw new GroveError('InvalidInput', `Task "${t.title}" names the agent profile "${profile}", which grove.agents does not define.`);
    }
    if ((mode === 'terminal' || profile !== 'claude') && !g.capabilities.terminal) {
      throw new GroveError('NotSupported', `Task "${t.title}" needs a terminal (${profile !== 'claude' ? `profile ${profile}` : 'terminal mode'}), which only VS Code has; dispatch it in the background (the default) or from VS Code.`);
    }
  }
  const permissionMode = req.permissionMode ?? settings.permissionMode;
  if (!PERMISSION_MODES.includes(permissionMode)) throw new GroveError('InvalidInput', `Unknown permission mode "${permissionMode}".`);
  if (permissionMode === 'bypassPermissions') {
    const confirmed = ask.confirmBypass ? await ask.confirmBypass(req.tasks.length) : false;
    if (!confirmed) {
      throw new GroveError('NeedsConfirmation', 'The permission mode is "bypassPermissions": the agents would run any command and edit any file without asking. Confirm it for this dispatch (VS Code asks; the CLI and the API take it only when asked for explicitly), or choose another mode.');
    }
  }
  const options: DispatchOptions = {
    repoRoot: req.repoRoot,
    baseRef: req.baseRef,
    mode: req.mode ?? settings.defaultMode,
    model: req.model ?? settings.model,
    profile: req.profile,
    permissionMode,
    ...(req.lead ? { lead: req.lead } : {}),
  };
  const instances = await g.fleet.dispatch(req.tasks, options);
  return { instances, warnings: await copyWarnings(g, req.repoRoot) };
}

/** Patterns of `copyFiles` that copy files git does not ignore (they could be committed by mistake). */
async function copyWarnings(g: Grove, repoRoot: string): Promise<string[]> {
  const patterns = g.settings(repoRoot).copyFiles;
  if (!patterns.length) return [];
  try {
    // Untracked files that git does NOT ignore and that a copy pattern matches.
    const notIgnored = (await g.git.read(repoRoot, ['ls-files', '-z', '--others', '--exclude-standard'])).stdout.split('\0').filter(Boolean);
    if (!notIgnored.length) return [];
    const matched = (await g.git.read(repoRoot, ['ls-files', '-z', '--others', '--ignored', ...patterns.map((p) => `--exclude=${p}`)])).stdout.split('\0').filter(Boolean);
    const set = new Set(matched);
    const risky = notIgnored.filter((f) => set.has(f));
    if (!risky.length) return [];
    return [`${risky.slice(0, 5).join(', ')}${risky.length > 5 ? ` and ${risky.length - 5} more` : ''} ${risky.length === 1 ? 'is' : 'are'} copied into each worktree (grove.copyFiles) but not ignored by git: Grove never commits ${risky.length === 1 ? 'it' : 'them'}, but add ${risky.length === 1 ? 'it' : 'them'} to .gitignore so nobody else does.`];
  } catch {
    return []; // Best effort: a warning must never block a dispatch.
  }
}

/** A title from the first line of a prompt (markdown heading marks removed), at most 60 characters. Pure. */
export function titleFromPrompt(prompt: string): string {
  const first = (prompt.trim().split(/\r?\n/)[0] ?? '').replace(/^#+\s*/, '').trim();
  return first.length > 60 ? `${first.slice(0, 59).trimEnd()}…` : first || 'Task';
}

/** One task from a prompt; the title defaults to the prompt's first line. Pure. */
export function taskFromPrompt(prompt: string, title?: string, extra: Omit<TaskSpec, 'title' | 'prompt'> = {}): TaskSpec {
  if (!prompt.trim()) throw new GroveError('InvalidInput', 'The prompt is empty.');
  return { ...extra, title: title?.trim() || titleFromPrompt(prompt), prompt };
}

/**
 * The tasks of a markdown plan. `select` keeps only the tasks with these titles, matched case-insensitively; a title
 * the plan does not have is refused (listing the plan's tasks), and so is a selection that leaves out the task a
 * selected one starts after. Pure. @throws GroveError InvalidInput.
 */
export function planTasks(text: string, options: { select?: readonly string[]; source?: string } = {}): PlanTask[] {
  let tasks: PlanTask[];
  try {
    tasks = parsePlan(text).tasks;
  } catch (err) {
    if (err instanceof PlanError) throw new GroveError('InvalidInput', `${options.source ?? 'The plan'} is not a valid plan. ${err.message}`, err.issues);
    throw err;
  }
  if (!tasks.length) throw new GroveError('InvalidInput', `${options.source ?? 'The plan'} has no tasks. Write each task as a "## Title" section (or a "- [ ] task" checklist).`);
  const select = options.select ?? [];
  if (!select.length) return tasks;
  const wanted = new Map(select.map((t) => [t.trim().toLowerCase(), t]));
  const chosen = tasks.filter((t) => wanted.delete(t.title.trim().toLowerCase()));
  if (wanted.size) {
    throw new GroveError('InvalidInput', `The plan has no task titled ${[...wanted.values()].map((t) => `"${t}"`).join(', ')}. Its tasks: ${tasks.map((t) => `"${t.title}"`).join(', ')}.`);
  }
  const titles = new Set(chosen.map((t) => t.title.toLowerCase()));
  const orphan = chosen.find((t) => t.after && !titles.has(t.after.toLowerCase()));
  if (orphan) throw new GroveError('InvalidInput', `"${orphan.title}" starts after "${orphan.after}", which is not selected. Select both, or neither.`);
  return chosen;
}

/** A plan task as a dispatchable task spec. Pure. */
export function specOf(t: PlanTask): TaskSpec {
  return { title: t.title, prompt: t.prompt, baseRef: t.baseRef, mode: t.mode, model: t.model, profile: t.profile, after: t.after };
}
