/** Small helpers of the snapshot modules: ids, temporary folders, files, argument chunks and git output parsers. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GitError } from './gitError';
import { CHECKPOINT_REF_PREFIX, MAX_ARGS_CHARS, SNAPSHOT_REF_PREFIX, type Run } from './snapshotTypes';

/** A snapshot id has no `/`; a checkpoint id is `<instanceId>/…`; a full `refs/grove/…` name is taken as is. */
export function toRef(id: string): string {
  const ref = id.startsWith('refs/grove/') ? id : id.includes('/') ? CHECKPOINT_REF_PREFIX + id : SNAPSHOT_REF_PREFIX + id;
  if (!/^refs\/grove\/(snapshots|checkpoints)\/[\w.\-/]+$/.test(ref) || ref.includes('..') || ref.includes('//') || ref.endsWith('/') || ref.endsWith('.lock')) {
    throw new GitError(`Invalid snapshot id: ${id}`, { code: 'NotFound' });
  }
  return ref;
}

export function checkInstanceId(id: string): void {
  if (!/^[\w][\w.-]*$/.test(id) || id.includes('..') || id.endsWith('.lock') || id.endsWith('.')) throw new GitError(`Invalid instance id: ${id}`, { code: 'Unknown' });
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
}

export async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'grove-snap-'));
  try {
    return await fn(dir);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

export async function copyIfExists(from: string, to: string): Promise<boolean> {
  try {
    await fs.promises.copyFile(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Copies an index file keeping its modification time: git trusts an entry's stat data only when the file was
 * changed before the index was written ("racy git"); a copy stamped now would make a same-size change made in the
 * index's last second look clean (and be lost). Rounded down, which only makes more entries racy (compared).
 */
export async function copyIndex(from: string, to: string): Promise<boolean> {
  if (!(await copyIfExists(from, to))) return false;
  const stat = await fs.promises.stat(from);
  const mtime = Math.floor(stat.mtimeMs) / 1000;
  await fs.promises.utimes(to, mtime, mtime);
  return true;
}

export async function lstatOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(p);
  } catch {
    return undefined;
  }
}

export async function readText(p: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(p, 'utf8');
  } catch {
    return undefined;
  }
}

export function unique<T>(xs: Array<T | undefined>): T[] {
  return [...new Set(xs.filter((x): x is T => x !== undefined && x !== ''))];
}

export function safeRelative(p: string): string | undefined {
  const rel = p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  if (!rel || rel.startsWith('/') || /^[A-Za-z]:/.test(rel) || rel.split('/').some((s) => s === '..' || s === '.git')) return undefined;
  return rel;
}

/** Runs `fn` over `items` in argument-list-sized chunks, one after the other. */
export async function inChunks(items: string[], fn: (chunk: string[]) => Promise<unknown>): Promise<void> {
  let chunk: string[] = [];
  let size = 0;
  for (const item of items) {
    if (chunk.length && size + item.length + 16 > MAX_ARGS_CHARS) {
      await fn(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(item);
    size += item.length + 16;
  }
  if (chunk.length) await fn(chunk);
}

/** `hash-object -w` of files (relative to `cwd` or absolute), in order. */
export async function hashFiles(run: Run, cwd: string, files: string[], noFilters: boolean, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  await inChunks(files, async (chunk) => {
    const r = await run(cwd, ['hash-object', '-w', ...(noFilters ? ['--no-filters'] : []), '--', ...chunk], { signal });
    out.push(...r.stdout.split(/\r?\n/).filter(Boolean));
  });
  if (out.length !== files.length) throw new GitError(`hash-object returned ${out.length} ids for ${files.length} files`, { code: 'Unknown' });
  return out;
}

/** The object format of a repository (`git rev-parse --show-object-format`). */
export type ObjectFormat = 'sha1' | 'sha256';

/** The id git gives an object of `type` with this body: the hash of `<type> <size>\0<body>`. */
export function objectId(format: ObjectFormat, type: 'blob' | 'tree', body: Buffer): string {
  return createHash(format).update(`${type} ${body.length}\0`).update(body).digest('hex');
}

/**
 * Writes objects whose ids were computed here ({@link objectId}) from files holding their exact bodies: one
 * `hash-object -w` per type (and argument chunk), which checks each id against git's own.
 */
export async function writeObjects(run: Run, cwd: string, type: 'blob' | 'tree', objects: Array<{ file: string; id: string }>, signal?: AbortSignal): Promise<void> {
  const written: string[] = [];
  await inChunks(objects.map((o) => o.file), async (chunk) => {
    const r = await run(cwd, ['hash-object', '-w', '-t', type, ...(type === 'blob' ? ['--no-filters'] : []), '--', ...chunk], { signal });
    written.push(...r.stdout.split(/\r?\n/).filter(Boolean));
  });
  objects.forEach((o, i) => {
    if (written[i] !== o.id) throw new GitError(`git stored ${path.basename(o.file)} as ${written[i] ?? 'nothing'}, not ${o.id}`, { code: 'Unknown' });
  });
}

/** Commits among `shas` that exist (a state file may name objects that are gone). */
export async function existingCommits(run: Run, cwd: string, shas: string[], signal?: AbortSignal): Promise<string[]> {
  if (!shas.length) return [];
  const r = await run(cwd, ['rev-list', '--no-walk', '--ignore-missing', ...shas], { signal, okExitCodes: [1, 128] });
  return r.exitCode === 0 ? r.stdout.split(/\r?\n/).filter(Boolean) : [];
}

export interface StageEntry {
  /** `ls-files -v` tag: H cached, S skip-worktree, M unmerged, lowercase assume-unchanged ('' without -v). */
  tag: string;
  mode: string;
  sha: string;
  stage: number;
  path: string;
}

/** `ls-files --stage [-v] -z`: `[<tag> ]<mode> <sha> <stage>\t<path>\0`. */
export function parseStage(stdout: string): StageEntry[] {
  const out: StageEntry[] = [];
  for (const rec of stdout.split('\0')) {
    const m = /^(?:([A-Za-z?]) )?(\d+) ([0-9a-f]+) (\d)\t([\s\S]*)$/.exec(rec);
    if (m) out.push({ tag: m[1] ?? '', mode: m[2]!, sha: m[3]!, stage: Number(m[4]), path: m[5]! });
  }
  return out;
}

export interface StatusSummary {
  /** Paths whose worktree side differs from the index (or that are untracked or conflicted). */
  candidates: string[];
  unmerged: Set<string>;
  untracked: string[];
  submodules: string[];
  nested: string[];
  /** Some entry is intent-to-add (`git add -N`). */
  intentToAdd: boolean;
}

/** `status --porcelain=v2 -z --no-renames`. */
export function parseStatus(stdout: string): StatusSummary {
  const s: StatusSummary = { candidates: [], unmerged: new Set(), untracked: [], submodules: [], nested: [], intentToAdd: false };
  for (const rec of stdout.split('\0')) {
    if (rec.startsWith('1 ')) {
      const f = splitFields(rec, 9);
      const [xy, sub, p] = [f[1]!, f[2]!, f[8]!];
      if (sub.startsWith('S')) {
        if (xy !== '..') s.submodules.push(p);
        continue;
      }
      if (xy === '.A') s.intentToAdd = true;
      if (xy[1] !== '.') s.candidates.push(p);
    } else if (rec.startsWith('u ')) {
      const f = splitFields(rec, 11);
      const p = f[10]!;
      if (f[2]!.startsWith('S')) {
        s.submodules.push(p);
        continue;
      }
      s.unmerged.add(p);
      s.candidates.push(p);
    } else if (rec.startsWith('? ')) {
      const p = rec.slice(2);
      if (p.endsWith('/')) s.nested.push(p);
      else {
        s.untracked.push(p);
        s.candidates.push(p);
      }
    }
  }
  return s;
}

/** Splits the first `n - 1` space-separated fields; the last one (a path) keeps its spaces. */
export function splitFields(rec: string, n: number): string[] {
  const out: string[] = [];
  let rest = rec;
  for (let i = 0; i < n - 1; i++) {
    const sp = rest.indexOf(' ');
    out.push(rest.slice(0, sp));
    rest = rest.slice(sp + 1);
  }
  out.push(rest);
  return out;
}

/** `diff-tree -r -z --raw`: `:m1 m2 s1 s2 X\0path\0`. */
export function parseRawDiff(stdout: string): Array<{ status: string; path: string }> {
  const fields = stdout.split('\0');
  const out: Array<{ status: string; path: string }> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const head = fields[i]!;
    if (!head.startsWith(':')) break;
    out.push({ status: head.split(' ')[4]![0]!, path: fields[i + 1]! });
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 * 1024) return `${Math.round(n / 1024 ** 2)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
