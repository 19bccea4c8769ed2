/**
 * Provisioning steps for a fresh worktree: copy the untracked files it needs (`.env`, local config…), set up
 * submodules, allocate a port, run the user's setup command. (The records Grove keeps per worktree are in
 * worktreeRecords.ts.)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isInside } from '../util/fsPaths';
import type { GitClient } from './gitClient';
import { GitError } from './gitError';
import { readAdminDirs, readMetadata } from './worktreeRecords';

// Kept here for the modules that import them from the provisioner.
export { normalizePath, isInside } from '../util/fsPaths';
export { METADATA_FILE, readAdminDirs, readMetadata, writeMetadata, type WorktreeMetadata } from './worktreeRecords';

export const WORKTREE_INCLUDE_FILE = '.worktreeinclude';
export const DEFAULT_PORT_BASE = 41000;

/**
 * Lowest port ≥ `base` held by no worktree of this repository (ports live in each worktree's metadata, so a
 * removed or pruned worktree frees its port) and not bound on this machine right now (which also avoids
 * a port another repository's worktree is serving on). Call it while holding the repository's queue.
 */
export async function allocatePort(commonDir: string, base = DEFAULT_PORT_BASE): Promise<number> {
  const used = new Set<number>();
  for (const adminDir of (await readAdminDirs(commonDir)).values()) {
    const meta = await readMetadata(adminDir);
    if (meta) used.add(meta.port);
  }
  for (let port = base; port < 65536; port++) {
    if (used.has(port)) continue;
    if (await isPortFree(port)) return port;
  }
  throw new Error(`No free port at or above ${base}`);
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Copies, from `source` to `target`, every untracked (including git-ignored) file or folder of `source` that
 * matches one of `patterns` or the `.worktreeinclude` file of `source`. Both use gitignore syntax, and git
 * itself does the matching (`ls-files --others --ignored --exclude…`), so there is no glob code of ours to
 * get wrong and negations, `**` and anchored patterns behave exactly as in `.gitignore`. Tracked files are
 * never listed: the checkout already has them. Returns the copied relative paths (folders end with `/`).
 */
export async function copyIncludedFiles(
  git: GitClient,
  source: string,
  target: string,
  patterns: readonly string[],
  signal?: AbortSignal,
): Promise<string[]> {
  const includeFile = path.join(source, WORKTREE_INCLUDE_FILE);
  const hasIncludeFile = fs.existsSync(includeFile);
  const usable = patterns.map((p) => p.trim()).filter((p) => p && !p.startsWith('#'));
  if (!usable.length && !hasIncludeFile) return [];
  const args = [
    'ls-files', '-z', '--others', '--ignored',
    ...usable.map((p) => `--exclude=${p}`),
    ...(hasIncludeFile ? [`--exclude-from=${includeFile}`] : []),
  ];
  // Two listings: with `--directory`, wholly matched folders (node_modules/) come as one entry to copy in one
  // go; without it, files matched inside folders that are untracked but not wholly matched (config/*.local).
  const [dirs, files] = await Promise.all([
    git.read(source, [...args, '--directory', '--no-empty-directory'], { signal }),
    git.read(source, args, { signal }),
  ]);
  const wholeDirs = dirs.stdout.split('\0').filter((e) => e.endsWith('/'));
  const entries = [
    ...wholeDirs,
    ...files.stdout.split('\0').filter((f) => f && !wholeDirs.some((d) => f.startsWith(d))),
  ];
  const copied: string[] = [];
  for (const rel of entries) {
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    const from = path.join(source, rel);
    const to = path.join(target, rel);
    // git never lists `..`, but a copy must not be able to leave the worktree whatever the input.
    if (!isInside(target, to)) continue;
    await fs.promises.mkdir(path.dirname(to), { recursive: true });
    await fs.promises.cp(from, to, { recursive: true, force: false, errorOnExist: false, verbatimSymlinks: true });
    copied.push(rel);
  }
  return copied;
}

export interface SetupResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs the user's configured setup command (e.g. `npm ci`) in `cwd`. It runs through the platform shell
 * (`/bin/sh`, or cmd.exe on Windows) on purpose: the command is the user's own setting, written as they would
 * type it, with pipes and `&&`. Nothing derived from a task title or prompt is ever part of it; values Grove
 * provides go through the environment (`GROVE_PORT`…). On abort the whole process tree is ended and a
 * `Cancelled` GitError is thrown.
 */
export function runSetupCommand(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  onOutput: (chunk: string) => void,
  signal?: AbortSignal,
): Promise<SetupResult> {
  if (signal?.aborted) return Promise.reject(new GitError('Cancelled', { code: 'Cancelled' }));
  const isWindows = process.platform === 'win32';
  return new Promise((resolve, reject) => {
    const child = spawn(command, {
      cwd,
      env,
      shell: true,
      // Own process group on POSIX so that abort ends the shell and everything it started.
      detached: !isWindows,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    child.stdout.on('data', (b: Buffer) => onOutput(b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => onOutput(b.toString('utf8')));
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      killTree(child.pid, isWindows);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.once('close', (exitCode, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (aborted) reject(new GitError('Cancelled', { code: 'Cancelled' }));
      else resolve({ exitCode, signal: sig });
    });
  });
}

function killTree(pid: number | undefined, isWindows: boolean): void {
  if (!pid) return;
  try {
    if (isWindows) {
      spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { windowsHide: true, stdio: 'ignore' });
    } else {
      process.kill(-pid, 'SIGTERM');
      setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 2000).unref();
    }
  } catch {
    // already gone
  }
}
