/**
 * Small git building blocks shared by the sync and merge services and the conflict radar: resolving revisions,
 * predicting a merge with `git merge-tree`, the state of a worktree, the checkouts of a branch, rebase backups
 * and commit messages passed through a file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseNulList } from './changes';
import type { GitClient, LockedRepository } from './gitClient';
import { GitError, isGitError } from './gitError';
import { BACKUP_REF_PREFIX, type ConflictPrediction, type SyncState } from './mergeTypes';
import { readAdminDirs } from './provisioner';
import { parseWorktreeList } from './worktreeParser';
import { adminDirOf } from './worktreeRecords';

export async function resolveCommit(git: GitClient, cwd: string, rev: string, signal?: AbortSignal): Promise<string> {
  if (!rev || rev.startsWith('-')) throw new GitError(`Invalid revision: ${rev}`, { code: 'NotFound' });
  const r = await git.read(cwd, ['rev-parse', '--verify', '-q', `${rev}^{commit}`], { signal, okExitCodes: [1] });
  if (r.exitCode !== 0) throw new GitError(`'${rev}' does not exist.`, { code: 'NotFound' });
  return r.stdout.trim();
}

export interface LocalBranch {
  /** `refs/heads/<name>`. */
  ref: string;
  name: string;
  tip: string;
}

/** The base as a local branch, or undefined when it is not one (a remote-tracking branch, a tag, a sha). */
export async function localBranch(git: GitClient, cwd: string, baseRef: string, signal?: AbortSignal): Promise<LocalBranch | undefined> {
  if (!baseRef || baseRef.startsWith('-')) return undefined;
  const name = baseRef.startsWith('refs/heads/') ? baseRef.slice('refs/heads/'.length) : baseRef;
  const ref = `refs/heads/${name}`;
  const r = await git.read(cwd, ['rev-parse', '--verify', '-q', `${ref}^{commit}`], { signal, okExitCodes: [1] });
  return r.exitCode === 0 ? { ref, name, tip: r.stdout.trim() } : undefined;
}

export async function isAncestor(git: GitClient, cwd: string, ancestor: string, of: string, signal?: AbortSignal): Promise<boolean> {
  return (await git.read(cwd, ['merge-base', '--is-ancestor', ancestor, of], { signal, okExitCodes: [1] })).exitCode === 0;
}

/** `git merge-tree --write-tree` of two commits: the merged tree and the conflicted files. No work tree touched. */
export async function mergeTree(git: GitClient, cwd: string, ours: string, theirs: string, signal?: AbortSignal, env?: Record<string, string>): Promise<ConflictPrediction> {
  let result;
  try {
    result = await git.read(cwd, ['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', ours, theirs], { signal, okExitCodes: [1], ...(env ? { env } : {}) });
  } catch (err) {
    if (isGitError(err) && /write-tree|usage: git merge-tree/.test(err.stderr)) {
      throw new GitError('Predicting conflicts needs git 2.38 or later (`git merge-tree --write-tree`): update git.', { code: 'Unknown', cause: err });
    }
    throw err;
  }
  const [tree = '', ...files] = parseNulList(result.stdout);
  return { clean: result.exitCode === 0, conflicts: result.exitCode === 0 ? [] : [...new Set(files)], tree: tree.trim() };
}

/** Paths that differ between two tree-ish (no rename detection: a rename is its two paths). */
export async function changedPaths(git: GitClient, cwd: string, from: string, to: string, signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await git.read(cwd, ['diff', '--name-only', '--no-renames', '-z', from, to, '--'], { signal });
  return parseNulList(stdout);
}

/** Paths that exist in `to` but not in `from`: the files a checkout from `from` to `to` creates. */
export async function addedPaths(git: GitClient, cwd: string, from: string, to: string, signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await git.read(cwd, ['diff', '--name-only', '--no-renames', '--diff-filter=A', '-z', from, to, '--'], { signal });
  return parseNulList(stdout);
}

/** Paths changed by the commits in `from..to` (each commit's own changes), e.g. what a rebase replays. */
export async function pathsOfCommits(git: GitClient, cwd: string, from: string, to: string, signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await git.read(cwd, ['log', '--format=', '--name-only', '--no-renames', '-z', `${from}..${to}`, '--'], { signal });
  return [...new Set(parseNulList(stdout).map((p) => p.replace(/^\n+/, '')).filter(Boolean))];
}

/** Whether a merge or rebase is in progress in the worktree and which files are conflicted. */
export async function syncState(git: GitClient, worktreePath: string, signal?: AbortSignal): Promise<SyncState> {
  const gitDir = await gitDirOf(worktreePath) ?? await absoluteGitDir(git, worktreePath, signal);
  const has = (name: string) => fs.existsSync(path.join(gitDir, name));
  let operation: SyncState['operation'];
  if (has('rebase-merge') || has('rebase-apply')) operation = 'rebase';
  else if (has('MERGE_HEAD')) operation = 'merge';
  else if (has('CHERRY_PICK_HEAD')) operation = 'cherry-pick';
  else if (has('REVERT_HEAD')) operation = 'revert';
  // Without an operation under way there are no sync conflicts to list: no git process at all.
  return { operation, conflicts: operation ? await unmerged(git, worktreePath, signal) : [] };
}

/** The git dir of a worktree from its `.git` (a folder in the main worktree, a `gitdir:` file in a linked one). */
async function gitDirOf(worktreePath: string): Promise<string | undefined> {
  const dotGit = path.join(worktreePath, '.git');
  try {
    if ((await fs.promises.stat(dotGit)).isDirectory()) return dotGit;
  } catch {
    return undefined;
  }
  return adminDirOf(worktreePath);
}

async function unmerged(git: GitClient, worktreePath: string, signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await git.read(worktreePath, ['diff', '--name-only', '--diff-filter=U', '-z'], { signal });
  return [...new Set(parseNulList(stdout))];
}

/** Staged files whose added lines are leftover conflict markers (`git diff --check`). */
export async function leftoverMarkers(git: GitClient, worktreePath: string, signal?: AbortSignal): Promise<string[]> {
  const result = await git.read(worktreePath, ['diff', '--cached', '--check'], { signal, okExitCodes: [2] });
  const files = new Set<string>();
  for (const line of result.stdout.split('\n')) {
    const m = /^(.*):\d+: leftover conflict marker$/.exec(line);
    if (m) files.add(m[1]!);
  }
  return [...files];
}

async function absoluteGitDir(git: GitClient, cwd: string, signal?: AbortSignal): Promise<string> {
  return (await git.read(cwd, ['rev-parse', '--absolute-git-dir'], { signal })).stdout.trim();
}

/** The branch checked out in the worktree (short name), undefined when HEAD is detached. */
export async function headBranch(git: GitClient, worktreePath: string, signal?: AbortSignal): Promise<string | undefined> {
  const head = await git.read(worktreePath, ['symbolic-ref', '-q', '--short', 'HEAD'], { signal, okExitCodes: [1] });
  return head.exitCode === 0 ? head.stdout.trim() : undefined;
}

/** The worktree's branch, also while a rebase has detached HEAD. */
export async function headBranchOrRebasing(git: GitClient, worktreePath: string, signal?: AbortSignal): Promise<string | undefined> {
  const head = await headBranch(git, worktreePath, signal);
  if (head) return head;
  const ref = await rebasingRef(await absoluteGitDir(git, worktreePath, signal));
  return ref?.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
}

/** The branch a rebase in progress in this git dir will update, if any. */
async function rebasingRef(gitDir: string): Promise<string | undefined> {
  for (const dir of ['rebase-merge', 'rebase-apply']) {
    try {
      return (await fs.promises.readFile(path.join(gitDir, dir, 'head-name'), 'utf8')).trim();
    } catch {
      // not rebasing with this backend
    }
  }
  return undefined;
}

/** Worktrees that have `ref` checked out, or are in the middle of rebasing it. */
export async function checkoutsOf(git: GitClient, repoRoot: string, ref: string, signal?: AbortSignal): Promise<Array<{ path: string; rebasing: boolean }>> {
  const entries = parseWorktreeList((await git.read(repoRoot, ['worktree', 'list', '--porcelain', '-z'], { signal })).stdout);
  const commonDir = await git.commonDir(repoRoot, signal);
  const adminDirs = await readAdminDirs(commonDir);
  const out: Array<{ path: string; rebasing: boolean }> = [];
  for (const [i, e] of entries.entries()) {
    if (e.bare || e.prunable) continue;
    if (e.branchRef === ref) {
      out.push({ path: e.path, rebasing: false });
      continue;
    }
    if (!e.detached) continue;
    const gitDir = i === 0 ? commonDir : adminDirs.get(e.path);
    if (gitDir && (await rebasingRef(gitDir)) === ref) out.push({ path: e.path, rebasing: true });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ backups

export async function writeBackup(repo: LockedRepository, cwd: string, branch: string, tip: string, signal?: AbortSignal): Promise<void> {
  await repo.run(cwd, ['update-ref', '-m', 'grove: before rebase', `${BACKUP_REF_PREFIX}${branch}/${tip}`, tip], { signal });
}

export async function backupRefs(git: GitClient, cwd: string, branch: string, signal?: AbortSignal): Promise<Array<{ ref: string; sha: string }>> {
  const { stdout } = await git.read(cwd, ['for-each-ref', '--format=%(refname) %(objectname)', `${BACKUP_REF_PREFIX}${branch}/`], { signal });
  return stdout.split('\n').filter(Boolean).map((line) => {
    const [ref = '', sha = ''] = line.split(' ');
    return { ref, sha };
  });
}

/** Deletes backups that are ancestors of the branch again (their commits are reachable from it). */
export async function dropRedundantBackups(git: GitClient, repo: LockedRepository, cwd: string, branch: string | undefined, signal?: AbortSignal): Promise<void> {
  if (!branch) return;
  for (const backup of await backupRefs(git, cwd, branch, signal)) {
    if (await isAncestor(git, cwd, backup.sha, `refs/heads/${branch}`, signal)) {
      await repo.run(cwd, ['update-ref', '-d', backup.ref, backup.sha], { signal });
    }
  }
}

// ------------------------------------------------------------------------------------------------ messages

/**
 * Runs `fn` with the path of a private file holding `message`, for `git commit -F` / `commit-tree -F` /
 * `merge -F`: a message is never an argument, so no text (a task titled `--upload-pack=…`, a leading `-`) can
 * be read as an option by git or by simple-git's argument filter.
 */
export async function withMessageFile<T>(message: string, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'grove-msg-'));
  const file = path.join(dir, 'MESSAGE');
  try {
    await fs.promises.writeFile(file, message.endsWith('\n') ? message : `${message}\n`);
    return await fn(file);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
