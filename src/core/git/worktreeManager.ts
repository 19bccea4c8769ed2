/**
 * The worktree engine: resolve a repository, create and provision worktrees (in parallel and across processes,
 * safely), list them, lock them while an agent runs, and remove them without ever losing work silently.
 *
 * The work is split by concern: worktreeCreate.ts (naming, atomic claims, rollback, provisioning),
 * worktreeRemoval.ts (the loss report and removal), repositoryFacts.ts (cached repository facts), worktreeRecords.ts
 * (what Grove records per worktree and branch), worktreeState.ts (reading existing worktrees).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import { currentProcess, localProbe, type ProcessProbe } from '../platform/processes';
import type { GitClient } from './gitClient';
import { DEFAULT_PORT_BASE } from './provisioner';
import { readHeadFile, readHeadWithGit, RepositoryFacts, type Head } from './repositoryFacts';
import { createWorktree } from './worktreeCreate';
import { WorktreePool } from './worktreePool';
import { formatLockReason, parseLockOwner, type WorktreeEntry } from './worktreeParser';
import { readAdminDirs } from './worktreeRecords';
import { inspect, removeWorktree } from './worktreeRemoval';
import { legacyBasesOnce, locate, resolves, taskRecordOf, worktreeEntries, uncommittedPaths, type LegacyBases } from './worktreeState';
import type {
  CreateWorktreeOptions,
  CreatedWorktree,
  LockOptions,
  RemovalReport,
  RemoveOptions,
  RemoveResult,
  RepositoryInfo,
  WorktreeInfo,
  WorktreeManagerOptions,
} from './worktreeTypes';

export type {
  CommitSummary,
  CreateWorktreeOptions,
  CreatedWorktree,
  LockOptions,
  RemovalReport,
  RemoveOptions,
  RemoveResult,
  RepositoryInfo,
  SubmoduleCommits,
  WorktreeInfo,
  WorktreeManagerOptions,
} from './worktreeTypes';
export { GROVE_LOCK_PREFIX, formatLockReason, parseLockOwner } from './worktreeParser';
export { validateBranchPrefix } from '../util/branchNames';
export { describeLoss } from './worktreeRemoval';

export class WorktreeManager {
  private readonly logger: Logger;
  private readonly portBase: number;
  private readonly probe: ProcessProbe;
  private readonly lockTimeoutMs: number | undefined;
  /** Facts that do not change between two dispatches of one repository (see repositoryFacts.ts). */
  readonly facts: RepositoryFacts;
  /** The warm pool's spares (worktreePool.ts); empty unless someone fills it. */
  readonly pool: WorktreePool;

  constructor(
    private readonly git: GitClient,
    options: WorktreeManagerOptions = {},
  ) {
    this.logger = options.logger ?? nullLogger;
    this.portBase = options.portBase ?? DEFAULT_PORT_BASE;
    this.probe = options.probe ?? localProbe;
    this.lockTimeoutMs = options.creationLockTimeoutMs;
    this.facts = new RepositoryFacts(git);
    this.pool = new WorktreePool(this.createContext());
  }

  /**
   * Describes the repository containing `folder`. Throws a GitError `NotFound` when the folder does not exist
   * and `NotAGitRepository` when it is not inside a repository; a bare repository, no commits and a detached
   * HEAD are reported in the result (`create` turns them into clear errors). One git process once the repository's
   * facts are cached (two the first time).
   */
  async resolveRepository(folder: string, signal?: AbortSignal): Promise<RepositoryInfo> {
    const facts = await this.facts.get(folder, signal);
    const fileHead = readHeadFile(facts.gitDir);
    let head: Head = fileHead === 'unknown' ? await readHeadWithGit(this.git, folder, signal) : fileHead;
    let commit: string | undefined;
    if (head && 'detachedAt' in head) commit = head.detachedAt;
    else {
      const r = await this.git.read(folder, ['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { signal, okExitCodes: [1] });
      commit = r.exitCode === 0 ? r.stdout.trim() : undefined;
    }
    if (!head && commit) head = { detachedAt: commit };
    const branch = head && 'branch' in head ? head.branch : undefined;
    return {
      root: facts.root,
      mainWorktree: facts.mainWorktree,
      commonDir: facts.commonDir,
      branch,
      detached: !branch,
      head: commit,
      hasCommits: !!commit,
      isBare: facts.isBare,
    };
  }

  /**
   * Creates branch `<prefix>/<slug>` and its worktree from the base, records the base, then provisions it
   * (copy files, submodules, setup command with `GROVE_PORT`).
   *
   * Atomicity: choosing the name and `git worktree add` run under the repository's mutation queue and a
   * cross-process creation lock, so any number of concurrent creates — in this process or others — get distinct
   * names. Any failure or abort up to and including provisioning rolls back everything this call created
   * (worktree folder, admin dir, branch, records, an empty worktree root folder) and rejects with a GitError (code
   * `Cancelled` on abort); folders and branches this call did not create are never touched — an existing name is
   * skipped with `-2`, `-3`…
   *
   * Exception: a setup command that exits non-zero keeps the worktree and resolves with
   * `setupFailed: true` and `setupExitCode`, so the user can inspect it.
   *
   * `fromPool`: a spare of the warm pool for this repository and base is used when there is one (see
   * {@link WorktreePool.take}); a fill of the pool in progress is stopped first either way.
   */
  async create(options: CreateWorktreeOptions): Promise<CreatedWorktree> {
    await this.pool.pause();
    if (options.fromPool) {
      const spare = await this.pool.take(options);
      if (spare) return spare;
    }
    return createWorktree(this.createContext(), options);
  }

  private createContext() {
    return { git: this.git, facts: this.facts, logger: this.logger, portBase: this.portBase, probe: this.probe, lockTimeoutMs: this.lockTimeoutMs };
  }

  /** Every worktree of the repository with its state; per-worktree reads run concurrently. */
  async list(repoRoot: string, signal?: AbortSignal): Promise<WorktreeInfo[]> {
    const commonDir = (await this.facts.get(repoRoot, signal)).commonDir;
    const entries = await worktreeEntries(this.git, repoRoot, signal);
    const adminDirs = await readAdminDirs(commonDir);
    const legacy = legacyBasesOnce(this.git, repoRoot, signal);
    return Promise.all(entries.map((entry, index) => this.describe(repoRoot, commonDir, entry, index === 0, adminDirs, legacy, signal)));
  }

  private async describe(repoRoot: string, commonDir: string, entry: WorktreeEntry, isMain: boolean, adminDirs: Map<string, string>, legacy: LegacyBases, signal?: AbortSignal): Promise<WorktreeInfo> {
    const record = isMain ? {} : await taskRecordOf(commonDir, entry, adminDirs, legacy);
    const meta = 'meta' in record ? record.meta : undefined;
    const stale = !entry.bare && (entry.prunable || !fs.existsSync(entry.path));
    const base = record.base;
    const owner = parseLockOwner(entry.lockedReason);
    const info: WorktreeInfo = {
      path: entry.path,
      branch: entry.branch,
      head: entry.head,
      detached: entry.detached,
      isMain,
      bare: entry.bare,
      managedByGrove: !!meta,
      ...(meta?.spare ? { spare: true } : {}),
      slug: meta?.slug,
      port: meta?.port,
      baseRef: base?.ref,
      baseCommit: base?.commit,
      ...(record.taskBranch ? { taskBranch: record.taskBranch } : {}),
      ...(record.instanceId ? { instanceId: record.instanceId } : {}),
      locked: entry.locked,
      lockedReason: entry.lockedReason,
      ...(owner ? { lockOwner: owner } : {}),
      stale,
    };
    if (!stale && !entry.bare) {
      const status = await uncommittedPaths(this.git, entry.path, signal);
      info.changedFiles = status.changed.length + status.untracked.length;
    }
    if (base && entry.head) {
      const baseRev = (await resolves(this.git, repoRoot, base.ref, signal)) ? base.ref : base.commit;
      if (baseRev) {
        const out = (await this.git.read(repoRoot, ['rev-list', '--left-right', '--count', `${baseRev}...${entry.head}`], { signal })).stdout.trim();
        const [behind, ahead] = out.split(/\s+/).map(Number);
        info.ahead = ahead;
        info.behind = behind;
      }
    }
    return info;
  }

  /**
   * Locks the worktree (`git worktree lock`) so that prune, another tool or a removal leaves it alone while an agent
   * runs. The reason records the owner (default: this process) — pid, host and start time — and a removal refuses
   * while that process lives. Pass the agent's own identity as `owner` when it outlives this process.
   */
  async lock(worktreePath: string, reason: string, options?: AbortSignal | LockOptions): Promise<void> {
    const { signal, owner } = isSignal(options) ? { signal: options, owner: undefined } : options ?? {};
    const text = formatLockReason(reason, owner ?? currentProcess(this.probe));
    await this.git.mutate(await this.gitDirFor(worktreePath, signal), ['worktree', 'lock', '--reason', text, worktreePath], { signal, adminOnly: true });
  }

  async unlock(worktreePath: string, signal?: AbortSignal): Promise<void> {
    await this.git.mutate(await this.gitDirFor(worktreePath, signal), ['worktree', 'unlock', worktreePath], { signal, adminOnly: true });
  }

  /**
   * Where to run a command about one worktree. Its own folder, when it exists: git finds the repository from there
   * (and the mutation queue is the repository's). Only a worktree whose folder is gone needs the lookup.
   */
  private async gitDirFor(worktreePath: string, signal?: AbortSignal): Promise<string> {
    if (fs.existsSync(path.join(worktreePath, '.git'))) return worktreePath;
    return (await locate(this.git, this.facts, worktreePath, undefined, signal)).repoRoot;
  }

  /** Drops the records of worktrees whose folder was deleted by hand; returns their paths. */
  async prune(repoRoot: string, signal?: AbortSignal): Promise<string[]> {
    const stale = (await this.list(repoRoot, signal)).filter((w) => w.stale && !w.locked).map((w) => w.path);
    await this.git.mutate(repoRoot, ['worktree', 'prune'], { signal });
    return stale;
  }

  /** Lists exactly what removing the worktree would lose (see {@link RemovalReport}). */
  async inspectRemoval(worktreePath: string, options: { repoRoot?: string; signal?: AbortSignal } = {}): Promise<RemovalReport> {
    return (await inspect(this.removalContext(), worktreePath, options)).report;
  }

  /**
   * Removes a worktree. Refuses with GitError `WouldLoseWork` (details: the {@link RemovalReport}) when anything
   * would be lost, unless `force` (the user saw the list and confirmed). Refuses `IsMainWorktree` for the main
   * worktree, and `WorktreeLocked` for a lock Grove did not take or a Grove lock whose process still runs (the
   * message says which). Unlocks a dead process's lock first. Deletes the task branch per `deleteBranch` (default
   * `ifMerged`: an unmerged branch is kept and the result says why), after `beforeDeleteBranch` (default: a backup
   * ref `refs/grove/backup/<branch>/<tip>`).
   */
  remove(worktreePath: string, options: RemoveOptions = {}): Promise<RemoveResult> {
    return removeWorktree(this.removalContext(), worktreePath, options);
  }

  private removalContext() {
    return { git: this.git, facts: this.facts, logger: this.logger, probe: this.probe };
  }
}

function isSignal(x: unknown): x is AbortSignal {
  return typeof AbortSignal !== 'undefined' && x instanceof AbortSignal;
}
