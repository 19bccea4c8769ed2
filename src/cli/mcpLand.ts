/**
 * The MCP tools that change branches: grove_land (finished instances into their base, one after the other),
 * grove_merge (one, with every option) and grove_remove. All on core's merge and remove flows.
 *
 * grove_land merges in the order given, each on top of the previous one, and stops at the first refusal, saying
 * what landed and what to do about the rest. (When core gets a land train, grove_land calls it instead.)
 */
import { landingTarget, merge, type MergeOutcome } from '../core/flows/merge';
import { remove } from '../core/flows/remove';
import type { MergeStrategy } from '../core/git/mergeService';
import { UsageError } from './args';
import { bool, forModel, idArg, instanceOf, oneOf, requireStill, strings, summary, type Tool, type ToolHost } from './mcpCommon';

const STRATEGIES: readonly MergeStrategy[] = ['merge', 'squash', 'rebase'];

const strategyArg = { type: 'string', enum: STRATEGIES, description: 'merge: a merge commit (default); squash: one commit with the task as its message; rebase: the commits replayed on the base, fast-forward' };

function landed(o: MergeOutcome) {
  return {
    id: o.instance.id, title: o.instance.title, strategy: o.strategy, into: o.into, mergedCommit: o.mergedCommit,
    ...(o.committed ? { committedFirst: o.committed } : {}),
    ...(o.notes.length ? { notes: o.notes } : {}),
    ...(o.cleanup ? { cleanup: 'kept' in o.cleanup ? `worktree kept: ${o.cleanup.kept}` : o.cleanup.branchDeleted ? 'worktree and branch removed' : 'worktree removed' } : {}),
  };
}

export const LAND_TOOLS: Tool[] = [
  {
    name: 'grove_land',
    description: 'Bring finished instances\' work into their base branch, one after the other in the order given (each merged on top of the previous ones; a task that started after another lands where that one landed), without touching uncommitted work in the user\'s checkout. Commits an agent\'s uncommitted work first (unless commit: false). Stops at the first instance that cannot land (conflicts, still running…) and says what landed and how to fix the rest.',
    inputSchema: {
      type: 'object',
      properties: {
        ids: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'The instances to land, in order (ids, id prefixes or titles). Land a task before the tasks that started after it' },
        strategy: strategyArg,
        commit: { type: 'boolean', description: 'Commit the agent\'s uncommitted and untracked work before merging (default true)' },
        cleanup: { type: 'boolean', description: 'Remove each landed worktree and branch afterwards (default: the repository\'s cleanupAfterMerge setting; "ask" keeps them)' },
      },
      required: ['ids'],
      additionalProperties: false,
    },
    async run(g, a) {
      const refs = strings(a.ids, 'ids');
      if (!refs.length) throw new UsageError('ids must name at least one instance');
      const strategy = oneOf(a.strategy, 'strategy', STRATEGIES);
      const commit = bool(a.commit, 'commit') !== false;
      const cleanup = bool(a.cleanup, 'cleanup');
      const insts = refs.map((r, i) => instanceOf(g, r, `ids[${i}]`));
      for (const inst of insts) requireStill(inst, 'land');
      const done: ReturnType<typeof landed>[] = [];
      for (const [i, inst] of insts.entries()) {
        try {
          // A task that started after another lands where that one landed (its base branch is merged already).
          const into = landingTarget(g.grove, g.grove.fleet.get(inst.id) ?? inst);
          const o = await merge(g.grove, { id: inst.id, strategy, commit, into, ...(cleanup !== undefined ? { cleanup: cleanup ? 'always' : 'never' } : {}) });
          if (o) done.push(landed(o));
        } catch (err) {
          const rest = insts.slice(i + 1).map((x) => `"${x.title}"`);
          throw new UsageError([
            done.length ? `Landed: ${done.map((d) => `"${d.title}" into ${d.into} (${d.mergedCommit.slice(0, 8)})`).join(', ')}.` : 'Nothing landed.',
            `Not landed: "${inst.title}": ${forModel(err)}`,
            ...(rest.length ? [`Not tried yet: ${rest.join(', ')}.`] : []),
          ].join('\n'));
        }
      }
      return { landed: done, message: `Landed ${done.map((d) => `"${d.title}"`).join(', ')} into ${[...new Set(done.map((d) => d.into))].join(', ')}.` };
    },
  },
  {
    name: 'grove_merge',
    description: 'Merge one finished instance\'s branch into its base branch (merge commit, squash, or rebase + fast-forward) without touching uncommitted work in the user\'s checkout. Refuses, changing nothing, with the reasons (conflicts, uncommitted work, agent still running…). grove_land does the same for several.',
    inputSchema: {
      type: 'object',
      properties: {
        id: idArg,
        strategy: strategyArg,
        commit: { type: 'boolean', description: 'Commit the agent\'s uncommitted and untracked work first (default false: refuse and list it)' },
      },
      required: ['id'],
      additionalProperties: false,
    },
    async run(g, a) {
      const strategy = oneOf(a.strategy, 'strategy', STRATEGIES);
      const inst = instanceOf(g, a.id);
      requireStill(inst, 'merge');
      const o = await merge(g.grove, { id: inst.id, strategy, commit: bool(a.commit, 'commit') === true });
      return o && { ...landed(o), instance: summary(o.instance) };
    },
  },
  {
    name: 'grove_remove',
    description: 'Remove an instance, its worktree and (when merged, or with deleteBranch) its branch. Refuses, removing nothing, and lists exactly what would be lost (uncommitted or untracked files; unmerged commits with deleteBranch) unless force is true; with force the result lists what was discarded.',
    inputSchema: {
      type: 'object',
      properties: {
        id: idArg,
        force: { type: 'boolean', description: 'Discard the work the refusal listed (and stop the agent if it still runs)' },
        deleteBranch: { type: 'boolean', description: 'Delete the branch even if it holds commits that are not in its base' },
      },
      required: ['id'],
      additionalProperties: false,
    },
    async run(g: ToolHost, a) {
      const force = bool(a.force, 'force') === true;
      const deleteBranch = bool(a.deleteBranch, 'deleteBranch') === true;
      return remove(g.grove, { id: instanceOf(g, a.id).id, force, deleteBranch });
    },
  },
];
