/** Restore from Recently Removed: the VS Code way of asking for core/flows/restore. */
import fs from 'node:fs';
import * as vscode from 'vscode';
import { describeSnapshot, listSnapshots, restoreSnapshot } from '../../core/flows/restore';
import type { SnapshotMeta } from '../../core/git/snapshots';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { RECENTLY_REMOVED, type RecentlyRemoved } from '../tree/recentlyRemoved';
import { UserFacingError } from './register';

export interface RestoreArgs {
  repoRoot: string;
  id: string;
  /** Skip the confirmation of an in-place restore (tests, API). */
  confirmed?: boolean;
  throwErrors?: boolean;
}

export function restoreCommands(s: Services, recentlyRemoved: RecentlyRemoved) {
  return {
    'grove.restoreSnapshot': async (nodeOrArgs?: Node | RestoreArgs) => {
      const target = await pickSnapshot(s, recentlyRemoved, nodeOrArgs);
      const { repoRoot, meta } = target;
      const name = describeSnapshot(meta).label;
      const live = meta.kind !== 'branch' && !!meta.worktreePath && fs.existsSync(meta.worktreePath);
      if (live && !(nodeOrArgs && 'confirmed' in nodeOrArgs && nodeOrArgs.confirmed)) {
        const ok = await vscode.window.showWarningMessage(
          `Restore "${name}" in place? Its worktree ${meta.worktreePath} goes back to the snapshot (${meta.reason}). What it holds now is recorded first, as a new snapshot you can restore.`,
          { modal: true }, 'Restore');
        if (ok !== 'Restore') return undefined;
      }
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Grove: restoring "${name}"` }, () =>
        restoreSnapshot(s.grove, { repoRoot, id: meta.id }, {
          onBranchConflict: async (c) => {
            const rename = `Restore on a New Branch…`;
            const detach = 'Restore Detached';
            const a = await vscode.window.showWarningMessage(
              `Branch ${c.branch} has moved since the snapshot (it is at ${c.current.slice(0, 8)}, the snapshot recorded ${c.recorded.slice(0, 8)}${c.checkedOutAt ? `, checked out in ${c.checkedOutAt}` : ''}). Grove never moves it back.`,
              { modal: true }, rename, detach);
            if (a === detach) return { detach: true };
            if (a !== rename) return undefined;
            const branchName = await vscode.window.showInputBox({ title: 'Grove: restore on branch', value: `${c.branch}-restored`, validateInput: (v) => (v.trim() ? undefined : 'Enter a branch name') });
            return branchName ? { branchName: branchName.trim() } : undefined;
          },
        }));
      if (r.cancelled) return r;
      await s.repos.refresh(repoRoot);
      await recentlyRemoved.refresh();
      const where = r.worktreePath ? ` at ${r.worktreePath}${r.branch ? ` on ${r.branch}` : ' (detached)'}` : r.branch ? `: branch ${r.branch}` : '';
      const notes = r.notes.length ? ` ${r.notes.join(' ')}` : '';
      const agent = r.instance ? ` Its agent "${r.instance.title}" is back (${r.instance.state}).` : '';
      void vscode.window.showInformationMessage(`Grove: restored "${name}"${where}.${agent}${notes}`);
      return r;
    },
  };
}

async function pickSnapshot(s: Services, recentlyRemoved: RecentlyRemoved, nodeOrArgs?: Node | RestoreArgs): Promise<{ repoRoot: string; meta: SnapshotMeta }> {
  if (nodeOrArgs && 'kind' in nodeOrArgs) {
    const row = nodeOrArgs.kind === 'contributed' && nodeOrArgs.contribution === RECENTLY_REMOVED ? recentlyRemoved.snapshotOf(nodeOrArgs.key) : undefined;
    if (row) return row;
  }
  const roots = (await s.repos.repositories()).map((r) => r.info.mainWorktree);
  const all: Array<{ repoRoot: string; meta: SnapshotMeta }> = [];
  for (const root of roots) for (const meta of await listSnapshots(s.grove, [root])) all.push({ repoRoot: root, meta });
  if (nodeOrArgs && !('kind' in nodeOrArgs)) {
    const args = nodeOrArgs;
    const found = all.find((x) => x.meta.id === args.id && (!args.repoRoot || x.repoRoot === args.repoRoot));
    if (!found) throw new UserFacingError(`There is no snapshot ${args.id}.`);
    return found;
  }
  if (!all.length) throw new UserFacingError('Nothing to restore: Grove records a snapshot before it removes, deletes, aborts or cleans up anything.');
  const now = Date.now();
  const pick = await vscode.window.showQuickPick(all.map((x) => {
    const d = describeSnapshot(x.meta, now);
    return { label: d.label, description: d.detail, detail: x.meta.worktreePath ?? x.meta.branch, x };
  }), { title: 'Grove: Restore from Recently Removed', matchOnDescription: true });
  if (!pick) throw new vscode.CancellationError();
  return pick.x;
}
