/** Recording a snapshot: the capture of a worktree's full state and the commit that holds it. */
import fs from 'node:fs';
import path from 'node:path';
import type { IgnoredEntry } from './ignoredFiles';
import { walkEntry } from './ignoredFiles';
import type { GitCallOptions } from './gitClient';
import { GitError } from './gitError';
import { cleanPerms } from './snapshotFiles';
import { branchConfig, detectSyncState, listStateFiles, locateAtHead, revParse, writeTree, type TreeEntry } from './snapshotRepo';
import { CHECKPOINT_REF_PREFIX, GROVE_METADATA, IDENTITY, SNAPSHOT_REF_PREFIX, isWindows, type Captured, type DirtyFile, type RestoreData, type Run, type SnapshotContext, type SnapshotKind, type SnapshotMeta } from './snapshotTypes';
import { copyIndex, existingCommits, hashFiles, inChunks, lstatOrUndefined, objectId, parseStage, parseStatus, readText, safeRelative, throwIfAborted, unique, withTemp, writeObjects, type ObjectFormat } from './snapshotUtil';

export async function capture(ctx: SnapshotContext, run: Run, worktreePath: string, o: {
  ref: string; kind: SnapshotKind; reason: string; instanceId?: string; title?: string; record?: Record<string, unknown>; turn?: number; phase?: SnapshotMeta['phase'];
  ignored?: ReadonlyArray<string | IgnoredEntry>; signal?: AbortSignal; overwrite?: boolean;
}): Promise<Captured> {
  const { signal } = o;
  const where = await locateAtHead(run, worktreePath, signal, ctx.mainWorktrees);
  const { top, gitDir, commonDir, indexFile, head, headRef, objectFormat } = where;
  const createdAt = ctx.now();
  const branch = headRef?.startsWith('refs/heads/') ? headRef.slice('refs/heads/'.length) : undefined;
  const notes: string[] = [];

  return withTemp(async (tmp) => {
    const rawIndex = path.join(tmp, 'raw.index');
    const workIndex = path.join(tmp, 'work.index');
    const hasIndex = await copyIndex(indexFile, rawIndex);
    if (hasIndex) await copyIndex(indexFile, workIndex);
    const withIndex = (file: string): GitCallOptions => ({ signal, env: { GIT_INDEX_FILE: file } });

    // 1. What is in the index, and what differs on disk.
    const [status, staged] = await Promise.all([
      run(top, ['status', '--porcelain=v2', '-z', '--no-renames', '--untracked-files=all', '--ignore-submodules=none'], withIndex(workIndex)),
      hasIndex ? run(top, ['ls-files', '--stage', '-v', '-z'], withIndex(rawIndex)) : Promise.resolve({ stdout: '', stderr: '', exitCode: 0 }),
    ]);
    const entries = parseStage(staged.stdout);
    // The index is kept as a tree (cheap: it shares everything with HEAD); its raw file only when a tree cannot
    // say it all: conflict stages, intent-to-add, skip-worktree or assume-unchanged bits.
    const stage0 = new Map(entries.filter((e) => e.stage === 0).map((e) => [e.path, e]));
    const inIndex = new Set(entries.map((e) => e.path));
    const st = parseStatus(status.stdout);
    if (st.submodules.length) notes.push(`Submodule checkouts are not recorded (their commits are): ${st.submodules.join(', ')}`);
    if (st.nested.length) notes.push(`Nested repositories are not recorded: ${st.nested.join(', ')}`);
    const keepRawIndex = st.intentToAdd || entries.some((e) => e.stage !== 0 || e.tag !== 'H');

    // 2. Classify the candidates by what is on disk.
    const dirty = new Map<string, DirtyFile & { bytes: number }>();
    const deleted = new Set<string>();
    for (const rel of st.candidates) {
      const stat = await lstatOrUndefined(path.join(top, ...rel.split('/')));
      if (stat && (stat.isFile() || stat.isSymbolicLink())) dirty.set(rel, { path: rel, blob: '', perm: stat.mode & 0o7777, bytes: stat.size, ...(stat.isSymbolicLink() ? { link: true as const } : {}) });
      else if (inIndex.has(rel)) deleted.add(rel);
    }

    // 3. Ignored files, in the order given, up to the size limit.
    const ignoredIncluded: string[] = [];
    const ignoredSkipped: SnapshotMeta['ignoredSkipped'] = [];
    let ignoredBytes = 0;
    let ignoredFiles = 0;
    for (const item of o.ignored ?? []) {
      const rel = safeRelative(typeof item === 'string' ? item : item.path);
      if (!rel) continue;
      const walked = await walkEntry(top, rel, signal);
      for (const repo of walked.repositories) ignoredSkipped.push({ path: repo, bytes: 0, reason: 'repository' });
      const files = walked.files.filter((f) => !inIndex.has(f.path) && !dirty.has(f.path));
      const bytes = files.reduce((n, f) => n + f.bytes, 0);
      if (!files.length) continue;
      if (ignoredBytes + bytes > ctx.sizeLimitBytes) {
        ignoredSkipped.push({ path: rel, bytes, reason: 'size limit' });
        continue;
      }
      ignoredBytes += bytes;
      ignoredIncluded.push(rel);
      for (const f of files) {
        const stat = await lstatOrUndefined(path.join(top, ...f.path.split('/')));
        if (!stat) continue;
        ignoredFiles++;
        dirty.set(f.path, { path: f.path, blob: '', perm: stat.mode & 0o7777, bytes: stat.size, ignored: true, ...(f.link ? { link: true as const } : {}) });
      }
    }
    throwIfAborted(signal);

    // 4-7 are independent of each other: run them together.
    // 4. Permission bits of the clean tracked files (the exceptions to the usual two).
    const permsStep = isWindows ? Promise.resolve(undefined) : cleanPerms(top, [...stage0.values()].filter((e) => !dirty.has(e.path) && !deleted.has(e.path)));

    // 5. Blobs of the changed files: as git would store them, and their exact bytes.
    const blobsStep = (async () => {
      const regular = [...dirty.values()].filter((d) => !d.link);
      const links = [...dirty.values()].filter((d) => d.link);
      const hashed = await hashDisk(ctx, run, top, regular.map((d) => d.path), signal);
      for (const d of regular) {
        const h = hashed.get(d.path);
        if (!h) {
          dirty.delete(d.path);
          if (inIndex.has(d.path)) deleted.add(d.path);
          continue;
        }
        d.blob = h.blob;
        if (h.raw !== h.blob) d.raw = h.raw;
      }
      if (links.length) {
        const files: string[] = [];
        for (const [i, d] of links.entries()) {
          const file = path.join(tmp, `link-${i}`);
          await fs.promises.writeFile(file, await fs.promises.readlink(path.join(top, ...d.path.split('/'))));
          files.push(file);
        }
        const shas = await hashFiles(run, top, files, true, signal);
        links.forEach((d, i) => (d.blob = shas[i]!));
      }
    })();

    // 6. The index: its stage-0 tree, and the other stages of a conflict.
    const indexStep = (async () => {
      if (!hasIndex) return undefined;
      const stage0Index = path.join(tmp, 'stage0.index');
      await fs.promises.copyFile(rawIndex, stage0Index);
      if (st.unmerged.size) await inChunks([...st.unmerged], (chunk) => run(top, ['update-index', '--force-remove', '--', ...chunk], withIndex(stage0Index)));
      return (await run(top, ['write-tree'], withIndex(stage0Index))).stdout.trim();
    })();
    const stageBlobs: Array<[string, string, string]> = entries.filter((e) => e.stage > 0).map((e) => [`stages/${e.stage}/${e.path}`, e.sha, e.mode]);

    // 7. The operation in progress and Grove's metadata, from the worktree's git dir; the commits they name.
    const stateStep = (async () => {
      const stateFiles = await listStateFiles(gitDir, gitDir !== commonDir);
      // Copied and hashed here; git writes the copies with the snapshot's own blobs (one process).
      const copies = await Promise.all([...stateFiles.map((f) => path.join(gitDir, ...f.split('/'))), ...(keepRawIndex ? [rawIndex] : [])].map(async (file, i) => {
        const body = await fs.promises.readFile(file);
        const copy = path.join(tmp, `state-${i}`);
        await fs.promises.writeFile(copy, body);
        return { file: copy, id: objectId(objectFormat, 'blob', body) };
      }));
      const state = stateFiles.map((f, i) => ({ path: f, blob: copies[i]!.id }));
      const indexBlob = keepRawIndex ? copies[stateFiles.length]!.id : undefined;
      const refs: Record<string, string> = {};
      if (branch && head) refs[`refs/heads/${branch}`] = head;
      let rebasing: string | undefined;
      for (const dir of ['rebase-merge', 'rebase-apply']) {
        const headName = (await readText(path.join(gitDir, dir, 'head-name')))?.trim();
        if (headName?.startsWith('refs/heads/')) {
          rebasing = headName.slice('refs/heads/'.length);
          const tip = await revParse(run, top, headName, signal);
          if (tip) refs[headName] = tip;
        }
      }
      const mentioned = new Set<string>();
      for (const f of stateFiles) {
        if (f === GROVE_METADATA || f === 'config.worktree') continue;
        const text = (await readText(path.join(gitDir, ...f.split('/')))) ?? '';
        for (const m of text.matchAll(/\b[0-9a-f]{40}(?:[0-9a-f]{24})?\b/g)) mentioned.add(m[0]);
      }
      const [named, config] = await Promise.all([
        existingCommits(run, top, [...mentioned].filter((sha) => sha !== head && !Object.values(refs).includes(sha)), signal),
        branchConfig(run, top, unique([branch, rebasing]), signal),
      ]);
      return { stateFiles, state, indexBlob, copies, refs, rebasing, named, config };
    })();

    const [perms, , indexTree, { stateFiles, state, indexBlob, copies, refs, rebasing, named, config }] = await Promise.all([permsStep, blobsStep, indexStep, stateStep]);
    const syncState = detectSyncState(stateFiles);
    const parents = unique([head, ...Object.values(refs), ...named]);

    // 8. The worktree as on disk: the index with the changes applied.
    const removals = [...deleted, ...[...st.unmerged].filter((p) => !dirty.has(p))];
    let filesTree = indexTree ?? '';
    // Nothing differs on disk from the index (no change, no untracked file, no conflict): the same tree.
    if (!indexTree || removals.length || dirty.size) {
      await inChunks(removals, (chunk) => run(top, ['update-index', '--force-remove', '--', ...chunk], withIndex(workIndex)));
      const modeOf = (d: DirtyFile) => (d.link ? '120000' : isWindows ? (stage0.get(d.path)?.mode === '100755' ? '100755' : '100644') : (d.perm ?? 0) & 0o100 ? '100755' : '100644');
      await inChunks([...dirty.values()].map((d) => `${modeOf(d)},${d.blob},${d.path}`), (chunk) =>
        run(top, ['update-index', '--add', '--replace', ...chunk.flatMap((c) => ['--cacheinfo', c])], withIndex(workIndex)));
      filesTree = (await run(top, ['write-tree'], withIndex(workIndex))).stdout.trim();
    }

    const data: RestoreData = {
      version: 1,
      ...(indexBlob ? { index: indexBlob } : {}),
      ...(indexTree ? { indexTree } : {}),
      dirty: [...dirty.values()].map(({ bytes: _bytes, ...d }) => d),
      deleted: [...deleted],
      ...(perms ? { perms } : {}),
      state,
      refs,
      branchConfig: config,
    };
    const id = o.ref.startsWith(SNAPSHOT_REF_PREFIX) ? o.ref.slice(SNAPSHOT_REF_PREFIX.length) : o.ref.slice(CHECKPOINT_REF_PREFIX.length);
    const meta: SnapshotMeta = {
      version: 1, id, ref: o.ref, commit: '', kind: o.kind, reason: o.reason, createdAt, repoRoot: where.repoRoot, worktreePath: top,
      ...(branch ? { branch } : {}), ...(head ? { head } : {}), ...(head && !branch ? { detached: true } : {}),
      ...(syncState ? { syncState } : {}), ...(rebasing ? { rebasing } : {}),
      ...(o.instanceId ? { instanceId: o.instanceId } : {}), ...(o.title ? { title: o.title } : {}), ...(o.record ? { record: o.record } : {}),
      ...(o.turn !== undefined ? { turn: o.turn } : {}), ...(o.phase ? { phase: o.phase } : {}),
      filesTree, ignoredListed: o.ignored !== undefined, ignoredIncluded, ignoredSkipped, sizeLimitBytes: ctx.sizeLimitBytes,
      counts: {
        indexEntries: entries.length,
        changed: [...dirty.values()].filter((d) => !d.ignored && inIndex.has(d.path)).length,
        deleted: deleted.size,
        untracked: st.untracked.length,
        unmerged: st.unmerged.size,
        ignoredFiles,
        ignoredBytes,
      },
      notes,
    };
    const tree: TreeEntry[] = state.map((s) => ({ path: `git/state/${s.path}`, id: s.blob, mode: '100644' }));
    if (indexBlob) tree.push({ path: 'git/index', id: indexBlob, mode: '100644' });
    for (const d of dirty.values()) if (d.raw) tree.push({ path: `raw/${d.path}`, id: d.raw, mode: '100644' });
    for (const [p, id, mode] of stageBlobs) tree.push({ path: p, id, mode });
    tree.push({ path: 'files', id: filesTree, mode: '40000' }, ...(indexTree ? [{ path: 'index', id: indexTree, mode: '40000' }] : []));
    await ctx.onStep('captured');
    await commitSnapshot(ctx, run, top, tmp, { meta, data, objectFormat, entries: tree, blobs: copies, parents, overwrite: !!o.overwrite, signal });
    return { meta, data };
  });
}

/** Hashes worktree files twice (with and without filters). Files that vanish meanwhile are left out. */
export async function hashDisk(ctx: SnapshotContext, run: Run, top: string, paths: string[], signal?: AbortSignal): Promise<Map<string, { blob: string; raw: string }>> {
  const out = new Map<string, { blob: string; raw: string }>();
  if (!paths.length) return out;
  let present = paths;
  for (let attempt = 0; ; attempt++) {
    try {
      const [blobs, raws] = await Promise.all([hashFiles(run, top, present, false, signal), hashFiles(run, top, present, true, signal)]);
      present.forEach((p, i) => out.set(p, { blob: blobs[i]!, raw: raws[i]! }));
      return out;
    } catch (err) {
      if (attempt > 0 || (err instanceof GitError && err.code === 'Cancelled')) throw err;
      const still: string[] = [];
      for (const p of present) if (await lstatOrUndefined(path.join(top, ...p.split('/')))) still.push(p);
      ctx.logger.warn(`snapshots: ${present.length - still.length} file(s) vanished while being recorded; retrying`);
      present = still;
    }
  }
}

/**
 * The snapshot commit: `meta.json` and `restore.json` beside `entries`, its tree written by us ({@link writeTree});
 * `blobs` are files (copied to `tmp`) whose ids `entries` already name, written with the two JSON files.
 */
export async function commitSnapshot(ctx: SnapshotContext, run: Run, cwd: string, tmp: string, o: {
  meta: SnapshotMeta; data: RestoreData; objectFormat: ObjectFormat; entries: TreeEntry[]; blobs: Array<{ file: string; id: string }>; parents: string[]; overwrite: boolean; signal?: AbortSignal;
}): Promise<void> {
  const { meta, signal } = o;
  const stored: Omit<SnapshotMeta, 'commit'> & { commit?: string } = { ...meta };
  delete stored.commit;
  const metaJson = JSON.stringify(stored);
  const json = await Promise.all([['meta.json', `${JSON.stringify(stored, null, 2)}\n`], ['restore.json', `${JSON.stringify(o.data)}\n`]].map(async ([name, text]) => {
    const body = Buffer.from(text!, 'utf8');
    const file = path.join(tmp, name!);
    await fs.promises.writeFile(file, body);
    return { name: name!, file, id: objectId(o.objectFormat, 'blob', body) };
  }));
  await writeObjects(run, cwd, 'blob', [...json, ...o.blobs], signal);
  const tree = await writeTree(run, cwd, tmp, o.objectFormat, [...json.map((j) => ({ path: j.name, id: j.id, mode: '100644' })), ...o.entries], signal);
  const message = path.join(tmp, 'message');
  await fs.promises.writeFile(message, `grove ${meta.kind}: ${meta.reason}\n\n${metaJson}\n`);
  const seconds = Math.floor(meta.createdAt / 1000);
  const date = `@${seconds} +0000`;
  const commit = (await run(cwd, ['commit-tree', '--no-gpg-sign', tree, ...o.parents.flatMap((p) => ['-p', p]), '-F', message], {
    signal, env: { ...IDENTITY, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
  })).stdout.trim();
  // A new snapshot must not replace another one (empty old value: the ref must not exist); checkpoints of a
  // retried turn replace the earlier one.
  await run(cwd, ['update-ref', '-m', `grove: ${meta.kind}`, meta.ref, commit, ...(o.overwrite ? [] : [''])], { signal });
  meta.commit = commit;
  ctx.logger.info(`snapshots: recorded ${meta.ref} (${meta.reason}) → ${commit.slice(0, 12)}`);
}
