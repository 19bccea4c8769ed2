/** Land All's results and its pure parts: the order of the train, the tail of a check's output. */
import type { MergeStrategy } from '../git/mergeService';
import type { InstanceSnapshot } from '../model';

export interface LandLanded {
  instance: InstanceSnapshot;
  strategy: MergeStrategy;
  into: string;
  /** The base's tip after this merge. */
  mergedCommit: string;
  /** Times it came up in the train (1: landed at the first try). */
  attempts: number;
  /** What the cleanup did (removed, or why the worktree was kept); absent when there was none. */
  cleanup?: string;
}

export interface LandSentBack {
  instance: InstanceSnapshot;
  reason: 'conflict' | 'check';
  /** The conflicted files. */
  files?: string[];
  /** The failing check's last 200 lines. */
  output?: string;
  attempts: number;
  /** A sentence for the person. */
  message: string;
}

export interface LandLeft {
  instance: InstanceSnapshot;
  /** Why it was left for the person. */
  reason: string;
  attempts: number;
}

export interface LandSummary {
  strategy: MergeStrategy;
  landed: LandLanded[];
  /** Sent back with a follow-up and still at work when the train ended (it was cancelled). */
  sentBack: LandSentBack[];
  left: LandLeft[];
  /** The bases' new commits (`<short id> <subject>`, newest first), per repository and base. */
  baseCommits: Array<{ repoRoot: string; baseRef: string; commits: string[] }>;
  cancelled: boolean;
}

/**
 * The train's order: an agent whose plan `after:` names another agent of the train comes after it; among those free
 * to go, the fewest predicted conflicts first, then the order they were dispatched in (the plan's; `list` is in that
 * order for tasks created in the same millisecond). Pure.
 */
export function landOrder(list: readonly InstanceSnapshot[], conflicts: (id: string) => number): InstanceSnapshot[] {
  const key = (t: string) => t.trim().toLowerCase();
  const byTitle = new Map(list.map((s) => [key(s.title), s]));
  const count = new Map(list.map((s) => [s.id, conflicts(s.id)]));
  const index = new Map(list.map((s, i) => [s.id, i]));
  const placed = new Set<string>();
  const out: InstanceSnapshot[] = [];
  const waitsFor = (s: InstanceSnapshot) => {
    const dep = s.after ? byTitle.get(key(s.after)) : undefined;
    return dep && dep.id !== s.id && !placed.has(dep.id) ? dep : undefined;
  };
  while (out.length < list.length) {
    const free = list.filter((s) => !placed.has(s.id) && !waitsFor(s));
    // A cycle of after: (impossible from a plan) must not hang the train: take what is left in order.
    const pool = free.length ? free : list.filter((s) => !placed.has(s.id));
    pool.sort((a, b) => count.get(a.id)! - count.get(b.id)! || a.createdAt - b.createdAt || index.get(a.id)! - index.get(b.id)!);
    const next = pool[0]!;
    placed.add(next.id);
    out.push(next);
  }
  return out;
}

/** The last `n` lines of a command's output (trailing blank lines dropped). Pure. */
export function lastLines(output: string, n: number): string {
  const lines = output.replace(/\s+$/, '').split(/\r?\n/);
  return lines.slice(-n).join('\n');
}

/** The summary for a person. Pure. */
export function landText(s: LandSummary): string {
  const out: string[] = [];
  const total = s.landed.length + s.sentBack.length + s.left.length;
  out.push(`${s.cancelled ? 'Cancelled. ' : ''}Landed ${s.landed.length} of ${total} (${s.strategy}).`);
  for (const l of s.landed) out.push(`  ✓ ${short(l.instance.id)} ${l.instance.title} → ${l.into} ${l.mergedCommit.slice(0, 8)}${l.attempts > 1 ? ` (attempt ${l.attempts})` : ''}${l.cleanup ? `; ${l.cleanup}` : ''}`);
  if (s.sentBack.length) out.push('Sent back, still at work:');
  for (const e of s.sentBack) out.push(`  ↻ ${short(e.instance.id)} ${e.instance.title}: ${e.message}`);
  if (s.left.length) out.push('Left for you:');
  for (const l of s.left) out.push(`  ✗ ${short(l.instance.id)} ${l.instance.title}: ${l.reason}`);
  for (const b of s.baseCommits) {
    out.push(`${b.baseRef}'s new commits:`);
    for (const c of b.commits.slice(0, 30)) out.push(`  ${c}`);
    if (b.commits.length > 30) out.push(`  … ${b.commits.length - 30} more`);
  }
  return out.join('\n');
}

const short = (id: string) => id.slice(0, 8);
