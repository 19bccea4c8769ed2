/**
 * A cross-process advisory lock: a file created with `open(…, 'wx')` (atomic everywhere, network file systems that
 * honour O_EXCL included) holding its owner's identity (pid + host + start time, see core/platform/processes.ts) and
 * a token. A lock whose owner is dead (pid gone, or reused by a process that started at another time) — or, when
 * `staleMs` is given, older than that — is broken; a live owner's (or one on another host, whose processes cannot be
 * seen) is waited for, up to a timeout. Only the owner (its token) releases a lock.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { currentProcess, liveness, localProbe, type ProcessIdentity, type ProcessProbe } from '../platform/processes';
import type { Logger } from './logger';

export interface FileLockOptions {
  probe?: ProcessProbe;
  signal?: AbortSignal;
  /** How long to wait for a live owner (default 120 s). */
  timeoutMs?: number;
  /** A lock file with no readable owner yet (its creator is writing it) counts as live this long (default 10 s). */
  unreadableGraceMs?: number;
  /** A lock held longer than this is abandoned even if its owner lives (for locks held only for milliseconds). */
  staleMs?: number;
  logger?: Logger;
}

/** The lock stayed taken for `timeoutMs`; `holder` says by whom, when readable. */
export class LockTimeoutError extends Error {
  constructor(readonly file: string, readonly timeoutMs: number, readonly holder?: ProcessIdentity) {
    super(`Timed out after ${timeoutMs} ms waiting for the lock ${file}${holder ? ` (held by process ${holder.pid} on ${holder.host})` : ''}`);
    this.name = 'LockTimeoutError';
  }
}

export class LockAbortedError extends Error {
  constructor(readonly file: string) {
    super(`Cancelled while waiting for the lock ${file}`);
    this.name = 'LockAbortedError';
  }
}

interface LockContent extends ProcessIdentity {
  acquiredAt: number;
  token: string;
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
  const { probe = localProbe, signal, timeoutMs = 120_000, unreadableGraceMs = 10_000, staleMs } = options;
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const me = currentProcess(probe);
  const token = randomBytes(8).toString('hex');
  const content: LockContent = { ...me, acquiredAt: Date.now(), token };
  const started = Date.now();
  let delay = 10;
  for (;;) {
    if (signal?.aborted) throw new LockAbortedError(file);
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
    } else if (liveness(held, probe) === 'dead' || (staleMs !== undefined && Date.now() - held.acquiredAt > staleMs)) {
      options.logger?.warn(`broke the stale lock ${file}: ${liveness(held, probe) === 'dead' ? `its owner (pid ${held.pid}) is gone` : `held for ${Date.now() - held.acquiredAt} ms`}`);
      breakLock(file, held.token);
      continue;
    }
    if (Date.now() - started > timeoutMs) throw new LockTimeoutError(file, timeoutMs, held === 'unreadable' ? undefined : held);
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
