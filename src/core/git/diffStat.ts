import type { GitClient } from './gitClient';

export interface DiffStat {
  files: number;
  insertions: number;
  deletions: number;
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

/** Lines added and removed in a worktree (committed and uncommitted tracked changes) since `baseCommit`. */
export async function diffStat(git: GitClient, worktreePath: string, baseCommit: string, signal?: AbortSignal): Promise<DiffStat> {
  const { stdout } = await git.read(worktreePath, ['diff', '--shortstat', baseCommit, '--'], { signal });
  return parseShortStat(stdout);
}
