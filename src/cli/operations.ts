/**
 * What the CLI commands and the MCP tools do, as plain functions over a {@link Grove} returning plain data.
 * Commands format the results for a terminal, MCP returns them as JSON; refusals are CliErrors that say why.
 */
import fs from 'node:fs';
import { renderTranscript } from '../core/agents/transcript';
import type { TaskSpec } from '../core/fleet/dispatcher';
import { isActive, isFinished } from '../core/fleet/instance';
import { parsePlan, PlanError } from '../core/fleet/plan';
import { listChanges, parseNulList, type ChangedFile } from '../core/git/changes';
import { isGitError } from '../core/git/gitError';
import { MergeBlockedError, squashMessage, suggestCommitMessage, type MergeProblem, type MergeStrategy } from '../core/git/mergeService';
import type { RemovalReport } from '../core/git/worktreeManager';
import type { InstanceSnapshot } from '../core/model';
import { instanceLogPath } from '../core/paths';
import { CliError } from './args';
import { TERMINAL_REFUSAL } from './cliAgents';
import type { Grove } from './context';
import { stopForeign } from './foreignStop';

// ---------------------------------------------------------------------------------------------------- dispatch

/** Tasks of a markdown plan file; `select` keeps only the tasks with these titles (case-insensitive). */
export function planTasks(file: string, select: readonly string[] = []): TaskSpec[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read the plan ${file}: ${(err as Error).message}`);
  }
  let tasks: TaskSpec[];
  try {
    tasks = parsePlan(text).tasks;
  } catch (err) {
    if (err instanceof PlanError) throw new CliError(`${file}: ${err.message}`);
    throw err;
  }
  if (!select.length) return tasks;
  const wanted = new Map(select.map((t) => [t.trim().toLowerCase(), t]));
  const chosen = tasks.filter((t) => wanted.delete(t.title.trim().toLowerCase()));
  if (wanted.size) throw new CliError(`The plan has no task titled ${[...wanted.values()].map((t) => `"${t}"`).join(', ')}. Its tasks: ${tasks.map((t) => `"${t.title}"`).join(', ')}`);
  return chosen;
}

/** A one-task spec from a prompt; the title defaults to the prompt's first line. */
export function promptTask(prompt: string, title?: string, baseRef?: string): TaskSpec {
  if (!prompt.trim()) throw new CliError('The prompt is empty.');
  const first = prompt.trim().split('\n')[0]!.trim();
  return { title: title?.trim() || (first.length > 60 ? `${first.slice(0, 59)}…` : first), prompt, ...(baseRef ? { baseRef } : {}) };
}

export interface DispatchRequest {
  tasks: TaskSpec[];
  baseRef?: string;
  mode?: string;
  model?: string;
}

/** Creates and queues the instances (they start as the cap allows); returns them at once. */
export async function dispatch(g: Grove, req: DispatchRequest): Promise<InstanceSnapshot[]> {
  if (!req.tasks.length) throw new CliError('Nothing to dispatch: no tasks.');
  if (req.mode !== undefined && req.mode !== 'background' && req.mode !== 'terminal') throw new CliError(`Unknown mode "${req.mode}": background or terminal.`);
  const terminal = req.mode === 'terminal' ? req.tasks : req.tasks.filter((t) => t.mode === 'terminal');
  if (terminal.length) throw new CliError(`Grove: ${TERMINAL_REFUSAL} (${terminal.map((t) => `"${t.title}"`).join(', ')}).`);
  let created: InstanceSnapshot[];
  try {
    created = await g.fleet.dispatch(req.tasks, {
      repoRoot: g.repoRoot,
      baseRef: req.baseRef,
      mode: 'background',
      model: req.model ?? g.settings.model,
      permissionMode: g.settings.permissionMode,
    });
  } catch (err) {
    throw new CliError((err as Error).message.replace(/^Grove: /, ''));
  }
  for (const s of created) g.driven.add(s.id);
  return created;
}

/** Nothing more will happen to it without the user: finished, or queued behind a dependency that failed. */
export function isSettled(s: InstanceSnapshot): boolean {
  return isFinished(s.state) || (s.state === 'queued' && !!s.error?.startsWith('blocked:'));
}

/** Resolves with the instances' snapshots once every one of them is settled; `onChange` sees every change. */
export function waitForSettled(g: Grove, ids: readonly string[], onChange?: (s: InstanceSnapshot) => void): Promise<InstanceSnapshot[]> {
  return new Promise((resolve) => {
    const current = () => ids.map((id) => g.fleet.get(id)).filter((s): s is InstanceSnapshot => !!s);
    const check = () => {
      const all = current();
      if (all.every(isSettled)) {
        sub.dispose();
        resolve(all);
      }
    };
    const sub = g.fleet.onDidChangeInstances((change) => {
      for (const s of change.changed) if (ids.includes(s.id)) onChange?.(s);
      check();
    });
    check();
  });
}

// ---------------------------------------------------------------------------------------------------- follow-up

/** Starts another turn in the instance's session (driven by this process). */
export async function followUp(g: Grove, ref: string, prompt: string): Promise<InstanceSnapshot> {
  if (!prompt.trim()) throw new CliError('The follow-up prompt is empty.');
  const inst = g.resolve(ref);
  if ((isActive(inst.state) || inst.state === 'queued') && !g.drives(inst.id)) {
    throw new CliError(`"${inst.title}" is ${inst.state} in another Grove process${inst.pid ? ` (pid ${inst.pid})` : ''}: wait for it to finish, or \`grove stop ${inst.id.slice(0, 8)}\` first.`);
  }
  if (!inst.worktreePath) throw new CliError(`"${inst.title}" has no worktree to follow up in.`);
  if (inst.mode === 'terminal') g.fleet.setMode(inst.id, 'background');
  g.agents.noteRun(inst.id);
  g.driven.add(inst.id);
  try {
    await g.fleet.followUp(inst.id, prompt.trim());
  } catch (err) {
    throw new CliError((err as Error).message.replace(/^Grove: /, ''));
  }
  return g.fleet.get(inst.id)!;
}

// ---------------------------------------------------------------------------------------------------- stop

export interface StopResult {
  instance: InstanceSnapshot;
  how: string;
}

export async function stop(g: Grove, ref: string): Promise<StopResult> {
  const inst = g.resolve(ref);
  if (g.drives(inst.id)) {
    await g.fleet.stop(inst.id);
    return { instance: g.fleet.get(inst.id)!, how: 'stopped its agent' };
  }
  if (!isActive(inst.state) && inst.state !== 'queued') return { instance: inst, how: `it was already ${inst.state}` };
  const r = await stopForeign(g.repo.commonDir, inst.id);
  return { instance: r.snapshot, how: r.how };
}

// ---------------------------------------------------------------------------------------------------- review

export interface Review {
  instance: Pick<InstanceSnapshot, 'id' | 'title' | 'state' | 'branch' | 'baseRef' | 'worktreePath'>;
  mergeBase: string;
  files: ChangedFile[];
  /** Commits on the branch since the merge-base, newest first. */
  commits: { sha: string; subject: string }[];
  insertions: number;
  deletions: number;
  /** Unified diff of everything (committed, uncommitted, untracked) against the merge-base; omitted when not asked for. */
  patch?: string;
}

export async function review(g: Grove, ref: string, options: { patch?: boolean } = {}): Promise<Review> {
  const inst = g.resolve(ref);
  const wt = requireWorktree(inst);
  let changes;
  try {
    changes = await listChanges(g.git, { worktreePath: wt, baseRef: inst.baseRef, baseCommit: inst.baseCommit });
  } catch (err) {
    if (isGitError(err)) throw new CliError(`Cannot review "${inst.title}": ${err.message}`);
    throw err;
  }
  const log = await g.git.read(wt, ['log', '--format=%H%x00%s%x00', `${changes.mergeBase}..HEAD`, '--']);
  const f = log.stdout.split('\0');
  const commits: Review['commits'] = [];
  for (let i = 0; i + 1 < f.length; i += 2) if (f[i]!.trim()) commits.push({ sha: f[i]!.trim(), subject: f[i + 1]! });
  const out: Review = {
    instance: { id: inst.id, title: inst.title, state: inst.state, branch: inst.branch, baseRef: inst.baseRef, worktreePath: wt },
    mergeBase: changes.mergeBase,
    files: changes.files,
    commits,
    insertions: changes.files.reduce((n, x) => n + (x.insertions ?? 0), 0),
    deletions: changes.files.reduce((n, x) => n + (x.deletions ?? 0), 0),
  };
  if (options.patch !== false) {
    const parts = [(await g.git.read(wt, ['diff', '-M', '--no-color', '--no-ext-diff', changes.mergeBase, '--'])).stdout];
    for (const file of changes.files.filter((x) => x.untracked && !x.path.endsWith('/'))) {
      const r = await g.git.read(wt, ['diff', '--no-index', '--no-color', '--no-ext-diff', '--', '/dev/null', file.path], { okExitCodes: [1] });
      parts.push(r.stdout);
    }
    out.patch = parts.filter(Boolean).join('');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------- merge

export interface MergeRequest {
  strategy?: MergeStrategy;
  /** Commit the agent's uncommitted and untracked work first. */
  commit?: boolean;
}

export interface MergeOutcome {
  instance: Pick<InstanceSnapshot, 'id' | 'title' | 'branch' | 'baseRef'>;
  strategy: MergeStrategy;
  into: string;
  mergedCommit: string;
  updatedVia: 'checkout' | 'ref';
  /** The commit made of the agent's uncommitted work (with `commit`). */
  committed?: string;
  /** Information that did not block the merge (e.g. the base moved). */
  notes: string[];
}

export async function merge(g: Grove, ref: string, req: MergeRequest = {}): Promise<MergeOutcome> {
  const inst = g.resolve(ref);
  const wt = requireWorktree(inst);
  if (!inst.branch || !inst.baseRef) throw new CliError(`"${inst.title}" has no branch or base recorded.`);
  const strategy = req.strategy ?? 'merge';
  if (!['merge', 'squash', 'rebase'].includes(strategy)) throw new CliError(`Unknown strategy "${strategy}": merge, squash or rebase.`);
  const running = isActive(inst.state) || inst.state === 'queued';
  if (running) throw new CliError(`"${inst.title}" is ${inst.state}: wait for it to finish or \`grove stop\` it before merging.`);
  let committed: string | undefined;
  try {
    if (req.commit) {
      const status = await g.git.read(wt, ['status', '--porcelain=v1', '-z', '--untracked-files=all']);
      const files = parseStatusPaths(status.stdout);
      committed = await g.merges.commitWork({ worktreePath: wt, message: suggestCommitMessage(inst.title, files) });
    }
    const pre = await g.merges.preflight({ repoRoot: g.repoRoot, worktreePath: wt, branch: inst.branch, baseRef: inst.baseRef, running, strategy });
    if (!pre.ok) {
      throw new CliError(`Cannot merge "${inst.title}" into ${inst.baseRef}:\n${describeProblems(pre.problems)}${pre.problems.some((p) => p.code === 'UncommittedWork') ? '\n(`--commit` commits the agent\'s work first.)' : ''}`, pre.problems);
    }
    const result = await g.merges.mergeIntoBase({
      repoRoot: g.repoRoot, worktreePath: wt, branch: inst.branch, baseRef: inst.baseRef, strategy,
      message: strategy === 'squash' ? squashMessage(inst.title, inst.resultText) : undefined,
    });
    // Recorded as the extension's review flow does, so its tree shows the instance as merged.
    g.fleet.recordMerge(inst.id, { at: Date.now(), strategy, into: inst.baseRef, commit: result.mergedCommit }, false);
    return {
      instance: { id: inst.id, title: inst.title, branch: inst.branch, baseRef: inst.baseRef },
      strategy, into: inst.baseRef, mergedCommit: result.mergedCommit, updatedVia: result.updatedVia,
      ...(committed ? { committed } : {}),
      notes: pre.problems.filter((p) => !p.blocking).map((p) => p.message),
    };
  } catch (err) {
    if (err instanceof MergeBlockedError) throw new CliError(`Cannot merge "${inst.title}" into ${inst.baseRef}:\n${describeProblems(err.problems)}`, err.problems);
    if (isGitError(err)) throw new CliError(`Merging "${inst.title}" failed: ${err.message}`);
    throw err;
  }
}

function describeProblems(problems: MergeProblem[]): string {
  return problems.filter((p) => p.blocking).map((p) => `  - ${p.message}${p.files?.length ? `\n      ${p.files.slice(0, 20).join('\n      ')}` : ''}`).join('\n');
}

/** Paths of `git status --porcelain=v1 -z` (the new path of a rename). Pure. */
export function parseStatusPaths(stdout: string): string[] {
  const fields = parseNulList(stdout);
  const out: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    if (entry.length < 4) continue;
    out.push(entry.slice(3));
    if (entry[0] === 'R' || entry[0] === 'C') i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------- remove

export interface RemoveRequest {
  force?: boolean;
  deleteBranch?: boolean;
}

export interface RemoveOutcome {
  id: string;
  title: string;
  worktreePath?: string;
  branch?: string;
  branchDeleted: boolean;
  branchKeptReason?: string;
  /** What was discarded (with `force`). */
  discarded?: Pick<RemovalReport, 'uncommitted' | 'untracked' | 'commits'>;
}

/** The loss a removal would cause, as lines for the user. */
export function describeLoss(r: RemovalReport, deleteBranch: boolean): string[] {
  const lines: string[] = [];
  const list = (label: string, items: string[]) => {
    if (!items.length) return;
    lines.push(`${label} (${items.length}):`, ...items.slice(0, 20).map((i) => `  ${i}`), ...(items.length > 20 ? [`  … and ${items.length - 20} more`] : []));
  };
  list('Uncommitted changes that would be discarded', r.uncommitted);
  list('Untracked files that would be deleted', r.untracked);
  list(`Commits not in ${r.baseRef ?? 'any other branch'}${deleteBranch ? ' (lost with the branch)' : ' (kept on the branch unless --delete-branch)'}`, r.commits.map((c) => `${c.sha.slice(0, 8)} ${c.subject}`));
  return lines;
}

export async function remove(g: Grove, ref: string, req: RemoveRequest = {}): Promise<RemoveOutcome> {
  const inst = g.resolve(ref);
  if (isActive(inst.state) || inst.state === 'queued') {
    if (!req.force) throw new CliError(`"${inst.title}" is ${inst.state}: \`grove stop\` it first, or remove with --force.`);
    await stop(g, inst.id);
  }
  const out: RemoveOutcome = { id: inst.id, title: inst.title, branchDeleted: false };
  let report: RemovalReport | undefined;
  if (inst.worktreePath) {
    try {
      report = await g.worktrees.inspectRemoval(inst.worktreePath, { repoRoot: g.repoRoot });
    } catch (err) {
      if (!isGitError(err, 'NotFound')) throw err;
      // The worktree is already gone (removed by hand): only the record remains.
    }
  }
  if (report) {
    if (report.isMain) throw new CliError(`"${inst.title}" runs in the main worktree, which Grove never removes.`);
    const wouldLose = report.uncommitted.length + report.untracked.length > 0 || (req.deleteBranch && report.commits.length > 0);
    if (wouldLose && !req.force) {
      throw new CliError(`Removing "${inst.title}" would lose work:\n${describeLoss(report, !!req.deleteBranch).join('\n')}\nNothing was removed. Merge it first, or run again with --force to discard this.`, report);
    }
    try {
      const r = await g.worktrees.remove(report.path, { force: report.hasLoss, deleteBranch: req.deleteBranch ? 'always' : 'ifMerged', repoRoot: g.repoRoot });
      Object.assign(out, { worktreePath: r.path, branch: r.branch, branchDeleted: r.branchDeleted, ...(r.branchKeptReason ? { branchKeptReason: r.branchKeptReason } : {}) });
      if (r.branch && r.branchDeleted) await g.merges.dropBackups(g.repoRoot, r.branch).catch(() => undefined);
    } catch (err) {
      if (isGitError(err)) throw new CliError(`Could not remove the worktree of "${inst.title}": ${err.message}`);
      throw err;
    }
    if (report.hasLoss) out.discarded = { uncommitted: report.uncommitted, untracked: report.untracked, commits: req.deleteBranch ? report.commits : [] };
  }
  await g.fleet.remove(inst.id);
  return out;
}

// ---------------------------------------------------------------------------------------------------- log

export function transcript(g: Grove, ref: string, options: { raw?: boolean } = {}): { instance: InstanceSnapshot; text: string } {
  const inst = g.resolve(ref);
  const file = inst.logPath ?? instanceLogPath(g.repo.commonDir, inst.id);
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`"${inst.title}" has no log yet${inst.mode === 'terminal' ? ' (terminal agents are logged by Claude Code itself)' : ''}.`);
  }
  return { instance: inst, text: options.raw ? raw : renderTranscript(raw) };
}

// ---------------------------------------------------------------------------------------------------- helpers

function requireWorktree(inst: InstanceSnapshot): string {
  if (!inst.worktreePath) throw new CliError(`"${inst.title}" has no worktree yet (it is ${inst.state}).`);
  if (!fs.existsSync(inst.worktreePath)) throw new CliError(`The worktree of "${inst.title}" is missing: ${inst.worktreePath}`);
  return inst.worktreePath;
}
