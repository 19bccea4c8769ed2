/**
 * Creating a worktree: choose a free name, create the branch and the worktree, record what Grove needs, provision.
 *
 * Safety across processes (the extension, `grove dispatch`, a second window may create at the same moment):
 * - Choosing the name and `git worktree add` run under the repository's in-process mutation queue AND the
 *   cross-process creation lock file (creationLock.ts), never during provisioning.
 * - This call owns a folder or branch only after it claimed it atomically: the folder with a non-recursive `mkdir`
 *   (fails if it exists), the branch with `git update-ref refs/heads/<b> <commit> ""` (fails if it exists). A name
 *   someone else took in between is skipped; a rollback removes only what this call owns — never another
 *   process's worktree or branch — and deletes its branch only while it still points where it was created.
 * - Nothing is written to the shared `.git/config` (which contended on `config.lock` across processes and whose keys
 *   tripped simple-git's guard); records are files (worktreeRecords.ts).
 *
 * Git processes per create: one `for-each-ref`, one `update-ref`, one `worktree add` (plus the repository facts the
 * first time, see repositoryFacts.ts, and a `rev-parse` only for a base that is not a plain branch name).
 *
 * The same code makes the warm pool's spares ({@link createSpare}, worktreePool.ts): no branch, `worktree add
 * --detach` at the base's tip, folder `spare`, `spare-2`…, recorded as a spare, provisioned the same way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../util/logger';
import type { ProcessIdentity, ProcessProbe } from '../platform/processes';
import { isInside, normalizePath } from '../util/fsPaths';
import { slugify, withSuffix } from '../util/slug';
import { isValidBranchName, validateBranchPrefix } from '../util/branchNames';
import { creationLockFile, withFileLock } from './creationLock';
import type { GitClient, LockedRepository } from './gitClient';
import { GitError, isGitError } from './gitError';
import { DEFAULT_PORT_BASE, allocatePort, copyIncludedFiles, runSetupCommand } from './provisioner';
import { listRefs, localBranches, readHeadFile, readHeadWithGit, resolveFromRefs, type Head, type RefMap, type RepositoryFacts, type RepositoryFactsEntry } from './repositoryFacts';
import { adminDirOf, deleteBranchRecord, readAdminDirs, readMetadata, recipeOf, stamps, writeBranchRecord, writeMetadata, type WorktreeMetadata } from './worktreeRecords';
import { uncommittedPaths } from './worktreeState';
import type { CreateWorktreeOptions, CreatedWorktree } from './worktreeTypes';

export interface CreateContext {
  git: GitClient;
  facts: RepositoryFacts;
  logger: Logger;
  portBase?: number;
  probe?: ProcessProbe;
  lockTimeoutMs?: number;
}

type Added = Omit<CreatedWorktree, 'copiedFiles' | 'setupFailed' | 'setupExitCode'>;

interface RollbackState {
  commonDir: string;
  /** The first folder this call created for the worktree root (removed only if empty). */
  createdRoot?: string;
  /** The worktree folder this call claimed (created empty). */
  path?: string;
  /** The branch this call created, and the commit it created it at. */
  branch?: string;
  branchTip?: string;
  /** The new worktree's admin dir. */
  adminDir?: string;
}

/** How a spare of the warm pool is made (see worktreePool.ts). */
export interface SpareMode {
  /** This process, recorded while it provisions the spare. */
  filler: ProcessIdentity;
  /** Asked under the creation lock: false when the pool is full already (another process filled it meanwhile). */
  admit(): Promise<boolean>;
}

const cancelled = (cause?: unknown) => new GitError('Cancelled', { code: 'Cancelled', cause });

export async function createWorktree(ctx: CreateContext, options: CreateWorktreeOptions): Promise<CreatedWorktree> {
  return (await make(ctx, options))!;
}

/**
 * A spare for the warm pool: a detached worktree at the base's tip, provisioned like a task's (a failed setup command
 * removes it and rejects: a spare is never kept for inspection). Undefined when `spare.admit()` said the pool is full.
 */
export function createSpare(ctx: CreateContext, options: Omit<CreateWorktreeOptions, 'title' | 'instanceId' | 'branchPrefix'>, spare: SpareMode): Promise<CreatedWorktree | undefined> {
  return make(ctx, { ...options, title: 'spare' }, spare);
}

async function make(ctx: CreateContext, options: CreateWorktreeOptions, spare?: SpareMode): Promise<CreatedWorktree | undefined> {
  const { signal, onOutput = () => {} } = options;
  if (signal?.aborted) throw cancelled();
  const prefix = (options.branchPrefix ?? 'grove').trim().replace(/^\/+|\/+$/g, '');
  const prefixProblem = validateBranchPrefix(prefix);
  if (prefixProblem) throw new GitError(prefixProblem, { code: 'InvalidBranchName' });
  const facts = await ctx.facts.get(options.repoRoot, signal);
  if (facts.isBare) {
    throw new GitError(`${options.repoRoot} is a bare repository: Grove needs a repository with a working tree.`, { code: 'BareRepository' });
  }
  if (options.baseRef?.startsWith('-')) throw new GitError(`Invalid base: ${options.baseRef}`, { code: 'NotFound' });
  const worktreeRoot = resolveWorktreeRoot(options.worktreeRoot, facts.mainWorktree);
  const baseSlug = slugify(options.title);

  const state: RollbackState = { commonDir: facts.commonDir };
  const created = await ctx.git.exclusive(facts.root, (locked) => withFileLock(creationLockFile(facts.commonDir), async () => {
    try {
      return await addWorktree(ctx, locked, facts, { prefix, baseSlug, baseRef: options.baseRef, worktreeRoot, instanceId: options.instanceId, spare, signal }, state);
    } catch (err) {
      await rollback(ctx, locked, facts.root, state);
      throw err;
    }
  }, { probe: ctx.probe, signal, timeoutMs: ctx.lockTimeoutMs }), signal);
  if (!created) return undefined;

  try {
    const copiedFiles = await copyIncludedFiles(ctx.git, facts.root, created.path, options.copyFiles ?? [], signal);
    if (fs.existsSync(path.join(created.path, '.gitmodules'))) {
      await ctx.git.exclusive(facts.root, (locked) =>
        locked.run(created.path, ['submodule', 'update', '--init', '--recursive'], { signal, onOutput }),
      signal);
    }
    let setupFailed = false;
    let setupExitCode: number | null | undefined;
    if (options.setupCommand?.trim()) {
      onOutput(`$ ${options.setupCommand}\n`);
      const env = { ...process.env, ...options.env, GROVE_PORT: String(created.port), GROVE_WORKTREE: created.path, GROVE_BRANCH: created.branch, ...(spare ? { GROVE_SPARE: '1' } : {}) };
      const result = await runSetupCommand(options.setupCommand, created.path, env, onOutput, signal);
      setupExitCode = result.exitCode;
      setupFailed = result.exitCode !== 0;
      if (setupFailed && spare) {
        throw new GitError(`The setup command failed (exit ${result.exitCode ?? result.signal}) in a spare worktree, which was removed.`, { code: 'Unknown' });
      }
      if (setupFailed) {
        ctx.logger.warn(`setup command failed in ${created.path} (exit ${result.exitCode ?? result.signal}); worktree kept for inspection`);
      }
    }
    if (spare && state.adminDir) {
      const meta = await readMetadata(state.adminDir);
      if (!meta) throw new GitError(`The records of the spare ${created.path} are gone.`, { code: 'Unknown' });
      const left = await uncommittedPaths(ctx.git, created.path, signal);
      // What provisioning left, copies included: unchanged, none of it is work (spares.ts, worktreePool.ts).
      const leftovers = await stamps(created.path, [...left.changed, ...left.untracked, ...copiedFiles.filter((f) => !f.endsWith('/'))]);
      await writeMetadata(state.adminDir, { ...meta, spare: { ready: true, recipe: recipeOf(options), copiedFiles, ...(leftovers.length ? { leftovers } : {}) } });
    }
    return { ...created, copiedFiles, setupFailed, ...(setupExitCode !== undefined ? { setupExitCode } : {}) };
  } catch (err) {
    await ctx.git.exclusive(facts.root, (locked) => rollback(ctx, locked, facts.root, state));
    if (signal?.aborted && !isGitError(err, 'Cancelled')) throw cancelled(err);
    throw err;
  }
}

async function addWorktree(
  ctx: CreateContext,
  locked: LockedRepository,
  repo: RepositoryFactsEntry,
  o: { prefix: string; baseSlug: string; baseRef?: string; worktreeRoot: string; instanceId?: string; spare?: SpareMode; signal?: AbortSignal },
  state: RollbackState,
): Promise<Added | undefined> {
  const { signal } = o;
  if (o.spare && !(await o.spare.admit())) return undefined;
  const run = (args: string[], okExitCodes?: number[]) => locked.run(repo.root, args, { signal, ...(okExitCodes ? { okExitCodes } : {}) });
  const fileHead = readHeadFile(repo.gitDir);
  const head: Head = fileHead === 'unknown' ? await readHeadWithGit(ctx.git, repo.root, signal) : fileHead;
  const refs = await listRefs(run);
  const headCommit = head && ('ref' in head ? refs.get(head.ref) : head.detachedAt);
  if (!headCommit) {
    throw new GitError(`The repository at ${repo.root} has no commits yet: make a first commit, then create worktrees from it.`, { code: 'NoCommits' });
  }
  const baseRef = o.baseRef ?? (head && 'branch' in head ? head.branch : undefined);
  if (!baseRef) {
    throw new GitError(`HEAD is detached in ${repo.root}: choose the branch to start from explicitly.`, { code: 'DetachedHead' });
  }
  let baseCommit = resolveFromRefs(refs, baseRef);
  if (!baseCommit) {
    const r = await run(['rev-parse', '--verify', '-q', `${baseRef}^{commit}`], [1]);
    if (r.exitCode !== 0) throw new GitError(`The base '${baseRef}' does not exist in ${repo.root}.`, { code: 'NotFound' });
    baseCommit = r.stdout.trim();
  }
  if (fs.existsSync(o.worktreeRoot) && !fs.statSync(o.worktreeRoot).isDirectory()) {
    throw new GitError(`The worktree folder ${o.worktreeRoot} exists and is not a folder.`, { code: 'PathExists' });
  }
  const { existing, taken } = branchNames(refs, o.prefix, o.baseSlug);
  if (isInside(repo.mainWorktree, o.worktreeRoot) || isInside(repo.root, o.worktreeRoot)) {
    await excludeFromRepository(repo, o.worktreeRoot);
  }
  const firstCreated = await fs.promises.mkdir(o.worktreeRoot, { recursive: true });
  if (firstCreated) state.createdRoot = firstCreated;

  let slug = '';
  let branch = '';
  let wtPath = '';
  for (let n = 1; ; n++) {
    if (n > 1000) throw new GitError(`No free name for '${o.baseSlug}'`, { code: 'BranchExists' });
    slug = withSuffix(o.baseSlug, n);
    wtPath = path.join(o.worktreeRoot, slug);
    if (o.spare) {
      // No branch: the folder is the only claim.
      if (fs.existsSync(wtPath) || !(await claimFolder(wtPath))) continue;
      state.path = wtPath;
      break;
    }
    branch = o.prefix ? `${o.prefix}/${slug}` : slug;
    if (taken(branch) || fs.existsSync(wtPath)) continue;
    if (!(await claimFolder(wtPath))) continue;
    state.path = wtPath;
    const claim = await run(['update-ref', '-m', 'grove: create task branch', `refs/heads/${branch}`, baseCommit, ''], [128]);
    if (claim.exitCode === 0) {
      state.branch = branch;
      state.branchTip = baseCommit;
      break;
    }
    // Someone outside Grove's lock made this branch (or a clashing `a` / `a/b/c`) since the listing: next name.
    await fs.promises.rmdir(wtPath).catch(() => undefined);
    state.path = undefined;
    if (!/reference already exists|'refs\/heads\/[^']*' exists; cannot create/i.test(claim.stderr)) {
      const stderr = claim.stderr.trim();
      throw new GitError(stderr.split(/\r?\n/).slice(0, 5).join('\n') || `git update-ref failed for ${branch}`, { args: ['update-ref', `refs/heads/${branch}`], exitCode: claim.exitCode, stderr });
    }
    existing.add(branch);
  }
  const port = await allocatePort(repo.commonDir, ctx.portBase ?? DEFAULT_PORT_BASE);
  // The folder is ours and empty, which `worktree add` accepts; the branch exists already, so no `-b` (and no
  // upstream: a base such as `origin/main` must never become the agent branch's upstream).
  await run(o.spare ? ['worktree', 'add', '--detach', wtPath, baseCommit] : ['worktree', 'add', wtPath, branch]);
  const adminDir = await adminDirOf(wtPath);
  if (!adminDir || !isInside(path.join(repo.commonDir, 'worktrees'), adminDir)) {
    throw new GitError(`git did not register the worktree ${wtPath}`, { code: 'Unknown' });
  }
  state.adminDir = adminDir;
  const meta: WorktreeMetadata = {
    version: 1, managedBy: 'grove', slug, branch, baseRef, baseCommit, port, createdAt: Date.now(),
    ...(o.instanceId ? { instanceId: o.instanceId } : {}),
    ...(o.spare ? { spare: { ready: false, filler: o.spare.filler } } : {}),
  };
  await writeMetadata(adminDir, meta);
  if (!o.spare) await writeBranchRecord(repo.commonDir, meta);
  if (fs.existsSync(path.join(wtPath, '.gitmodules'))) {
    // `submodule init` writes submodule URLs to the shared config: under the creation lock, not with the clones.
    await locked.run(wtPath, ['submodule', 'init'], { signal });
  }
  if (signal?.aborted) throw cancelled();
  ctx.logger.info(`created ${o.spare ? 'spare ' : ''}worktree ${wtPath} on ${branch || 'a detached HEAD'} from ${baseRef} (${baseCommit.slice(0, 8)}), port ${port}`);
  return { path: normalizePath(wtPath), branch, slug, baseRef, baseCommit, port };
}

/**
 * The local branches, and whether a task branch name is taken (`a/b` cannot coexist with a branch `a` or `a/b/c`:
 * refs are files and folders). @throws GitError when no branch `<prefix>/<slug>` can be made at all.
 */
export function branchNames(refs: RefMap, prefix: string, baseSlug: string): { existing: Set<string>; taken(branch: string): boolean } {
  const branches = localBranches(refs);
  const existing = new Set(branches);
  const taken = (b: string) => existing.has(b) || branches.some((r) => r.startsWith(`${b}/`) || b.startsWith(`${r}/`));
  if (prefix && branches.some((r) => `${prefix}/`.startsWith(`${r}/`))) {
    throw new GitError(`A branch named '${branches.find((r) => `${prefix}/`.startsWith(`${r}/`))}' exists, so no branch '${prefix}/…' can be created; change the branch prefix.`, { code: 'BranchExists' });
  }
  if (!isValidBranchName(prefix ? `${prefix}/${baseSlug}` : baseSlug)) {
    throw new GitError(`'${prefix}/${baseSlug}' is not a valid branch name; check the branch prefix '${prefix}'.`, { code: 'InvalidBranchName' });
  }
  return { existing, taken };
}

/** Creates the folder, failing (false) if anything already exists there: the atomic claim of a name. */
async function claimFolder(p: string): Promise<boolean> {
  try {
    await fs.promises.mkdir(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Undoes what `create` made, and only what this call owns (see {@link RollbackState}). */
async function rollback(ctx: CreateContext, locked: LockedRepository, repoRoot: string, state: RollbackState): Promise<void> {
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
    const adminDir = (await readAdminDirs(state.commonDir)).get(wtPath);
    if (adminDir && fs.existsSync(wtPath)) {
      await attempt(() => locked.run(repoRoot, ['worktree', 'remove', '--force', '--force', wtPath]));
    }
    // Whatever git left behind (an abort mid-checkout leaves a locked, half-made admin dir).
    const leftover = (await readAdminDirs(state.commonDir)).get(wtPath);
    if (leftover) await attempt(() => fs.promises.rm(leftover, { recursive: true, force: true }));
    await attempt(() => fs.promises.rm(wtPath, { recursive: true, force: true }));
  }
  if (state.branch && state.branchTip) {
    const branch = state.branch;
    // Only while it still points where this call created it: a commit made on it meanwhile is kept.
    const del = await locked.run(repoRoot, ['update-ref', '-d', `refs/heads/${branch}`, state.branchTip], { okExitCodes: [1, 128] }).catch((err: unknown) => {
      errors.push(err);
      return undefined;
    });
    if (del && del.exitCode !== 0) ctx.logger.warn(`rollback kept branch ${branch}: it moved since it was created (${del.stderr.trim()})`);
    await attempt(() => deleteBranchRecord(state.commonDir, branch));
  }
  if (state.createdRoot) {
    // Only if empty: other worktrees may have been created in it meanwhile.
    await fs.promises.rmdir(state.createdRoot).catch(() => undefined);
  }
  for (const err of errors) ctx.logger.warn(`rollback step failed: ${err instanceof Error ? err.message : String(err)}`);
}

export function resolveWorktreeRoot(setting: string | undefined, mainWorktree: string): string {
  const main = mainWorktree;
  const repoParent = path.dirname(main);
  const repoName = path.basename(main);
  if (!setting?.trim()) return path.join(repoParent, `${repoName}.worktrees`);
  let expanded = setting.trim().replace(/\$\{repoParent\}/g, repoParent).replace(/\$\{repoName\}/g, repoName);
  if (expanded === '~' || expanded.startsWith('~/') || expanded.startsWith('~\\')) expanded = path.join(os.homedir(), expanded.slice(1));
  return path.resolve(main, expanded);
}

/** Adds the worktree root to `<commonDir>/info/exclude` (not .gitignore: that is the user's file). */
async function excludeFromRepository(repo: RepositoryFactsEntry, worktreeRoot: string): Promise<void> {
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
