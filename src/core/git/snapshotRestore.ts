/** Restoring a snapshot whose worktree (or branch) is gone: the branch, or a new worktree with everything recorded. */
import fs from 'node:fs';
import path from 'node:path';
import { GitError } from './gitError';
import { normalizePath } from './provisioner';
import { applyCleanPerms, removeFile, unpackBlob, writeDirty, writeState } from './snapshotFiles';
import { branchConflict, checkBranchName, checkedOutIn, freePath, locate, readMetas, revParse, setBranchConfig } from './snapshotRepo';
import { type RestoreData, type RestoreOptions, type RestoreResult, type Run, type SnapshotContext, type Target } from './snapshotTypes';
import { formatBytes, withTemp } from './snapshotUtil';

export async function readTarget(ctx: SnapshotContext, run: Run, cwd: string, ref: string, signal?: AbortSignal): Promise<Target> {
  const metas = await readMetas(ctx.logger, run, cwd, ref, signal);
  const meta = metas.find((m) => m.ref === ref);
  if (!meta) throw new GitError(`There is no snapshot ${ref.replace(/^refs\/grove\/(snapshots|checkpoints)\//, '')}.`, { code: 'NotFound' });
  const text = (await run(cwd, ['cat-file', 'blob', `${meta.commit}:restore.json`], { signal })).stdout;
  return { ref, meta, data: JSON.parse(text) as RestoreData };
}

export async function restoreBranch(run: Run, repoRoot: string, target: Target, o: RestoreOptions): Promise<RestoreResult> {
  const { meta, data } = target;
  const branch = o.branchName ?? meta.branch!;
  const tip = meta.head!;
  await checkBranchName(run, repoRoot, branch, o.signal);
  const current = await revParse(run, repoRoot, `refs/heads/${branch}`, o.signal);
  if (current === tip) return { branch, inPlace: false, notes: [`Branch ${branch} is already at ${tip.slice(0, 12)}.`] };
  if (current) throw branchConflict({ branch, current, recorded: tip });
  await run(repoRoot, ['update-ref', '-m', `grove: restore ${meta.id}`, `refs/heads/${branch}`, tip, ''], { signal: o.signal });
  const notes = await setBranchConfig(run, repoRoot, data.branchConfig, meta.branch!, branch, o.signal);
  return { branch, inPlace: false, notes };
}

/** A new worktree for a snapshot whose worktree is gone. Undoes what it did when a step fails. */
export async function recreate(ctx: SnapshotContext, run: Run, repoRoot: string, target: Target, stale: { path: string; locked: boolean } | undefined, o: RestoreOptions): Promise<RestoreResult> {
  const { meta, data } = target;
  const { signal } = o;
  const notes: string[] = [];
  if (!meta.head) throw new GitError('The snapshot was taken on a branch with no commits yet; there is nothing to check out.', { code: 'NoCommits' });
  const recorded = o.path ?? meta.worktreePath;
  if (!recorded) throw new GitError('The snapshot has no worktree path; pass one.', { code: 'NotFound' });
  // A registered worktree whose folder is gone can be re-added over with --force (unless it is locked).
  const reuseStale = !!stale && !stale.locked;
  const wtPath = reuseStale ? recorded : freePath(recorded);
  if (wtPath !== recorded) notes.push(`${recorded} is occupied; restored at ${wtPath}.`);

  // Decide HEAD before changing anything.
  // A detached snapshot stays detached unless a branch name is given (then that branch is made at its commit).
  const detach = o.detach || (!meta.branch && !o.branchName);
  const branch = detach ? undefined : (o.branchName ?? meta.branch!);
  let createBranch = false;
  if (branch) {
    await checkBranchName(run, repoRoot, branch, signal);
    const current = await revParse(run, repoRoot, `refs/heads/${branch}`, signal);
    const checkedOutAt = await checkedOutIn(run, repoRoot, branch, signal);
    if (current && current !== meta.head) throw branchConflict({ branch, current, recorded: meta.head, ...(checkedOutAt ? { checkedOutAt } : {}) });
    if (current && checkedOutAt && !(reuseStale && normalizePath(checkedOutAt) === normalizePath(wtPath))) {
      throw branchConflict({ branch, current, recorded: meta.head, checkedOutAt });
    }
    createBranch = !current;
  }
  const undo: Array<() => Promise<unknown>> = [];
  try {
    await ctx.onStep('worktree');
    // A rebase in progress also needs the branch it will update.
    for (const [ref, sha] of Object.entries(data.refs)) {
      if (meta.branch && ref === `refs/heads/${meta.branch}`) continue;
      const now = await revParse(run, repoRoot, ref, signal);
      if (!now) {
        await run(repoRoot, ['update-ref', '-m', `grove: restore ${meta.id}`, ref, sha, ''], { signal });
        undo.push(() => run(repoRoot, ['update-ref', '-d', ref, sha], { okExitCodes: [1, 128] }));
        const name = ref.slice('refs/heads/'.length);
        notes.push(`Recreated branch ${name} at ${sha.slice(0, 12)}.`, ...(await setBranchConfig(run, repoRoot, data.branchConfig, name, name, signal)));
      } else if (now !== sha) {
        notes.push(`${ref.replace('refs/heads/', 'Branch ')} has moved since the snapshot (now ${now.slice(0, 12)}, recorded ${sha.slice(0, 12)}).`);
      }
    }
    await fs.promises.mkdir(path.dirname(wtPath), { recursive: true });
    const add = ['worktree', 'add', '--no-checkout', ...(reuseStale ? ['--force'] : [])];
    if (!branch) add.push('--detach', '--', wtPath, meta.head);
    else if (createBranch) add.push('-b', branch, '--', wtPath, meta.head);
    else add.push('--', wtPath, branch);
    await run(repoRoot, add, { signal });
    undo.push(async () => {
      await run(repoRoot, ['worktree', 'remove', '--force', '--force', wtPath], { okExitCodes: [1, 128] });
      await fs.promises.rm(wtPath, { recursive: true, force: true });
      await run(repoRoot, ['worktree', 'prune'], { okExitCodes: [1, 128] });
    });
    if (createBranch) undo.push(() => run(repoRoot, ['update-ref', '-d', `refs/heads/${branch}`, meta.head!], { okExitCodes: [1, 128] }));
    const where = await locate(run, wtPath, signal, ctx.mainWorktrees);
    const commonDir = where.commonDir;

    await ctx.onStep('index');
    if (data.index) {
      await withTemp(async (tmp) => {
        const file = await unpackBlob(run, commonDir, tmp, data.index!, signal);
        await fs.promises.copyFile(file, where.indexFile);
      });
      await run(wtPath, ['checkout-index', '--all', '--force', '-u'], { signal });
    } else if (data.indexTree) {
      // The same machinery (and cost) as the checkout of `git worktree add`; no hooks run.
      await run(wtPath, ['read-tree', '--reset', '-u', data.indexTree], { signal });
    }

    await ctx.onStep('files');
    for (const rel of data.deleted) await removeFile(wtPath, rel);
    await writeDirty(run, commonDir, wtPath, data.dirty, signal);
    if (data.perms) await applyCleanPerms(run, wtPath, data, signal);

    await ctx.onStep('state');
    await writeState(run, commonDir, where.gitDir, data.state, [], branch !== meta.branch ? branch : undefined, signal);

    await ctx.onStep('config');
    if (createBranch && branch && meta.branch) notes.push(...(await setBranchConfig(run, repoRoot, data.branchConfig, meta.branch, branch, signal)));
    if (branch && branch !== meta.branch) notes.push(`Restored on branch ${branch} (recorded: ${meta.branch}).`);
    if (!branch && meta.branch) notes.push(`Restored with a detached HEAD at ${meta.head.slice(0, 12)} (recorded on branch ${meta.branch}).`);
    notes.push(...meta.notes);
    for (const s of meta.ignoredSkipped) notes.push(`${s.path} (${formatBytes(s.bytes)}) was not kept (${s.reason === 'size limit' ? `over the ${formatBytes(meta.sizeLimitBytes)} limit for ignored files` : 'a nested repository'}).`);
    ctx.logger.info(`snapshots: restored ${meta.ref} at ${wtPath}`);
    return { worktreePath: wtPath, ...(branch ? { branch } : {}), inPlace: false, notes };
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (e) {
        ctx.logger.warn(`snapshots: rollback step failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw err;
  }
}

