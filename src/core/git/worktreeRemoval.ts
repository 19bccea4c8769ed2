/**
 * Removing a worktree without ever losing work silently.
 *
 * The report ({@link inspect}) lists everything a removal would lose: uncommitted and untracked files (inside
 * initialised submodules too), commits on the task branch not in its base, commits only a detached HEAD (or the
 * worktree's HEAD log) still reaches, and submodule commits no remote has. Removal then:
 * - refuses the main worktree, foreign locks, and Grove locks whose recorded process still runs (or cannot be
 *   checked: another host, or a lock written by an older Grove);
 * - refuses any loss unless forced;
 * - deletes only the TASK branch (the one Grove created for this worktree, from its records), never whatever
 *   branch happens to be checked out, and only after `beforeDeleteBranch` (default: a backup ref) succeeded and
 *   only while the branch still points at the tip that was inspected.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { liveness, localProbe, sameProcess, type ProcessIdentity, type ProcessProbe } from '../platform/processes';
import type { GitClient } from './gitClient';
import { GitError } from './gitError';
import { listIgnoredWork, type IgnoredEntry } from './ignoredFiles';
import { BACKUP_REF_PREFIX } from './mergeService';
import type { RepositoryFacts } from './repositoryFacts';
import { commitsLeftByCheckout, GROVE_LOCK_PREFIX, parseLockOwner, parseStatus, type WorktreeEntry } from './worktreeParser';
import { deleteBranchRecord } from './worktreeRecords';
import { commitsOf, legacyBasesOnce, locate, resolves, taskRecordOf, uncommittedPaths, type Located } from './worktreeState';
import type { CommitSummary, RemovalReport, RemoveOptions, RemoveResult, SubmoduleCommits } from './worktreeTypes';

export interface RemovalContext {
  git: GitClient;
  facts: RepositoryFacts;
  logger: Logger;
  probe?: ProcessProbe;
}

interface Inspection {
  report: RemovalReport;
  located: Located;
  /** Tip of the task branch when inspected (undefined: the branch does not exist). */
  taskTip?: string;
  /** Another worktree that has the task branch checked out. */
  taskCheckedOutIn?: string;
  hasSubmodules: boolean;
}

export async function inspect(ctx: RemovalContext, worktreePath: string, options: { repoRoot?: string; signal?: AbortSignal } = {}): Promise<Inspection> {
  const { git } = ctx;
  const { signal } = options;
  const located = await locate(git, ctx.facts, worktreePath, options.repoRoot, signal);
  const { entry, isMain, repoRoot } = located;
  const stale = !entry.bare && (entry.prunable || !fs.existsSync(entry.path));
  const record = isMain ? {} : await taskRecordOf(located.commonDir, entry, located.adminDirs, legacyBasesOnce(git, repoRoot, signal));
  const live = !stale && !entry.bare;
  const status = live ? await uncommittedPaths(git, entry.path, signal) : { changed: [], untracked: [] };
  const submodules = live && !isMain ? await submoduleLoss(git, entry.path, '', signal) : { changed: [], untracked: [], commits: [], any: false };
  const ignored = live && !isMain ? await ignoredLoss(git, entry.path, located.repoRoot, signal) : [];

  let commits: CommitSummary[] = [];
  let merged = false;
  let taskTip: string | undefined;
  let taskCheckedOutIn: string | undefined;
  const branchForCommits = record.taskBranch ?? entry.branch;
  if (!isMain && branchForCommits) {
    const tip = await git.read(repoRoot, ['rev-parse', '--verify', '-q', `refs/heads/${branchForCommits}^{commit}`], { signal, okExitCodes: [1] });
    if (tip.exitCode === 0) {
      const sha = tip.stdout.trim();
      if (record.taskBranch) {
        taskTip = sha;
        taskCheckedOutIn = located.entries.find((e) => e !== entry && e.branch === record.taskBranch)?.path;
      }
      const base = record.base;
      const baseRev = base?.ref && (await resolves(git, repoRoot, base.ref, signal)) ? base.ref : base?.commit;
      const range = baseRev
        ? [sha, '--not', baseRev]
        : [sha, '--not', `--exclude=refs/heads/${branchForCommits}`, '--branches', '--remotes', '--tags'];
      commits = await commitsOf(git, repoRoot, range, signal);
      merged = !!baseRev && commits.length === 0;
    }
  }
  const detachedCommits = isMain ? [] : await detachedOnly(git, located, entry, signal);

  const owner = parseLockOwner(entry.lockedReason);
  const groveLock = entry.locked && !!entry.lockedReason?.startsWith(GROVE_LOCK_PREFIX);
  const uncommitted = [...status.changed, ...submodules.changed];
  const untracked = [...status.untracked, ...submodules.untracked];
  // Ignored work is listed (and the core remove flow snapshots it first, so it can be restored) but does not by
  // itself ask for a confirmation: logs and local files would otherwise hold up every cleanup after a merge.
  const worktreeLoss = uncommitted.length + untracked.length + detachedCommits.length + submodules.commits.length > 0;
  const report: RemovalReport = {
    path: entry.path,
    branch: entry.branch,
    ...(record.taskBranch ? { taskBranch: record.taskBranch } : {}),
    baseRef: record.base?.ref,
    isMain,
    stale,
    locked: entry.locked,
    lockedReason: entry.lockedReason,
    ...(owner ? { lockOwner: owner } : {}),
    ...(groveLock ? { lockOwnerLiveness: owner ? liveness(owner, ctx.probe ?? localProbe) : 'unknown' } : {}),
    uncommitted,
    untracked,
    ignored,
    commits,
    detachedCommits,
    submoduleCommits: submodules.commits,
    merged,
    hasLoss: worktreeLoss || commits.length > 0,
    hasWorktreeLoss: worktreeLoss,
  };
  return { report, located, taskTip, taskCheckedOutIn, hasSubmodules: submodules.any };
}

/**
 * Ignored files `git worktree remove` would delete that are worth listing (see ignoredFiles.ts: not what tools
 * regenerate), minus files Grove copied in that are still the same as in the main checkout (nothing is lost).
 */
async function ignoredLoss(git: GitClient, worktree: string, repoRoot: string, signal?: AbortSignal): Promise<IgnoredEntry[]> {
  const entries = await listIgnoredWork(git, worktree, { signal });
  const out: IgnoredEntry[] = [];
  for (const e of entries) {
    if (!e.dir && !e.repository && (await sameFile(path.join(worktree, e.path), path.join(repoRoot, e.path)))) continue;
    out.push(e);
  }
  return out;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [sa, sb] = await Promise.all([fs.promises.lstat(a), fs.promises.lstat(b)]);
    if (!sa.isFile() || !sb.isFile() || sa.size !== sb.size) return false;
    const [ca, cb] = await Promise.all([fs.promises.readFile(a), fs.promises.readFile(b)]);
    return ca.equals(cb);
  } catch {
    return false;
  }
}

/**
 * Commits that only this worktree's HEAD reaches: its detached HEAD, and detached tips its HEAD log says a checkout
 * left behind — minus everything reachable from branches, tags, remote-tracking branches, Grove's own refs
 * (backups) and the other worktrees' HEADs. The HEAD log lives in the worktree's admin dir and goes with it.
 */
async function detachedOnly(git: GitClient, located: Located, entry: WorktreeEntry, signal?: AbortSignal): Promise<CommitSummary[]> {
  const sources: string[] = [];
  if (entry.detached && entry.head) sources.push(entry.head);
  const adminDir = located.adminDirs.get(entry.path);
  if (adminDir) {
    const reflog = await fs.promises.readFile(path.join(adminDir, 'logs', 'HEAD'), 'utf8').catch(() => '');
    for (const sha of commitsLeftByCheckout(reflog)) if (!sources.includes(sha)) sources.push(sha);
  }
  if (!sources.length) return [];
  const others = located.entries.filter((e) => e !== entry && e.head).map((e) => e.head!);
  return commitsOf(git, located.repoRoot, ['--ignore-missing', ...sources, '--not', '--branches', '--tags', '--remotes', '--glob=refs/grove/*', ...others], signal);
}

/**
 * Files and commits inside the initialised submodules of `worktree` (recursively) that removing it would lose: the
 * submodules' git dirs live in the worktree's admin dir. A commit is safe when a remote-tracking branch of the
 * submodule has it, or when it is the commit the superproject records.
 */
async function submoduleLoss(git: GitClient, worktree: string, prefix: string, signal?: AbortSignal): Promise<{ changed: string[]; untracked: string[]; commits: SubmoduleCommits[]; any: boolean }> {
  const out = { changed: [] as string[], untracked: [] as string[], commits: [] as SubmoduleCommits[], any: false };
  if (!fs.existsSync(path.join(worktree, '.gitmodules'))) return out;
  const { stdout } = await git.read(worktree, ['ls-files', '-z', '--stage'], { signal });
  for (const record of stdout.split('\0')) {
    const m = /^160000 ([0-9a-f]+) \d\t(.+)$/s.exec(record);
    if (!m) continue;
    const [, recorded, rel] = m;
    const dir = path.join(worktree, rel!);
    if (!fs.existsSync(path.join(dir, '.git'))) continue; // not initialised: nothing of it lives here
    out.any = true;
    const shown = `${prefix}${rel}`;
    const status = parseStatus((await git.read(dir, ['-c', 'core.quotepath=false', 'status', '--porcelain=v1', '-z', '--no-renames', '--untracked-files=all', '--ignore-submodules=all'], { signal })).stdout);
    out.changed.push(...status.changed.map((f) => `${shown}/${f}`));
    out.untracked.push(...status.untracked.map((f) => `${shown}/${f}`));
    const commits = await commitsOf(git, dir, ['--ignore-missing', 'HEAD', '--branches', '--not', '--remotes', recorded!], signal).catch(() => []);
    if (commits.length) out.commits.push({ path: shown, commits });
    const nested = await submoduleLoss(git, dir, `${shown}/`, signal);
    out.changed.push(...nested.changed);
    out.untracked.push(...nested.untracked);
    out.commits.push(...nested.commits);
  }
  return out;
}

export async function removeWorktree(ctx: RemovalContext, worktreePath: string, options: RemoveOptions = {}): Promise<RemoveResult> {
  const { signal, force = false, deleteBranch = 'ifMerged' } = options;
  const { report, located, taskTip, taskCheckedOutIn, hasSubmodules } = await inspect(ctx, worktreePath, { signal, repoRoot: options.repoRoot });
  if (report.isMain) throw new GitError(`${report.path} is the repository's main worktree; it cannot be removed.`, { code: 'IsMainWorktree' });
  refuseLocked(report, options.releasedLockOf);
  if (report.hasLoss && !force) throw new GitError(`Removing ${report.path} would lose work:\n${describeLoss(report).join('\n')}`, { code: 'WouldLoseWork', details: report });
  const { repoRoot, commonDir } = located;

  const result: RemoveResult = { path: report.path, branch: report.taskBranch ?? report.branch, branchDeleted: false };
  let deleteTip: string | undefined;
  const task = report.taskBranch;
  if (!task) {
    if (report.branch) result.branchKeptReason = 'not a branch Grove created for this task';
  } else if (deleteBranch === 'never') {
    result.branchKeptReason = 'kept as asked';
  } else if (!taskTip) {
    result.branchKeptReason = 'it no longer exists';
  } else if (deleteBranch === 'ifMerged' && !report.merged) {
    result.branchKeptReason = report.baseRef ? `not merged into ${report.baseRef}` : 'no recorded base to check it is merged';
  } else if (taskCheckedOutIn) {
    result.branchKeptReason = `it is checked out in ${taskCheckedOutIn}`;
  } else {
    // Outside the mutation queue: the hook may run git mutations of its own.
    try {
      if (options.beforeDeleteBranch) {
        await options.beforeDeleteBranch(task, taskTip);
      } else {
        result.backupRef = `${BACKUP_REF_PREFIX}${task}/${taskTip}`;
        await ctx.git.mutate(repoRoot, ['update-ref', '-m', 'grove: before deleting the branch', result.backupRef, taskTip], { signal });
      }
      deleteTip = taskTip;
    } catch (err) {
      delete result.backupRef;
      result.branchKeptReason = `no backup could be written first: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  return ctx.git.exclusive(repoRoot, async (locked) => {
    if (report.locked) await locked.run(repoRoot, ['worktree', 'unlock', report.path], { signal });
    if (report.stale) {
      await locked.run(repoRoot, ['worktree', 'prune'], { signal });
    } else {
      // Initialised submodules make git refuse without --force; the report above covered what is inside them.
      await locked.run(repoRoot, ['worktree', 'remove', ...(force || hasSubmodules ? ['--force'] : []), report.path], { signal });
    }
    if (task && deleteTip) {
      // Compare-and-delete: a commit that reached the branch since the inspection keeps it.
      const del = await locked.run(repoRoot, ['update-ref', '-d', `refs/heads/${task}`, deleteTip], { signal, okExitCodes: [1, 128] });
      if (del.exitCode === 0) {
        result.branchDeleted = true;
        await deleteBranchRecord(commonDir, task).catch((err: Error) => ctx.logger.warn(`could not delete the record of ${task}: ${err.message}`));
      } else {
        result.branchKeptReason = `it moved since it was inspected (${del.stderr.trim().split(/\r?\n/)[0]})`;
      }
    }
    return result;
  }, signal);
}

function refuseLocked(report: RemovalReport, released?: ProcessIdentity): void {
  if (!report.locked) return;
  if (released && report.lockOwner && sameProcess(report.lockOwner, released)) return;
  const reason = report.lockedReason ? ` (${report.lockedReason})` : '';
  if (!report.lockedReason?.startsWith(GROVE_LOCK_PREFIX)) {
    throw new GitError(`${report.path} is locked${reason} by something other than Grove; unlock it first.`, { code: 'WorktreeLocked', details: report });
  }
  const owner = report.lockOwner;
  if (!owner) {
    throw new GitError(`${report.path} is locked${reason} by an earlier Grove version, which did not record its process, so Grove cannot tell whether an agent still runs there. If none does, unlock it (git worktree unlock "${report.path}") and remove it again.`, { code: 'WorktreeLocked', details: report });
  }
  if (report.lockOwnerLiveness === 'alive') {
    throw new GitError(`${report.path} is in use: Grove process ${owner.pid} on ${owner.host} locked it${reason} and still runs. Stop its agent first.`, { code: 'WorktreeLocked', details: report });
  }
  if (report.lockOwnerLiveness === 'unknown') {
    throw new GitError(`${report.path} is locked${reason} by Grove process ${owner.pid} on another machine (${owner.host}), which cannot be checked from here. Stop it there, or unlock the worktree (git worktree unlock "${report.path}") if it is gone.`, { code: 'WorktreeLocked', details: report });
  }
}

/**
 * The loss a removal would cause, as lines for a person — the one text behind the refusal here, the CLI and MCP
 * refusals and VS Code's confirmation modal. `deleteBranch`: the branch's own commits are lost too. Pure.
 */
export function describeLoss(r: RemovalReport, options: { deleteBranch?: boolean; max?: number } = {}): string[] {
  const max = options.max ?? 20;
  const lines: string[] = [];
  const list = (label: string, items: string[]) => {
    if (!items.length) return;
    lines.push(`${label} (${items.length}):`, ...items.slice(0, max).map((i) => `  ${i}`), ...(items.length > max ? [`  … and ${items.length - max} more`] : []));
  };
  const commits = (cs: CommitSummary[]) => cs.map((c) => `${c.sha.slice(0, 8)} ${c.subject}`);
  list('Uncommitted changes that would be discarded', r.uncommitted);
  list('Untracked files that would be deleted', r.untracked);
  list('Ignored files that would be deleted (git ignores them, but they are not regenerated)', (r.ignored ?? []).map(ignoredLine));
  list('Commits made on a detached HEAD that no branch has (lost with the worktree)', commits(r.detachedCommits));
  for (const s of r.submoduleCommits) list(`Unpushed commits in the submodule ${s.path} (lost with the worktree)`, commits(s.commits));
  if (!r.merged) {
    list(`Commits not in ${r.baseRef ?? 'any other branch'}${options.deleteBranch ? ' (lost with the branch)' : ' (kept on the branch unless it is deleted)'}`, commits(r.commits));
  }
  return lines;
}

function ignoredLine(e: IgnoredEntry): string {
  const size = e.bytes >= 1024 * 1024 ? `${(e.bytes / 1024 / 1024).toFixed(1)} MB` : e.bytes >= 1024 ? `${Math.round(e.bytes / 1024)} KB` : `${e.bytes} B`;
  return e.repository ? `${e.path} (a git repository)` : e.dir ? `${e.path} (${e.files} file${e.files === 1 ? '' : 's'}, ${size})` : `${e.path} (${size})`;
}
