import type { GitClient } from './gitClient';
import { GitError } from './gitError';

export interface DiffStat {
  files: number;
  insertions: number;
  deletions: number;
}

/** The instance's base: the branch it merges into and the commit it was created from. */
export interface DiffStatBase {
  /** The base branch (or any commit-ish); its current tip is used. */
  baseRef?: string;
  /** The recorded base commit: used when `baseRef` is missing, no longer resolves or shares no history. */
  baseCommit: string;
}

/** Parses `git diff --shortstat` output ("3 files changed, 10 insertions(+), 2 deletions(-)"). Pure. */
export function parseShortStat(text: string): DiffStat {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    files: num(/(\d+) files? changed/),
    insertions: num(/(\d+) insertions?\(\+\)/),
    deletions: num(/(\d+) deletions?\(-\)/),
  };
}

/**
 * Lines added and removed in a worktree (committed and uncommitted tracked changes) against the merge-base of
 * HEAD and the base's current tip — so that after a sync the counts are the agent's own changes, not the
 * base's. A bare string is the recorded base commit (the merge-base of HEAD and it; prefer passing `baseRef`).
 */
export async function diffStat(git: GitClient, worktreePath: string, base: string | DiffStatBase, signal?: AbortSignal): Promise<DiffStat> {
  return diffStatFrom(git, worktreePath, await diffStatBase(git, worktreePath, base, signal), signal);
}

/** The commit {@link diffStat} counts from; it changes only when HEAD or the base's tip moves (a ref changes). */
export function diffStatBase(git: GitClient, worktreePath: string, base: string | DiffStatBase, signal?: AbortSignal): Promise<string> {
  const { baseRef, baseCommit } = typeof base === 'string' ? { baseRef: undefined, baseCommit: base } : base;
  return diffBase(git, worktreePath, baseRef, baseCommit, signal);
}

/** {@link diffStat} from a known commit (see {@link diffStatBase}): one git process. */
export async function diffStatFrom(git: GitClient, worktreePath: string, from: string, signal?: AbortSignal): Promise<DiffStat> {
  const { stdout } = await git.read(worktreePath, ['diff', '--shortstat', from, '--'], { signal });
  return parseShortStat(stdout);
}

async function diffBase(git: GitClient, cwd: string, baseRef: string | undefined, baseCommit: string, signal?: AbortSignal): Promise<string> {
  for (const rev of [baseRef, baseCommit]) {
    if (!rev || rev.startsWith('-')) continue;
    const mb = await git.read(cwd, ['merge-base', 'HEAD', `${rev}^{commit}`], { signal, okExitCodes: [1, 128] });
    if (mb.exitCode === 0 && mb.stdout.trim()) return mb.stdout.trim();
  }
  if (baseCommit.startsWith('-')) throw new GitError(`Invalid base commit: ${baseCommit}`, { code: 'NotFound' });
  return baseCommit;
}
