/** Restoring over a worktree that still exists: only what differs is touched, and the state it replaces is kept. */
import fs from 'node:fs';
import path from 'node:path';
import type { IgnoredEntry } from './ignoredFiles';
import { GitError } from './gitError';
import { normalizePath } from './provisioner';
import { chmodIfNeeded, indexModes, removeFile, unpackBlob, writeDirty, writeState } from './snapshotFiles';
import { branchConflict, checkedOutIn, locateAtHead, revParse } from './snapshotRepo';
import { GROVE_METADATA, isWindows, type CommonOptions, type DirtyFile, type RestoreData, type Run, type SnapshotContext, type Target } from './snapshotTypes';
import { copyIndex, inChunks, lstatOrUndefined, parseRawDiff, unique, withTemp } from './snapshotUtil';
import { capture } from './snapshotCapture';

/**
 * Makes an existing worktree exactly the target state, touching only what differs (unchanged files keep their
 * timestamps). Records the current state under `undoRef` first and returns its id; on failure applies it back.
 */
export async function applyInPlace(ctx: SnapshotContext, run: Run, worktreePath: string, target: Target, undoRef: string, o: CommonOptions & { ignored?: ReadonlyArray<string | IgnoredEntry> }): Promise<string> {
  const { signal } = o;
  const { meta } = target;
  const ignored = [...(o.ignored ?? []).map((i) => (typeof i === 'string' ? i : i.path)), ...meta.ignoredIncluded];
  const current = await capture(ctx, run, worktreePath, {
    ref: undoRef, kind: meta.kind === 'checkpoint' ? 'checkpoint' : 'worktree', reason: meta.kind === 'checkpoint' ? 'revert turn' : 'before restore',
    ...(meta.instanceId ? { instanceId: meta.instanceId } : {}), ...(meta.kind === 'checkpoint' ? { phase: 'undo' as const } : {}),
    ignored: unique(ignored), signal,
  });
  const undo: Target = { ref: undoRef, meta: current.meta, data: current.data };
  try {
    await transform(ctx, run, worktreePath, undo, target, signal);
  } catch (err) {
    ctx.logger.warn(`snapshots: restoring ${meta.ref} failed (${err instanceof Error ? err.message : String(err)}); putting back ${undoRef}`);
    try {
      await transform(ctx, run, worktreePath, target, undo, undefined, true);
    } catch (e) {
      ctx.logger.error(`snapshots: could not put back ${undoRef}: ${e instanceof Error ? e.message : String(e)}`);
    }
    // Typed, with the undo id: the surface can offer the recorded state even when putting it back failed too.
    const details = { ...(err instanceof GitError && typeof err.details === 'object' ? (err.details as object) : {}), undoId: current.meta.id };
    if (err instanceof GitError) throw new GitError(err.message, { code: err.code, args: err.args, stderr: err.stderr, cause: err, details });
    throw new GitError(err instanceof Error ? err.message : String(err), { code: 'Unknown', cause: err, details });
  }
  return current.meta.id;
}

/** From state `from` (what is on disk now, just recorded) to state `to`. */
export async function transform(ctx: SnapshotContext, run: Run, top: string, from: Target, to: Target, signal?: AbortSignal, rollingBack = false): Promise<void> {
  const { meta, data } = to;
  // HEAD, as it is now (not as recorded: a rollback starts from a half-done state): decide before changing anything.
  const where = await locateAtHead(run, top, signal, ctx.mainWorktrees);
  const { commonDir, gitDir, indexFile, head: curHead } = where;
  const curRef = where.headRef ?? '';
  const curBranch = curRef.startsWith('refs/heads/') ? curRef.slice('refs/heads/'.length) : undefined;
  let headStep: (() => Promise<unknown>) | undefined;
  const msg = `grove: ${rollingBack ? 'put back' : 'restore'} ${meta.id}`;
  if (!meta.head) {
    if (curHead || meta.branch !== curBranch) throw new GitError('The recorded state has no commit (an unborn branch); it cannot be restored over this worktree.', { code: 'NoCommits' });
  } else if (!meta.branch) {
    if (curBranch || curHead !== meta.head) headStep = () => run(top, ['update-ref', '--no-deref', '-m', msg, 'HEAD', meta.head!], { signal });
  } else if (meta.branch === curBranch) {
    if (curHead !== meta.head) headStep = () => run(top, ['update-ref', '-m', msg, `refs/heads/${meta.branch}`, meta.head!, ...(curHead ? [curHead] : [])], { signal });
  } else {
    const current = await revParse(run, top, `refs/heads/${meta.branch}`, signal);
    const checkedOutAt = await checkedOutIn(run, top, meta.branch, signal);
    if ((current && current !== meta.head) || (checkedOutAt && normalizePath(checkedOutAt) !== normalizePath(top))) {
      throw branchConflict({ branch: meta.branch, current: current ?? '', recorded: meta.head, ...(checkedOutAt ? { checkedOutAt } : {}) });
    }
    headStep = async () => {
      if (!current) await run(top, ['update-ref', '-m', msg, `refs/heads/${meta.branch}`, meta.head!, ''], { signal });
      await run(top, ['symbolic-ref', '-m', msg, 'HEAD', `refs/heads/${meta.branch}`], { signal });
    };
  }
  // The rebased branch of a rebase in progress: recreate it if it is gone.
  for (const [ref, sha] of Object.entries(data.refs)) {
    if (ref === `refs/heads/${meta.branch}`) continue;
    if (!(await revParse(run, top, ref, signal))) await run(top, ['update-ref', '-m', msg, ref, sha, ''], { signal });
  }

  const lock = `${indexFile}.lock`;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(lock, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new GitError(`Unable to create '${lock}': File exists. Another git process seems to be running in this worktree.`, { code: 'IndexLocked' });
    }
    throw err;
  }
  let committed = false;
  try {
    await withTemp(async (tmp) => {
      await ctx.onStep('index');
      const newIndex = path.join(tmp, 'index');
      if (data.index) {
        await fs.promises.copyFile(await unpackBlob(run, commonDir, tmp, data.index, signal), newIndex);
      } else if (data.indexTree) {
        // From the current index, so that entries that stay the same keep their stat data (`git status` stays fast).
        await copyIndex(indexFile, newIndex);
        await run(top, ['read-tree', '--reset', data.indexTree], { signal, env: { GIT_INDEX_FILE: newIndex } });
      }

      await ctx.onStep('files');
      // What differs between the two recorded trees, plus every changed/untracked/ignored file on either side.
      const diff = await run(top, ['diff-tree', '-r', '-z', '--no-renames', '--raw', from.meta.filesTree, meta.filesTree], { signal });
      const changes = parseRawDiff(diff.stdout);
      const targetDirty = new Map(data.dirty.map((d) => [d.path, d]));
      const currentDirty = new Map(from.data.dirty.map((d) => [d.path, d]));
      const writes = new Set<string>();
      const deletes = new Set<string>();
      const deletable = (rel: string) => {
        const cur = currentDirty.get(rel);
        if (!cur?.ignored) return true;
        // An ignored file new since the target: delete it only if the target listed ignored files and did not skip it.
        return meta.ignoredListed && !meta.ignoredSkipped.some((s) => rel === s.path || (s.path.endsWith('/') && rel.startsWith(s.path)));
      };
      const lacks = new Set<string>();
      for (const c of changes) {
        if (c.status === 'D') {
          lacks.add(c.path);
          if (deletable(c.path)) deletes.add(c.path);
        } else writes.add(c.path);
      }
      for (const d of data.dirty) writes.add(d.path);
      // Exact bytes may differ where the stored blobs do not (line-ending conversion): rewrite both sides' changed files.
      for (const d of from.data.dirty) if (!lacks.has(d.path)) writes.add(d.path);
      for (const rel of data.deleted) deletes.add(rel);
      for (const rel of writes) deletes.delete(rel);

      const sorted = [...deletes].sort((a, b) => b.split('/').length - a.split('/').length);
      for (const rel of sorted) await removeFile(top, rel);
      const clean = [...writes].filter((p) => !targetDirty.has(p));
      for (const rel of clean) {
        const stat = await lstatOrUndefined(path.join(top, ...rel.split('/')));
        if (stat?.isDirectory()) throw new GitError(`${rel} is a folder now; it would have to be deleted to restore the file. Nothing was changed there.`, { code: 'DirtyWorkTree' });
      }
      if (clean.length) {
        await inChunks(clean, (chunk) => run(top, ['checkout-index', '--force', '-u', '--', ...chunk], { signal, env: { GIT_INDEX_FILE: newIndex } }));
      }
      await writeDirty(run, commonDir, top, [...writes].map((p) => targetDirty.get(p)).filter((d): d is DirtyFile => !!d), signal);
      if (data.perms && !isWindows) {
        const exceptions = new Map(data.perms.exceptions);
        const check = new Set([...clean, ...exceptions.keys(), ...(from.data.perms?.exceptions ?? []).map(([p]) => p)]);
        const modes = await indexModes(run, top, newIndex, [...check], signal);
        for (const rel of check) {
          const mode = modes.get(rel);
          if (!mode || targetDirty.has(rel)) continue;
          const want = exceptions.get(rel) ?? (mode === '100755' ? data.perms.exec : data.perms.file);
          await chmodIfNeeded(path.join(top, ...rel.split('/')), want);
        }
      }

      await ctx.onStep('state');
      // Grove's own metadata of a live worktree is not part of its state: left as it is.
      const notGrove = (list: RestoreData['state']) => list.filter((x) => x.path !== GROVE_METADATA);
      await writeState(run, commonDir, gitDir, notGrove(data.state), notGrove(from.data.state), undefined, signal);

      // The index last: rename the lock over it, as git does.
      if (data.index || data.indexTree) {
        await handle.writeFile(await fs.promises.readFile(newIndex));
        await handle.close();
        await fs.promises.rename(lock, indexFile);
      } else {
        await handle.close();
        await fs.promises.rm(lock, { force: true });
        await fs.promises.rm(indexFile, { force: true });
      }
      committed = true;
      if (headStep) await headStep();
    });
  } finally {
    if (!committed) {
      await handle.close().catch(() => undefined);
      await fs.promises.rm(lock, { force: true });
    }
  }
}
