/**
 * The MCP tools that change branches: grove_land (finished instances into their base, one after the other),
 * grove_merge (one, with every option) and grove_remove. All on core's merge and remove flows.
 *
 * grove_land is core's Land All train (flows/land.ts): the same as `grove land` and VS Code's Land All.
 */
import { land } from '../core/flows/land';
import { merge, type MergeOutcome } from '../core/flows/merge';
import { remove } from '../core/flows/remove';
import type { MergeStrategy } from '../core/git/mergeService';
import { UsageError } from './args';
import { bool, idArg, instanceOf, oneOf, requireStill, strings, summary, type Tool, type ToolHost } from './mcpCommon';

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
    description: 'Land All, a merge train: bring finished instances\' work into their base branch one after the other (the order: a task before those that started after it, then fewest predicted conflicts). Each is synced onto the base\'s current tip, checked with the configured check command in its worktree, merged (a task that started after another lands where that one landed) and cleaned up per the settings, without touching uncommitted work in the user\'s checkout. An instance whose sync conflicts or whose check fails gets a follow-up with the conflicted files or the check\'s output and is reported in sentBack (with wait: true the train waits for it and lands it when its turn ends done). Returns landed / sentBack / left (with reasons) and the base\'s new commits.',
    inputSchema: {
      type: 'object',
      properties: {
        ids: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'The instances to land (ids, id prefixes or titles). Omit to land every done instance of the repository' },
        strategy: strategyArg,
        commit: { type: 'boolean', description: 'Commit each agent\'s uncommitted and untracked work before landing it (default true)' },
        cleanup: { type: 'boolean', description: 'Remove each landed worktree and branch afterwards (default: the repository\'s cleanupAfterMerge setting; "ask" keeps them)' },
        wait: { type: 'boolean', description: 'Wait for the instances sent back for a fix and land them when they are done (default false: they are reported in sentBack; call grove_wait, then grove_land again)' },
      },
      additionalProperties: false,
    },
    async run(g, a) {
      const refs = a.ids === undefined ? undefined : strings(a.ids, 'ids');
      if (refs && !refs.length) throw new UsageError('ids must name at least one instance');
      const strategy = oneOf(a.strategy, 'strategy', STRATEGIES);
      const commit = bool(a.commit, 'commit') !== false;
      const cleanup = bool(a.cleanup, 'cleanup');
      const insts = refs?.map((r, i) => instanceOf(g, r, `ids[${i}]`));
      for (const inst of insts ?? []) requireStill(inst, 'land');
      const r = await land(g.grove, {
        ...(insts ? { ids: insts.map((i) => i.id) } : { repoRoot: g.repoRoot }),
        strategy: strategy ?? 'merge', commit, wait: bool(a.wait, 'wait') === true,
        ...(cleanup !== undefined ? { cleanup: cleanup ? 'always' as const : 'never' as const } : {}),
      });
      if (!r) throw new UsageError('nothing was landed');
      const landed = r.landed.map((l) => ({ id: l.instance.id, title: l.instance.title, strategy: l.strategy, into: l.into, mergedCommit: l.mergedCommit, attempts: l.attempts, ...(l.cleanup ? { cleanup: l.cleanup } : {}) }));
      const sentBack = r.sentBack.map((b) => ({ id: b.instance.id, title: b.instance.title, reason: b.reason, ...(b.files ? { files: b.files } : {}), message: b.message }));
      const left = r.left.map((l) => ({ id: l.instance.id, title: l.instance.title, reason: l.reason }));
      const into = [...new Set(landed.map((l) => l.into))].join(', ');
      const message = [
        landed.length ? `Landed ${landed.map((l) => `"${l.title}"`).join(', ')} into ${into}.` : 'Nothing landed.',
        ...(sentBack.length ? [`Sent back for a fix: ${sentBack.map((b) => `"${b.title}" (${b.message})`).join('; ')}: call grove_wait for them, then grove_land again.`] : []),
        ...(left.length ? [`Left: ${left.map((l) => `"${l.title}": ${l.reason}`).join('; ')}.`] : []),
      ].join(' ');
      return { landed, sentBack, left, baseCommits: r.baseCommits, message };
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
