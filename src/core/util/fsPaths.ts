/**
 * One way to compare file-system paths, everywhere in Grove.
 *
 * - {@link normalizePath}: the absolute, real path (symlinks resolved, as the file system spells it), for display
 *   and storage. Case is PRESERVED: it is never lowercased.
 * - {@link pathKey}: the comparison key of a path; two paths name the same file when their keys are equal
 *   ({@link samePath}). {@link isInside} and {@link PathMap} compare by key.
 *
 * Case sensitivity, decided per platform (the `platform` argument is injectable so that unit tests on Linux can
 * check the Windows and macOS rules):
 * - `win32`: case-insensitive; `\` and `/` are both separators; drive letters and UNC shares compare
 *   case-insensitively.
 * - `darwin`: case-insensitive. The default APFS/HFS+ volume is case-insensitive; a case-sensitive volume is rare,
 *   and the only wrong answer there would be calling two paths that differ only by case "the same" — Grove's own
 *   worktree folders are lowercase slugs, so it never creates two such folders.
 * - everything else (Linux…): case-sensitive.
 *
 * Symlinks are resolved only when `platform` is the running platform (a foreign platform's paths are not on this
 * machine); a path that does not exist (a worktree deleted by hand) is resolved through its closest existing
 * ancestor.
 */
import fs from 'node:fs';
import path from 'node:path';

export type PathPlatform = NodeJS.Platform;

export function isCaseInsensitive(platform: PathPlatform = process.platform): boolean {
  return platform === 'win32' || platform === 'darwin';
}

function flavor(platform: PathPlatform): typeof path.posix {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** The absolute, real path of `p` with its case preserved and no trailing separator (except a root's). */
export function normalizePath(p: string, platform: PathPlatform = process.platform): string {
  const P = flavor(platform);
  let resolved = P.resolve(p);
  if (platform === process.platform) resolved = realpathThroughAncestors(resolved);
  return trimTrailingSeparator(resolved, P);
}

/** The key two paths are compared by: equal keys, same file (see the module comment for the case rules). */
export function pathKey(p: string, platform: PathPlatform = process.platform): string {
  let key = normalizePath(p, platform);
  if (platform === 'win32') key = key.replace(/\//g, '\\');
  return isCaseInsensitive(platform) ? key.toLowerCase() : key;
}

export function samePath(a: string, b: string, platform: PathPlatform = process.platform): boolean {
  return pathKey(a, platform) === pathKey(b, platform);
}

/** True when `child` is strictly inside `parent` (a path is not inside itself). */
export function isInside(parent: string, child: string, platform: PathPlatform = process.platform): boolean {
  const P = flavor(platform);
  const rel = P.relative(pathKey(parent, platform), pathKey(child, platform));
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${P.sep}`) && !P.isAbsolute(rel);
}

/** True when `child` is `parent` or inside it. */
export function isSameOrInside(parent: string, child: string, platform: PathPlatform = process.platform): boolean {
  return samePath(parent, child, platform) || isInside(parent, child, platform);
}

/** A Map keyed by path: `get('/A/b/')` finds what was `set('/a/b')` where the platform says they are the same. */
export class PathMap<V> extends Map<string, V> {
  constructor(
    entries?: Iterable<readonly [string, V]>,
    private readonly platform: PathPlatform = process.platform,
  ) {
    super();
    if (entries) for (const [k, v] of entries) this.set(k, v);
  }

  override get(key: string): V | undefined {
    return super.get(pathKey(key, this.platform));
  }

  override set(key: string, value: V): this {
    return super.set(pathKey(key, this.platform), value);
  }

  override has(key: string): boolean {
    return super.has(pathKey(key, this.platform));
  }

  override delete(key: string): boolean {
    return super.delete(pathKey(key, this.platform));
  }
}

function realpathThroughAncestors(p: string): string {
  const missing: string[] = [];
  let current = p;
  for (;;) {
    try {
      const real = fs.realpathSync.native(current);
      return missing.length ? path.join(real, ...missing.reverse()) : real;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return p;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

function trimTrailingSeparator(p: string, P: typeof path.posix): string {
  const root = P.parse(p).root;
  let out = p;
  while (out.length > root.length && /[\\/]$/.test(out) && (P === path.win32 || out.endsWith('/'))) out = out.slice(0, -1);
  return out;
}
