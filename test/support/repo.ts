/**
 * Temporary git repositories for tests: real git, hermetic configuration (no user or system config), removed
 * after each test. Use `useTempRepos()` inside a `describe` and build repositories with `repos.create()`.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-git-'));
const globalConfig = path.join(sandbox, 'gitconfig');
fs.writeFileSync(
  globalConfig,
  [
    '[user]', '\tname = Grove Test', '\temail = test@grove.invalid',
    '[init]', '\tdefaultBranch = main',
    '[commit]', '\tgpgsign = false',
    // Local-path submodules in tests (git ≥ 2.38.1 blocks the file transport for them by default).
    '[protocol "file"]', '\tallow = always',
    '',
  ].join('\n'),
);

/** Environment that makes git ignore the machine's configuration; pass it to GitClient and to child git. */
export const gitTestEnv: Record<string, string> = {
  GIT_CONFIG_GLOBAL: globalConfig,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_DATE: '2025-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2025-01-01T00:00:00Z',
};

/** Runs git synchronously for test setup and assertions; returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...gitTestEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Like `git` but returns the exit code instead of throwing. */
export function gitStatus(cwd: string, ...args: string[]): number {
  try {
    execFileSync('git', args, { cwd, env: { ...process.env, ...gitTestEnv }, stdio: 'ignore' });
    return 0;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

export interface RepoOptions {
  /** Folder name; may contain spaces and unicode. */
  name?: string;
  /** Files of the first commit (path → content). Omit with `commits: false` for an empty repository. */
  files?: Record<string, string>;
  /** false: `git init` only, no commit. */
  commit?: boolean;
  bare?: boolean;
  /** `git init --object-format`: a SHA-256 repository when asked. */
  objectFormat?: 'sha1' | 'sha256';
}

export class TempRepos {
  private readonly dirs: string[] = [];

  /** A fresh empty folder (not a repository). */
  dir(name = 'dir'): string {
    const parent = fs.mkdtempSync(path.join(sandbox, 't-'));
    this.dirs.push(parent);
    const d = path.join(parent, name);
    fs.mkdirSync(d, { recursive: true });
    return fs.realpathSync(d);
  }

  /** A repository on branch `main` with one commit of `files` (default: README.md). */
  create(options: RepoOptions = {}): string {
    const root = this.dir(options.name ?? 'repo');
    git(root, 'init', '-q', ...(options.bare ? ['--bare'] : []), ...(options.objectFormat ? [`--object-format=${options.objectFormat}`] : []));
    if (options.bare || options.commit === false) return root;
    writeFiles(root, options.files ?? { 'README.md': '# test\n' });
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', 'initial');
    return root;
  }

  private readonly closers: Array<() => unknown> = [];

  /**
   * Runs `close` after each test before the folders go (mocha runs a suite's afterEach hooks in the order they were
   * defined, so a hook defined after useTempRepos would run too late: a Grove still writing its registry into a
   * folder being removed).
   */
  closeFirst(close: () => unknown): void {
    this.closers.push(close);
  }

  async cleanup(): Promise<void> {
    for (const close of this.closers) await close();
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/** Registers a TempRepos that is emptied after each test of the enclosing describe. */
export function useTempRepos(): TempRepos {
  const repos = new TempRepos();
  afterEach(() => repos.cleanup());
  return repos;
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/** Writes files and commits them; returns the new commit's sha. */
export function commit(root: string, message: string, files: Record<string, string>): string {
  writeFiles(root, files);
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', message);
  return git(root, 'rev-parse', 'HEAD');
}

/** Every file under `root`, relative, sorted, skipping `.git` (a snapshot to prove "nothing changed"). */
export function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out.sort();
}

/** Refs, worktrees and config of a repository: what "changes nothing" must leave equal. */
export function repoState(root: string): string {
  return [
    git(root, 'for-each-ref', '--format=%(refname) %(objectname)'),
    git(root, 'worktree', 'list', '--porcelain'),
    git(root, 'config', '--local', '--list'),
  ].join('\n---\n');
}

/** Holds a file open from ANOTHER process (like a concurrent git command holding index.lock). */
export function holdLockFile(file: string): { release(): void } {
  fs.writeFileSync(file, '');
  const child = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(file)}, 'r'); setInterval(() => {}, 1000)`], { stdio: 'ignore' });
  return {
    release() {
      child.kill();
      fs.rmSync(file, { force: true });
    },
  };
}
