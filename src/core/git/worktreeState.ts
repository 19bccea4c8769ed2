/** Reading the state of existing worktrees: which one a path is, what Grove recorded for it, its status. */
import fs from 'node:fs';
import path from 'node:path';
import { samePath, normalizePath } from '../util/fsPaths';
import { worktreeStatus } from './changes';
import type { GitClient } from './gitClient';
import { GitError } from './gitError';
import type { RepositoryFacts } from './repositoryFacts';
import { parseWorktreeList, type WorktreeEntry } from './worktreeParser';
import { readAdminDirs, readBranchRecord, readLegacyBases, readMetadata, type WorktreeMetadata } from './worktreeRecords';
import type { CommitSummary } from './worktreeTypes';

export interface Located {
  /** The repository's main worktree (first entry of `worktree list`). */
  repoRoot: string;
  commonDir: string;
  entries: WorktreeEntry[];
  entry: WorktreeEntry;
  isMain: boolean;
  adminDirs: Map<string, string>;
}

export async function worktreeEntries(git: GitClient, cwd: string, signal?: AbortSignal): Promise<WorktreeEntry[]> {
  return parseWorktreeList((await git.read(cwd, ['worktree', 'list', '--porcelain', '-z'], { signal })).stdout);
}

/**
 * Finds the worktree at `worktreePath` (which may be gone: then git is asked from the closest existing ancestor, or
 * from `repoRoot`). Throws GitError `NotFound` when it is not a worktree of a repository.
 */
export async function locate(git: GitClient, facts: RepositoryFacts, worktreePath: string, repoRoot?: string, signal?: AbortSignal): Promise<Located> {
  let probe = repoRoot && fs.existsSync(repoRoot) ? repoRoot : worktreePath;
  while (!fs.existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
  const repo = await facts.get(probe, signal).catch(() => undefined);
  if (!repo) throw new GitError(`${worktreePath} is not a worktree of a git repository.`, { code: 'NotFound' });
  const entries = await worktreeEntries(git, probe, signal);
  const index = entries.findIndex((e) => samePath(e.path, worktreePath));
  if (index < 0) throw new GitError(`${worktreePath} is not a worktree of this repository.`, { code: 'NotFound' });
  return {
    repoRoot: normalizePath(entries[0]?.path ?? probe),
    commonDir: repo.commonDir,
    entries,
    entry: entries[index]!,
    isMain: index === 0,
    adminDirs: await readAdminDirs(repo.commonDir),
  };
}

export interface TaskRecord {
  /** grove.json in the worktree's admin dir. */
  meta?: WorktreeMetadata;
  /** The branch Grove created for the task. */
  taskBranch?: string;
  base?: { ref: string; commit: string };
  instanceId?: string;
}

export type LegacyBases = () => Promise<Map<string, { ref: string; commit: string }>>;

/** A memoised reader of the config keys older Grove versions wrote (one `git config` per list, and only if needed). */
export function legacyBasesOnce(git: GitClient, cwd: string, signal?: AbortSignal): LegacyBases {
  let pending: Promise<Map<string, { ref: string; commit: string }>> | undefined;
  return () => (pending ??= readLegacyBases(git, cwd, signal).catch(() => new Map()));
}

/** What Grove knows about the worktree's task: grove.json, else the task branch's record, else legacy config. */
export async function taskRecordOf(commonDir: string, entry: WorktreeEntry, adminDirs: Map<string, string>, legacy: LegacyBases): Promise<TaskRecord> {
  const meta = await readMetadata(adminDirs.get(entry.path));
  if (meta) return { meta, ...(meta.branch ? { taskBranch: meta.branch } : {}), base: { ref: meta.baseRef, commit: meta.baseCommit }, instanceId: meta.instanceId };
  if (!entry.branch) return {};
  const record = await readBranchRecord(commonDir, entry.branch);
  if (record) return { taskBranch: record.branch, base: { ref: record.baseRef, commit: record.baseCommit }, instanceId: record.instanceId };
  const old = (await legacy()).get(entry.branch);
  if (old) return { taskBranch: entry.branch, base: old };
  return {};
}

/**
 * Every uncommitted path of a worktree as removing it would lose it: tracked changes with both names of a rename,
 * and untracked files (from the one status reader, {@link worktreeStatus} of changes.ts).
 */
export async function uncommittedPaths(git: GitClient, worktreePath: string, signal?: AbortSignal): Promise<{ changed: string[]; untracked: string[] }> {
  const status = await worktreeStatus(git, worktreePath, { signal });
  const untracked = new Set(status.untracked);
  return { changed: status.paths.filter((p) => !untracked.has(p)), untracked: status.untracked };
}

export async function resolves(git: GitClient, cwd: string, rev: string, signal?: AbortSignal): Promise<boolean> {
  if (!rev || rev.startsWith('-')) return false;
  return (await git.read(cwd, ['rev-parse', '--verify', '-q', `${rev}^{commit}`], { signal, okExitCodes: [1] })).exitCode === 0;
}

/** `git log` of `args` as commit summaries (sha + subject). */
export async function commitsOf(git: GitClient, cwd: string, args: readonly string[], signal?: AbortSignal): Promise<CommitSummary[]> {
  const log = await git.read(cwd, ['log', '--format=%H%x00%s%x00', ...args], { signal });
  const commits: CommitSummary[] = [];
  const fields = log.stdout.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const sha = fields[i]!.trim();
    if (sha) commits.push({ sha, subject: fields[i + 1]! });
  }
  return commits;
}
