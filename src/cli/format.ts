/** Terminal output: the status table, progress lines, review text. Pure functions of plain data. */
import { oneLine } from '../core/agents/transcript';
import type { InstanceSnapshot } from '../core/model';
import type { Review } from '../core/flows/review';

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function stateLabel(s: InstanceSnapshot): string {
  if (s.state === 'waiting') return s.waitReason === 'permission' ? 'waiting (permission)' : 'waiting';
  if (s.state === 'queued' && s.error?.startsWith('blocked:')) return 'blocked';
  return s.state;
}

export function cost(usd: number): string {
  return `$${usd.toFixed(usd >= 1 ? 2 : 4)}`;
}

/** What the instance did last, or why it failed. */
export function lastWord(s: InstanceSnapshot): string {
  // The way on comes first: the table cuts long words.
  if (s.state === 'paused') {
    const until = s.pausedUntil ? ` until ${new Date(s.pausedUntil).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : '';
    return `paused${until} (grove resume ${shortId(s.id)}): ${s.pauseReason ?? 'a usage limit'}`;
  }
  if (s.state === 'queued' && s.waitingFor) return `waiting for ${s.waitingFor}`;
  if (s.state === 'failed' && s.contextExhausted) return `context exhausted (grove continue ${shortId(s.id)}): ${(s.error ?? '').replace(/^context exhausted: /, '')}`;
  if ((s.state === 'failed' || s.state === 'interrupted' || s.state === 'queued') && s.error) return s.error;
  return s.lastActivity ?? (s.state === 'done' && s.resultText ? s.resultText : '');
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export function statusTable(instances: readonly InstanceSnapshot[]): string {
  if (!instances.length) return 'No agents in this repository. `grove dispatch --prompt "…"` starts one.';
  return table([
    ['ID', 'TITLE', 'STATE', 'BRANCH', 'COST', 'LAST ACTIVITY'],
    ...instances.map((s) => [shortId(s.id), oneLine(s.title, 40), stateLabel(s), s.branch || '-', cost(s.costUsd), oneLine(lastWord(s), 60)]),
  ]);
}

/** One progress line for a change worth telling (state or activity), or undefined. */
export class ProgressLines {
  private readonly seen = new Map<string, string>();

  line(s: InstanceSnapshot): string | undefined {
    const what = `${stateLabel(s)}${lastWord(s) ? ` — ${oneLine(lastWord(s), 80)}` : ''}`;
    if (this.seen.get(s.id) === what) return undefined;
    this.seen.set(s.id, what);
    return `${shortId(s.id)} ${oneLine(s.title, 40)}: ${what}${s.state === 'done' ? ` (${cost(s.costUsd)})` : ''}`;
  }
}

export function reviewText(r: Review): string {
  const out: string[] = [`${r.instance.title} — ${r.instance.branch} against ${r.instance.baseRef} (merge-base ${r.mergeBase.slice(0, 8)})`];
  if (r.commits.length) out.push('', `Commits (${r.commits.length}):`, ...r.commits.map((c) => `  ${c.sha.slice(0, 8)} ${c.subject}`));
  out.push('', r.files.length ? `Files (${r.files.length}):` : 'No changes.');
  for (const f of r.files) {
    const counts = f.binary ? 'binary' : `+${f.insertions ?? '?'} -${f.deletions ?? '?'}`;
    const where = f.untracked ? ' (untracked)' : '';
    out.push(`  ${f.status} ${f.oldPath ? `${f.oldPath} → ` : ''}${f.path}  ${counts}${where}`);
  }
  if (r.files.length) out.push(` ${r.files.length} file(s) changed, ${r.insertions} insertion(s)(+), ${r.deletions} deletion(s)(-)`);
  if (r.patch) out.push('', r.patch.trimEnd());
  return out.join('\n');
}
