/**
 * What an instance changed, for review: every file that differs between the merge-base of the base and the
 * branch and the worktree as it is on disk (committed, staged, unstaged and untracked work), with renames,
 * binary detection and line counts. Pure parsers for git's `-z` outputs live here too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GitClient } from './gitClient';
import { GitError } from './gitError';

/** A = added, M = modified, D = deleted, R = renamed, C = copied, T = type changed, U = unmerged (conflicted). */
export type ChangeStatus = 'A' | 'M' | 'D' | 'R' | 'C' | 'T' | 'U';

export interface ChangedFile {
  /** Path relative to the worktree's top level, always with `/` separators. */
  path: string;
  /** The path before a rename or copy. */
  oldPath?: string;
  status: ChangeStatus;
  /** A file git does not track yet (on disk only, never added); its status is `A`. */
  untracked?: boolean;
  binary: boolean;
  /** Lines added / removed; undefined for binary files (and very large untracked files). */
  insertions?: number;
  deletions?: number;
}

export interface ChangeSet {
  /** The merge-base of the base and the branch: the left side of every diff. */
  mergeBase: string;
  files: ChangedFile[];
}

export interface ListChangesOptions {
  worktreePath: string;
  /** The instance's base (a branch name or any commit-ish). */
  baseRef: string;
  /** Used when `baseRef` no longer resolves (the base branch was deleted). */
  baseCommit?: string;
  signal?: AbortSignal;
}

/** Untracked files bigger than this are listed without line counts (they are read to count lines). */
const MAX_COUNTED_BYTES = 8 * 1024 * 1024;
/** git itself decides "binary" from a NUL in the first 8000 bytes (`buffer_is_binary`). */
const BINARY_PROBE_BYTES = 8000;

/**
 * Lists what the instance changed: `git diff -M <merge-base>` (the work tree against the merge-base covers
 * committed, staged and unstaged changes of tracked files in one pass) plus untracked, non-ignored files.
 */
export async function listChanges(git: GitClient, options: ListChangesOptions): Promise<ChangeSet> {
  const { worktreePath, signal } = options;
  const mergeBase = await findMergeBase(git, worktreePath, options.baseRef, options.baseCommit, signal);
  const [nameStatus, numstat, others] = await Promise.all([
    git.read(worktreePath, ['diff', '--name-status', '-z', '-M', mergeBase, '--'], { signal }),
    git.read(worktreePath, ['diff', '--numstat', '-z', '-M', mergeBase, '--'], { signal }),
    git.read(worktreePath, ['ls-files', '--others', '--exclude-standard', '-z', '--full-name'], { signal }),
  ]);
  const counts = new Map(parseNumstat(numstat.stdout).map((n) => [n.path, n]));
  const files: ChangedFile[] = parseNameStatus(nameStatus.stdout).map((entry) => {
    const n = counts.get(entry.path);
    const file: ChangedFile = { ...entry, binary: n?.binary ?? false };
    if (n && !n.binary) {
      file.insertions = n.insertions;
      file.deletions = n.deletions;
    }
    return file;
  });
  const top = (await git.read(worktreePath, ['rev-parse', '--show-toplevel'], { signal })).stdout.trim();
  for (const rel of parseNulList(others.stdout)) {
    files.push(await describeUntracked(top, rel));
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { mergeBase, files };
}

async function findMergeBase(git: GitClient, cwd: string, baseRef: string, baseCommit: string | undefined, signal?: AbortSignal): Promise<string> {
  const candidates = [baseRef, baseCommit].filter((r): r is string => !!r && !r.startsWith('-'));
  for (const rev of candidates) {
    const resolved = await git.read(cwd, ['rev-parse', '--verify', '-q', `${rev}^{commit}`], { signal, okExitCodes: [1] });
    if (resolved.exitCode !== 0) continue;
    const mb = await git.read(cwd, ['merge-base', resolved.stdout.trim(), 'HEAD'], { signal, okExitCodes: [1] });
    if (mb.exitCode === 0) return mb.stdout.trim();
    throw new GitError(`The branch in ${cwd} has no common history with '${rev}'.`, { code: 'NotFound' });
  }
  throw new GitError(`The base '${baseRef}' does not exist any more${baseCommit ? ` and neither does ${baseCommit.slice(0, 8)}` : ''}.`, { code: 'NotFound' });
}

async function describeUntracked(top: string, rel: string): Promise<ChangedFile> {
  const file: ChangedFile = { path: rel, status: 'A', untracked: true, binary: false };
  // A nested repository is listed as `dir/`; it has no lines to count.
  if (rel.endsWith('/')) return file;
  try {
    const abs = path.join(top, ...rel.split('/'));
    const stat = await fs.promises.lstat(abs);
    if (!stat.isFile() || stat.size > MAX_COUNTED_BYTES) return file;
    const content = await fs.promises.readFile(abs);
    file.binary = isBinary(content);
    if (!file.binary) {
      file.insertions = countLines(content);
      file.deletions = 0;
    }
  } catch {
    // Deleted between the listing and now: still report it, without counts.
  }
  return file;
}

/** git's own rule: a NUL byte in the first 8000 bytes. Pure. */
export function isBinary(content: Buffer): boolean {
  return content.subarray(0, BINARY_PROBE_BYTES).includes(0);
}

function countLines(content: Buffer): number {
  if (content.length === 0) return 0;
  let n = 0;
  for (const byte of content) if (byte === 0x0a) n++;
  return content[content.length - 1] === 0x0a ? n : n + 1;
}

/** Splits NUL-terminated output (`ls-files -z`, `diff --name-only -z`). Pure. */
export function parseNulList(stdout: string): string[] {
  return stdout.split('\0').filter((s) => s.length > 0);
}

/** One record of `git status --porcelain=v1 -z`: `XY path`, with the source path of a rename or copy. */
export interface StatusEntry {
  /** Index (staged) status letter, ` ` when unchanged, `?` untracked, `!` ignored. */
  x: string;
  /** Work-tree status letter. */
  y: string;
  path: string;
  /** The path before a staged rename or copy (`R`/`C`). */
  from?: string;
}

/**
 * Parses `git status --porcelain=v1 -z`: `XY path\0` per file and `XY to\0from\0` for renames and copies (the
 * source comes second, in its own field, so it must not be read as a record of its own). Pure.
 */
export function parseStatusZ(stdout: string): StatusEntry[] {
  const fields = stdout.split('\0');
  const out: StatusEntry[] = [];
  for (let i = 0; i < fields.length; i++) {
    const record = fields[i]!;
    if (record.length < 4 || record[2] !== ' ') continue;
    const entry: StatusEntry = { x: record[0]!, y: record[1]!, path: record.slice(3) };
    if (entry.x === 'R' || entry.x === 'C' || entry.y === 'R' || entry.y === 'C') entry.from = fields[++i] ?? '';
    out.push(entry);
  }
  return out;
}

export interface WorktreeStatus {
  /** Tracked files with staged or unstaged changes (for a rename or copy, its new path). */
  changed: string[];
  /** Untracked files that are not ignored, each one (`--untracked-files=all`). */
  untracked: string[];
  /** Staged renames and copies (`from` no longer exists under that name unless `copy`). */
  renamed: Array<{ from: string; to: string; copy: boolean }>;
  /** Files with unresolved conflicts. */
  conflicted: string[];
  /** Every path a commit of everything would touch (changed, rename sources, untracked, conflicted), sorted. */
  paths: string[];
}

const UNMERGED = new Set(['DD', 'AU', 'UD', 'UA', 'DU', 'AA', 'UU']);

/** Groups parsed status records (see {@link worktreeStatus}); `exclude` as in {@link isExcludedPath}. Pure. */
export function summarizeStatus(entries: readonly StatusEntry[], exclude: readonly string[] = []): WorktreeStatus {
  const status: WorktreeStatus = { changed: [], untracked: [], renamed: [], conflicted: [], paths: [] };
  const paths = new Set<string>();
  const keep = (p: string) => !isExcludedPath(p, exclude);
  for (const e of entries) {
    if (e.x === '!') continue;
    if (e.x === '?') {
      if (keep(e.path)) status.untracked.push(e.path), paths.add(e.path);
      continue;
    }
    if (UNMERGED.has(e.x + e.y)) {
      status.conflicted.push(e.path);
      paths.add(e.path);
      continue;
    }
    if (e.from !== undefined) {
      status.renamed.push({ from: e.from, to: e.path, copy: e.x === 'C' || e.y === 'C' });
      if (e.x !== 'C' && e.y !== 'C') paths.add(e.from);
    }
    if (keep(e.path)) status.changed.push(e.path), paths.add(e.path);
  }
  status.paths = [...paths].sort(byPath);
  return status;
}

/**
 * What is uncommitted in a worktree: `git status --porcelain=v1 -z --untracked-files=all`, renames included.
 * `exclude` leaves out paths Grove copied there (changes to them and untracked copies are not the agent's work).
 */
export async function worktreeStatus(git: GitClient, worktreePath: string, options: { exclude?: readonly string[]; signal?: AbortSignal } = {}): Promise<WorktreeStatus> {
  const { stdout } = await git.read(worktreePath, ['status', '--porcelain=v1', '-z', '--untracked-files=all'], { signal: options.signal });
  return summarizeStatus(parseStatusZ(stdout), options.exclude);
}

/** `path` is one of `exclude` or inside one of them (entries may end with `/`). Pure. */
export function isExcludedPath(path: string, exclude: readonly string[]): boolean {
  for (const raw of exclude) {
    const e = normalizeRelative(raw);
    if (e && (path === e || path.startsWith(`${e}/`))) return true;
  }
  return false;
}

/** A pathspec that matches exactly this path (and what is below it): no glob, no other magic. Pure. */
export function literalPathspec(rel: string): string {
  return `:(literal)${normalizeRelative(rel)}`;
}

function normalizeRelative(rel: string): string {
  return rel.replace(/\\/g, '/').replace(/^\.\/+/, '').replace(/^\/+|\/+$/g, '');
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Parses `git diff --name-status -z [-M]`: `X\0path\0` per file, and `R<score>\0old\0new\0` / `C<score>\0…`
 * for renames and copies. Pure.
 */
export function parseNameStatus(stdout: string): Array<Pick<ChangedFile, 'path' | 'oldPath' | 'status'>> {
  const fields = stdout.split('\0');
  const out: Array<Pick<ChangedFile, 'path' | 'oldPath' | 'status'>> = [];
  for (let i = 0; i < fields.length; ) {
    const code = fields[i++];
    if (!code) continue;
    const letter = code[0] as ChangeStatus | 'X';
    if (letter === 'R' || letter === 'C') {
      const oldPath = fields[i++] ?? '';
      const newPath = fields[i++] ?? '';
      out.push({ path: newPath, oldPath, status: letter });
    } else {
      const p = fields[i++] ?? '';
      // `X` (unknown) and anything newer git may add are shown as modified rather than dropped.
      out.push({ path: p, status: 'AMDTU'.includes(letter) ? (letter as ChangeStatus) : 'M' });
    }
  }
  return out;
}

export interface NumstatEntry {
  path: string;
  oldPath?: string;
  binary: boolean;
  insertions: number;
  deletions: number;
}

/**
 * Parses `git diff --numstat -z [-M]`: `ins\tdel\tpath\0`, or for a rename `ins\tdel\t\0old\0new\0`; binary
 * files have `-` for both counts. Pure.
 */
export function parseNumstat(stdout: string): NumstatEntry[] {
  const fields = stdout.split('\0');
  const out: NumstatEntry[] = [];
  for (let i = 0; i < fields.length; ) {
    const head = fields[i++];
    if (!head) continue;
    const m = /^(-|\d+)\t(-|\d+)\t([\s\S]*)$/.exec(head);
    if (!m) continue;
    const binary = m[1] === '-' && m[2] === '-';
    const entry: NumstatEntry = { path: m[3]!, binary, insertions: binary ? 0 : Number(m[1]), deletions: binary ? 0 : Number(m[2]) };
    if (m[3] === '') {
      entry.oldPath = fields[i++] ?? '';
      entry.path = fields[i++] ?? '';
    }
    out.push(entry);
  }
  return out;
}

/**
 * The content of `filePath` (relative to the repository's top level, `/` or `\` separators) at commit `sha`,
 * byte for byte (no filters), or undefined when the file did not exist there. For the left side of a diff.
 */
export async function showFileAt(git: GitClient, repoDir: string, sha: string, filePath: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  if (sha.startsWith('-')) throw new GitError(`Invalid commit: ${sha}`, { code: 'NotFound' });
  const rel = filePath.replace(/\\/g, '/').replace(/^\/+/, '');
  const resolved = await git.read(repoDir, ['rev-parse', '--verify', '-q', `${sha}:${rel}`], { signal, okExitCodes: [1, 128] });
  if (resolved.exitCode !== 0) return undefined;
  const oid = resolved.stdout.trim();
  const type = await git.read(repoDir, ['cat-file', '-t', oid], { signal, okExitCodes: [1, 128] });
  if (type.exitCode !== 0) {
    // A submodule's commit is not in this repository: show what `git diff` shows for it.
    return Buffer.from(`Subproject commit ${oid}\n`);
  }
  if (type.stdout.trim() !== 'blob') return undefined;
  const text = (await git.read(repoDir, ['cat-file', 'blob', oid], { signal })).stdout;
  // GitClient decodes output as UTF-8, which is exact unless the blob is not valid UTF-8 (then it holds
  // U+FFFD). Those blobs — images, latin-1 text — are written to a file by git itself and read as bytes.
  if (!text.includes('\uFFFD')) return Buffer.from(text, 'utf8');
  return unpackBlob(git, repoDir, oid, signal);
}

/** `git unpack-file` writes a blob's exact bytes to `.merge_file_XXXXXX` in the current folder. */
async function unpackBlob(git: GitClient, repoDir: string, oid: string, signal?: AbortSignal): Promise<Buffer> {
  const commonDir = await git.commonDir(repoDir, signal);
  const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'grove-blob-'));
  try {
    // Run outside any work tree (cwd = a private temp folder) so the file never appears in the user's tree.
    const { stdout } = await git.read(tmp, [`--git-dir=${commonDir}`, 'unpack-file', oid], { signal });
    return await fs.promises.readFile(path.join(tmp, stdout.trim()));
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }
}
