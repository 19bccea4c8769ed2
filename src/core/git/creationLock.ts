/**
 * Worktree creation is serialised across processes (the extension, `grove dispatch`, a second window) by the lock
 * file `<commonDir>/grove/create.lock` (see util/fileLock.ts); the in-process mutation queue of GitClient only
 * serialises one process. It is held only while choosing a name and running `git worktree add` (seconds), never
 * during the setup command; a live owner is waited for, then the create is refused with a message naming it.
 */
import path from 'node:path';
import { groveDir } from '../paths';
import { LockAbortedError, LockTimeoutError, withFileLock as withLock, type FileLockOptions } from '../util/fileLock';
import { GitError } from './gitError';

export const CREATE_LOCK_FILE = 'create.lock';
export type { FileLockOptions };

export function creationLockFile(commonDir: string): string {
  return path.join(groveDir(commonDir), CREATE_LOCK_FILE);
}

/** Runs `fn` holding the creation lock; a timeout or an abort becomes a GitError (`RefLocked`, `Cancelled`). */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  try {
    return await withLock(file, fn, options);
  } catch (err) {
    if (err instanceof LockAbortedError) throw new GitError('Cancelled', { code: 'Cancelled' });
    if (err instanceof LockTimeoutError) {
      const who = err.holder ? `process ${err.holder.pid} on ${err.holder.host}` : 'another process';
      throw new GitError(`Another Grove process is creating a worktree in this repository (${who} holds ${file}); try again, or delete that file if no Grove process runs there.`, { code: 'RefLocked' });
    }
    throw err;
  }
}
