/**
 * What Grove remembers about the worktrees and branches it made, kept in files that no other process contends for
 * and that no git safety guard reads as settings:
 *
 * - `<commonDir>/worktrees/<id>/grove.json` — the worktree's own record, in its git admin dir (git deletes it with
 *   the worktree).
 * - `<commonDir>/grove/branches/<branch, URI-encoded>.json` — the same facts per task branch, which survive the
 *   worktree (a worktree whose admin dir lost grove.json, or the branch checked out by hand elsewhere).
 *
 * Both are written atomically (write a private temporary file, then rename). Nothing is written to git config:
 * per-branch config keys contended on `.git/config.lock` across processes, and simple-git's guard read words of the
 * slug inside `branch.<prefix>/<slug>.groveBase` as dangerous settings ("alias", "filter … clean", "merge driver").
 * Older Grove versions wrote `branch.<b>.groveBase` / `groveBaseCommit`: those are still READ
 * ({@link readLegacyBases}), never written.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { groveDir } from '../paths';
import type { ProcessIdentity } from '../platform/processes';
import { PathMap } from '../util/fsPaths';
import type { GitClient } from './gitClient';

/** Stored as `<commonDir>/worktrees/<id>/grove.json` and `<commonDir>/grove/branches/<branch>.json`. */
export interface WorktreeMetadata {
  version: 1;
  managedBy: 'grove';
  slug: string;
  /** The task branch: the branch Grove created for this worktree (the only branch Grove ever deletes for it). */
  branch: string;
  baseRef: string;
  baseCommit: string;
  port: number;
  createdAt: number;
  /** The fleet instance the worktree was made for, when the caller said. */
  instanceId?: string;
  /**
   * A spare of the warm pool (worktreePool.ts): detached at `baseCommit`, with no task branch (`branch` is '').
   * `ready` once provisioned; until then `filler` is the process provisioning it.
   */
  spare?: SpareRecord;
}

export interface SpareRecord {
  ready: boolean;
  /** How it was provisioned ({@link recipeOf}): a spare made with other settings is not used, and removed. */
  recipe?: string;
  filler?: ProcessIdentity;
  /** What provisioning copied in (refreshed from the main checkout when the spare is taken). */
  copiedFiles?: string[];
  /**
   * The changed and untracked files provisioning left (the setup command's output), as it left them: these are not
   * work as long as they are unchanged (same size and modification time).
   */
  leftovers?: FileStamp[];
}

export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

export const METADATA_FILE = 'grove.json';

/** Maps each linked worktree's path to its admin dir `<commonDir>/worktrees/<id>` (pure file reads; path-keyed). */
export async function readAdminDirs(commonDir: string): Promise<Map<string, string>> {
  const result = new PathMap<string>();
  const root = path.join(commonDir, 'worktrees');
  let ids: string[];
  try {
    ids = await fs.promises.readdir(root);
  } catch {
    return result;
  }
  await Promise.all(
    ids.map(async (id) => {
      try {
        const gitdir = (await fs.promises.readFile(path.join(root, id, 'gitdir'), 'utf8')).trim();
        result.set(path.dirname(gitdir), path.join(root, id));
      } catch {
        // A half-written admin dir (git is creating it right now) has no gitdir file yet.
      }
    }),
  );
  return result;
}

/** The admin dir a worktree's `.git` file points at, or undefined (no such file: not a linked worktree). */
export async function adminDirOf(worktreePath: string): Promise<string | undefined> {
  try {
    const text = await fs.promises.readFile(path.join(worktreePath, '.git'), 'utf8');
    const m = /^gitdir: (.*)$/m.exec(text);
    return m ? path.resolve(worktreePath, m[1]!.trim()) : undefined;
  } catch {
    return undefined;
  }
}

export async function readMetadata(adminDir: string | undefined): Promise<WorktreeMetadata | undefined> {
  if (!adminDir) return undefined;
  return readRecord(path.join(adminDir, METADATA_FILE));
}

export async function writeMetadata(adminDir: string, meta: WorktreeMetadata): Promise<void> {
  await writeAtomically(path.join(adminDir, METADATA_FILE), JSON.stringify(meta, null, 2));
}

export function branchRecordFile(commonDir: string, branch: string): string {
  return path.join(groveDir(commonDir), 'branches', `${encodeURIComponent(branch)}.json`);
}

export async function readBranchRecord(commonDir: string, branch: string): Promise<WorktreeMetadata | undefined> {
  const record = await readRecord(branchRecordFile(commonDir, branch));
  return record?.branch === branch ? record : undefined;
}

export async function writeBranchRecord(commonDir: string, meta: WorktreeMetadata): Promise<void> {
  const file = branchRecordFile(commonDir, meta.branch);
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  await writeAtomically(file, JSON.stringify(meta, null, 2));
}

export async function deleteBranchRecord(commonDir: string, branch: string): Promise<void> {
  await fs.promises.rm(branchRecordFile(commonDir, branch), { force: true });
}

/**
 * The bases older Grove versions kept in git config (`branch.<b>.groveBase`, `branch.<b>.groveBaseCommit`), by
 * branch. One read-only `git config --get-regexp` for all branches (reads are not guarded by simple-git).
 */
export async function readLegacyBases(git: GitClient, cwd: string, signal?: AbortSignal): Promise<Map<string, { ref: string; commit: string }>> {
  const out = new Map<string, { ref: string; commit: string }>();
  const { stdout, exitCode } = await git.read(cwd, ['config', '-z', '--get-regexp', '^branch\\..*\\.grovebase(commit)?$'], { signal, okExitCodes: [1] });
  if (exitCode !== 0) return out;
  for (const record of stdout.split('\0')) {
    const nl = record.indexOf('\n');
    if (nl < 0) continue;
    const key = record.slice(0, nl);
    const value = record.slice(nl + 1).trim();
    const m = /^branch\.(.+)\.(grovebase|grovebasecommit)$/i.exec(key);
    if (!m) continue;
    const entry = out.get(m[1]!) ?? { ref: '', commit: '' };
    if (m[2]!.toLowerCase() === 'grovebase') entry.ref = value;
    else entry.commit = value;
    out.set(m[1]!, entry);
  }
  for (const [b, e] of out) if (!e.ref) out.delete(b);
  return out;
}

async function readRecord(file: string): Promise<WorktreeMetadata | undefined> {
  try {
    const data = JSON.parse(await fs.promises.readFile(file, 'utf8')) as WorktreeMetadata;
    return data && data.managedBy === 'grove' && typeof data.branch === 'string' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** A fingerprint of the provisioning settings (copy patterns, setup command). Pure. */
export function recipeOf(o: { copyFiles?: readonly string[]; setupCommand?: string }): string {
  return createHash('sha256').update(JSON.stringify([o.copyFiles ?? [], o.setupCommand?.trim() ?? ''])).digest('hex').slice(0, 16);
}

/** Size and modification time of files (relative to `root`); a file that cannot be read is left out. */
export async function stamps(root: string, files: readonly string[]): Promise<FileStamp[]> {
  const out: FileStamp[] = [];
  for (const rel of files) {
    const st = await fs.promises.lstat(path.join(root, rel)).catch(() => undefined);
    if (st) out.push({ path: rel, size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** The files of `files` that are not exactly as `stamps` recorded them (changed, or not recorded at all). */
export async function unstamped(root: string, files: readonly string[], recorded: readonly FileStamp[] = []): Promise<string[]> {
  const byPath = new Map(recorded.map((r) => [r.path, r]));
  const now = await stamps(root, files.filter((f) => byPath.has(f)));
  const same = new Set(now.filter((n) => byPath.get(n.path)?.size === n.size && byPath.get(n.path)?.mtimeMs === n.mtimeMs).map((n) => n.path));
  return files.filter((f) => !same.has(f));
}

/** Write-then-rename, so that a reader never sees half a file; the temporary name is private to this call. */
export async function writeAtomically(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.promises.writeFile(tmp, content);
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}
