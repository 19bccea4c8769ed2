/**
 * Review data of an instance, the same for every surface: what it changed against the merge-base with its base
 * (committed, staged, unstaged and untracked work, renames detected), its commits, and optionally the patch, cut at
 * a stated size.
 */
import fs from 'node:fs';
import { GroveError } from '../errors';
import { listChanges, type ChangedFile } from '../git/changes';
import { isGitError } from '../git/gitError';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { requireInstance } from './instances';

export interface Review {
  instance: Pick<InstanceSnapshot, 'id' | 'title' | 'state' | 'branch' | 'baseRef' | 'worktreePath'>;
  mergeBase: string;
  files: ChangedFile[];
  /** Commits on the branch since the merge-base, newest first. */
  commits: { sha: string; subject: string }[];
  insertions: number;
  deletions: number;
  /** Unified diff of everything against the merge-base; present when asked for. */
  patch?: string;
  /** The patch was cut at `maxPatchChars` (its full length is `patchChars`). */
  patchTruncated?: boolean;
  patchChars?: number;
}

export interface ReviewOptions {
  patch?: boolean;
  /** Cut the patch after this many characters (default 200,000), saying so. */
  maxPatchChars?: number;
  signal?: AbortSignal;
}

/** The instance's worktree, which must exist. @throws GroveError NotFound. */
export function requireWorktree(inst: InstanceSnapshot): string {
  if (!inst.worktreePath) throw new GroveError('NotFound', `"${inst.title}" has no worktree yet (it is ${inst.state}).`);
  if (inst.archived || !fs.existsSync(inst.worktreePath)) throw new GroveError('NotFound', `The worktree of "${inst.title}" is gone (${inst.worktreePath}).`);
  return inst.worktreePath;
}

export async function review(g: Grove, id: string, options: ReviewOptions = {}): Promise<Review> {
  const inst = requireInstance(g, id);
  const wt = requireWorktree(inst);
  const { signal } = options;
  try {
    const changes = await listChanges(g.git, { worktreePath: wt, baseRef: inst.baseRef, baseCommit: inst.baseCommit, signal });
    const log = await g.git.read(wt, ['log', '--format=%H%x00%s%x00', `${changes.mergeBase}..HEAD`, '--'], { signal });
    const f = log.stdout.split('\0');
    const commits: Review['commits'] = [];
    for (let i = 0; i + 1 < f.length; i += 2) if (f[i]!.trim()) commits.push({ sha: f[i]!.trim(), subject: f[i + 1]! });
    const out: Review = {
      instance: { id: inst.id, title: inst.title, state: inst.state, branch: inst.branch, baseRef: inst.baseRef, worktreePath: wt },
      mergeBase: changes.mergeBase,
      files: changes.files,
      commits,
      insertions: changes.files.reduce((n, x) => n + (x.insertions ?? 0), 0),
      deletions: changes.files.reduce((n, x) => n + (x.deletions ?? 0), 0),
    };
    if (options.patch) {
      const parts = [(await g.git.read(wt, ['diff', '-M', '--no-color', '--no-ext-diff', changes.mergeBase, '--'], { signal })).stdout];
      for (const file of changes.files.filter((x) => x.untracked && !x.path.endsWith('/'))) {
        // git's no-index mode treats "/dev/null" as a missing file on every platform (diff-no-index.c), Windows too.
        const r = await g.git.read(wt, ['diff', '--no-index', '--no-color', '--no-ext-diff', '--', '/dev/null', file.path], { signal, okExitCodes: [1] });
        parts.push(r.stdout);
      }
      const patch = parts.filter(Boolean).join('');
      const max = options.maxPatchChars ?? 200_000;
      if (patch.length > max) {
        out.patch = `${patch.slice(0, max)}\n… (the diff is cut here: ${max} of ${patch.length} characters; review the rest in the worktree)\n`;
        out.patchTruncated = true;
        out.patchChars = patch.length;
      } else {
        out.patch = patch;
      }
    }
    return out;
  } catch (err) {
    if (isGitError(err)) throw new GroveError('Failed', `Cannot review "${inst.title}": ${err.message}`, undefined, { cause: err });
    throw err;
  }
}
