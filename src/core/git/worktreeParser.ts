/** Pure parser for `git worktree list --porcelain -z` (git ≥ 2.36). No I/O: tested with literal fixtures. */

export interface WorktreeEntry {
  /** Absolute path as git recorded it. */
  path: string;
  /** Commit checked out; undefined for a bare entry or an unborn branch. */
  head?: string;
  /** Full ref, e.g. `refs/heads/grove/fix-login`; undefined when detached or bare. */
  branchRef?: string;
  /** Short branch name (`grove/fix-login`). */
  branch?: string;
  detached: boolean;
  bare: boolean;
  locked: boolean;
  lockedReason?: string;
  /** git knows the worktree's folder is gone (deleted by hand); `git worktree prune` would drop it. */
  prunable: boolean;
  prunableReason?: string;
}

const NULL_SHA = /^0{40}$|^0{64}$/;

/**
 * Parses the NUL-separated porcelain output. Each attribute is a NUL-terminated field; an empty field ends a
 * worktree record. Paths and reasons may contain any character except NUL (spaces, newlines, unicode).
 */
export function parseWorktreeList(output: string): WorktreeEntry[] {
  const entries: WorktreeEntry[] = [];
  let current: WorktreeEntry | undefined;
  for (const field of output.split('\0')) {
    if (field === '') {
      if (current) entries.push(current);
      current = undefined;
      continue;
    }
    const space = field.indexOf(' ');
    const key = space === -1 ? field : field.slice(0, space);
    const value = space === -1 ? undefined : field.slice(space + 1);
    if (key === 'worktree') {
      if (current) entries.push(current);
      current = { path: value ?? '', detached: false, bare: false, locked: false, prunable: false };
      continue;
    }
    if (!current) continue; // tolerate garbage before the first record
    switch (key) {
      case 'HEAD':
        if (value && !NULL_SHA.test(value)) current.head = value;
        break;
      case 'branch':
        current.branchRef = value;
        current.branch = value?.replace(/^refs\/heads\//, '');
        break;
      case 'detached':
        current.detached = true;
        break;
      case 'bare':
        current.bare = true;
        break;
      case 'locked':
        current.locked = true;
        if (value !== undefined) current.lockedReason = value;
        break;
      case 'prunable':
        current.prunable = true;
        if (value !== undefined) current.prunableReason = value;
        break;
      default:
        // Unknown attributes from newer git versions are ignored on purpose.
        break;
    }
  }
  if (current) entries.push(current);
  return entries;
}

/** Parses `git status --porcelain=v1 -z --no-renames` into tracked changes and untracked files. */
export function parseStatus(output: string): { changed: string[]; untracked: string[] } {
  const changed: string[] = [];
  const untracked: string[] = [];
  for (const record of output.split('\0')) {
    if (record.length < 4) continue;
    const xy = record.slice(0, 2);
    const file = record.slice(3);
    if (xy === '??') untracked.push(file);
    else if (xy !== '!!') changed.push(file);
  }
  return { changed, untracked };
}
