/** Writing a worktree's files back: exact bytes, permission bits, deletions, and the git-dir state of an operation. */
import fs from 'node:fs';
import path from 'node:path';
import { GitError } from './gitError';
import { GROVE_METADATA, STATE_DIRS, isWindows, type DirtyFile, type RestoreData, type Run } from './snapshotTypes';
import { inChunks, lstatOrUndefined, parseStage, throwIfAborted, withTemp, type StageEntry } from './snapshotUtil';

/** Permission bits of clean tracked files: the most common ones for regular and executable files, and the rest. */
export async function cleanPerms(top: string, entries: StageEntry[]): Promise<RestoreData['perms']> {
  const files = entries.filter((e) => e.mode === '100644' || e.mode === '100755');
  const seen = new Map<string, number>();
  const found: Array<[StageEntry, number]> = [];
  for (let i = 0; i < files.length; i++) {
    const e = files[i]!;
    try {
      const perm = fs.lstatSync(path.join(top, ...e.path.split('/'))).mode & 0o7777;
      found.push([e, perm]);
      const key = `${e.mode}:${perm}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    } catch {
      // vanished meanwhile
    }
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const common = (mode: string, fallback: number) => {
    let best = fallback;
    let n = -1;
    for (const [key, count] of seen) {
      const [m, p] = key.split(':');
      if (m === mode && count > n) [best, n] = [Number(p), count];
    }
    return best;
  };
  const file = common('100644', 0o644);
  const exec = common('100755', 0o755);
  const exceptions: Array<[string, number]> = found.filter(([e, p]) => p !== (e.mode === '100755' ? exec : file)).map(([e, p]) => [e.path, p]);
  return { file, exec, exceptions };
}

/** After `checkout-index`: gives every clean tracked file its recorded permission bits. */
export async function applyCleanPerms(run: Run, top: string, data: RestoreData, signal?: AbortSignal): Promise<void> {
  if (!data.perms || isWindows) return;
  const dirty = new Set([...data.dirty.map((d) => d.path), ...data.deleted]);
  const exceptions = new Map(data.perms.exceptions);
  // checkout-index wrote 0666/0777 less the umask: when those are the recorded usual bits, only the exceptions differ.
  const umask = process.umask();
  if (data.perms.file === (0o666 & ~umask) && data.perms.exec === (0o777 & ~umask)) {
    for (const [rel, perm] of data.perms.exceptions) if (!dirty.has(rel)) await chmodIfNeeded(path.join(top, ...rel.split('/')), perm);
    return;
  }
  const listed = parseStage((await run(top, ['ls-files', '--stage', '-z'], { signal })).stdout).filter((e) => e.stage === 0 && (e.mode === '100644' || e.mode === '100755'));
  for (let i = 0; i < listed.length; i++) {
    const e = listed[i]!;
    if (dirty.has(e.path)) continue;
    await chmodIfNeeded(path.join(top, ...e.path.split('/')), exceptions.get(e.path) ?? (e.mode === '100755' ? data.perms.exec : data.perms.file));
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
}

export async function indexModes(run: Run, top: string, indexFile: string, paths: string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!paths.length) return out;
  const wanted = new Set(paths);
  const listed = parseStage((await run(top, ['ls-files', '--stage', '-z'], { signal, env: { GIT_INDEX_FILE: indexFile } })).stdout);
  for (const e of listed) if (e.stage === 0 && wanted.has(e.path)) out.set(e.path, e.mode);
  return out;
}

export async function chmodIfNeeded(abs: string, perm: number): Promise<void> {
  const stat = await lstatOrUndefined(abs);
  if (stat?.isFile() && (stat.mode & 0o7777) !== perm) await fs.promises.chmod(abs, perm);
}

/** `git unpack-file`: a blob's exact bytes (no filters) in a file of `dir`; returns its path. */
export async function unpackBlob(run: Run, commonDir: string, dir: string, blob: string, signal?: AbortSignal): Promise<string> {
  const { stdout } = await run(dir, [`--git-dir=${commonDir}`, 'unpack-file', blob], { signal });
  return path.join(dir, stdout.trim());
}

/**
 * Writes changed/untracked/ignored files with their exact bytes and permission bits. Files whose bytes git would
 * not convert on checkout (no `text`/`eol`/`filter`/`ident`/`working-tree-encoding` attribute, no
 * `core.autocrlf=true`) and symbolic links go through one `checkout-index` from a private index; the others are
 * unpacked one by one with no filter at all (`unpack-file`, 4 at a time).
 */
export async function writeDirty(run: Run, commonDir: string, top: string, files: DirtyFile[], signal?: AbortSignal): Promise<void> {
  if (!files.length) return;
  for (const d of files) {
    const stat = await lstatOrUndefined(path.join(top, ...d.path.split('/')));
    if (stat?.isDirectory()) throw new GitError(`${d.path} is a folder now; it would have to be deleted to restore the file. Nothing was changed there.`, { code: 'DirtyWorkTree' });
  }
  const safe = await conversionFree(run, top, files.filter((d) => !d.link && !d.raw).map((d) => d.path), signal);
  const viaCheckout = files.filter((d) => d.link || safe.has(d.path));
  const viaUnpack = files.filter((d) => !d.link && !safe.has(d.path));
  await withTemp(async (tmp) => {
    if (viaCheckout.length) {
      const index = path.join(tmp, 'dirty.index');
      const env = { signal, env: { GIT_INDEX_FILE: index } };
      const mode = (d: DirtyFile) => (d.link ? '120000' : (d.perm ?? 0) & 0o100 ? '100755' : '100644');
      await inChunks(viaCheckout.map((d) => `${mode(d)},${d.blob},${d.path}`), (chunk) => run(top, ['update-index', '--add', ...chunk.flatMap((c) => ['--cacheinfo', c])], env));
      await inChunks(viaCheckout.map((d) => d.path), (chunk) => run(top, ['checkout-index', '--force', '--', ...chunk], env));
      if (!isWindows) for (const d of viaCheckout) if (!d.link && d.perm !== undefined) await fs.promises.chmod(path.join(top, ...d.path.split('/')), d.perm);
    }
    let next = 0;
    const worker = async () => {
      while (next < viaUnpack.length) {
        throwIfAborted(signal);
        const d = viaUnpack[next++]!;
        const dest = path.join(top, ...d.path.split('/'));
        const unpacked = await unpackBlob(run, commonDir, tmp, d.raw ?? d.blob, signal);
        await fs.promises.mkdir(path.dirname(dest), { recursive: true });
        await removeFile(top, d.path, false);
        try {
          await fs.promises.rename(unpacked, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await fs.promises.copyFile(unpacked, dest);
          await fs.promises.rm(unpacked, { force: true });
        }
        if (!isWindows && d.perm !== undefined) await fs.promises.chmod(dest, d.perm);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, viaUnpack.length) }, worker));
  });
}

/** Attributes that make checkout change a blob's bytes. */
export const CONVERTING_ATTRIBUTES = ['text', 'crlf', 'eol', 'filter', 'ident', 'working-tree-encoding'];

/** The paths among `paths` whose blob checkout would write unchanged (see {@link writeDirty}). */
export async function conversionFree(run: Run, top: string, paths: string[], signal?: AbortSignal): Promise<Set<string>> {
  const safe = new Set<string>();
  if (!paths.length || paths.some((p) => p === '.gitattributes' || p.endsWith('/.gitattributes'))) return safe;
  const autocrlf = (await run(top, ['config', '--type=bool', '--get', 'core.autocrlf'], { signal, okExitCodes: [1, 128] })).stdout.trim();
  if (autocrlf === 'true') return safe;
  const unsafe = new Set<string>();
  await inChunks(paths, async (chunk) => {
    const fields = (await run(top, ['check-attr', '-z', ...CONVERTING_ATTRIBUTES, '--', ...chunk], { signal })).stdout.split('\0');
    for (let i = 0; i + 2 < fields.length; i += 3) {
      const [p, attr, value] = [fields[i]!, fields[i + 1]!, fields[i + 2]!];
      if (value !== 'unspecified' && !((attr === 'text' || attr === 'crlf') && value === 'unset')) unsafe.add(p);
    }
  });
  for (const p of paths) if (!unsafe.has(p)) safe.add(p);
  return safe;
}

/** Deletes a file or link of the worktree (never a folder), then (by default) the folders it leaves empty. */
export async function removeFile(top: string, rel: string, pruneEmpty = true): Promise<void> {
  const abs = path.join(top, ...rel.split('/'));
  const stat = await lstatOrUndefined(abs);
  if (!stat || stat.isDirectory()) return;
  await fs.promises.rm(abs, { force: true });
  if (!pruneEmpty) return;
  let dir = path.dirname(abs);
  while (dir !== top && dir.startsWith(top)) {
    try {
      await fs.promises.rmdir(dir);
    } catch {
      break; // not empty
    }
    dir = path.dirname(dir);
  }
}

/**
 * Writes the recorded git-dir files of an operation in progress into `gitDir`, after deleting the current ones
 * (`current`) the target does not have. `renameBranch`: the restored branch differs from the recorded one (Grove's
 * metadata then names the new one).
 */
export async function writeState(run: Run, commonDir: string, gitDir: string, state: RestoreData['state'], current: RestoreData['state'], renameBranch: string | undefined, signal?: AbortSignal): Promise<void> {
  const wanted = new Set(state.map((s) => s.path));
  for (const s of current) {
    if (!wanted.has(s.path)) await fs.promises.rm(path.join(gitDir, ...s.path.split('/')), { force: true });
  }
  for (const dir of STATE_DIRS) {
    if (!state.some((s) => s.path.startsWith(`${dir}/`))) await fs.promises.rm(path.join(gitDir, dir), { recursive: true, force: true });
  }
  if (!state.length) return;
  await withTemp(async (tmp) => {
    for (const s of state) {
      const dest = path.join(gitDir, ...s.path.split('/'));
      await fs.promises.mkdir(path.dirname(dest), { recursive: true });
      const file = await unpackBlob(run, commonDir, tmp, s.blob, signal);
      if (s.path === GROVE_METADATA && renameBranch) {
        try {
          const meta = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { branch?: string };
          meta.branch = renameBranch;
          await fs.promises.writeFile(file, JSON.stringify(meta, null, 2));
        } catch {
          // not JSON: copied as is
        }
      }
      await fs.promises.copyFile(file, dest);
    }
  });
}
