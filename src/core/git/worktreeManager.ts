/**
 * The worktree engine: resolve a repository, create and provision worktrees (in parallel, safely), list them,
 * lock them while an agent runs, and remove them without ever losing work silently.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import { slugify, withSuffix } from '../util/slug';
import type { GitClient, LockedRepository } from './gitClient';
import { GitError, isGitError } from './gitError';
import {
  DEFAULT_PORT_BASE,
  allocatePort,
  copyIncludedFiles,
  isInside,
  normalizePath,
  readAdminDirs,
  readMetadata,
  runSetupCommand,
  writeMetadata,
} from './provisioner';
import { parseStatus, parseWorktreeList, type WorktreeEntry } from './worktreeParser';

/** Lock reasons Grove writes start with this, so Grove only ever unlocks its own locks. */
export const GROVE_LOCK_PREFIX = 'grove: ';

export interface RepositoryInfo {
  /** Top level of the worktree containing the given path. */
  root: string;
  /** The repository's main worktree (where `.git` is a folder). */
  mainWorktree: string;
  /** Absolute real path of the git common dir (shared by all worktrees). */
  commonDir: string;
  /** Current branch, or undefined when HEAD is detached. */
  branch?: string;
  detached: boolean;
  head?: string;
  hasCommits: boolean;
  isBare: boolean;
}

export interface CreateWorktreeOptions {
  /** Any folder inside the repository's working tree. */
  repoRoot: string;
  /** Free text (a task title); turned into a safe slug. Never reaches a shell or an option position. */
  title: string;
  /** Branch, tag or commit to start from; the current branch by default. Required when HEAD is detached. */
  baseRef?: string;
  /** Branch name prefix; the branch is `<prefix>/<slug>`. */
  branchPrefix?: string;
  /** Parent folder of the worktrees; may contain `${repoParent}` and `${repoName}`; relative = to the repo. */
  worktreeRoot?: string;
  /** gitignore-style patterns of untracked files to copy from the repository into the new worktree. */
  copyFiles?: readonly string[];
  /** The user's setup command (e.g. `npm ci`), run through the shell in the new worktree. */
  setupCommand?: string;
  /** Extra environment for the setup command. */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Output of submodule initialisation and of the setup command, as it arrives. */
  onOutput?: (chunk: string) => void;
}

export interface CreatedWorktree {
  path: string;
  branch: string;
  slug: string;
  baseRef: string;
  baseCommit: string;
  /** Port for the worktree's dev servers, also exported to the setup command as `GROVE_PORT`. */
  port: number;
  /** Relative paths copied from the repository (folders end with `/`). */
  copiedFiles: string[];
  /**
   * True when the setup command exited non-zero. The worktree is then KEPT (so the user can inspect it and
   * read the log) and `create` resolves rather than rejects; the caller marks the instance failed.
   */
  setupFailed: boolean;
  /** Exit code of the setup command (null if it was ended by a signal); absent when there was none. */
  setupExitCode?: number | null;
}

export interface WorktreeInfo {
  path: string;
  branch?: string;
  head?: string;
  detached: boolean;
  isMain: boolean;
  bare: boolean;
  managedByGrove: boolean;
  slug?: string;
  port?: number;
  baseRef?: string;
  baseCommit?: string;
  /** Commits on the branch not in its base / in the base not on the branch; undefined without a base. */
  ahead?: number;
  behind?: number;
  /** Uncommitted (staged or not) plus untracked files; undefined when the folder is gone. */
  changedFiles?: number;
  locked: boolean;
  lockedReason?: string;
  /** The folder was deleted by hand; `prune` cleans it up. */
  stale: boolean;
}

export interface CommitSummary {
  sha: string;
  subject: string;
}

/** Exactly what removing a worktree (and, with it, possibly its branch) would lose. */
export interface RemovalReport {
  path: string;
  branch?: string;
  baseRef?: string;
  isMain: boolean;
  stale: boolean;
  locked: boolean;
  lockedReason?: string;
  /** Modified, staged, deleted or conflicted tracked files. */
  uncommitted: string[];
  /** Untracked files that are not git-ignored (ignored files such as `node_modules` are not counted). */
  untracked: string[];
  /**
   * Commits on the branch not in its base. Without a recorded base (worktrees made outside Grove), and for a
   * detached HEAD, the commits reachable from no other branch, remote-tracking branch or tag.
   */
  commits: CommitSummary[];
  /** The branch's tip is contained in its base (deleting the branch loses nothing). */
  merged: boolean;
  /** Anything at all in the three lists above. */
  hasLoss: boolean;
}

export interface RemoveOptions {
  /** The user confirmed the loss listed by {@link WorktreeManager.inspectRemoval}. */
  force?: boolean;
  /** `ifMerged` (default): delete the branch only when its tip is in its base. */
  deleteBranch?: 'ifMerged' | 'always' | 'never';
  /** The repository, needed only when the worktree folder is gone and lies outside the repository. */
  repoRoot?: string;
  signal?: AbortSignal;
}

export interface RemoveResult {
  path: string;
  branch?: string;
  branchDeleted: boolean;
  /** Why the branch was kept, when it was. */
  branchKeptReason?: string;
}

export interface WorktreeManagerOptions {
  logger?: Logger;
  /** First port handed out (default 41000). */
  portBase?: number;
}

export class WorktreeManager {
  private readonly logger: Logger;
  private readonly portBase: number;

  constructor(
    private readonly git: GitClient,
    options: WorktreeManagerOptions = {},
  ) {
    this.logger = options.logger ?? nullLogger;
    this.portBase = options.portBase ?? DEFAULT_PORT_BASE;
  }

  /**
   * Describes the repository containing `folder`. Throws a GitError `NotFound` when the folder does not exist
   * and `NotAGitRepository` when it is not inside a repository; a bare repository, no commits and a detached
   * HEAD are reported in the result (`create` turns them into clear errors).
   */
  async resolveRepository(folder: string, signal?: AbortSignal): Promise<RepositoryInfo> {
    if (!fs.existsSync(folder)) {
      throw new GitError(`Folder does not exist: ${folder}`, { code: 'NotFound' });
    }
    let first: string;
    try {
      first = (await this.git.read(folder, ['rev-parse', '--is-bare-repository', '--path-format=absolute', '--git-common-dir'], { signal })).stdout;
    } catch (err) {
      if (isGitError(err, 'NotAGitRepository')) {
        throw new GitError(`${folder} is not inside a git repository. Open a folder under git, or run \`git init\` and commit first.`, {
          code: 'NotAGitRepository', args: err.args, exitCode: err.exitCode, stderr: err.stderr, cause: err,
        });
      }
      throw err;
    }
    const [bareLine, commonDirLine] = first.trim().split(/\r?\n/);
    const commonDir = normalizePath(commonDirLine ?? '');
    const isBare = bareLine === 'true';
    let root = commonDir;
    if (!isBare) root = normalizePath((await this.git.read(folder, ['rev-parse', '--show-toplevel'], { signal })).stdout.trim());
    const headResult = await this.git.read(folder, ['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { signal, okExitCodes: [1] });
    const head = headResult.exitCode === 0 ? headResult.stdout.trim() : undefined;
    const branchResult = await this.git.read(folder, ['symbolic-ref', '-q', '--short', 'HEAD'], { signal, okExitCodes: [1] });
    const branch = branchResult.exitCode === 0 ? branchResult.stdout.trim() : undefined;
    let mainWorktree = root;
    if (!isBare) {
      const entries = parseWorktreeList((await this.git.read(folder, ['worktree', 'list', '--porcelain', '-z'], { signal })).stdout);
      if (entries[0] && !entries[0].bare) mainWorktree = normalizePath(entries[0].path);
    }
    return { root, mainWorktree, commonDir, branch, detached: !branch, head, hasCommits: !!head, isBare };
  }

  /**
   * Creates branch `<prefix>/<slug>` and its worktree from the base, records the base, then provisions it
   * (copy files, submodules, setup command with `GROVE_PORT`).
   *
   * Atomicity: choosing the name, `git worktree add` and recording metadata run under the repository's
   * mutation queue, so any number of concurrent creates get distinct names without lock errors. Any failure
   * or abort up to and including provisioning rolls back everything this call created (worktree folder,
   * admin dir, branch, metadata, an empty worktree root folder) and rejects with a GitError (code
   * `Cancelled` on abort); folders and branches that existed before are never touched — an existing name is
   * skipped with `-2`, `-3`…
   *
   * Exception: a setup command that exits non-zero keeps the worktree and resolves with
   * `setupFailed: true` and `setupExitCode`, so the user can inspect it.
   */
  async create(options: CreateWorktreeOptions): Promise<CreatedWorktree> {
    const { signal, onOutput = () => {} } = options;
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    const repo = await this.resolveRepository(options.repoRoot, signal);
    if (repo.isBare) {
      throw new GitError(`${options.repoRoot} is a bare repository: Grove needs a repository with a working tree.`, { code: 'BareRepository' });
    }
    if (!repo.hasCommits) {
      throw new GitError(`The repository at ${repo.root} has no commits yet: make a first commit, then create worktrees from it.`, { code: 'NoCommits' });
    }
    const baseRef = options.baseRef ?? repo.branch;
    if (!baseRef) {
      throw new GitError(`HEAD is detached in ${repo.root}: choose the branch to start from explicitly.`, { code: 'DetachedHead' });
    }
    if (baseRef.startsWith('-')) throw new GitError(`Invalid base: ${baseRef}`, { code: 'NotFound' });
    const baseResult = await this.git.read(repo.root, ['rev-parse', '--verify', '-q', `${baseRef}^{commit}`], { signal, okExitCodes: [1] });
    if (baseResult.exitCode !== 0) {
      throw new GitError(`The base '${baseRef}' does not exist in ${repo.root}.`, { code: 'NotFound' });
    }
    const baseCommit = baseResult.stdout.trim();
    const prefix = (options.branchPrefix ?? 'grove').replace(/^\/+|\/+$/g, '');
    const worktreeRoot = this.resolveWorktreeRoot(options.worktreeRoot, repo);
    const baseSlug = slugify(options.title);

    const state: RollbackState = { commonDir: repo.commonDir };
    const created = await this.git.exclusive(repo.root, async (locked) => {
      try {
        return await this.addWorktree(locked, repo, { prefix, baseSlug, baseRef, baseCommit, worktreeRoot, signal }, state);
      } catch (err) {
        await this.rollback(locked, repo.root, state);
        throw err;
      }
    }, signal);

    try {
      const copiedFiles = await copyIncludedFiles(this.git, repo.root, created.path, options.copyFiles ?? [], signal);
      if (fs.existsSync(path.join(created.path, '.gitmodules'))) {
        await this.git.exclusive(repo.root, (locked) =>
          locked.run(created.path, ['submodule', 'update', '--init', '--recursive'], { signal, onOutput }),
        signal);
      }
      let setupFailed = false;
      let setupExitCode: number | null | undefined;
      if (options.setupCommand?.trim()) {
        onOutput(`$ ${options.setupCommand}\n`);
        const env = { ...process.env, ...options.env, GROVE_PORT: String(created.port), GROVE_WORKTREE: created.path, GROVE_BRANCH: created.branch };
        const result = await runSetupCommand(options.setupCommand, created.path, env, onOutput, signal);
        setupExitCode = result.exitCode;
        setupFailed = result.exitCode !== 0;
        if (setupFailed) {
          this.logger.warn(`setup command failed in ${created.path} (exit ${result.exitCode ?? result.signal}); worktree kept for inspection`);
        }
      }
      return { ...created, copiedFiles, setupFailed, ...(setupExitCode !== undefined ? { setupExitCode } : {}) };
    } catch (err) {
      await this.git.exclusive(repo.root, (locked) => this.rollback(locked, repo.root, state));
      if (signal?.aborted && !isGitError(err, 'Cancelled')) throw new GitError('Cancelled', { code: 'Cancelled', cause: err });
      throw err;
    }
  }

  private async addWorktree(
    locked: LockedRepository,
    repo: RepositoryInfo,
    o: { prefix: string; baseSlug: string; baseRef: string; baseCommit: string; worktreeRoot: string; signal?: AbortSignal },
    state: RollbackState,
  ): Promise<Omit<CreatedWorktree, 'copiedFiles' | 'setupFailed' | 'setupExitCode'>> {
    const { signal } = o;
    if (fs.existsSync(o.worktreeRoot) && !fs.statSync(o.worktreeRoot).isDirectory()) {
      throw new GitError(`The worktree folder ${o.worktreeRoot} exists and is not a folder.`, { code: 'PathExists' });
    }
    const refs = (await locked.run(repo.root, ['for-each-ref', '--format=%(refname)', 'refs/heads/'], { signal })).stdout
      .split(/\r?\n/).filter(Boolean).map((r) => r.slice('refs/heads/'.length));
    const branches = new Set(refs);
    // `a/b` cannot coexist with a branch `a` or `a/b/c` (refs are files and folders).
    const taken = (b: string) => branches.has(b) || refs.some((r) => r.startsWith(`${b}/`) || b.startsWith(`${r}/`));
    let slug = '';
    let branch = '';
    let wtPath = '';
    for (let n = 1; ; n++) {
      if (n > 1000) throw new GitError(`No free name for '${o.baseSlug}'`, { code: 'BranchExists' });
      slug = withSuffix(o.baseSlug, n);
      branch = o.prefix ? `${o.prefix}/${slug}` : slug;
      wtPath = path.join(o.worktreeRoot, slug);
      if (taken(branch) && o.prefix && refs.some((r) => `${o.prefix}/`.startsWith(`${r}/`))) {
        throw new GitError(`A branch named '${o.prefix}' exists, so no branch '${o.prefix}/…' can be created; change the branch prefix.`, { code: 'BranchExists' });
      }
      if (!taken(branch) && !fs.existsSync(wtPath)) break;
    }
    const check = await locked.run(repo.root, ['check-ref-format', '--branch', branch], { signal, okExitCodes: [1, 128] });
    if (check.exitCode !== 0) {
      throw new GitError(`'${branch}' is not a valid branch name; check the branch prefix '${o.prefix}'.`, { code: 'InvalidBranchName' });
    }
    if (isInside(repo.mainWorktree, o.worktreeRoot) || isInside(repo.root, o.worktreeRoot)) {
      await this.excludeFromRepository(repo, o.worktreeRoot);
    }
    const firstCreated = await fs.promises.mkdir(o.worktreeRoot, { recursive: true });
    if (firstCreated) state.createdRoot = firstCreated;
    const port = await allocatePort(repo.commonDir, this.portBase);

    state.branch = branch;
    state.path = wtPath;
    // `--no-track`: a base such as `origin/main` must not become the agent branch's upstream (a later
    // `git push` would target main). The base commit, not the ref, so that what we record is what we used.
    await locked.run(repo.root, ['worktree', 'add', '--no-track', '-b', branch, wtPath, o.baseCommit], { signal });
    await locked.run(repo.root, ['config', `branch.${branch}.groveBase`, o.baseRef], { signal });
    await locked.run(repo.root, ['config', `branch.${branch}.groveBaseCommit`, o.baseCommit], { signal });
    const adminDir = (await readAdminDirs(repo.commonDir)).get(normalizePath(wtPath));
    if (!adminDir) throw new GitError(`git did not register the worktree ${wtPath}`, { code: 'Unknown' });
    await writeMetadata(adminDir, {
      version: 1, managedBy: 'grove', slug, branch, baseRef: o.baseRef, baseCommit: o.baseCommit, port, createdAt: Date.now(),
    });
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    this.logger.info(`created worktree ${wtPath} on ${branch} from ${o.baseRef} (${o.baseCommit.slice(0, 8)}), port ${port}`);
    return { path: normalizePath(wtPath), branch, slug, baseRef: o.baseRef, baseCommit: o.baseCommit, port };
  }

  /** Undoes what `create` made, and only that: the state names a path and branch verified absent before. */
  private async rollback(locked: LockedRepository, repoRoot: string, state: RollbackState): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    if (state.path) {
      const wtPath = state.path;
      const adminDir = (await readAdminDirs(state.commonDir)).get(normalizePath(wtPath));
      if (adminDir && fs.existsSync(wtPath)) {
        await attempt(() => locked.run(repoRoot, ['worktree', 'remove', '--force', '--force', wtPath]));
      }
      // Whatever git left behind (an abort mid-checkout leaves a locked, half-made admin dir).
      const leftover = (await readAdminDirs(state.commonDir)).get(normalizePath(wtPath));
      if (leftover) await attempt(() => fs.promises.rm(leftover, { recursive: true, force: true }));
      await attempt(() => fs.promises.rm(wtPath, { recursive: true, force: true }));
    }
    if (state.branch) {
      const exists = await locked.run(repoRoot, ['rev-parse', '--verify', '-q', `refs/heads/${state.branch}`], { okExitCodes: [1] });
      if (exists.exitCode === 0) await attempt(() => locked.run(repoRoot, ['branch', '-D', state.branch!]));
      await attempt(() => locked.run(repoRoot, ['config', '--remove-section', `branch.${state.branch}`], { okExitCodes: [1, 128] }));
    }
    if (state.createdRoot) {
      // Only if empty: other worktrees may have been created in it meanwhile.
      await fs.promises.rmdir(state.createdRoot).catch(() => undefined);
    }
    for (const err of errors) this.logger.warn(`rollback step failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  private resolveWorktreeRoot(setting: string | undefined, repo: RepositoryInfo): string {
    const main = repo.mainWorktree;
    const repoParent = path.dirname(main);
    const repoName = path.basename(main);
    if (!setting?.trim()) return path.join(repoParent, `${repoName}.worktrees`);
    let expanded = setting.trim().replace(/\$\{repoParent\}/g, repoParent).replace(/\$\{repoName\}/g, repoName);
    if (expanded === '~' || expanded.startsWith('~/') || expanded.startsWith('~\\')) expanded = path.join(os.homedir(), expanded.slice(1));
    return path.resolve(main, expanded);
  }

  /** Adds the worktree root to `<commonDir>/info/exclude` (not .gitignore: that is the user's file). */
  private async excludeFromRepository(repo: RepositoryInfo, worktreeRoot: string): Promise<void> {
    const base = isInside(repo.mainWorktree, worktreeRoot) ? repo.mainWorktree : repo.root;
    const rel = path.relative(base, worktreeRoot).split(path.sep).join('/');
    const line = `/${rel}/`;
    const file = path.join(repo.commonDir, 'info', 'exclude');
    const current = fs.existsSync(file) ? await fs.promises.readFile(file, 'utf8') : '';
    if (current.split(/\r?\n/).includes(line)) return;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const sep = current && !current.endsWith('\n') ? '\n' : '';
    await fs.promises.appendFile(file, `${sep}# Grove worktrees\n${line}\n`);
  }

  /** Every worktree of the repository with its state; per-worktree reads run concurrently. */
  async list(repoRoot: string, signal?: AbortSignal): Promise<WorktreeInfo[]> {
    const commonDir = await this.git.commonDir(repoRoot, signal);
    const entries = await this.entries(repoRoot, signal);
    const adminDirs = await readAdminDirs(commonDir);
    return Promise.all(entries.map((entry, index) => this.describe(repoRoot, entry, index === 0, adminDirs, signal)));
  }

  private async entries(repoRoot: string, signal?: AbortSignal): Promise<WorktreeEntry[]> {
    return parseWorktreeList((await this.git.read(repoRoot, ['worktree', 'list', '--porcelain', '-z'], { signal })).stdout);
  }

  private async describe(repoRoot: string, entry: WorktreeEntry, isMain: boolean, adminDirs: Map<string, string>, signal?: AbortSignal): Promise<WorktreeInfo> {
    const meta = await readMetadata(adminDirs.get(normalizePath(entry.path)));
    const stale = !entry.bare && (entry.prunable || !fs.existsSync(entry.path));
    const base = await this.baseOf(repoRoot, entry.branch, meta, signal);
    const info: WorktreeInfo = {
      path: entry.path,
      branch: entry.branch,
      head: entry.head,
      detached: entry.detached,
      isMain,
      bare: entry.bare,
      managedByGrove: !!meta,
      slug: meta?.slug,
      port: meta?.port,
      baseRef: base?.ref,
      baseCommit: base?.commit,
      locked: entry.locked,
      lockedReason: entry.lockedReason,
      stale,
    };
    if (!stale && !entry.bare) {
      const status = await this.status(entry.path, signal);
      info.changedFiles = status.changed.length + status.untracked.length;
    }
    if (base && entry.head) {
      const baseRev = (await this.resolves(repoRoot, base.ref, signal)) ? base.ref : base.commit;
      if (baseRev) {
        const out = (await this.git.read(repoRoot, ['rev-list', '--left-right', '--count', `${baseRev}...${entry.head}`], { signal })).stdout.trim();
        const [behind, ahead] = out.split(/\s+/).map(Number);
        info.ahead = ahead;
        info.behind = behind;
      }
    }
    return info;
  }

  private async baseOf(repoRoot: string, branch: string | undefined, meta: { baseRef: string; baseCommit: string } | undefined, signal?: AbortSignal) {
    if (meta) return { ref: meta.baseRef, commit: meta.baseCommit };
    if (!branch) return undefined;
    // Worktrees whose admin dir lost grove.json (or branches Grove made, checked out by hand) keep their base
    // in the branch's config.
    const ref = await this.git.read(repoRoot, ['config', '--get', `branch.${branch}.groveBase`], { signal, okExitCodes: [1] });
    if (ref.exitCode !== 0) return undefined;
    const commit = await this.git.read(repoRoot, ['config', '--get', `branch.${branch}.groveBaseCommit`], { signal, okExitCodes: [1] });
    return { ref: ref.stdout.trim(), commit: commit.exitCode === 0 ? commit.stdout.trim() : '' };
  }

  private async resolves(repoRoot: string, rev: string, signal?: AbortSignal): Promise<boolean> {
    if (!rev || rev.startsWith('-')) return false;
    return (await this.git.read(repoRoot, ['rev-parse', '--verify', '-q', `${rev}^{commit}`], { signal, okExitCodes: [1] })).exitCode === 0;
  }

  private async status(worktreePath: string, signal?: AbortSignal) {
    const { stdout } = await this.git.read(worktreePath, ['-c', 'core.quotepath=false', 'status', '--porcelain=v1', '-z', '--no-renames', '--untracked-files=all'], { signal });
    return parseStatus(stdout);
  }

  private async find(worktreePath: string, signal?: AbortSignal, repoRoot?: string): Promise<{ repoRoot: string; info: WorktreeInfo }> {
    const target = normalizePath(worktreePath);
    // A stale worktree's folder is gone: then git is asked from the closest existing ancestor, which is
    // inside the repository when the worktree root is (and otherwise the lookup fails with NotFound).
    let probe = repoRoot && fs.existsSync(repoRoot) ? repoRoot : worktreePath;
    while (!fs.existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
    const inRepo = await this.git.read(probe, ['rev-parse', '--git-common-dir'], { signal }).then(() => true, () => false);
    if (!inRepo) throw new GitError(`${worktreePath} is not a worktree of a git repository.`, { code: 'NotFound' });
    const list = await this.list(probe, signal);
    const info = list.find((w) => normalizePath(w.path) === target);
    if (!info) throw new GitError(`${worktreePath} is not a worktree of this repository.`, { code: 'NotFound' });
    return { repoRoot: normalizePath(list[0]?.path ?? probe), info };
  }

  /** Locks the worktree (`git worktree lock`) so that prune or another tool leaves it alone while an agent runs. */
  async lock(worktreePath: string, reason: string, signal?: AbortSignal): Promise<void> {
    await this.git.mutate(await this.gitDirFor(worktreePath, signal), ['worktree', 'lock', '--reason', `${GROVE_LOCK_PREFIX}${reason}`, worktreePath], { signal });
  }

  async unlock(worktreePath: string, signal?: AbortSignal): Promise<void> {
    await this.git.mutate(await this.gitDirFor(worktreePath, signal), ['worktree', 'unlock', worktreePath], { signal });
  }

  /**
   * Where to run a command about one worktree. Its own folder, when it exists: git finds the repository from there
   * (and the mutation queue is the repository's). Only a worktree whose folder is gone needs the full lookup, which
   * lists every worktree with its status — too costly to do each time an agent starts or ends (measured: quadratic
   * in the number of agents, see docs/benchmarks.md).
   */
  private async gitDirFor(worktreePath: string, signal?: AbortSignal): Promise<string> {
    if (fs.existsSync(path.join(worktreePath, '.git'))) return worktreePath;
    return (await this.find(worktreePath, signal)).repoRoot;
  }

  /** Drops the records of worktrees whose folder was deleted by hand; returns their paths. */
  async prune(repoRoot: string, signal?: AbortSignal): Promise<string[]> {
    const stale = (await this.list(repoRoot, signal)).filter((w) => w.stale && !w.locked).map((w) => w.path);
    await this.git.mutate(repoRoot, ['worktree', 'prune'], { signal });
    return stale;
  }

  /** Lists exactly what removing the worktree would lose. */
  async inspectRemoval(worktreePath: string, options: { repoRoot?: string; signal?: AbortSignal } = {}): Promise<RemovalReport> {
    const { signal } = options;
    const { repoRoot, info } = await this.find(worktreePath, signal, options.repoRoot);
    const status = info.stale || info.bare ? { changed: [], untracked: [] } : await this.status(info.path, signal);
    let commits: CommitSummary[] = [];
    let merged = false;
    const tip = info.branch ? `refs/heads/${info.branch}` : info.head;
    if (tip && !info.isMain) {
      const baseRev = info.baseRef && (await this.resolves(repoRoot, info.baseRef, signal)) ? info.baseRef : info.baseCommit;
      const range = baseRev
        ? [tip, '--not', baseRev]
        : [tip, '--not', ...(info.branch ? [`--exclude=refs/heads/${info.branch}`] : []), '--branches', '--remotes', '--tags'];
      const log = await this.git.read(repoRoot, ['log', '--format=%H%x00%s%x00', ...range], { signal });
      const fields = log.stdout.split('\0');
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const sha = fields[i]!.trim();
        if (sha) commits.push({ sha, subject: fields[i + 1]! });
      }
      merged = !!baseRev && commits.length === 0;
    }
    if (info.isMain) commits = [];
    return {
      path: info.path,
      branch: info.branch,
      baseRef: info.baseRef,
      isMain: info.isMain,
      stale: info.stale,
      locked: info.locked,
      lockedReason: info.lockedReason,
      uncommitted: status.changed,
      untracked: status.untracked,
      commits,
      merged,
      hasLoss: status.changed.length + status.untracked.length + commits.length > 0,
    };
  }

  /**
   * Removes a worktree. Refuses with GitError `WouldLoseWork` (details: the {@link RemovalReport}) when it has
   * uncommitted or untracked files or its branch holds commits not in its base, unless `force` (the user saw
   * the list and confirmed). Refuses `IsMainWorktree` for the main worktree and `WorktreeLocked` for a lock
   * Grove did not take. Unlocks Grove's own lock first. Deletes the branch per `deleteBranch` (default
   * `ifMerged`: an unmerged branch is kept and the result says why).
   */
  async remove(worktreePath: string, options: RemoveOptions = {}): Promise<RemoveResult> {
    const { signal, force = false, deleteBranch = 'ifMerged' } = options;
    const report = await this.inspectRemoval(worktreePath, { signal, repoRoot: options.repoRoot });
    if (report.isMain) throw new GitError(`${report.path} is the repository's main worktree; it cannot be removed.`, { code: 'IsMainWorktree' });
    if (report.locked && !report.lockedReason?.startsWith(GROVE_LOCK_PREFIX)) {
      throw new GitError(`${report.path} is locked${report.lockedReason ? ` (${report.lockedReason})` : ''} by something other than Grove; unlock it first.`, { code: 'WorktreeLocked', details: report });
    }
    if (report.hasLoss && !force) {
      throw new GitError(describeLoss(report), { code: 'WouldLoseWork', details: report });
    }
    const { repoRoot } = await this.find(worktreePath, signal, options.repoRoot);
    return this.git.exclusive(repoRoot, async (locked) => {
      if (report.locked) await locked.run(repoRoot, ['worktree', 'unlock', report.path], { signal });
      if (report.stale) {
        await locked.run(repoRoot, ['worktree', 'prune'], { signal });
      } else {
        await locked.run(repoRoot, ['worktree', 'remove', ...(force ? ['--force'] : []), report.path], { signal });
      }
      const result: RemoveResult = { path: report.path, branch: report.branch, branchDeleted: false };
      if (!report.branch) return result;
      if (deleteBranch === 'never') {
        result.branchKeptReason = 'kept as asked';
      } else if (deleteBranch === 'ifMerged' && !report.merged) {
        result.branchKeptReason = report.baseRef ? `not merged into ${report.baseRef}` : 'no recorded base to check it is merged';
      } else {
        try {
          await locked.run(repoRoot, ['branch', '-D', report.branch], { signal });
          result.branchDeleted = true;
        } catch (err) {
          result.branchKeptReason = err instanceof Error ? err.message : String(err);
        }
      }
      return result;
    }, signal);
  }
}

interface RollbackState {
  commonDir: string;
  createdRoot?: string;
  path?: string;
  branch?: string;
}

function describeLoss(r: RemovalReport): string {
  const parts: string[] = [];
  const list = (items: string[]) => items.slice(0, 10).join(', ') + (items.length > 10 ? `, … (${items.length - 10} more)` : '');
  if (r.uncommitted.length) parts.push(`${r.uncommitted.length} uncommitted file(s): ${list(r.uncommitted)}`);
  if (r.untracked.length) parts.push(`${r.untracked.length} untracked file(s): ${list(r.untracked)}`);
  if (r.commits.length) {
    parts.push(`${r.commits.length} commit(s) not in ${r.baseRef ?? 'any other branch'}: ${list(r.commits.map((c) => `${c.sha.slice(0, 8)} ${c.subject}`))}`);
  }
  return `Removing ${r.path} would lose ${parts.join('; ')}.`;
}
