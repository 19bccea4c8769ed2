/** Pure parser for `git worktree list --porcelain -z` (git ≥ 2.36). No I/O: tested with literal fixtures. */
import type { ProcessIdentity } from '../platform/processes';

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

/** Lock reasons Grove writes start with this, so Grove only ever unlocks its own locks. */
export const GROVE_LOCK_PREFIX = 'grove: ';

/**
 * The reason Grove writes with `git worktree lock`: readable, on one line, ending with the identity of the process
 * the lock stands for — `grove: agent "Fix login" is running [pid 4242 on my-host, started 81234]` — so that a
 * removal can check whether it still runs ({@link parseLockOwner}).
 */
export function formatLockReason(reason: string, owner: ProcessIdentity): string {
  const text = reason.replace(/[\r\n\t]+/g, ' ').replace(/\[pid [^\]]*\]/g, '').trim();
  const start = owner.startTime !== undefined ? `, started ${encodeURIComponent(owner.startTime)}` : '';
  return `${GROVE_LOCK_PREFIX}${text} [pid ${owner.pid} on ${encodeURIComponent(owner.host)}${start}]`;
}

/** The process a Grove lock reason names; undefined for foreign locks and for locks written by older Grove versions (no identity recorded). */
export function parseLockOwner(reason: string | undefined): ProcessIdentity | undefined {
  if (!reason?.startsWith(GROVE_LOCK_PREFIX)) return undefined;
  const m = /\[pid (\d+) on ([^\s,\]]+)(?:, started ([^\s\]]+))?\]$/.exec(reason);
  if (!m) return undefined;
  const pid = Number(m[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const host = decodeURIComponent(m[2]!);
    return { pid, host, ...(m[3] !== undefined ? { startTime: decodeURIComponent(m[3]) } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * From a worktree's HEAD log (`<admin dir>/logs/HEAD`), the commits HEAD was moved away from by a checkout or
 * switch — where commits made on a detached HEAD are left behind (git warns "you are leaving N commits behind").
 * Most recent first, unique, at most `max`. Commits superseded on purpose (amend, reset, rebase) are not listed.
 * Pure; whether a listed commit is still reachable from a ref is for git to say.
 */
export function commitsLeftByCheckout(reflog: string, max = 200): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const lines = reflog.split('\n');
  for (let i = lines.length - 1; i >= 0 && out.length < max; i--) {
    const line = lines[i]!;
    const tab = line.indexOf('\t');
    if (tab < 0 || !line.slice(tab + 1).startsWith('checkout: moving from ')) continue;
    const old = line.slice(0, line.indexOf(' '));
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(old) || NULL_SHA.test(old) || seen.has(old)) continue;
    seen.add(old);
    out.push(old);
  }
  return out;
}
