/**
 * The conflict radar in the Agents view: an agent's row says "overlaps with <agent> (2 files)", "conflicts with
 * <agent>" or "conflicts with main", its tooltip lists the files, and the row gets the `.overlap` / `.conflict`
 * flag for menus. A {@link TreeContribution}: the tree knows nothing of the radar.
 */
import { overlapDetails, overlapSummary } from '../../core/flows/radar';
import type { RadarWatch } from '../../core/fleet/radarWatch';
import type { InstanceSnapshot } from '../../core/model';
import type { TreeContribution } from './agentsTree';
import { escapeMd, type InstanceDecoration } from './treeItems';

export function radarContribution(radar: RadarWatch): TreeContribution {
  return {
    id: 'radar',
    onDidChange: (listener) => radar.onDidChange(() => listener(undefined)),
    decorate(inst: InstanceSnapshot): InstanceDecoration | undefined {
      if (inst.archived) return undefined;
      const r = radar.of(inst.id);
      const description = overlapSummary(r);
      if (!description) return undefined;
      const conflict = !!r?.base?.conflict || !!r?.overlaps.some((o) => o.conflict);
      return {
        description,
        tooltip: overlapDetails(r).map((l) => `⚠ ${escapeMd(l)}`).join('\n\n'),
        flag: conflict ? 'conflict' : 'overlap',
      };
    },
  };
}
