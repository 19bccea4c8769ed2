/**
 * An advisory lock file that serialises worktree creation across processes (the extension, `grove dispatch`, a
 * second window): `<commonDir>/grove/create.lock`, created with `open(…, 'wx')` and holding the owner's identity
 * (pid + host + start time, see core/platform/processes.ts). The in-process mutation queue of GitClient only
 * serialises one process; this file covers the others.
 *
 * It is held only while choosing a name and running `git worktree add` (seconds), never during the setup command.
 * A lock whose owner is dead (pid gone, or reused by a process that started at another time) is broken; a lock
 * whose owner lives — or runs on another host, whose processes cannot be seen — is waited for, up to a timeout
 * after which the create is refused with a message naming the owner and the file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { groveDir } from '../paths';
import { currentProcess, liveness, localProbe, type ProcessIdentity, type ProcessProbe } from '../platform/processes';
import { GitError } from './gitError';

export const CREATE_LOCK_FILE = 'create.lock';

export interface FileLockOptions {
  probe?: ProcessProbe;
  signal?: AbortSignal;
  /** How long to wait for a live owner (default 120 s). */
  timeoutMs?: number;
  /** A lock file with no readable owner yet (its creator is writing it) counts as live this long (default 10 s). */
  unreadableGraceMs?: number;
}

interface LockContent extends ProcessIdentity {
  acquiredAt: number;
  token: string;
}

export function creationLockFile(commonDir: string): string {
  return path.join(groveDir(commonDir), CREATE_LOCK_FILE);
}

/** Runs `fn` while holding the lock file; always releases it (only if it is still ours). */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const token = await acquire(file, options);
  try {
    return await fn();
  } finally {
    release(file, token);
  }
}

async function acquire(file: string, options: FileLockOptions): Promise<string> {
  const { probe = localProbe, signal, timeoutMs = 120_000, unreadableGraceMs = 10_000 } = options;
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const me = currentProcess(probe);
  const token = randomBytes(8).toString('hex');
  const content: LockContent = { ...me, acquiredAt: Date.now(), token };
  const started = Date.now();
  let delay = 10;
  for (;;) {
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(content));
      } finally {
        fs.closeSync(fd);
      }
      return token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = readLock(file);
    if (held === 'gone') continue;
    if (held === 'unreadable') {
      if (Date.now() - mtime(file) > unreadableGraceMs) breakLock(file, undefined);
    } else if (liveness(held, probe) === 'dead') {
      breakLock(file, held.token);
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      const who = held === 'unreadable' ? 'another process' : `process ${held.pid} on ${held.host}`;
      throw new GitError(`Another Grove process is creating a worktree in this repository (${who} holds ${file}); try again, or delete that file if no Grove process runs there.`, { code: 'RefLocked' });
    }
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 200);
  }
}

function readLock(file: string): LockContent | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const c = JSON.parse(text) as LockContent;
    return Number.isInteger(c.pid) && typeof c.host === 'string' && typeof c.token === 'string' ? c : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/**
 * Removes a dead owner's lock without ever removing a live one: the file is first renamed to a private name (atomic;
 * of two breakers only one succeeds), then its content checked. If it turns out to be someone else's fresh lock
 * (created between our read and the rename), it is put back with `link` (which fails rather than overwrite).
 */
function breakLock(file: string, deadToken: string | undefined): void {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.broken`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return; // someone else broke or released it
  }
  const content = readLock(aside);
  const isTheDeadOne = deadToken === undefined ? content === 'unreadable' : content !== 'gone' && content !== 'unreadable' && content.token === deadToken;
  if (!isTheDeadOne) {
    try {
      fs.linkSync(aside, file);
    } catch {
      // A new lock was taken meanwhile; the moved one's owner will find its lock gone at release (harmless).
    }
  }
  fs.rmSync(aside, { force: true });
}

function release(file: string, token: string): void {
  const held = readLock(file);
  if (held !== 'gone' && held !== 'unreadable' && held.token === token) fs.rmSync(file, { force: true });
}

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
