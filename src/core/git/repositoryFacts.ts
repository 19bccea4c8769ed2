/**
 * Facts about a repository that a dispatch needs, read with as few git processes as possible.
 *
 * Cached (per folder asked about, for the life of the cache): the top level of the worktree containing the folder,
 * its git dir, the common dir, bare or not, and the main worktree. These never change for an existing repository;
 * the entry is dropped and read again when its git dir no longer has a HEAD file (the repository or worktree was
 * deleted or re-created) — a `stat`, no git process.
 *
 * Never cached: HEAD and refs. HEAD is read from the worktree's `HEAD` file (no process; git's reftable backend,
 * whose HEAD file is a placeholder, falls back to git); refs come from one `for-each-ref` per create
 * ({@link listRefs}).
 */
import fs from 'node:fs';
import path from 'node:path';
import { normalizePath } from '../util/fsPaths';
import type { GitClient } from './gitClient';
import { GitError, isGitError } from './gitError';
import { parseWorktreeList } from './worktreeParser';

export interface RepositoryFactsEntry {
  /** Top level of the worktree containing the folder (the common dir for a bare repository). */
  root: string;
  /** That worktree's own git dir (`<commonDir>/worktrees/<id>` for a linked worktree). */
  gitDir: string;
  commonDir: string;
  isBare: boolean;
  /** The repository's main worktree (the root for a bare repository). */
  mainWorktree: string;
}

export type Head = { branch: string; ref: string } | { detachedAt: string } | undefined;

export class RepositoryFacts {
  private readonly cache = new Map<string, Promise<RepositoryFactsEntry>>();

  constructor(private readonly git: GitClient) {}

  async get(folder: string, signal?: AbortSignal): Promise<RepositoryFactsEntry> {
    if (!fs.existsSync(folder)) throw new GitError(`Folder does not exist: ${folder}`, { code: 'NotFound' });
    const key = normalizePath(folder);
    const cached = this.cache.get(key);
    if (cached) {
      const entry = await cached.catch(() => undefined);
      if (entry && fs.existsSync(path.join(entry.gitDir, 'HEAD'))) return entry;
      this.cache.delete(key);
    }
    const pending = this.read(folder, signal);
    this.cache.set(key, pending);
    pending.catch(() => this.cache.delete(key));
    return pending;
  }

  /** Forget everything (e.g. after a repository was re-initialised in place). */
  clear(): void {
    this.cache.clear();
  }

  private async read(folder: string, signal?: AbortSignal): Promise<RepositoryFactsEntry> {
    // One process; `--show-toplevel` comes last because it fails (128) in a bare repository after printing the rest.
    const result = await this.git.read(folder, ['rev-parse', '--is-bare-repository', '--path-format=absolute', '--git-common-dir', '--git-dir', '--show-toplevel'], { signal, okExitCodes: [128] })
      .catch((err: unknown) => {
        throw notARepository(folder, err);
      });
    const lines = result.stdout.split(/\r?\n/);
    const isBare = lines[0] === 'true';
    if (result.exitCode !== 0 && !(isBare && lines.length >= 3 && lines[1])) {
      throw notARepository(folder, new GitError(result.stderr.trim() || 'not a git repository', { stderr: result.stderr, exitCode: result.exitCode }));
    }
    const commonDir = normalizePath(lines[1] ?? '');
    const gitDir = normalizePath(lines[2] ?? '');
    const root = isBare ? commonDir : normalizePath(lines[3] ?? '');
    let mainWorktree = root;
    if (!isBare && gitDir !== commonDir) {
      if (path.basename(commonDir) === '.git') mainWorktree = path.dirname(commonDir);
      else {
        const entries = parseWorktreeList((await this.git.read(folder, ['worktree', 'list', '--porcelain', '-z'], { signal })).stdout);
        if (entries[0] && !entries[0].bare) mainWorktree = normalizePath(entries[0].path);
      }
    }
    return { root, gitDir, commonDir, isBare, mainWorktree };
  }
}

function notARepository(folder: string, err: unknown): unknown {
  if (isGitError(err, 'NotAGitRepository')) {
    return new GitError(`${folder} is not inside a git repository. Open a folder under git, or run \`git init\` and commit first.`, {
      code: 'NotAGitRepository', args: err.args, exitCode: err.exitCode, stderr: err.stderr, cause: err,
    });
  }
  return err;
}

/** The HEAD of the worktree whose git dir this is, from its HEAD file; undefined when it cannot be read that way. */
export function readHeadFile(gitDir: string): Head | 'unknown' {
  let text: string;
  try {
    text = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
  } catch {
    return 'unknown';
  }
  const sym = /^ref: (refs\/heads\/.+)$/.exec(text);
  if (sym) {
    const ref = sym[1]!;
    // The reftable backend keeps a placeholder HEAD file pointing at this invalid name.
    if (ref === 'refs/heads/.invalid') return 'unknown';
    return { branch: ref.slice('refs/heads/'.length), ref };
  }
  if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(text)) return { detachedAt: text };
  return 'unknown';
}

/** HEAD through git, for what the file could not tell. */
export async function readHeadWithGit(git: GitClient, cwd: string, signal?: AbortSignal): Promise<Head> {
  const sym = await git.read(cwd, ['symbolic-ref', '-q', 'HEAD'], { signal, okExitCodes: [1] });
  if (sym.exitCode === 0) {
    const ref = sym.stdout.trim();
    return { branch: ref.replace(/^refs\/heads\//, ''), ref };
  }
  const commit = await git.read(cwd, ['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { signal, okExitCodes: [1] });
  return commit.exitCode === 0 ? { detachedAt: commit.stdout.trim() } : undefined;
}

/** Full ref name → object name, for local branches, remote-tracking branches and tags (tags not peeled). */
export type RefMap = Map<string, string>;

/** One `for-each-ref` for everything a create needs to know about refs. */
export async function listRefs(run: (args: string[]) => Promise<{ stdout: string }>): Promise<RefMap> {
  const { stdout } = await run(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/', 'refs/remotes/', 'refs/tags/']);
  const refs: RefMap = new Map();
  for (const line of stdout.split(/\r?\n/)) {
    const space = line.indexOf(' ');
    if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space));
  }
  return refs;
}

/**
 * The commit a base name stands for, when the ref listing answers it unambiguously the way `git rev-parse` would
 * (a local or remote-tracking branch that no tag shadows); undefined otherwise (then ask git).
 */
export function resolveFromRefs(refs: RefMap, name: string): string | undefined {
  if (name.startsWith('refs/heads/') || name.startsWith('refs/remotes/')) return refs.get(name);
  if (name.startsWith('refs/') || name === 'HEAD') return undefined;
  // git's order: refs/<name>, refs/tags/<name>, refs/heads/<name>, refs/remotes/<name>, refs/remotes/<name>/HEAD.
  const direct = refs.get(`refs/${name}`);
  if (direct !== undefined) return name.startsWith('tags/') ? undefined : direct;
  if (refs.has(`refs/tags/${name}`)) return undefined;
  return refs.get(`refs/heads/${name}`) ?? refs.get(`refs/remotes/${name}`) ?? refs.get(`refs/remotes/${name}/HEAD`);
}

/** Local branch names (without `refs/heads/`). */
export function localBranches(refs: RefMap): string[] {
  const out: string[] = [];
  for (const r of refs.keys()) if (r.startsWith('refs/heads/')) out.push(r.slice('refs/heads/'.length));
  return out;
}
