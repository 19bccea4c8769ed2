/**
 * The conflict radar for every surface: each instance with the agents whose changes touch the same files and
 * whether merging them would conflict, and what its base changed too (`grove status --json`, MCP `grove_status`,
 * the Agents view through {@link Grove.radar}). A read: nothing of anyone's work is touched.
 */
import { GroveError } from '../errors';
import type { Grove } from '../grove';
import { followUp, requireInstance, type FollowUpResult } from './instances';
import type { InstanceRadar, Overlap } from '../fleet/radarWatch';
import type { InstanceSnapshot } from '../model';

export type InstanceWithOverlaps = InstanceSnapshot & { overlaps: Overlap[]; baseOverlap?: NonNullable<InstanceRadar['base']> };

/** The radar's current answer for these instances of `repoRoot` (scanned now: after a scan under way, if any). */
export async function withOverlaps(g: Grove, repoRoot: string, list: readonly InstanceSnapshot[]): Promise<InstanceWithOverlaps[]> {
  await g.radar.refresh(repoRoot);
  return list.map((s) => {
    const r = g.radar.of(s.id);
    return { ...s, overlaps: r?.overlaps ?? [], ...(r?.base ? { baseOverlap: r.base } : {}) };
  });
}

/** "overlaps with One (2 files)", "conflicts with Two", "conflicts with main", or undefined. Pure. */
export function overlapSummary(r: InstanceRadar | undefined): string | undefined {
  if (!r) return undefined;
  const parts: string[] = [];
  if (r.base?.conflict) parts.push(`conflicts with ${r.base.ref}`);
  const conflicts = r.overlaps.filter((o) => o.conflict);
  const overlaps = r.overlaps.filter((o) => !o.conflict);
  const names = (os: Overlap[]) => (os.length > 2 ? `${os.length} agents` : os.map((o) => o.title).join(', '));
  const files = (os: Overlap[]) => new Set(os.flatMap((o) => o.files)).size;
  if (conflicts.length) parts.push(`conflicts with ${names(conflicts)}`);
  if (overlaps.length) parts.push(`overlaps with ${names(overlaps)} (${files(overlaps)} file${files(overlaps) === 1 ? '' : 's'})`);
  return parts.length ? parts.join('; ') : undefined;
}

/** The tooltip's lines: each other agent (or the base) and the files both touch. Pure. */
export function overlapDetails(r: InstanceRadar | undefined): string[] {
  if (!r) return [];
  const out: string[] = [];
  if (r.base?.files.length) out.push(`${r.base.conflict ? 'Conflicts' : 'Overlaps'} with ${r.base.ref}: ${(r.base.conflict ? r.base.conflictFiles : r.base.files).join(', ')}`);
  for (const o of r.overlaps) out.push(`${o.conflict ? 'Conflicts' : 'Overlaps'} with ${o.title}: ${(o.conflict ? o.conflictFiles : o.files).join(', ')}`);
  return out;
}

/** The follow-up that tells an agent another one changes the same files. Pure. */
export function overlapPrompt(other: Pick<InstanceSnapshot, 'title' | 'branch'>, files: readonly string[], conflict: boolean): string {
  return [
    `Another agent, "${other.title}" (branch \`${other.branch}\`), is changing the same files as you${conflict ? ', and merging both as they are now would conflict' : ''}:`,
    ...files.slice(0, 20).map((f) => `- ${f}`),
    ...(files.length > 20 ? [`- … and ${files.length - 20} more`] : []),
    '',
    `Keep your changes to these files to what your task needs (no reformatting or moving code), and look at what it committed so far with \`git diff HEAD...${other.branch} -- <file>\` so that both can be merged.`,
  ].join('\n');
}

/** "Tell <agent>": a follow-up to `id` naming `otherId`'s branch and the files both change (the radar's current answer). */
export async function tellAboutOverlap(g: Grove, id: string, otherId: string): Promise<FollowUpResult> {
  const inst = requireInstance(g, id);
  const other = requireInstance(g, otherId);
  const o = g.radar.of(id)?.overlaps.find((x) => x.id === otherId);
  if (!o) throw new GroveError('InvalidInput', `"${inst.title}" and "${other.title}" do not change the same files (as of the last scan).`);
  return followUp(g, id, overlapPrompt(other, o.files, o.conflict));
}
