/**
 * The Agents view's **Recently Removed** group (issue 13): one row per snapshot Grove recorded before a destructive
 * step, under each repository, with a Restore inline action (`grove.restoreSnapshot`). A {@link TreeContribution}:
 * the tree knows nothing of snapshots. The list is read (one `for-each-ref` per repository) when snapshots change in
 * this window, and when worktrees come or go (another process removed one).
 */
import * as vscode from 'vscode';
import { describeSnapshot, listSnapshots } from '../../core/flows/restore';
import type { SnapshotMeta } from '../../core/git/snapshots';
import type { Grove } from '../../core/grove';
import { Disposable } from '../../core/util/disposable';
import { Emitter } from '../../core/util/event';
import type { Logger } from '../../core/util/logger';
import type { WorkspaceRepositories } from '../repositories';
import type { ContributedRow, TreeContribution } from './agentsTree';

export const RECENTLY_REMOVED = 'recentlyRemoved';

export class RecentlyRemoved extends Disposable implements TreeContribution {
  readonly id = RECENTLY_REMOVED;
  private readonly _onDidChange = this._register(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;
  private readonly byRepo = new Map<string, SnapshotMeta[]>();
  private reading?: Promise<void>;
  private again = false;

  constructor(private readonly grove: Grove, private readonly repos: WorkspaceRepositories, private readonly log: Logger) {
    super();
    this._register(grove.snapshots.onDidChange(() => void this.refresh()));
    this._register(repos.onDidChange((c) => {
      if (!c.worktrees) void this.refresh();
    }));
  }

  /** Reads every repository's snapshots again (coalesced: one read at a time, one more if asked meanwhile). */
  refresh(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        let changed = false;
        for (const r of await this.repos.repositories()) {
          const root = r.info.mainWorktree;
          const list = await listSnapshots(this.grove, [root]).catch((err: Error) => (this.log.warn(`Recently Removed: ${err.message}`), [] as SnapshotMeta[]));
          const before = this.byRepo.get(root) ?? [];
          if (before.map((m) => m.commit).join() !== list.map((m) => m.commit).join()) changed = true;
          this.byRepo.set(root, list);
        }
        if (changed) this._onDidChange.fire();
      } while (this.again);
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }

  /** The snapshot a row stands for. */
  snapshotOf(key: string): { repoRoot: string; meta: SnapshotMeta } | undefined {
    const [kind, root, id] = parseKey(key);
    if (kind !== 'snapshot' || !root || !id) return undefined;
    const meta = this.byRepo.get(root)?.find((m) => m.id === id);
    return meta && { repoRoot: root, meta };
  }

  repositoryRows(repoRoot: string): ContributedRow[] {
    const list = this.byRepo.get(repoRoot) ?? [];
    if (!list.length) return [];
    const item = new vscode.TreeItem('Recently Removed', vscode.TreeItemCollapsibleState.Collapsed);
    item.description = String(list.length);
    item.iconPath = new vscode.ThemeIcon('history');
    item.contextValue = 'recentlyRemoved';
    item.tooltip = `Snapshots Grove recorded before removing, deleting, aborting or cleaning up; kept ${this.grove.settings(repoRoot).snapshotRetentionDays} days (grove.snapshotRetentionDays).`;
    return [{ key: JSON.stringify(['group', repoRoot]), item, hasChildren: true }];
  }

  childRows(parentKey: string): ContributedRow[] {
    const [kind, root] = parseKey(parentKey);
    if (kind !== 'group' || !root) return [];
    const now = Date.now();
    return (this.byRepo.get(root) ?? []).map((m) => {
      const d = describeSnapshot(m, now);
      const item = new vscode.TreeItem(d.label, vscode.TreeItemCollapsibleState.None);
      item.description = d.detail;
      item.accessibilityInformation = { label: `${d.label}, ${d.detail}` };
      item.iconPath = new vscode.ThemeIcon(m.kind === 'branch' ? 'git-branch' : 'archive');
      item.contextValue = `snapshot.${m.kind}`;
      const md = new vscode.MarkdownString(undefined, true);
      md.appendText(`${d.label}\n\n${m.reason} · ${new Date(m.createdAt).toLocaleString()}\n`);
      if (m.worktreePath) md.appendText(`\nWorktree: ${m.worktreePath}`);
      if (m.branch) md.appendText(`\nBranch: ${m.branch}`);
      md.appendText(`\nSnapshot: ${m.id}`);
      for (const n of m.notes) md.appendText(`\n${n}`);
      item.tooltip = md;
      return { key: JSON.stringify(['snapshot', root, m.id]), item };
    });
  }
}

/** Row keys are JSON arrays: `["group", repoRoot]`, `["snapshot", repoRoot, id]`. */
function parseKey(key: string): string[] {
  try {
    const v = JSON.parse(key) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : [];
  } catch {
    return [];
  }
}
