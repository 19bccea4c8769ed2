import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorktreeInfo } from '../../core/git/worktreeManager';
import type { InstanceSnapshot, InstanceState } from '../../core/model';
import { Disposable } from '../../core/util/disposable';
import type { Event } from '../../core/util/event';
import type { RepositoryState, WorkspaceRepositories } from '../repositories';
import { formatDuration, stateLabel } from './format';
import { samePath as sameFsPath } from '../../core/util/fsPaths';

export const CHANGE_SCHEME = 'grove-change';

/** What the tree needs of the fleet (the core Fleet satisfies it). */
export interface InstanceSource {
  instances(): InstanceSnapshot[];
  readonly onDidChangeInstances: Event<unknown>;
}

/** Extra per-worktree facts the VS Code layer computes (diff stat against the base). */
export interface DiffStatSource {
  diffStat(worktreePath: string): { insertions: number; deletions: number } | undefined;
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

// Nodes carry ids only; state is read from the models when VS Code asks for the item.
export type Node =
  | { kind: 'repo'; root: string }
  | { kind: 'worktree'; root: string; path: string }
  | { kind: 'instance'; id: string }
  | { kind: 'change'; instanceId: string; path: string }
  | { kind: 'conflict'; instanceId: string; path: string }
  | { kind: 'archive'; root: string }
  | { kind: 'claudeSession'; id: string };

/** Claude Code's own sessions in a folder (read-only rows); see ClaudeSessionsModel. */
export interface ClaudeSessionSource {
  inside(folder: string): { id: string; name: string; kind: string; status?: string; cwd: string; startedAt?: number }[];
  get(id: string): { id: string; name: string; kind: string; status?: string; cwd: string; startedAt?: number } | undefined;
  readonly onDidChange: Event<void>;
}

/** Per-instance review facts (changed files, sync in progress); see ReviewModel. */
export interface ReviewSource {
  get(instanceId: string): { changes?: { files: { path: string; oldPath?: string; status: string; untracked?: boolean; insertions?: number; deletions?: number; binary: boolean }[] }; sync: { operation?: string; conflicts: string[] } } | undefined;
  readonly onDidChange: Event<void>;
}

export class AgentsTreeProvider extends Disposable implements vscode.TreeDataProvider<Node> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<Node | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private pending?: NodeJS.Timeout;

  constructor(
    private readonly repos: WorkspaceRepositories,
    private readonly fleet: InstanceSource,
    private readonly stats: DiffStatSource,
    private readonly review: ReviewSource,
    private readonly claudeSessions: ClaudeSessionSource,
  ) {
    super();
    this._register(claudeSessions.onDidChange(() => this.changed()));
    this._register(review.onDidChange(() => this.changed()));
    this._register(repos.onDidChange(() => this.changed()));
    this._register(fleet.onDidChangeInstances(() => this.changed()));
    this._register({ dispose: () => clearTimeout(this.pending) });
  }

  /** 20 agents streaming events must not re-render the tree 100 times a second: coalesce to one frame. */
  changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this._onDidChangeTreeData.fire(undefined);
    }, 100);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    const repos = await this.repos.repositories();
    if (!node) {
      if (repos.length === 1) return this.repoChildren(repos[0]);
      return repos.map((r) => ({ kind: 'repo', root: r.info.mainWorktree }));
    }
    if (node.kind === 'repo') {
      const r = this.repos.get(node.root);
      return r ? this.repoChildren(r) : [];
    }
    if (node.kind === 'worktree') {
      const instances: Node[] = this.instancesOf(node.root).filter((i) => !i.archived && samePath(i.worktreePath, node.path)).map((i) => ({ kind: 'instance', id: i.id }));
      return [...instances, ...this.claudeSessions.inside(node.path).map((c): Node => ({ kind: 'claudeSession', id: c.id }))];
    }
    if (node.kind === 'archive') {
      return this.instancesOf(node.root).filter((i) => i.archived).reverse().map((i) => ({ kind: 'instance', id: i.id }));
    }
    if (node.kind === 'instance') {
      const r = this.review.get(node.id);
      if (!r) return [];
      const conflicts: Node[] = r.sync.conflicts.map((p) => ({ kind: 'conflict', instanceId: node.id, path: p }));
      const changes: Node[] = (r.changes?.files ?? []).filter((f) => !r.sync.conflicts.includes(f.path)).map((f) => ({ kind: 'change', instanceId: node.id, path: f.path }));
      return [...conflicts, ...changes];
    }
    return [];
  }

  getParent(node: Node): Node | undefined {
    if (node.kind === 'change' || node.kind === 'conflict') return { kind: 'instance', id: node.instanceId };
    if (node.kind === 'archive') return this.multiRoot() ? { kind: 'repo', root: node.root } : undefined;
    if (node.kind === 'claudeSession') return undefined;
    if (node.kind === 'instance') {
      const inst = this.fleet.instances().find((i) => i.id === node.id);
      if (!inst) return undefined;
      const repo = this.repos.find(inst.repoRoot);
      if (!repo) return undefined;
      const wt = repo.worktrees.find((w) => samePath(w.path, inst.worktreePath));
      if (wt) return { kind: 'worktree', root: repo.info.mainWorktree, path: wt.path };
      return this.multiRoot() ? { kind: 'repo', root: repo.info.mainWorktree } : undefined;
    }
    if (node.kind === 'worktree' && this.multiRoot()) return { kind: 'repo', root: node.root };
    return undefined;
  }

  private multiRoot(): boolean {
    return (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
  }

  private instancesOf(root: string): InstanceSnapshot[] {
    const repo = this.repos.get(root);
    return this.fleet.instances().filter((i) => repo && (samePath(i.repoRoot, root) || samePath(i.repoRoot, repo.info.root)));
  }

  private repoChildren(repo: RepositoryState): Node[] {
    const root = repo.info.mainWorktree;
    const instances = this.instancesOf(root);
    const nodes: Node[] = repo.worktrees.map((w) => ({ kind: 'worktree', root, path: w.path }));
    // Queued instances have no worktree yet; others may have lost theirs: show them at the top level.
    for (const i of instances) {
      if (i.archived) continue;
      if (!i.worktreePath || !repo.worktrees.some((w) => samePath(w.path, i.worktreePath))) nodes.push({ kind: 'instance', id: i.id });
    }
    // Claude Code's own sessions in the main checkout (those in a worktree show under it).
    for (const c of this.claudeSessions.inside(root)) {
      if (!repo.worktrees.some((w) => this.claudeSessions.inside(w.path).some((x) => x.id === c.id))) nodes.push({ kind: 'claudeSession', id: c.id });
    }
    if (instances.some((i) => i.archived)) nodes.push({ kind: 'archive', root });
    return nodes;
  }

  /** The whole view as plain data (for the public API's diagnostics and the tests). */
  async snapshot(node?: Node): Promise<TreeSnapshotNode[]> {
    const out: TreeSnapshotNode[] = [];
    for (const child of await this.getChildren(node)) {
      const item = this.getTreeItem(child);
      const label = typeof item.label === 'string' ? item.label : item.label?.label ?? '';
      out.push({
        kind: child.kind,
        id: child.kind === 'instance' || child.kind === 'claudeSession' ? child.id : child.kind === 'worktree' || child.kind === 'change' || child.kind === 'conflict' ? child.path : child.root,
        label,
        description: typeof item.description === 'string' ? item.description : '',
        contextValue: item.contextValue ?? '',
        icon: item.iconPath instanceof vscode.ThemeIcon ? item.iconPath.id : undefined,
        children: await this.snapshot(child),
      });
    }
    return out;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'repo') return this.repoItem(node.root);
    if (node.kind === 'worktree') return this.worktreeItem(node.root, node.path);
    if (node.kind === 'archive') return this.archiveItem(node.root);
    if (node.kind === 'claudeSession') return this.claudeSessionItem(node.id);
    if (node.kind === 'change' || node.kind === 'conflict') return this.fileItem(node);
    return this.instanceItem(node.id);
  }

  private claudeSessionItem(id: string): vscode.TreeItem {
    const c = this.claudeSessions.get(id);
    const item = new vscode.TreeItem(c?.name ?? id, vscode.TreeItemCollapsibleState.None);
    item.id = `claudeSession:${id}`;
    item.iconPath = new vscode.ThemeIcon('hubot');
    item.description = `Claude Code ${c?.kind ?? 'session'}${c?.status ? ` · ${c.status}` : ''}`;
    item.tooltip = c ? `A Claude Code session Grove does not manage (read-only here).\n${c.cwd}\nid ${c.id}` : id;
    item.contextValue = `claudeSession.${c?.kind ?? 'session'}`;
    return item;
  }

  private archiveItem(root: string): vscode.TreeItem {
    const count = this.instancesOf(root).filter((i) => i.archived).length;
    const item = new vscode.TreeItem('Archived', vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `archive:${root}`;
    item.description = `${count}`;
    item.iconPath = new vscode.ThemeIcon('archive');
    item.contextValue = 'archive';
    item.tooltip = 'Merged or removed agents: their prompt, cost and result are kept here.';
    return item;
  }

  private fileItem(node: Extract<Node, { kind: 'change' | 'conflict' }>): vscode.TreeItem {
    const inst = this.fleet.instances().find((i) => i.id === node.instanceId);
    const f = this.review.get(node.instanceId)?.changes?.files.find((x) => x.path === node.path);
    const status = node.kind === 'conflict' ? 'U' : f?.untracked ? 'A' : f?.status ?? 'M';
    const item = new vscode.TreeItem(path.posix.basename(node.path), vscode.TreeItemCollapsibleState.None);
    item.id = `${node.kind}:${node.instanceId}:${node.path}`;
    // The decoration provider colours the row and adds the A/M/D/R/U badge from this URI.
    item.resourceUri = vscode.Uri.from({ scheme: CHANGE_SCHEME, path: `/${node.path}`, query: status });
    const dir = path.posix.dirname(node.path);
    const counts = f && !f.binary && (f.insertions || f.deletions) ? `+${f.insertions ?? 0} −${f.deletions ?? 0}` : f?.binary ? 'binary' : '';
    item.description = [dir === '.' ? '' : dir, f?.oldPath ? `← ${f.oldPath}` : '', counts].filter(Boolean).join(' · ');
    item.contextValue = node.kind;
    item.iconPath = node.kind === 'conflict' ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('gitDecoration.conflictingResourceForeground')) : vscode.ThemeIcon.File;
    item.tooltip = `${node.path}${node.kind === 'conflict' ? ' — conflicted: click to resolve in the merge editor' : ''}${inst ? `\n${inst.title}` : ''}`;
    item.command = node.kind === 'conflict'
      ? { command: 'grove.openConflict', title: 'Resolve', arguments: [node] }
      : { command: 'grove.openChange', title: 'Open Change', arguments: [node] };
    return item;
  }

  private repoItem(root: string): vscode.TreeItem {
    const repo = this.repos.get(root);
    const item = new vscode.TreeItem(repo?.name ?? path.basename(root), vscode.TreeItemCollapsibleState.Expanded);
    item.id = `repo:${root}`;
    item.iconPath = new vscode.ThemeIcon('repo');
    item.description = repo?.info.branch ?? (repo?.info.detached ? 'detached HEAD' : '');
    item.tooltip = repo?.error ? `${root}\n${repo.error}` : root;
    item.contextValue = 'repository';
    return item;
  }

  private worktreeItem(root: string, wtPath: string): vscode.TreeItem {
    const repo = this.repos.get(root);
    const wt = repo?.worktrees.find((w) => w.path === wtPath);
    const hasInstances = this.instancesOf(root).some((i) => samePath(i.worktreePath, wtPath)) || this.claudeSessions.inside(wtPath).length > 0;
    const label = wt?.branch ?? path.basename(wtPath);
    const item = new vscode.TreeItem(label, hasInstances ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    // VS Code keeps the collapse state it first saw for an id: a worktree that gains its first agent must get a new
    // id, or it would stay a closed leaf instead of opening on its agent.
    item.id = `worktree:${wtPath}${hasInstances ? ':parent' : ''}`;
    item.resourceUri = vscode.Uri.file(wtPath);
    if (!wt) return item;
    item.description = describeWorktree(wt, this.stats.diffStat(wt.path));
    item.iconPath = wt.stale
      ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'))
      : wt.locked
        ? new vscode.ThemeIcon('lock')
        : new vscode.ThemeIcon(wt.managedByGrove ? 'git-branch' : 'repo-forked');
    const flags = [wt.managedByGrove ? 'managed' : 'external', wt.stale ? 'stale' : '', wt.locked ? 'locked' : ''].filter(Boolean);
    item.contextValue = `worktree.${flags.join('.')}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${escapeMd(label)}**${wt.managedByGrove ? '' : ' — made outside Grove'}\n\n`);
    tip.appendMarkdown(`${escapeMd(wt.path)}\n\n`);
    if (wt.baseRef) tip.appendMarkdown(`Based on \`${wt.baseRef}\`${wt.ahead !== undefined ? `: ${wt.ahead} ahead, ${wt.behind} behind` : ''}\n\n`);
    if (wt.changedFiles) tip.appendMarkdown(`${wt.changedFiles} uncommitted or untracked file(s)\n\n`);
    if (wt.port) tip.appendMarkdown(`GROVE_PORT ${wt.port}\n\n`);
    if (wt.locked) tip.appendMarkdown(`Locked${wt.lockedReason ? `: ${escapeMd(wt.lockedReason)}` : ''}\n\n`);
    if (wt.stale) tip.appendMarkdown('The folder is gone: **Prune** removes git\'s record of it.\n\n');
    item.tooltip = tip;
    return item;
  }

  private instanceItem(id: string): vscode.TreeItem {
    const inst = this.fleet.instances().find((i) => i.id === id);
    const review = this.review.get(id);
    const hasFiles = !!review && (review.sync.conflicts.length > 0 || (review.changes?.files.length ?? 0) > 0);
    const item = new vscode.TreeItem(inst?.title ?? id, hasFiles ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = `instance:${id}`;
    if (!inst) return item;
    const now = Date.now();
    const conflicted = !!review?.sync.operation;
    const parts = [conflicted ? `conflicted (${review!.sync.conflicts.length})` : inst.merge ? `merged into ${inst.merge.into}` : stateLabel(inst)];
    const started = inst.startedAt ?? inst.createdAt;
    if (inst.state !== 'queued') parts.push(formatDuration((inst.endedAt ?? now) - started));
    if (inst.costUsd > 0) parts.push(`$${inst.costUsd.toFixed(2)}`);
    const stat = inst.worktreePath ? this.stats.diffStat(inst.worktreePath) : undefined;
    if (stat && (stat.insertions || stat.deletions)) parts.push(`+${stat.insertions} −${stat.deletions}`);
    if (inst.lastActivity && (inst.state === 'running' || inst.state === 'starting')) parts.push(inst.lastActivity);
    if (inst.error && (inst.state === 'failed' || inst.state === 'interrupted' || inst.state === 'queued')) parts.push(inst.error.split('\n')[0]);
    if (inst.permissionMode === 'bypassPermissions') parts.push('⚠ bypassing permissions');
    item.description = parts.join(' · ');
    item.iconPath = conflicted
      ? new vscode.ThemeIcon('git-merge', new vscode.ThemeColor('gitDecoration.conflictingResourceForeground'))
      : inst.merge ? new vscode.ThemeIcon('git-merge', new vscode.ThemeColor('testing.iconPassed')) : stateIcon(inst.state, inst.waitReason);
    const flags = [conflicted ? 'conflicted' : '', inst.merge ? 'merged' : '', inst.archived ? 'archived' : '', inst.permissionMode === 'bypassPermissions' ? 'bypass' : ''].filter(Boolean);
    item.contextValue = `instance.${inst.state}.${inst.mode}${flags.map((f) => `.${f}`).join('')}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${escapeMd(inst.title)}** — ${stateLabel(inst)}\n\n`);
    tip.appendCodeblock(inst.prompt.length > 1500 ? `${inst.prompt.slice(0, 1500)}…` : inst.prompt, 'markdown');
    const facts = [
      inst.branch && `Branch \`${inst.branch}\` from \`${inst.baseRef}\``,
      `Mode: ${inst.mode} · agent ${inst.profile}${inst.model ? ` · model ${inst.model}` : ''}`,
      `Permissions: ${inst.permissionMode}${inst.permissionMode === 'bypassPermissions' ? ' ⚠ bypasses all permission checks' : ''}`,
      inst.sessionId && `Session ${inst.sessionId}`,
      (inst.costUsd > 0 || inst.turns > 0) && `$${inst.costUsd.toFixed(4)} · ${inst.turns} turns · ${inst.inputTokens} in / ${inst.outputTokens} out tokens`,
      inst.lastActivity && `Last: ${escapeMd(inst.lastActivity)}`,
      inst.error && `⚠ ${escapeMd(inst.error)}`,
      inst.merge && `Merged into \`${inst.merge.into}\` (${inst.merge.strategy}) as ${inst.merge.commit.slice(0, 8)}`,
      inst.resultText && `Result: ${escapeMd(inst.resultText.slice(0, 500))}`,
    ].filter(Boolean);
    tip.appendMarkdown(facts.join('\n\n'));
    item.tooltip = tip;
    item.command = { command: 'grove.openInstance', title: 'Open', arguments: [{ kind: 'instance', id }] };
    return item;
  }
}

export function describeWorktree(wt: WorktreeInfo, stat?: { insertions: number; deletions: number }): string {
  if (wt.stale) return 'stale — folder deleted';
  const parts: string[] = [];
  if (wt.baseRef) parts.push(`from ${wt.baseRef}`);
  if (wt.ahead !== undefined && wt.behind !== undefined && (wt.ahead || wt.behind)) parts.push(`↑${wt.ahead} ↓${wt.behind}`);
  if (wt.changedFiles) parts.push(`${wt.changedFiles} changed`);
  if (stat && (stat.insertions || stat.deletions)) parts.push(`+${stat.insertions} −${stat.deletions}`);
  if (!wt.managedByGrove) parts.push('external');
  return parts.join(' · ');
}

function stateIcon(state: InstanceState, waitReason?: string): vscode.ThemeIcon {
  switch (state) {
    case 'queued': return new vscode.ThemeIcon('clock');
    case 'provisioning':
    case 'starting':
    case 'running': return new vscode.ThemeIcon('loading~spin');
    case 'waiting': return new vscode.ThemeIcon(waitReason === 'permission' ? 'shield' : 'bell', new vscode.ThemeColor('list.warningForeground'));
    case 'done': return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'failed': return new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
    case 'stopped': return new vscode.ThemeIcon('debug-stop');
    case 'interrupted': return new vscode.ThemeIcon('debug-pause', new vscode.ThemeColor('list.warningForeground'));
    case 'paused': return new vscode.ThemeIcon('watch', new vscode.ThemeColor('list.warningForeground'));
  }
}

function samePath(a: string, b: string): boolean {
  return !!a && !!b && sameFsPath(a, b);
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
