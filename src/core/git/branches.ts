import type { GitClient } from './gitClient';

export interface BranchRef {
  /** Short name usable as a base (`main`, `origin/main`). */
  name: string;
  remote: boolean;
  /** Subject of the tip commit. */
  subject: string;
  /** Committer date of the tip, seconds since the epoch. */
  date: number;
}

/** Local and remote-tracking branches, most recently committed first (remote HEAD aliases left out). */
export async function listBranches(git: GitClient, repoRoot: string, signal?: AbortSignal): Promise<BranchRef[]> {
  const { stdout } = await git.read(repoRoot, [
    'for-each-ref', '--sort=-committerdate', '--format=%(refname)%00%(committerdate:unix)%00%(subject)', 'refs/heads', 'refs/remotes',
  ], { signal });
  return parseBranchRefs(stdout);
}

/** Pure parser of the `for-each-ref` format used by {@link listBranches}. */
export function parseBranchRefs(stdout: string): BranchRef[] {
  const out: BranchRef[] = [];
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [ref, date, subject = ''] = line.split('\0');
    if (ref.startsWith('refs/heads/')) out.push({ name: ref.slice('refs/heads/'.length), remote: false, subject, date: Number(date) });
    else if (ref.startsWith('refs/remotes/') && !ref.endsWith('/HEAD')) out.push({ name: ref.slice('refs/remotes/'.length), remote: true, subject, date: Number(date) });
  }
  return out;
}
