/**
 * A cross-process advisory lock: a file created with `open(…, 'wx')` (atomic on every platform and on network file
 * systems that honour O_EXCL) holding its owner's pid, host, start time and a token. A lock whose owner is
 * verifiably dead (same host; pid gone or reused) or that is older than `staleMs` is broken; a lock is released only
 * by its owner (the token), so a lock broken as stale and taken by another process is never removed by the first.
 */
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { currentProcess, liveness, localProbe, type ProcessProbe } from '../platform/processes';
import { nullLogger, type Logger } from './logger';

export interface FileLockOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** A lock older than this is abandoned (default 30 s; hold locks for short critical sections only). */
  staleMs?: number;
  probe?: ProcessProbe;
  logger?: Logger;
}

interface LockInfo {
  pid: number;
  host: string;
  startTime?: string;
  at: number;
  token: string;
}

export class LockTimeoutError extends Error {
  constructor(readonly file: string, timeoutMs: number) {
    super(`Timed out after ${timeoutMs} ms waiting for the lock ${file}`);
    this.name = 'LockTimeoutError';
  }
}

/** Runs `fn` while holding the lock file `file`. */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const probe = options.probe ?? localProbe;
  const logger = options.logger ?? nullLogger;
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const me = currentProcess(probe);
  const info: LockInfo = { pid: me.pid, host: me.host, ...(me.startTime ? { startTime: me.startTime } : {}), at: Date.now(), token: randomUUID() };
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await fsp.open(file, 'wx', 0o600);
      try {
        info.at = Date.now();
        await handle.writeFile(JSON.stringify(info));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await breakStale(file, options.staleMs ?? 30_000, probe, logger)) continue;
      if (Date.now() > deadline) throw new LockTimeoutError(file, timeoutMs);
      await sleep(2 + Math.random() * Math.min(40, 4 * (attempt + 1)));
    }
  }
  try {
    return await fn();
  } finally {
    await release(file, info.token, logger);
  }
}

async function release(file: string, token: string, logger: Logger): Promise<void> {
  try {
    const text = await fsp.readFile(file, 'utf8');
    if (text.includes(token)) await fsp.rm(file, { force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn(`releasing ${file} failed: ${(err as Error).message}`);
  }
}

/** Removes the lock file if its owner is gone or it is too old; true if it was removed (or vanished). */
async function breakStale(file: string, staleMs: number, probe: ProcessProbe, logger: Logger): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    text = await fsp.readFile(file, 'utf8');
    mtimeMs = (await fsp.stat(file)).mtimeMs;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  let info: Partial<LockInfo> | undefined;
  try {
    info = JSON.parse(text) as Partial<LockInfo>;
  } catch {
    info = undefined; // being written right now, or garbage: only age decides
  }
  const age = Date.now() - (typeof info?.at === 'number' ? info.at : mtimeMs);
  let stale: string | undefined;
  if (age > staleMs) stale = `held for ${age} ms`;
  else if (typeof info?.pid === 'number' && typeof info.host === 'string' && info.pid !== process.pid
    && liveness({ pid: info.pid, host: info.host, ...(info.startTime ? { startTime: info.startTime } : {}) }, probe) === 'dead') {
    stale = `its owner (pid ${info.pid}) is gone`;
  }
  if (!stale) return false;
  // Re-read just before removing: remove only the very lock judged stale, not a fresh one taken meanwhile.
  try {
    if ((await fsp.readFile(file, 'utf8')) !== text) return true;
    await fsp.rm(file, { force: true });
    logger.warn(`broke the stale lock ${file}: ${stale}`);
  } catch {
    // Gone already.
  }
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
