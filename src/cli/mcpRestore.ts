/**
 * The MCP tools that bring work back: grove_snapshots and grove_restore (Recently Removed: the snapshot Grove records
 * before every destructive step), grove_turns and grove_revert_turn (the checkpoint of each agent turn). All on
 * core's restore and turns flows.
 */
import path from 'node:path';
import { listSnapshots, restoreSnapshot } from '../core/flows/restore';
import { revertToBeforeTurn, turnChanges, turns } from '../core/flows/turns';
import { UsageError } from './args';
import { bool, idArg, instanceOf, num, opt, str, type Tool, type ToolHost } from './mcpCommon';

export const RESTORE_TOOLS: Tool[] = [
  {
    name: 'grove_snapshots',
    description: 'Recently Removed: the snapshots Grove recorded before removing a worktree (even with force), deleting a branch, aborting a sync or cleaning up after a merge, newest first. Each holds HEAD, the branch, the index, tracked, untracked and listed ignored files; grove_restore brings one back. Kept grove.snapshotRetentionDays days (default 14).',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    async run(g: ToolHost) {
      return { snapshots: await listSnapshots(g.grove, [g.repoRoot]) };
    },
  },
  {
    name: 'grove_restore',
    description: 'Restore a snapshot from grove_snapshots exactly: recreates the removed worktree at its path (or a free sibling) on its branch, or the deleted branch; a worktree that still exists is restored in place and the state it replaced becomes a new snapshot (returned as undoId). A branch that moved since is never moved back: give branchName or detach.',
    inputSchema: {
      type: 'object',
      properties: {
        id: { type: 'string', description: 'The snapshot id, as grove_snapshots lists it (e.g. 20250101-120000-a1b2c3), or a checkpoint id from grove_revert_turn (undoId)' },
        branchName: { type: 'string', description: 'Restore on this new branch instead of the recorded one (when that one moved since)' },
        detach: { type: 'boolean', description: 'Restore with a detached HEAD at the recorded commit instead of on a branch' },
        path: { type: 'string', description: 'Recreate the worktree in this folder instead of its recorded path (relative: to the repository root)' },
      },
      required: ['id'],
      additionalProperties: false,
    },
    async run(g: ToolHost, a) {
      const branchName = opt(a.branchName, 'branchName');
      const where = opt(a.path, 'path');
      const detach = bool(a.detach, 'detach') === true;
      if (branchName && detach) throw new UsageError('give branchName or detach, not both');
      return restoreSnapshot(g.grove, { repoRoot: g.repoRoot, id: str(a.id, 'id'), ...(branchName ? { branchName } : {}), ...(detach ? { detach: true } : {}), ...(where ? { path: path.resolve(g.repoRoot, where) } : {}) });
    },
  },
  {
    name: 'grove_turns',
    description: 'The checkpoints Grove recorded for an instance: turn 0 before its first prompt, then one at the end of each turn (refs/grove/checkpoints, never a commit on its branch), each with the files that turn changed. grove_revert_turn goes back to before one.',
    inputSchema: { type: 'object', properties: { id: idArg }, required: ['id'], additionalProperties: false },
    async run(g: ToolHost, a) {
      const inst = instanceOf(g, a.id);
      const out = [];
      for (const t of await turns(g.grove, inst.id)) {
        const files = t.turn ? (await turnChanges(g.grove, inst.id, t.turn).catch(() => undefined))?.files : undefined;
        out.push({ turn: t.turn ?? 0, id: t.id, createdAt: t.createdAt, ...(files ? { files } : {}) });
      }
      return { turns: out };
    },
  },
  {
    name: 'grove_revert_turn',
    description: 'Restore an instance\'s worktree exactly as it was before one of its turns (files, index, HEAD). Without confirm it refuses and lists the files that would go; the state it replaces is kept as a checkpoint (grove_restore with the returned undoId undoes it).',
    inputSchema: {
      type: 'object',
      properties: {
        id: idArg,
        beforeTurn: { type: 'number', description: 'The turn to undo (with every later one), as grove_turns lists them; at least 1' },
        confirm: { type: 'boolean', description: 'The person agreed to lose the listed changes' },
      },
      required: ['id', 'beforeTurn'],
      additionalProperties: false,
    },
    async run(g: ToolHost, a) {
      const before = num(a.beforeTurn, 'beforeTurn', 1, 1_000_000);
      if (before === undefined || !Number.isInteger(before)) throw new UsageError('beforeTurn must be a turn number ≥ 1');
      return revertToBeforeTurn(g.grove, instanceOf(g, a.id).id, before, {}, bool(a.confirm, 'confirm') === true);
    },
  },
];
