/**
 * An agent's turns in the Agents view (issue 13 part 2): a **Turns** row under the agent, one row per finished turn
 * under it, with Show Turn Changes (click, inline) and Revert to Before This Turn (context menu). A
 * {@link TreeContribution}: the tree knows nothing of checkpoints. An agent's checkpoints are read (one
 * `for-each-ref`) when its row is first shown and again when Grove records or drops checkpoints in its repository —
 * never on a timer.
 */
import * as vscode from 'vscode';
import { turns } from '../../core/flows/turns';
import type { SnapshotMeta } from '../../core/git/snapshots';
import type { Grove } from '../../core/grove';
import type { InstanceSnapshot } from '../../core/model';
import { Disposable } from '../../core/util/disposable';
import { Emitter } from '../../core/util/event';
import { samePath } from '../../core/util/fsPaths';
import type { Logger } from '../../core/util/logger';
import type { ContributedRow, TreeContribution } from './agentsTree';

export const TURNS = 'turns';

export class TurnRows extends Disposable implements TreeContribution {
  readonly id = TURNS;
  private readonly _onDidChange = this._register(new Emitter<readonly string[]>());
  /** The agents whose turns changed. */
  readonly onDidChange = this._onDidChange.event;
  /** Finished turns (turn ≥ 1) by instance id, as last read. */
  private readonly byInstance = new Map<string, SnapshotMeta[]>();
  private readonly reading = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();

  constructor(private readonly grove: Grove, private readonly log: Logger) {
    super();
    this._register(grove.snapshots.onDidChange(({ path }) => {
      for (const i of grove.fleet.instances()) {
        if (this.byInstance.has(i.id) && (samePath(i.repoRoot, path) || (!!i.worktreePath && samePath(i.worktreePath, path)))) void this.read(i.id);
      }
    }));
    this._register(grove.fleet.onDidChangeInstances(({ removed }) => {
      for (const id of removed) this.byInstance.delete(id);
    }));
  }

  /** Reads one agent's turns (coalesced: one read at a time per agent, one more if asked meanwhile). */
  read(id: string): Promise<void> {
    const busy = this.reading.get(id);
    if (busy) {
      this.again.add(id);
      return busy;
    }
    const p = (async () => {
      do {
        this.again.delete(id);
        if (!this.grove.fleet.get(id)) return;
        const list = (await turns(this.grove, id).catch((err: Error) => (this.log.warn(`turns of ${id}: ${err.message}`), [] as SnapshotMeta[])))
          .filter((t) => (t.turn ?? 0) >= 1);
        const before = this.byInstance.get(id);
        this.byInstance.set(id, list);
        if (!before || before.map((m) => m.commit).join() !== list.map((m) => m.commit).join()) {
          if (before || list.length) this._onDidChange.fire([id]);
        }
      } while (this.again.has(id));
    })().finally(() => this.reading.delete(id));
    this.reading.set(id, p);
    return p;
  }

  /** The agent and turn a row stands for. */
  turnOf(key: string): { instanceId: string; turn: number } | undefined {
    const v = parseKey(key);
    return v?.[0] === 'turn' && typeof v[1] === 'string' && typeof v[2] === 'number' ? { instanceId: v[1], turn: v[2] } : undefined;
  }

  instanceRows(inst: InstanceSnapshot): ContributedRow[] {
    const list = this.byInstance.get(inst.id);
    if (!list) {
      void this.read(inst.id);
      return [];
    }
    if (!list.length) return [];
    const item = new vscode.TreeItem('Turns', vscode.TreeItemCollapsibleState.Collapsed);
    item.description = String(list.length);
    item.iconPath = new vscode.ThemeIcon('history');
    item.contextValue = 'turns';
    item.tooltip = 'A checkpoint of the worktree at the end of each turn (refs/grove/checkpoints, never a commit on the branch): show what a turn changed, or go back to before it.';
    return [{ key: JSON.stringify(['turns', inst.id]), item, hasChildren: true }];
  }

  childRows(parentKey: string): ContributedRow[] {
    const v = parseKey(parentKey);
    if (v?.[0] !== 'turns' || typeof v[1] !== 'string') return [];
    const id = v[1];
    const title = this.grove.fleet.get(id)?.title ?? id;
    return (this.byInstance.get(id) ?? []).map((m) => {
      const n = m.turn ?? 0;
      const item = new vscode.TreeItem(`Turn ${n}`, vscode.TreeItemCollapsibleState.None);
      item.description = new Date(m.createdAt).toLocaleTimeString();
      item.iconPath = new vscode.ThemeIcon('git-commit');
      item.contextValue = 'turn';
      item.tooltip = `${title}: the worktree at the end of turn ${n} (${new Date(m.createdAt).toLocaleString()}). Click to show what the turn changed.`;
      const key = JSON.stringify(['turn', id, n]);
      item.command = { command: 'grove.showTurnChanges', title: 'Show Turn Changes', arguments: [{ instanceId: id, turn: n }] };
      return { key, item };
    });
  }
}

/** Row keys are JSON arrays: `["turns", instanceId]`, `["turn", instanceId, n]`. */
function parseKey(key: string): unknown[] | undefined {
  try {
    const v = JSON.parse(key) as unknown;
    return Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
