/**
 * The git-ignored files of a worktree that are worth telling the user about before removing it (issue 11 item 3):
 * `git worktree remove --force` deletes ignored files too — an edited `.env.local` is gone, exit 0 — and
 * `git status` never mentions them.
 *
 * Decisions:
 * - git does every match (`ls-files --others --ignored --directory` with `--exclude-standard`, with the
 *   {@link REGENERABLE} patterns, and with `copyPatterns` + `.worktreeinclude`), so gitignore syntax (negations,
 *   `**`, anchoring, per-folder `.gitignore` files) behaves exactly as git's own, with no glob code of ours.
 * - An ignored entry is listed unless it lies inside something regenerable (`node_modules/`, build output…);
 *   anything matched by `grove.copyFiles` / `.worktreeinclude` is always listed (Grove copies it into new
 *   worktrees because it is hand-made: `.env` files, local config), even inside a regenerable folder.
 * - Entries never overlap. A wholly ignored folder is one entry (with its file count and bytes); a folder that
 *   mixes regenerable and other content (`tmp/` holding `tmp/node_modules/` and `tmp/notes.md`) is split into
 *   its children, recursively, so that the regenerable part is left out and everything else is listed.
 * - A nested git repository (a folder with its own `.git`) is listed with `repository: true`; snapshots do not
 *   store it (its own git holds its history), but removal would delete it, so the user must see it.
 * - Sizes are from `lstat` (symbolic links are not followed, and count as files).
 * Paths are relative to the worktree's top level with `/` separators; folders end with `/`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { literalPathspec } from './changes';
import type { GitClient } from './gitClient';
import { GitError } from './gitError';
import { WORKTREE_INCLUDE_FILE } from './provisioner';

/**
 * Ignored content that a tool regenerates (installs, builds, caches), in gitignore syntax. Short on purpose:
 * listing too much only makes a confirmation longer; leaving something out could hide work. `bin/`, `vendor/`
 * and `.terraform/` are deliberately absent (they often hold hand-placed tools, committed-elsewhere code or state).
 */
export const REGENERABLE: readonly string[] = [
  // JavaScript / TypeScript
  'node_modules/', 'bower_components/', '.pnpm-store/', '.yarn/cache/', '.next/', '.nuxt/', '.svelte-kit/', '.turbo/',
  '.parcel-cache/', '.angular/', '.expo/', '.vite/', '*.tsbuildinfo', '.eslintcache',
  // build output
  'dist/', 'build/', 'out/', 'target/', 'obj/', '.gradle/', 'cmake-build-*/', '.dart_tool/',
  // Python
  '.venv/', 'venv/', '__pycache__/', '*.pyc', '*.pyo', '.pytest_cache/', '.mypy_cache/', '.ruff_cache/', '.tox/', '.nox/',
  '*.egg-info/',
  // test coverage and caches
  'coverage/', '.nyc_output/', '.cache/',
  // compiled objects
  '*.o', '*.obj', '*.class',
  // operating system litter
  '.DS_Store', 'Thumbs.db', 'desktop.ini',
];

/** Longest list of ignored entries (in characters) that limits the second and third listings. */
const MAX_SCOPE_CHARS = 16_000;
/** The `:(literal)` pathspecs mean what they say whatever the user's environment asks of pathspecs. */
const LITERAL = { GIT_LITERAL_PATHSPECS: '0', GIT_GLOB_PATHSPECS: '0', GIT_NOGLOB_PATHSPECS: '0', GIT_ICASE_PATHSPECS: '0' };

export interface IgnoredEntry {
  /** Relative to the worktree's top level, `/` separators; a folder ends with `/`. */
  path: string;
  dir: boolean;
  /** Files (and symbolic links) inside, 1 for a file. */
  files: number;
  bytes: number;
  /** Matched by `copyPatterns` or `.worktreeinclude`. */
  included: boolean;
  /** A nested git repository: listed, never stored by a snapshot. */
  repository?: boolean;
}

export interface ListIgnoredOptions {
  /** `grove.copyFiles`: gitignore-syntax patterns whose matches are always listed. */
  copyPatterns?: readonly string[];
  /** Replaces {@link REGENERABLE} (tests, or a user setting). */
  regenerable?: readonly string[];
  /** The worktree's top level, when the caller knows it (no `rev-parse`). */
  top?: string;
  signal?: AbortSignal;
}

/**
 * Ignored files/folders of a worktree that removal would delete and that are worth listing: every ignored entry
 * except those under {@link REGENERABLE}, but always including what `copyPatterns` / `.worktreeinclude` match.
 * Sorted by path. Runs one read-only `git ls-files` over the worktree and, when it found something, two more
 * over what it found; then `lstat`s only what it lists.
 */
export async function listIgnoredWork(git: GitClient, worktreePath: string, options: ListIgnoredOptions = {}): Promise<IgnoredEntry[]> {
  const { signal } = options;
  const top = options.top ?? (await git.read(worktreePath, ['rev-parse', '--show-toplevel'], { signal })).stdout.trim();
  const base = ['ls-files', '-z', '--others', '--ignored', '--directory'];
  const regenerable = usablePatterns(options.regenerable ?? REGENERABLE);
  const keep = usablePatterns(options.copyPatterns ?? []);
  const includeFile = path.join(top, WORKTREE_INCLUDE_FILE);
  const hasIncludeFile = fs.existsSync(includeFile);
  const list = async (args: string[], env?: Record<string, string>) => new PathSet((await git.read(top, [...base, ...args], { signal, env })).stdout.split('\0').filter(Boolean));
  const ignored = await list(['--exclude-standard']);
  const outermost = ignored.outermost();
  if (!outermost.length) return [];
  // Only what lies at or below an ignored entry is ever asked about: the two other listings walk just those
  // (a walk of the whole worktree each, otherwise), unless they are too many for one command line.
  const scope = outermost.reduce((n, p) => n + p.length + 12, 0) <= MAX_SCOPE_CHARS ? ['--', ...outermost.map(literalPathspec)] : [];
  const [regen, kept] = await Promise.all([
    regenerable.length ? list([...regenerable.map((p) => `--exclude=${p}`), ...scope], LITERAL) : Promise.resolve(new PathSet([])),
    keep.length || hasIncludeFile
      ? list([...keep.map((p) => `--exclude=${p}`), ...(hasIncludeFile ? [`--exclude-from=${includeFile}`] : []), ...scope], LITERAL)
      : Promise.resolve(new PathSet([])),
  ]);
  const out: IgnoredEntry[] = [];

  const visit = async (rel: string): Promise<void> => {
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    const abs = path.join(top, ...rel.split('/').filter(Boolean));
    let stat: fs.Stats;
    try {
      stat = await fs.promises.lstat(abs);
    } catch {
      return; // gone since the listing
    }
    const isDir = stat.isDirectory();
    if (isDir && !rel.endsWith('/')) rel += '/';
    const included = kept.covers(rel);
    const repository = isDir && fs.existsSync(path.join(abs, '.git'));
    const regenerated = regen.covers(rel);
    if (!included && isDir && !repository && (regen.hasBelow(rel) || kept.hasBelow(rel))) {
      // A folder mixing regenerable and other content, or regenerable with kept files inside: each child on its own.
      if (regenerated && !kept.hasBelow(rel)) return;
      for (const child of await fs.promises.readdir(abs, { withFileTypes: true })) {
        if (child.name !== '.git') await visit(rel + child.name + (child.isDirectory() ? '/' : ''));
      }
      return;
    }
    if (!included && regenerated) return;
    const size = isDir ? await measure(abs, signal) : { files: 1, bytes: stat.size };
    if (isDir && size.files === 0 && !repository) return; // an empty folder holds nothing to lose
    out.push({ path: rel, dir: isDir, files: size.files, bytes: size.bytes, included, ...(repository ? { repository } : {}) });
  };
  for (const rel of outermost) await visit(rel);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface WalkedFile {
  /** Relative to the root it was walked from, `/` separators. */
  path: string;
  bytes: number;
  link: boolean;
}

/**
 * Every file and symbolic link at or below `rel` (a file or a folder) of `root`, without following links and
 * without entering nested git repositories (returned in `repositories`). Missing paths give empty lists.
 */
export async function walkEntry(root: string, rel: string, signal?: AbortSignal): Promise<{ files: WalkedFile[]; repositories: string[] }> {
  const files: WalkedFile[] = [];
  const repositories: string[] = [];
  const walk = async (r: string): Promise<void> => {
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    const abs = path.join(root, ...r.split('/').filter(Boolean));
    let stat: fs.Stats;
    try {
      stat = await fs.promises.lstat(abs);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      const dir = r.endsWith('/') ? r : `${r}/`;
      if (fs.existsSync(path.join(abs, '.git'))) {
        repositories.push(dir);
        return;
      }
      for (const child of await fs.promises.readdir(abs)) await walk(dir + child);
    } else if (stat.isFile() || stat.isSymbolicLink()) {
      files.push({ path: r.replace(/\/$/, ''), bytes: stat.size, link: stat.isSymbolicLink() });
    }
    // Sockets, FIFOs and devices are not content.
  };
  await walk(rel.replace(/^\/+/, ''));
  return { files, repositories };
}

async function measure(abs: string, signal?: AbortSignal): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (p: string): Promise<void> => {
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    for (const e of await fs.promises.readdir(p, { withFileTypes: true }).catch(() => [] as fs.Dirent[])) {
      const child = path.join(p, e.name);
      if (e.isDirectory()) {
        if (e.name !== '.git') await walk(child);
      } else {
        files++;
        bytes += (await fs.promises.lstat(child).catch(() => undefined))?.size ?? 0;
      }
    }
  };
  await walk(abs);
  return { files, bytes };
}

function usablePatterns(patterns: readonly string[]): string[] {
  return patterns.map((p) => p.trim()).filter((p) => p && !p.startsWith('#'));
}

/** A listing of `ls-files --directory` (folders end with `/`), with prefix queries in O(depth) / O(log n). */
class PathSet {
  private readonly set: Set<string>;
  private readonly sorted: string[];

  constructor(entries: string[]) {
    this.set = new Set(entries);
    this.sorted = [...this.set].sort();
  }

  /** `rel` is an entry or inside a folder entry. */
  covers(rel: string): boolean {
    if (this.set.has(rel)) return true;
    for (let i = rel.indexOf('/'); i >= 0 && i < rel.length - 1; i = rel.indexOf('/', i + 1)) {
      if (this.set.has(rel.slice(0, i + 1))) return true;
    }
    return false;
  }

  /** Some entry lies strictly inside the folder `rel`. */
  hasBelow(rel: string): boolean {
    if (!rel.endsWith('/')) return false;
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! <= rel) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.sorted.length && this.sorted[lo]!.startsWith(rel);
  }

  /** Entries not inside another folder entry (`ls-files --directory` lists both `foo/` and `foo/a.pyc`). */
  outermost(): string[] {
    return this.sorted.filter((e) => {
      const parent = e.endsWith('/') ? e.slice(0, -1) : e;
      return !(parent.includes('/') && this.covers(parent.slice(0, parent.lastIndexOf('/') + 1)));
    });
  }
}
