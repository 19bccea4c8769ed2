/**
 * The Agents view: repositories → worktrees → agents → changed files, a view over the models (nodes carry ids, never
 * state). Agents a lead agent dispatched show under the lead. Features add rows and words through
 * {@link TreeContribution}s (the conflict radar, Recently Removed, an agent's turns) without knowing the provider.
 */
import * as vscode from 'vscode';
import type { InstanceSnapshot } from '../../core/model';
import { Disposable } from '../../core/util/disposable';
import type { Event } from '../../core/util/event';
import { samePath as sameFsPath } from '../../core/util/fsPaths';
import type { RepositoriesChange, RepositoryState, WorkspaceRepositories } from '../repositories';
import { nodeKey, placementOf, type Node } from './nodes';
import { archiveItem, claudeSessionItem, fileItem, instanceItem, repoItem, worktreeItem, type InstanceDecoration } from './treeItems';

export { CHANGE_SCHEME, describeWorktree } from './treeItems';
export { nodeKey, type Node } from './nodes';

/** What the tree needs of the fleet (the core Fleet satisfies it). */
export interface InstanceSource {
  instances(): InstanceSnapshot[];
  readonly onDidChangeInstances: Event<{ changed: readonly InstanceSnapshot[]; removed: readonly string[] }>;
}

/** Extra per-worktree facts the VS Code layer computes (diff stat against the base). */
export interface DiffStatSource {
  diffStat(worktreePath: string): { insertions: number; deletions: number } | undefined;
}

/** Resident memory of running agents (sampled only while the view is visible). */
export interface RssSource {
  rssMb(instanceId: string): number | undefined;
  readonly onDidChange: Event<void>;
}

export interface TreeSnapshotNode {
  kind: Node['kind'];
  id: string;
  label: string;
  description: string;
  contextValue: string;
  icon?: string;
  children: TreeSnapshotNode[];
}

/** A row a contribution owns: it builds the item; `key` is its own id for the row. */
export interface ContributedRow {
  key: string;
  item: vscode.TreeItem;
  hasChildren?: boolean;
}

/** A feature's rows and words in the view. Every method is optional; `onDidChange` re-renders. */
export interface TreeContribution {
  readonly id: string;
  /** Fired with the agents whose rows changed, or nothing (the whole view). */
  readonly onDidChange: Event<void | readonly string[]>;
  /** Sections under a repository, after its worktrees ("Recently Removed"). */
  repositoryRows?(repoRoot: string): ContributedRow[];
  /** Rows under an agent, before its changed files (its turns). */
  instanceRows?(inst: InstanceSnapshot): ContributedRow[];
  /** Rows under one of this contribution's rows. */
  childRows?(parentKey: string): ContributedRow[];
  /** Words for an agent's row and tooltip ("overlaps with X (2 files)"). */
  decorate?(inst: InstanceSnapshot): InstanceDecoration | undefined;
}

/** Claude Code's own sessions in a folder (read-only rows); see ClaudeSessionsModel. */
export interface ClaudeSessionSource {
  inside(folder: string): { id: string; name: string; kind: string; status?: string; cwd: string; startedAt?: number }[];
  get(id: string): { id: string; name: string; kind: string; status?: string; cwd: string; startedAt?: number } | undefined;
  readonly onDidChange: Event<void>;
}

/** Per-instance review facts (changed files, sync in progress); see ReviewModel. */
export interface ReviewSource {
  get(instanceId: string): ReviewFacts | undefined;
  /** The facts with the changed files, read now unless current (the instance was expanded). */
  ensure(instanceId: string): Promise<ReviewFacts | undefined>;
  /** Whether the instance's changed files are wanted (its row is expanded). */
  watch(instanceId: string, wanted: boolean): void;
  /** The ids of the instances whose facts changed. */
  readonly onDidChange: Event<readonly string[]>;
}

type ReviewFacts = { changes?: { files: { path: string; oldPath?: string; status: string; untracked?: boolean; insertions?: number; deletions?: number; binary: boolean }[] }; sync: { operation?: string; conflicts: string[] } };

export class AgentsTreeProvider extends Disposable implements vscode.TreeDataProvider<Node> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<Node | Node[] | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private pending?: NodeJS.Timeout;
  /** What the next render refreshes: the whole view, or these rows. */
  private dirty: 'all' | Set<string> = new Set();
  /** One object per row: VS Code refreshes a row by the element it was given. */
  private readonly nodes = new Map<string, Node>();
  /** Per instance: where it shows (a change of it moves the row, so the whole view refreshes). */
  private readonly placement = new Map<string, string>();
  private readonly contributions: TreeContribution[] = [];
  /** Items of contributed rows, by node key, as last listed (VS Code asks for the item after the children). */
  private readonly contributed = new Map<string, ContributedRow>();

  constructor(
    private readonly repos: WorkspaceRepositories,
    private readonly fleet: InstanceSource,
    private readonly stats: DiffStatSource,
    private readonly review: ReviewSource,
    private readonly claudeSessions: ClaudeSessionSource,
    private readonly rss?: RssSource,
  ) {
    super();
    this._register(claudeSessions.onDidChange(() => this.changed()));
    this._register(review.onDidChange((ids) => this.changedInstances(ids)));
    this._register(repos.onDidChange((c) => this.repositoriesChanged(c)));
    this._register(fleet.onDidChangeInstances((c) => this.instancesChanged(c.changed, c.removed)));
    if (rss) this._register(rss.onDidChange(() => this.changedInstances(this.fleet.instances().filter((i) => i.agent).map((i) => i.id))));
    for (const i of fleet.instances()) this.placement.set(i.id, placementOf(i));
    this._register({ dispose: () => clearTimeout(this.pending) });
  }

  /** Adds a feature's rows and words; disposing the result removes them. */
  contribute(c: TreeContribution): vscode.Disposable {
    this.contributions.push(c);
    const sub = c.onDidChange((ids) => (ids ? this.changedInstances(ids) : this.changed()));
    this.changed();
    return new vscode.Disposable(() => {
      sub.dispose();
      this.contributions.splice(this.contributions.indexOf(c), 1);
      this.changed();
    });
  }

  /**
   * Re-renders the whole view (`keys` undefined) or only these rows. 20 agents streaming events must not re-render
   * the tree 100 times a second: changes coalesce to one frame. A whole-view refresh makes VS Code forget every row
   * until it fetched them again (a context-menu command in that gap reaches Grove without its row), so only a change
   * of what is shown where refreshes it all.
   */
  changed(keys?: Iterable<string>): void {
    if (!keys) this.dirty = 'all';
    else if (this.dirty !== 'all') for (const k of keys) this.dirty.add(k);
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const dirty = this.dirty;
      this.dirty = new Set();
      if (dirty === 'all') {
        this.nodes.clear();
        this._onDidChangeTreeData.fire(undefined);
        return;
      }
      const rows = [...dirty].map((k) => this.nodes.get(k)).filter((n): n is Node => !!n);
      if (rows.length) this._onDidChangeTreeData.fire(rows);
    }, 100);
  }

  private changedInstances(ids: Iterable<string>): void {
    const keys = new Set<string>();
    for (const id of ids) {
      keys.add(`instance:${id}`);
      // A lead's row sums up its agents' states.
      const inst = this.fleet.instances().find((i) => i.id === id);
      const lead = inst && this.leadOf(inst);
      if (lead) keys.add(`instance:${lead.id}`);
    }
    this.changed(keys);
  }

  private instancesChanged(changed: readonly InstanceSnapshot[], removed: readonly string[]): void {
    let moved = removed.length > 0;
    for (const id of removed) this.placement.delete(id);
    for (const s of changed) {
      const p = placementOf(s);
      if (this.placement.get(s.id) !== p) (moved = true, this.placement.set(s.id, p));
    }
    if (moved) this.changed();
    else this.changedInstances(changed.map((s) => s.id));
  }

  private repositoriesChanged(c: RepositoriesChange): void {
    if (!c.worktrees) return this.changed();
    const keys = new Set(c.worktrees.map((w) => `worktree:${w}`));
    const inside = this.fleet.instances().filter((i) => i.worktreePath && c.worktrees!.some((w) => samePath(w, i.worktreePath))).map((i) => i.id);
    this.changed(keys);
    this.changedInstances(inside);
  }

  /** The one object for this row. */
  private node<N extends Node>(n: N): N {
    const k = nodeKey(n);
    const have = this.nodes.get(k) as N | undefined;
    if (have) return have;
    this.nodes.set(k, n);
    return n;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    return (await this.childrenFor(node)).map((n) => this.node(n));
  }

  private async childrenFor(node?: Node): Promise<Node[]> {
    const repos = await this.repos.repositories();
    if (!node) {
      if (repos.length === 1) return this.repoChildren(repos[0]!);
      return repos.map((r) => ({ kind: 'repo', root: r.info.mainWorktree }));
    }
    if (node.kind === 'repo') {
      const r = this.repos.get(node.root);
      return r ? this.repoChildren(r) : [];
    }
    if (node.kind === 'worktree') {
      const instances: Node[] = this.instancesOf(node.root).filter((i) => !i.archived && !this.leadOf(i) && samePath(i.worktreePath, node.path)).map((i) => ({ kind: 'instance', id: i.id }));
      return [...instances, ...this.claudeSessions.inside(node.path).map((c): Node => ({ kind: 'claudeSession', id: c.id }))];
    }
    if (node.kind === 'archive') {
      return this.instancesOf(node.root).filter((i) => i.archived).reverse().map((i) => ({ kind: 'instance', id: i.id }));
    }
    if (node.kind === 'instance') {
      const inst = this.fleet.instances().find((i) => i.id === node.id);
      const children: Node[] = inst ? this.childrenOf(inst).map((c) => ({ kind: 'instance', id: c.id })) : [];
      const rows = inst ? this.rows(this.contributions.flatMap((c) => (c.instanceRows?.(inst) ?? []).map((r) => [c.id, r] as const))) : [];
      // Listed means expanded (or a snapshot): its changed files are wanted now.
      const r = await this.review.ensure(node.id);
      const conflicts: Node[] = r ? r.sync.conflicts.map((p) => ({ kind: 'conflict', instanceId: node.id, path: p })) : [];
      const changes: Node[] = r ? (r.changes?.files ?? []).filter((f) => !r.sync.conflicts.includes(f.path)).map((f) => ({ kind: 'change', instanceId: node.id, path: f.path })) : [];
      return [...children, ...rows, ...conflicts, ...changes];
    }
    if (node.kind === 'contributed') {
      const c = this.contributions.find((x) => x.id === node.contribution);
      return c?.childRows ? this.rows((c.childRows(node.key) ?? []).map((r) => [c.id, r] as const)) : [];
    }
    return [];
  }

  getParent(node: Node): Node | undefined {
    const parent = this.parentOf(node);
    return parent && this.node(parent);
  }

  private parentOf(node: Node): Node | undefined {
    if (node.kind === 'change' || node.kind === 'conflict') return { kind: 'instance', id: node.instanceId };
    if (node.kind === 'archive') return this.multiRoot() ? { kind: 'repo', root: node.root } : undefined;
    if (node.kind === 'claudeSession' || node.kind === 'contributed') return undefined;
    if (node.kind === 'instance') {
      const inst = this.fleet.instances().find((i) => i.id === node.id);
      if (!inst) return undefined;
      const lead = this.leadOf(inst);
      if (lead) return { kind: 'instance', id: lead.id };
      const repo = this.repos.find(inst.repoRoot);
      if (!repo) return undefined;
      const wt = repo.worktrees.find((w) => samePath(w.path, inst.worktreePath));
      if (wt) return { kind: 'worktree', root: repo.info.mainWorktree, path: wt.path };
      return this.multiRoot() ? { kind: 'repo', root: repo.info.mainWorktree } : undefined;
    }
    if (node.kind === 'worktree' && this.multiRoot()) return { kind: 'repo', root: node.root };
    return undefined;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const item = this.itemOf(node);
    item.id = nodeKey(node);
    return item;
  }

  /** The instance's row was expanded or collapsed (its changed files are read only while expanded). */
  expanded(node: Node, expanded: boolean): void {
    if (node.kind === 'instance') this.review.watch(node.id, expanded);
  }

  private itemOf(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'repo': return repoItem(node.root, this.repos.get(node.root));
      case 'worktree': {
        const repo = this.repos.get(node.root);
        const wt = repo?.worktrees.find((w) => w.path === node.path);
        const expandable = this.worktreeExpandable(node.root, node.path);
        return worktreeItem(node.path, wt, expandable, wt ? this.stats.diffStat(wt.path) : undefined);
      }
      case 'archive': return archiveItem(node.root, this.instancesOf(node.root).filter((i) => i.archived).length);
      case 'claudeSession': return claudeSessionItem(node.id, this.claudeSessions.get(node.id));
      case 'change':
      case 'conflict': {
        const f = this.review.get(node.instanceId)?.changes?.files.find((x) => x.path === node.path);
        return fileItem(node, f, this.fleet.instances().find((i) => i.id === node.instanceId)?.title);
      }
      case 'contributed': return this.contributed.get(`${node.contribution}\0${node.key}`)?.item ?? new vscode.TreeItem(node.key);
      case 'instance': {
        const inst = this.fleet.instances().find((i) => i.id === node.id);
        if (!inst) return new vscode.TreeItem(node.id);
        const review = this.review.get(node.id);
        const children = this.childrenOf(inst);
        const rowsHere = this.contributions.some((c) => (c.instanceRows?.(inst).length ?? 0) > 0);
        return instanceItem({
          inst, review, children, now: Date.now(),
          stat: inst.worktreePath ? this.stats.diffStat(inst.worktreePath) : undefined,
          rssMb: this.rss?.rssMb(inst.id),
          decorations: this.contributions.map((c) => c.decorate?.(inst)).filter((d): d is InstanceDecoration => !!d),
          expandable: children.length > 0 || rowsHere || (review ? review.sync.conflicts.length > 0 || (review.changes?.files.length ?? 0) > 0 : false)
            // Not read yet (collapsed): the worktree's own counts say whether there is anything to list.
            || (!review?.changes && this.hasWork(inst)),
        });
      }
    }
  }

  /** The whole view as plain data (for the public API's diagnostics and the tests). */
  async snapshot(node?: Node, depth = Infinity): Promise<TreeSnapshotNode[]> {
    const out: TreeSnapshotNode[] = [];
    if (depth <= 0) return out;
    for (const child of await this.getChildren(node)) {
      const item = this.getTreeItem(child);
      const label = typeof item.label === 'string' ? item.label : item.label?.label ?? '';
      out.push({
        kind: child.kind,
        id: child.kind === 'instance' || child.kind === 'claudeSession' ? child.id
          : child.kind === 'worktree' || child.kind === 'change' || child.kind === 'conflict' ? child.path
            : child.kind === 'contributed' ? child.key : child.root,
        label,
        description: typeof item.description === 'string' ? item.description : '',
        contextValue: item.contextValue ?? '',
        icon: item.iconPath instanceof vscode.ThemeIcon ? item.iconPath.id : undefined,
        children: await this.snapshot(child, depth - 1),
      });
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------------------------

  private rows(list: ReadonlyArray<readonly [string, ContributedRow]>): Node[] {
    return list.map(([contribution, row]) => {
      this.contributed.set(`${contribution}\0${row.key}`, row);
      return { kind: 'contributed', contribution, key: row.key };
    });
  }

  private hasWork(inst: InstanceSnapshot): boolean {
    if (!inst.worktreePath) return false;
    const wt = this.repos.find(inst.repoRoot)?.worktrees.find((w) => samePath(w.path, inst.worktreePath));
    return (this.stats.diffStat(inst.worktreePath)?.insertions ?? 0) + (this.stats.diffStat(inst.worktreePath)?.deletions ?? 0) > 0 || (wt?.changedFiles ?? 0) > 0 || (wt?.ahead ?? 0) > 0;
  }

  private multiRoot(): boolean {
    return (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
  }

  private instancesOf(root: string): InstanceSnapshot[] {
    const repo = this.repos.get(root);
    return this.fleet.instances().filter((i) => repo && (samePath(i.repoRoot, root) || samePath(i.repoRoot, repo.info.root)));
  }

  /** The lead agent that dispatched `inst`, when Grove knows it (by instance id or session id). */
  private worktreeExpandable(root: string, wtPath: string): boolean {
    return this.instancesOf(root).some((i) => !this.leadOf(i) && samePath(i.worktreePath, wtPath)) || this.claudeSessions.inside(wtPath).length > 0;
  }

  /** The row an instance shows under: its lead agent, else (Best of N) attempt #1 of its group. */
  private leadOf(inst: InstanceSnapshot): InstanceSnapshot | undefined {
    if (inst.archived) return undefined;
    const lead = inst.lead;
    const byLead = lead ? this.fleet.instances().find((i) => i.id !== inst.id && !i.archived && (i.id === lead || (!!i.sessionId && i.sessionId === lead))) : undefined;
    if (byLead || !inst.attempt || inst.attempt.index <= 1) return byLead;
    const group = inst.attempt.group;
    return this.fleet.instances().find((i) => i.id !== inst.id && !i.archived && i.id === group && !this.leadOf(i));
  }

  private childrenOf(lead: InstanceSnapshot): InstanceSnapshot[] {
    return this.fleet.instances().filter((i) => !i.archived && (i.lead !== undefined || (i.attempt?.index ?? 0) > 1) && this.leadOf(i)?.id === lead.id);
  }

  private repoChildren(repo: RepositoryState): Node[] {
    const root = repo.info.mainWorktree;
    const instances = this.instancesOf(root);
    const nodes: Node[] = repo.worktrees.map((w) => ({ kind: 'worktree', root, path: w.path }));
    // Queued instances have no worktree yet; others may have lost theirs, or run in the main checkout (a lead).
    for (const i of instances) {
      if (i.archived || this.leadOf(i)) continue;
      if (!i.worktreePath || !repo.worktrees.some((w) => samePath(w.path, i.worktreePath))) nodes.push({ kind: 'instance', id: i.id });
    }
    // Claude Code's own sessions in the main checkout (those in a worktree show under it).
    for (const c of this.claudeSessions.inside(root)) {
      if (!repo.worktrees.some((w) => this.claudeSessions.inside(w.path).some((x) => x.id === c.id))) nodes.push({ kind: 'claudeSession', id: c.id });
    }
    nodes.push(...this.rows(this.contributions.flatMap((c) => (c.repositoryRows?.(root) ?? []).map((r) => [c.id, r] as const))));
    if (instances.some((i) => i.archived)) nodes.push({ kind: 'archive', root });
    return nodes;
  }
}

function samePath(a: string, b: string): boolean {
  return !!a && !!b && sameFsPath(a, b);
}
