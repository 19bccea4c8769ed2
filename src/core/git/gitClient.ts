/**
 * The one way Grove runs git. A thin wrapper over simple-git (whose types stay in this file) that
 * - never uses a shell: every call is an argument array;
 * - logs every call as `> git <args> [<ms>ms]`;
 * - turns failures into a typed {@link GitError};
 * - serialises everything that mutates a repository through one queue keyed by the repository's git common
 *   dir (all worktrees of a repository share refs, config and packed-refs, so N parallel `worktree add`
 *   would otherwise race on `*.lock` files), while reads run concurrently under a cap.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import { PathMap } from '../util/fsPaths';
import { KeyedQueue, Limiter } from '../util/queue';
import { GitError } from './gitError';

export interface GitClientOptions {
  logger?: Logger;
  /** Path of the git executable; `git` on PATH by default. */
  gitPath?: string;
  /** Most git processes run at once for reads. */
  maxConcurrentReads?: number;
  /** Extra environment for every git call (tests point `GIT_CONFIG_GLOBAL` at a hermetic file). */
  env?: Record<string, string>;
}

export interface GitCallOptions {
  signal?: AbortSignal;
  /** Exit codes other than 0 that are answers rather than failures (e.g. 1 for `merge-base --is-ancestor`). */
  okExitCodes?: readonly number[];
  /** Receives stdout and stderr as they arrive (long operations such as `submodule update`). */
  onOutput?: (chunk: string) => void;
  /** Extra environment for this call only (e.g. `GIT_INDEX_FILE` for a private index). */
  env?: Record<string, string>;
  /**
   * The command writes only the worktree's administrative files that no checkpoint reads (`worktree lock`/`unlock`):
   * it does not make the folder busy for {@link GitClient.quietSince}.
   */
  adminOnly?: boolean;
}

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs git inside a repository while holding its mutation queue (see {@link GitClient.exclusive}). */
export interface LockedRepository {
  readonly commonDir: string;
  run(cwd: string, args: readonly string[], options?: GitCallOptions): Promise<GitResult>;
}

/** git's exit status, captured by simple-git's error plugin (simple-git itself only keeps a message). */
interface ExitFailure {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class GitClient {
  private readonly logger: Logger;
  private readonly gitPath: string;
  private readonly env: Record<string, string>;
  private readonly reads: Limiter;
  private readonly mutations = new KeyedQueue();
  private readonly commonDirs = new Map<string, string>();
  /** Per folder: bumped when a queued section runs git there and again when that section ends (see {@link quietSince}). */
  private readonly generations = new PathMap<number>();
  /** Per folder: how many queued sections running now have run git there. */
  private readonly activeIn = new PathMap<number>();

  constructor(options: GitClientOptions = {}) {
    this.logger = options.logger ?? nullLogger;
    this.gitPath = options.gitPath ?? 'git';
    this.env = options.env ?? {};
    this.reads = new Limiter(options.maxConcurrentReads ?? 8);
  }

  /** Runs a read-only git command; throws {@link GitError} on a non-zero exit not listed in `okExitCodes`. */
  read(cwd: string, args: readonly string[], options: GitCallOptions = {}): Promise<GitResult> {
    return this.reads.run(() => this.spawn(cwd, args, options, true));
  }

  /** Runs a mutating git command after every earlier mutation of the same repository has finished. */
  async mutate(cwd: string, args: readonly string[], options: GitCallOptions = {}): Promise<GitResult> {
    return this.exclusive(cwd, (repo) => repo.run(cwd, args, options), options.signal);
  }

  /**
   * Runs `fn` while holding the repository's mutation queue, so that a multi-step change (pick a free name,
   * create the branch and worktree, record metadata) is atomic with respect to other Grove mutations.
   * Calls made through the given {@link LockedRepository} run immediately; do not call {@link mutate} on the
   * same repository from inside `fn` (it would wait for `fn` itself).
   */
  async exclusive<T>(cwd: string, fn: (repo: LockedRepository) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const commonDir = await this.commonDir(cwd, signal);
    const touched = new PathMap<true>();
    const repo: LockedRepository = {
      commonDir,
      run: (dir, args, options = {}) => {
        if (options.adminOnly) return this.spawn(dir, args, options, false);
        if (!touched.has(dir)) {
          touched.set(dir, true);
          this.activeIn.set(dir, (this.activeIn.get(dir) ?? 0) + 1);
        }
        this.bump(dir);
        return this.spawn(dir, args, options, false);
      },
    };
    return this.mutations.run(commonDir, async () => {
      try {
        if (signal?.aborted) throw cancelled([]);
        return await fn(repo);
      } finally {
        for (const key of touched.keys()) {
          this.bump(key);
          const n = (this.activeIn.get(key) ?? 1) - 1;
          if (n) this.activeIn.set(key, n);
          else this.activeIn.delete(key);
        }
      }
    });
  }

  /**
   * For reading a folder beside the queue (a checkpoint of a worktree, from a private index): undefined when a queued
   * section that has run git in `dir` is running now; otherwise `stillQuiet()` says whether no queued section has run
   * git there since. A read made between the two saw no Grove mutation of that folder half done. Only this process's
   * queue is known (as for {@link exclusive}); a section acting on `dir` from another folder (the repository's root)
   * is not seen.
   */
  quietSince(dir: string): { stillQuiet(): boolean } | undefined {
    if (this.activeIn.get(dir)) return undefined;
    const at = this.generations.get(dir) ?? 0;
    return { stillQuiet: () => !this.activeIn.get(dir) && (this.generations.get(dir) ?? 0) === at };
  }

  /** Runs a command that writes what only its caller writes (its own new ref) without waiting for the queue. */
  writeBeside(cwd: string, args: readonly string[], options: GitCallOptions = {}): Promise<GitResult> {
    return this.spawn(cwd, args, options, false);
  }

  private bump(dir: string): void {
    this.generations.set(dir, (this.generations.get(dir) ?? 0) + 1);
  }

  /** The absolute, real path of the git common dir of the repository containing `cwd` (cached). */
  async commonDir(cwd: string, signal?: AbortSignal): Promise<string> {
    const cached = this.commonDirs.get(cwd);
    if (cached) return cached;
    const { stdout } = await this.read(cwd, ['rev-parse', '--path-format=absolute', '--git-common-dir'], { signal });
    const dir = realpath(stdout.trim());
    this.commonDirs.set(cwd, dir);
    return dir;
  }

  private async spawn(cwd: string, args: readonly string[], options: GitCallOptions, isRead: boolean): Promise<GitResult> {
    const { signal, okExitCodes = [], onOutput, env } = options;
    if (signal?.aborted) throw cancelled(args);
    if (!fs.existsSync(cwd)) {
      throw new GitError(`Folder does not exist: ${cwd}`, { code: 'NotFound', args });
    }
    const started = Date.now();
    let failure: ExitFailure | undefined;
    const git = this.create(cwd, signal, isRead, (f) => (failure = f), env);
    if (onOutput) {
      git.outputHandler((_command, stdout, stderr) => {
        stdout.on('data', (b: Buffer) => onOutput(b.toString('utf8')));
        stderr.on('data', (b: Buffer) => onOutput(b.toString('utf8')));
      });
    }
    const line = `> git ${args.map(quoteForLog).join(' ')}`;
    try {
      const stdout = await git.raw([...args]);
      this.logger.info(`${line} [${Date.now() - started}ms]`);
      return { stdout, stderr: '', exitCode: 0 };
    } catch (err) {
      const ms = Date.now() - started;
      if (failure && okExitCodes.includes(failure.exitCode)) {
        this.logger.info(`${line} [${ms}ms] (exit ${failure.exitCode})`);
        return { ...failure };
      }
      this.logger.info(`${line} [${ms}ms]`);
      const error = this.toGitError(err, failure, args, signal);
      this.logger.warn(`git ${args[0] ?? ''} failed (${error.code}): ${error.message}`);
      throw error;
    }
  }

  private create(cwd: string, signal: AbortSignal | undefined, isRead: boolean, onFailure: (f: ExitFailure) => void, callEnv?: Record<string, string>): SimpleGit {
    const git = simpleGit({
      baseDir: cwd,
      binary: this.gitPath,
      maxConcurrentProcesses: 1,
      ...(signal ? { abort: signal } : {}),
      // simple-git refuses to run when the inherited environment names an editor, pager, askpass or ssh
      // command (it guards against attacker-controlled options). Users legitimately have EDITOR/PAGER/
      // GIT_SSH_COMMAND set and submodule fetches need their credentials, and Grove builds every argument
      // array itself (user text is only ever a positional value), so those environment categories are allowed.
      unsafe: {
        allowUnsafeEditor: true,
        allowUnsafePager: true,
        allowUnsafeAskPass: true,
        allowUnsafeSshCommand: true,
        allowUnsafeConfigPaths: true,
        allowUnsafeConfigEnvCount: true,
        allowUnsafeGitProxy: true,
        allowUnsafeDiffExternal: true,
        allowUnsafeTemplateDir: true,
      } as Record<string, boolean>,
      errors: (error, result) => {
        if (result.exitCode !== 0 && result.exitCode !== undefined) {
          onFailure({
            exitCode: result.exitCode,
            stdout: Buffer.concat(result.stdOut).toString('utf8'),
            stderr: Buffer.concat(result.stdErr).toString('utf8'),
          });
          // simple-git only treats a non-zero exit as an error when stderr is non-empty; we want every one.
          return error ?? new Error(`git exited with ${result.exitCode}`);
        }
        return error;
      },
    });
    git.env({
      ...process.env,
      ...this.env,
      ...callEnv,
      // Stable, English messages for classification; no prompt can ever block a background call.
      LC_ALL: 'C',
      LANGUAGE: 'C',
      GIT_TERMINAL_PROMPT: '0',
      // Reads such as `status` must not take the index lock that a user's own git command may need.
      ...(isRead ? { GIT_OPTIONAL_LOCKS: '0' } : {}),
    } as Record<string, string>);
    return git;
  }

  private toGitError(err: unknown, failure: ExitFailure | undefined, args: readonly string[], signal?: AbortSignal): GitError {
    if (signal?.aborted) return cancelled(args, err);
    if (failure) {
      const stderr = failure.stderr.trim() || failure.stdout.trim();
      return new GitError(firstLines(stderr) || `git ${args[0]} failed with exit code ${failure.exitCode}`, {
        args,
        exitCode: failure.exitCode,
        stderr,
        cause: err,
      });
    }
    const message = err instanceof Error ? err.message : String(err);
    if (/ENOENT|spawn .* not found/i.test(message)) {
      return new GitError(`git was not found (${this.gitPath}); install git or set its path`, { code: 'GitNotFound', args, cause: err });
    }
    return new GitError(message, { args, stderr: message, cause: err });
  }
}

function cancelled(args: readonly string[], cause?: unknown): GitError {
  return new GitError('Cancelled', { code: 'Cancelled', args, cause });
}

function firstLines(text: string): string {
  return text.split(/\r?\n/).filter(Boolean).slice(0, 5).join('\n');
}

function quoteForLog(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg);
}

function realpath(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}
