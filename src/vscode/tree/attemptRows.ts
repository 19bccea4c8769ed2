/** Best of N in the Agents view: an attempt's row says "attempt 2/3" and gets the `.attempt` flag (Compare, Land This Attempt). */
import type { InstanceSnapshot } from '../../core/model';
import { Emitter } from '../../core/util/event';
import type { TreeContribution } from './agentsTree';

export function attemptContribution(): TreeContribution {
  return {
    id: 'attempts',
    onDidChange: new Emitter<void>().event,
    decorate(inst: InstanceSnapshot) {
      if (!inst.attempt) return undefined;
      return { description: `attempt ${inst.attempt.index}/${inst.attempt.of}`, tooltip: `One of ${inst.attempt.of} attempts at the same task: **Compare Attempts** shows them side by side.`, flag: 'attempt' };
    },
  };
}
