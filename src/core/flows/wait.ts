/**
 * Wait — until a set of instances needs someone (a lead agent, a person, a script): the one implementation behind
 * MCP `grove_wait` and anything else that blocks on agents. Driven by the fleet's change events (which include the
 * changes other Grove processes write to the registry, and instances whose driver died), never by polling.
 *
 * An instance is *settled* when nothing more happens to it without someone acting: done, failed, stopped,
 * interrupted, paused by a rate limit, waiting for a person (a permission or an answer), queued behind a dependency
 * that failed, or removed. The result gives each instance's state, result text and diff stat, and the files that
 * more than one of them changed (they will conflict when landed one after the other).
 */
import { isFinished } from '../fleet/instance';
import type { Grove } from '../grove';
import type { InstanceSnapshot, InstanceState } from '../model';
import { requireInstance } from './instances';
import { review } from './review';

export interface WaitRequest {
  ids: readonly string[];
  /** Give up after this long (the result then says which are still going). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Every change of a waited instance's state, and `heartbeatMs` apart while nothing changes. */
  onProgress?(progress: WaitProgress): void;
  /** Default 15 s: clients that reset their request timeout on progress keep waiting. */
  heartbeatMs?: number;
}

export interface WaitProgress {
  settled: number;
  total: number;
  /** "Alpha: done · Beta: running" */
  message: string;
}

export interface WaitEntry {
  id: string;
  title: string;
  state: InstanceState | 'removed';
  settled: boolean;
  waitReason?: string;
  branch?: string;
  /** The agent's final message. */
  result?: string;
  error?: string;
  costUsd?: number;
  /** Changed against the merge-base with its base (committed, uncommitted and untracked work). */
  diffStat?: { files: number; insertions: number; deletions: number; paths: string[] };
}

export interface WaitResult {
  /** Every instance is settled. */
  settled: boolean;
  /** The timeout (or the signal) ended the wait first. */
  timedOut: boolean;
  elapsedMs: number;
  instances: WaitEntry[];
  /** Files changed by more than one of the instances: path → titles. */
  overlaps: { path: string; titles: string[] }[];
  /** One sentence: what is done, what still runs. */
  message: string;
}

/** Nothing more will happen to it without someone acting. Pure. */
export function isSettledForWait(s: InstanceSnapshot | undefined): boolean {
  if (!s) return true;
  if (isFinished(s.state) || s.state === 'paused' || s.state === 'waiting') return true;
  return s.state === 'queued' && !!s.error?.startsWith('blocked:');
}

/** Blocks until every instance is settled or the timeout passes. @throws GroveError NotFound for an unknown id. */
export async function waitFor(g: Grove, req: WaitRequest): Promise<WaitResult> {
  const ids = [...new Set(req.ids)];
  const titles = new Map(ids.map((id) => [id, requireInstance(g, id).title]));
  const started = Date.now();
  const states = () => ids.map((id) => g.fleet.get(id));
  const progress = (): WaitProgress => {
    const all = states();
    return {
      settled: all.filter(isSettledForWait).length,
      total: ids.length,
      message: ids.map((id, i) => `${titles.get(id)}: ${all[i]?.state ?? 'removed'}`).join(' · '),
    };
  };
  const timedOut = await new Promise<boolean>((resolve) => {
    let last = '';
    const finish = (value: boolean) => {
      sub.dispose();
      clearTimeout(timer);
      clearInterval(beat);
      req.signal?.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const check = () => {
      const p = progress();
      if (p.message !== last) {
        last = p.message;
        req.onProgress?.(p);
      }
      if (p.settled === p.total) finish(false);
    };
    const onAbort = () => finish(true);
    const sub = g.fleet.onDidChangeInstances((change) => {
      if (change.removed.some((id) => titles.has(id)) || change.changed.some((s) => titles.has(s.id))) check();
    });
    const timer = setTimeout(() => finish(true), Math.max(0, req.timeoutMs));
    const beat = setInterval(() => req.onProgress?.(progress()), req.heartbeatMs ?? 15_000);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) finish(true);
    else check();
  });
  const elapsedMs = Date.now() - started;
  const instances = await Promise.all(ids.map((id) => entryOf(g, id, titles.get(id)!)));
  const overlaps = overlapsOf(instances);
  const going = instances.filter((e) => !e.settled);
  const settled = going.length === 0;
  const message = settled
    ? `All ${instances.length} settled: ${summarise(instances)}.`
    : `Still running after ${Math.floor(elapsedMs / 1000)} s: ${going.map((e) => `"${e.title}" (${e.state})`).join(', ')}${instances.length > going.length ? `; settled: ${summarise(instances.filter((e) => e.settled))}` : ''}.`;
  return { settled, timedOut: timedOut && !settled, elapsedMs, instances, overlaps, message };
}

async function entryOf(g: Grove, id: string, title: string): Promise<WaitEntry> {
  const s = g.fleet.get(id);
  if (!s) return { id, title, state: 'removed', settled: true };
  const entry: WaitEntry = {
    id, title: s.title, state: s.state, settled: isSettledForWait(s),
    ...(s.waitReason ? { waitReason: s.waitReason } : {}),
    ...(s.branch ? { branch: s.branch } : {}),
    ...(s.resultText ? { result: s.resultText } : {}),
    ...(s.error ? { error: s.error } : {}),
    costUsd: s.costUsd,
  };
  if (s.worktreePath && !s.archived && s.state !== 'queued' && s.state !== 'provisioning') {
    try {
      const r = await review(g, id, { patch: false });
      entry.diffStat = { files: r.files.length, insertions: r.insertions, deletions: r.deletions, paths: r.files.map((f) => f.path) };
    } catch {
      // No diff stat (the worktree is gone or git failed): the state still says what happened.
    }
  }
  return entry;
}

/** Files changed by more than one instance. Pure. */
export function overlapsOf(entries: readonly WaitEntry[]): { path: string; titles: string[] }[] {
  const by = new Map<string, string[]>();
  for (const e of entries) for (const p of e.diffStat?.paths ?? []) by.set(p, [...(by.get(p) ?? []), e.title]);
  return [...by].filter(([, t]) => t.length > 1).map(([path, titles]) => ({ path, titles }));
}

function summarise(entries: readonly WaitEntry[]): string {
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
}
