/**
 * Files that are committed nowhere and that a checkout would overwrite or delete.
 *
 * git treats *ignored* files as expendable: `git merge`, `git rebase` and `git checkout` silently replace an
 * ignored file (a local `config.local.json`, a `debug.log`, an `.env` variant) when the commit they move to
 * tracks that path, or delete it when a file comes where its folder was. Those files are someone's work too,
 * so Grove lists them before any such operation and refuses (nothing changed) while there are any.
 * Untracked files that are not ignored are found the same way (git itself refuses to overwrite those, but only
 * once it has started; this says so first, with the file names).
 */
import fs from 'node:fs';
import path from 'node:path';
import { literalPathspec, parseNulList } from './changes';
import type { GitClient } from './gitClient';

export interface FileInTheWay {
  /** Relative path, `/` separators. */
  path: string;
  /** git ignores it (otherwise it is an untracked file). */
  ignored: boolean;
}

/** Most files listed inside a folder that would be replaced by a file. */
const MAX_WALK = 1000;
const PATHSPECS_PER_CALL = 200;

/**
 * The untracked or ignored files in the work tree `dir` that writing `paths` (files the operation will create
 * there: paths of the target that the current HEAD does not track) would overwrite or delete:
 * - a file or symlink at one of the paths;
 * - the files inside a folder at one of the paths (the folder must go for the file to come);
 * - a file where one of the paths needs a folder (`a` when `a/b` comes).
 * Tracked files never count (the operation knows them; uncommitted changes to them are checked elsewhere).
 */
export async function filesInTheWay(git: GitClient, dir: string, paths: readonly string[], signal?: AbortSignal): Promise<FileInTheWay[]> {
  const candidates = new Set<string>();
  const checkedDirs = new Set<string>();
  for (const rel of paths) {
    if (signal?.aborted) break;
    const abs = path.join(dir, ...rel.split('/'));
    const st = await lstat(abs);
    if (st?.isDirectory()) {
      for (const inner of await walk(abs, rel)) candidates.add(inner);
    } else if (st) {
      candidates.add(rel);
    }
    // A file (or symlink) where a folder of this path must be.
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (checkedDirs.has(prefix)) continue;
      checkedDirs.add(prefix);
      const pst = await lstat(path.join(dir, ...parts.slice(0, i)));
      if (!pst) break;
      if (!pst.isDirectory()) {
        candidates.add(prefix);
        break;
      }
    }
  }
  if (!candidates.size) return [];
  const list = [...candidates];
  const [ignored, untracked] = await Promise.all([
    lsOthers(git, dir, list, true, signal),
    lsOthers(git, dir, list, false, signal),
  ]);
  const out: FileInTheWay[] = [];
  for (const p of list.sort()) {
    if (ignored.has(p)) out.push({ path: p, ignored: true });
    else if (untracked.has(p)) out.push({ path: p, ignored: false });
  }
  return out;
}

/** `git ls-files --others [--ignored] --exclude-standard` restricted to literal paths. */
async function lsOthers(git: GitClient, dir: string, paths: string[], ignored: boolean, signal?: AbortSignal): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < paths.length; i += PATHSPECS_PER_CALL) {
    const specs = paths.slice(i, i + PATHSPECS_PER_CALL).map(literalPathspec);
    const args = ['ls-files', '-z', '--full-name', '--others', ...(ignored ? ['--ignored'] : []), '--exclude-standard', '--', ...specs];
    for (const p of parseNulList((await git.read(dir, args, { signal })).stdout)) found.add(p);
  }
  // A nested repository is listed as `dir/` (it cannot be listed file by file): report the folder.
  for (const p of [...found]) if (p.endsWith('/')) found.add(p.slice(0, -1));
  return found;
}

async function walk(absDir: string, relDir: string): Promise<string[]> {
  const out: string[] = [];
  const stack: Array<[string, string]> = [[absDir, relDir]];
  while (stack.length && out.length < MAX_WALK) {
    const [abs, rel] = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(abs, { withFileTypes: true });
    } catch {
      continue;
    }
    if (entries.some((e) => e.name === '.git')) {
      // A nested repository: git sees it as one entry.
      out.push(rel);
      continue;
    }
    for (const e of entries) {
      const childRel = `${rel}/${e.name}`;
      if (e.isDirectory()) stack.push([path.join(abs, e.name), childRel]);
      else out.push(childRel);
    }
  }
  return out;
}

async function lstat(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(p);
  } catch {
    return undefined;
  }
}
