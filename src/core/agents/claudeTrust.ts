/**
 * Claude Code asks "Do you trust this folder?" the first time its interactive UI opens in a git repository, and a
 * new worktree is a new folder to it. When the user already trusted the repository the worktree was made from,
 * Grove carries that trust over to the worktree, so a terminal agent starts working at once. Grove never trusts a
 * folder the user has not trusted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Claude Code's global config file: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`. */
export function claudeConfigFile(env: Record<string, string | undefined> = process.env): string {
  const dir = env.CLAUDE_CONFIG_DIR;
  return dir ? path.join(dir, '.claude.json') : path.join(os.homedir(), '.claude.json');
}

/**
 * `contended`: the file kept changing under Grove for every attempt, or Claude Code held its lock for longer than
 * Grove waits; nothing was written and the TUI will ask the user, as without Grove.
 */
export type TrustResult = 'inherited' | 'alreadyTrusted' | 'sourceNotTrusted' | 'noConfig' | 'contended';

interface ProjectEntry {
  hasTrustDialogAccepted?: boolean;
  [key: string]: unknown;
}

function isTrusted(projects: Record<string, ProjectEntry>, folder: string): boolean {
  let dir = path.resolve(folder);
  for (;;) {
    if (projects[dir]?.hasTrustDialogAccepted === true) return true;
    const up = path.dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

export interface TrustWriteOptions {
  /** Read-modify-write rounds before giving up with `contended` (default 5). */
  attempts?: number;
  /** How long to wait for Claude Code's lock on the file (default 2000 ms; the CLI waits about as long for ours). */
  lockWaitMs?: number;
  /** A lock older than this is left over by a dead process and is taken over (default 10 s, the CLI's own). */
  lockStaleMs?: number;
  /** Called after the new content is staged and before Grove checks that the file is unchanged (tests). */
  beforeCommit?: (attempt: number) => void;
}

/**
 * Marks `worktree` trusted when `repository` (or a folder above it) is. Other keys untouched.
 *
 * Running `claude` processes rewrite the same file at any time (start-up counters, tips, trust answers). They do so
 * under a lock — a `<file>.lock` directory (proper-lockfile's protocol) — re-reading the file inside it. Grove takes
 * the same lock for its few milliseconds of read-modify-write, so neither side overwrites the other's update; a lock
 * held for longer than `lockWaitMs` means a CLI is between its read and its write, and Grove then writes nothing
 * (`contended`). Writers that take no lock are covered too: Grove stages the new content in a temporary file,
 * compares the file with what it read, and renames only when it is unchanged; otherwise it starts again from the new
 * content (compare-and-retry).
 */
export function inheritFolderTrust(configFile: string, repository: string, worktree: string, options: TrustWriteOptions = {}): TrustResult {
  const attempts = options.attempts ?? 5;
  // The config may be a symlink (dotfiles): write the file it points to, never replace the link.
  let target: string;
  try {
    target = fs.realpathSync(configFile);
  } catch {
    return 'noConfig';
  }
  const lock = acquireLock(`${configFile}.lock`, options.lockWaitMs ?? 2000, options.lockStaleMs ?? 10_000);
  if (lock === 'held') return 'contended';
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let before: string;
      let config: { projects?: Record<string, ProjectEntry>; [key: string]: unknown };
      try {
        before = fs.readFileSync(target, 'utf8');
        config = JSON.parse(before);
      } catch {
        return 'noConfig';
      }
      if (!config || typeof config !== 'object' || Array.isArray(config)) return 'noConfig';
      const projects = config.projects ?? {};
      const wt = path.resolve(worktree);
      if (projects[wt]?.hasTrustDialogAccepted === true) return 'alreadyTrusted';
      if (!isTrusted(projects, repository)) return 'sourceNotTrusted';
      config.projects = { ...projects, [wt]: { ...(projects[wt] ?? {}), hasTrustDialogAccepted: true } };
      const tmp = `${target}.grove-${process.pid}-${Date.now()}-${attempt}.tmp`;
      const mode = fs.statSync(target).mode & 0o777;
      fs.writeFileSync(tmp, JSON.stringify(config, null, 2), { mode });
      try {
        options.beforeCommit?.(attempt);
        let now: string | undefined;
        try {
          now = fs.readFileSync(target, 'utf8');
        } catch {
          now = undefined;
        }
        if (now !== before) continue; // changed (or gone) since we read it: start again from what is there now
        renameOver(tmp, target);
        return 'inherited';
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
    return 'contended';
  } finally {
    lock?.release();
  }
}

/**
 * Takes `lockPath` the way proper-lockfile (Claude Code's config lock) does: `mkdir` succeeds for one process only.
 * Waits up to `waitMs`, taking over a lock whose mtime is older than `staleMs`. `held`: someone else still has it;
 * undefined: no lock can be made there (the compare-and-retry still protects the file).
 */
function acquireLock(lockPath: string, waitMs: number, staleMs: number): { release(): void } | 'held' | undefined {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.mkdirSync(lockPath);
      return { release: () => fs.rmSync(lockPath, { recursive: true, force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined; // read-only folder…: compare-and-retry only
    }
    try {
      if (Date.now() - fs.statSync(lockPath).mtimeMs > staleMs) {
        fs.rmSync(lockPath, { recursive: true, force: true });
        continue;
      }
    } catch {
      continue; // released meanwhile
    }
    if (Date.now() >= deadline) return 'held';
    sleepSync(10 + Math.floor(Math.random() * 20));
  }
}

/** Windows refuses to rename over a file another process has open for a moment (EPERM/EBUSY): retry briefly. */
function renameOver(from: string, to: string): void {
  for (let i = 0; ; i++) {
    try {
      fs.renameSync(from, to);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (i >= 20 || (code !== 'EPERM' && code !== 'EBUSY' && code !== 'EACCES')) throw err;
      sleepSync(25);
    }
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
