/**
 * How each row of the Agents view looks: pure functions from the models' plain data to `vscode.TreeItem`s. The
 * provider (agentsTree.ts) decides which rows exist; contributions (coordination, restore…) add words and rows.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorktreeInfo } from '../../core/git/worktreeManager';
import type { InstanceSnapshot, InstanceState } from '../../core/model';
import { formatDuration, stateLabel } from './format';

export const CHANGE_SCHEME = 'grove-change';

/** What a contribution adds to an agent's row. */
export interface InstanceDecoration {
  description?: string;
  tooltip?: string;
  /** Replaces the state icon (e.g. a warning). */
  icon?: vscode.ThemeIcon;
  /** Appended to the row's contextValue (`.overlap`), for menus. */
  flag?: string;
}

export interface InstanceItemContext {
  inst: InstanceSnapshot;
  review?: { changes?: { files: unknown[] }; sync: { operation?: string; conflicts: string[] } };
  stat?: { insertions: number; deletions: number };
  /** Resident memory of the agent's process tree (sampled only while the view is visible). */
  rssMb?: number;
  /** The instances it dispatched (a lead agent's children). */
  children: InstanceSnapshot[];
  decorations: InstanceDecoration[];
  /** Has rows below it (changed files, children, contributed rows). */
  expandable: boolean;
  now: number;
}

export function instanceItem(c: InstanceItemContext): vscode.TreeItem {
  const { inst, review } = c;
  const item = new vscode.TreeItem(inst.title, c.expandable ? (c.children.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None);
  item.id = `instance:${inst.id}${c.children.length ? ':lead' : ''}`;
  const conflicted = !!review?.sync.operation;
  const parts = [conflicted ? `conflicted (${review!.sync.conflicts.length})` : inst.merge ? `merged into ${inst.merge.into}` : stateText(inst, c.now)];
  const started = inst.startedAt ?? inst.createdAt;
  if (inst.state !== 'queued' && inst.state !== 'paused') parts.push(formatDuration((inst.endedAt ?? c.now) - started));
  if (inst.costUsd > 0) parts.push(`$${inst.costUsd.toFixed(2)}`);
  if (c.stat && (c.stat.insertions || c.stat.deletions)) parts.push(`+${c.stat.insertions} −${c.stat.deletions}`);
  if (inst.pendingPrompts?.length) parts.push(`${inst.pendingPrompts.length} follow-up${inst.pendingPrompts.length > 1 ? 's' : ''} queued`);
  if (c.children.length) parts.push(childrenSummary(c.children, inst.attempt ? 'other attempt' : 'agent'));
  for (const d of c.decorations) if (d.description) parts.push(d.description);
  if (inst.lastActivity && (inst.state === 'running' || inst.state === 'starting')) parts.push(inst.lastActivity);
  if (inst.error && (inst.state === 'failed' || inst.state === 'interrupted' || inst.state === 'queued')) parts.push(inst.error.split('\n')[0]!);
  if (inst.permissionMode === 'bypassPermissions') parts.push('⚠ bypassing permissions');
  item.description = parts.join(' · ');
  const contextFull = contextShare(inst) >= 0.8 && (inst.state === 'running' || inst.state === 'waiting' || inst.state === 'starting');
  const decorated = c.decorations.find((d) => d.icon)?.icon;
  item.iconPath = conflicted
    ? new vscode.ThemeIcon('git-merge', new vscode.ThemeColor('gitDecoration.conflictingResourceForeground'))
    : inst.merge ? new vscode.ThemeIcon('git-merge', new vscode.ThemeColor('testing.iconPassed'))
      : contextFull ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'))
        : decorated ?? stateIcon(inst.state, inst.waitReason);
  const flags = [
    conflicted ? 'conflicted' : '', inst.merge ? 'merged' : '', inst.archived ? 'archived' : '', inst.permissionMode === 'bypassPermissions' ? 'bypass' : '',
    inst.contextExhausted ? 'exhausted' : '', c.children.length && !inst.attempt ? 'lead' : '', ...c.decorations.map((d) => d.flag ?? ''),
  ].filter(Boolean);
  item.contextValue = `instance.${inst.state}.${inst.mode}${flags.map((f) => `.${f}`).join('')}`;
  item.tooltip = instanceTooltip(c);
  item.command = { command: 'grove.openInstance', title: 'Open', arguments: [{ kind: 'instance', id: inst.id }] };
  return item;
}

/** "paused · rate limited until 14:05", "queued · waiting: budget …", "failed · context exhausted". */
function stateText(inst: InstanceSnapshot, now: number): string {
  if (inst.state === 'paused') return `paused${inst.pausedUntil ? ` until ${clock(inst.pausedUntil, now)}` : ''}${inst.pauseReason ? ` (${inst.pauseReason})` : ''}`;
  if (inst.state === 'queued' && inst.waitingFor) return `queued · waiting: ${inst.waitingFor}`;
  if (inst.state === 'failed' && inst.contextExhausted) return 'context exhausted';
  return stateLabel(inst);
}

function instanceTooltip(c: InstanceItemContext): vscode.MarkdownString {
  const { inst } = c;
  const tip = new vscode.MarkdownString(undefined, true);
  tip.appendMarkdown(`**${escapeMd(inst.title)}** — ${escapeMd(stateText(inst, c.now))}\n\n`);
  tip.appendCodeblock(inst.prompt.length > 1500 ? `${inst.prompt.slice(0, 1500)}…` : inst.prompt, 'markdown');
  const share = contextShare(inst);
  const facts = [
    inst.branch && `Branch \`${inst.branch}\` from \`${inst.baseRef}\``,
    `Mode: ${inst.mode} · agent ${inst.profile}${inst.model ? ` · model ${inst.model}` : ''}`,
    `Permissions: ${inst.permissionMode}${inst.permissionMode === 'bypassPermissions' ? ' ⚠ bypasses all permission checks' : ''}`,
    inst.sessionId && `Session ${inst.sessionId}`,
    (inst.costUsd > 0 || inst.turns > 0) && `$${inst.costUsd.toFixed(4)} · ${inst.turns} turns · ${inst.inputTokens} in / ${inst.outputTokens} out tokens`,
    inst.context && `Context: ${share ? `${Math.round(share * 100)}% of ` : ''}${inst.context.window ? `${Math.round(inst.context.window / 1000)}k` : '?'} tokens (${inst.context.used} in the last request)${share >= 0.8 ? ' ⚠ nearly full' : ''}`,
    inst.compactions && `Compacted ${inst.compactions} time${inst.compactions > 1 ? 's' : ''}`,
    c.rssMb !== undefined && `Memory: ${Math.round(c.rssMb)} MB (the agent and its processes)`,
    inst.pendingPrompts?.length && `Queued for the next turn:\n\n${inst.pendingPrompts.map((p) => `- ${escapeMd(p.slice(0, 200))}`).join('\n')}`,
    inst.lastActivity && `Last: ${escapeMd(inst.lastActivity)}`,
    inst.error && `⚠ ${escapeMd(inst.error)}`,
    inst.contextExhausted && '**Continue in a Fresh Session** carries the task on with a summary of this one.',
    inst.merge && `Merged into \`${inst.merge.into}\` (${inst.merge.strategy}) as ${inst.merge.commit.slice(0, 8)}`,
    inst.resultText && `Result: ${escapeMd(inst.resultText.slice(0, 500))}`,
    ...c.decorations.map((d) => d.tooltip),
  ].filter(Boolean);
  tip.appendMarkdown(facts.join('\n\n'));
  return tip;
}

/** Share of the model's context window the last request used (0 when unknown). Pure. */
export function contextShare(inst: Pick<InstanceSnapshot, 'context'>): number {
  const c = inst.context;
  return c?.window ? Math.min(1, c.used / c.window) : 0;
}

/** "3 agents: 1 running, 2 done · $0.42" for a lead's row ("2 other attempts: …" for attempt #1's). Pure. */
export function childrenSummary(children: readonly InstanceSnapshot[], noun = 'agent'): string {
  const counts = new Map<string, number>();
  for (const ch of children) counts.set(stateLabel(ch), (counts.get(stateLabel(ch)) ?? 0) + 1);
  const cost = children.reduce((n, ch) => n + ch.costUsd, 0);
  return `${children.length} ${noun}${children.length > 1 ? 's' : ''}: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}${cost > 0 ? ` · $${cost.toFixed(2)}` : ''}`;
}

export function worktreeItem(wtPath: string, wt: WorktreeInfo | undefined, expandable: boolean, stat?: { insertions: number; deletions: number }): vscode.TreeItem {
  const label = wt?.branch ?? path.basename(wtPath);
  const item = new vscode.TreeItem(label, expandable ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
  // VS Code keeps the collapse state it first saw for an id: a worktree that gains its first agent must get a new
  // id, or it would stay a closed leaf instead of opening on its agent.
  item.id = `worktree:${wtPath}${expandable ? ':parent' : ''}`;
  item.resourceUri = vscode.Uri.file(wtPath);
  if (!wt) return item;
  item.description = describeWorktree(wt, stat);
  item.iconPath = wt.stale
    ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'))
    : wt.locked ? new vscode.ThemeIcon('lock') : new vscode.ThemeIcon(wt.managedByGrove ? 'git-branch' : 'repo-forked');
  const flags = [wt.managedByGrove ? 'managed' : 'external', wt.stale ? 'stale' : '', wt.locked ? 'locked' : ''].filter(Boolean);
  item.contextValue = `worktree.${flags.join('.')}`;
  const tip = new vscode.MarkdownString(undefined, true);
  tip.appendMarkdown(`**${escapeMd(label)}**${wt.managedByGrove ? '' : ' — made outside Grove'}\n\n`);
  tip.appendMarkdown(`${escapeMd(wt.path)}\n\n`);
  if (wt.spare) tip.appendMarkdown('A spare of the warm pool (`grove.worktreePool`): the next dispatch from this base starts here.\n\n');
  if (wt.baseRef) tip.appendMarkdown(`Based on \`${wt.baseRef}\`${wt.ahead !== undefined ? `: ${wt.ahead} ahead, ${wt.behind} behind` : ''}\n\n`);
  if (wt.changedFiles) tip.appendMarkdown(`${wt.changedFiles} uncommitted or untracked file(s)\n\n`);
  if (wt.port) tip.appendMarkdown(`GROVE_PORT ${wt.port}\n\n`);
  if (wt.locked) tip.appendMarkdown(`Locked${wt.lockedReason ? `: ${escapeMd(wt.lockedReason)}` : ''}\n\n`);
  if (wt.stale) tip.appendMarkdown('The folder is gone: **Prune** removes git\'s record of it.\n\n');
  item.tooltip = tip;
  return item;
}

export function describeWorktree(wt: WorktreeInfo, stat?: { insertions: number; deletions: number }): string {
  if (wt.stale) return 'stale — folder deleted';
  const parts: string[] = [];
  if (wt.spare) parts.push('spare');
  if (wt.baseRef) parts.push(`from ${wt.baseRef}`);
  if (wt.ahead !== undefined && wt.behind !== undefined && (wt.ahead || wt.behind)) parts.push(`↑${wt.ahead} ↓${wt.behind}`);
  if (wt.changedFiles) parts.push(`${wt.changedFiles} changed`);
  if (stat && (stat.insertions || stat.deletions)) parts.push(`+${stat.insertions} −${stat.deletions}`);
  if (!wt.managedByGrove) parts.push('external');
  return parts.join(' · ');
}

export function fileItem(node: { kind: 'change' | 'conflict'; instanceId: string; path: string }, f: { status: string; oldPath?: string; untracked?: boolean; insertions?: number; deletions?: number; binary: boolean } | undefined, title?: string): vscode.TreeItem {
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
  item.tooltip = `${node.path}${node.kind === 'conflict' ? ' — conflicted: click to resolve in the merge editor' : ''}${title ? `\n${title}` : ''}`;
  item.command = node.kind === 'conflict'
    ? { command: 'grove.openConflict', title: 'Resolve', arguments: [node] }
    : { command: 'grove.openChange', title: 'Open Change', arguments: [node] };
  return item;
}

export function claudeSessionItem(id: string, c: { id: string; name: string; kind: string; status?: string; cwd: string } | undefined): vscode.TreeItem {
  const item = new vscode.TreeItem(c?.name ?? id, vscode.TreeItemCollapsibleState.None);
  item.id = `claudeSession:${id}`;
  item.iconPath = new vscode.ThemeIcon('hubot');
  item.description = `Claude Code ${c?.kind ?? 'session'}${c?.status ? ` · ${c.status}` : ''}`;
  item.tooltip = c ? `A Claude Code session Grove does not manage (read-only here).\n${c.cwd}\nid ${c.id}` : id;
  item.contextValue = `claudeSession.${c?.kind ?? 'session'}`;
  return item;
}

export function archiveItem(root: string, count: number): vscode.TreeItem {
  const item = new vscode.TreeItem('Archived', vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `archive:${root}`;
  item.description = `${count}`;
  item.iconPath = new vscode.ThemeIcon('archive');
  item.contextValue = 'archive';
  item.tooltip = 'Merged or removed agents: their prompt, cost and result are kept here.';
  return item;
}

export function repoItem(root: string, repo: { name: string; info: { branch?: string; detached: boolean }; error?: string } | undefined): vscode.TreeItem {
  const item = new vscode.TreeItem(repo?.name ?? path.basename(root), vscode.TreeItemCollapsibleState.Expanded);
  item.id = `repo:${root}`;
  item.iconPath = new vscode.ThemeIcon('repo');
  item.description = repo?.info.branch ?? (repo?.info.detached ? 'detached HEAD' : '');
  item.tooltip = repo?.error ? `${root}\n${repo.error}` : root;
  item.contextValue = 'repository';
  return item;
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

function clock(t: number, now: number): string {
  const d = new Date(t);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return t - now < 120_000 ? `${hm}:${String(d.getSeconds()).padStart(2, '0')}` : hm;
}

export function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
