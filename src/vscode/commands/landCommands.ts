/**
 * Land All in VS Code: the view's title bar (every done agent) or a multi-selection. core/flows/land.ts does the
 * work; this decides how to ask the person (the strategy once, committing and cleaning up with "… All" answers), shows
 * "Landing 3/7: <agent>" with Cancel, and ends with the summary.
 */
import * as vscode from 'vscode';
import { planTasks } from '../../core/flows/dispatch';
import { land, landText, type LandProgress } from '../../core/flows/land';
import type { MergeStrategy } from '../../core/git/mergeService';
import type { InstanceSnapshot } from '../../core/model';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { UserFacingError } from './register';

export function landCommands(s: Services) {
  const landable = (i: InstanceSnapshot) => i.state === 'done' && !i.merge && !i.archived && !!i.worktreePath;
  return {
    'grove.landAll': async (node?: Node, nodes?: Node[], options?: LandOptions) => {
      const picked = (nodes?.length ? nodes : node ? [node] : []).filter((n) => n.kind === 'instance').map((n) => (n as { id: string }).id);
      return train(picked.length ? picked : s.fleet.instances().filter(landable).map((i) => i.id), options);
    },

    /** Land This Plan: the done agents of a plan's tasks (the newest agent per task title, in its repository). */
    'grove.landPlan': async (uri?: vscode.Uri, options?: LandOptions) => {
      const planUri = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
      if (!planUri) throw new UserFacingError('open a plan (a markdown file of ## tasks) first.');
      const doc = await vscode.workspace.openTextDocument(planUri);
      const titles = planTasks(doc.getText(), { source: vscode.workspace.asRelativePath(planUri) }).map((t) => t.title.trim().toLowerCase());
      const repo = planUri.scheme === 'file' ? s.repos.find(planUri.fsPath) : undefined;
      const newest = new Map<string, InstanceSnapshot>();
      for (const i of s.fleet.instances()) {
        const key = i.title.trim().toLowerCase();
        if ((!repo || i.repoRoot === repo.info.mainWorktree) && titles.includes(key) && !i.archived && (newest.get(key)?.createdAt ?? -1) < i.createdAt) newest.set(key, i);
      }
      const ids = titles.map((t) => newest.get(t)).filter((i): i is InstanceSnapshot => !!i && landable(i)).map((i) => i.id);
      if (!ids.length) throw new UserFacingError('no agent of this plan\'s tasks is done and unmerged: nothing to land.');
      return train(ids, options);
    },
  };

  async function train(ids: string[], options?: LandOptions) {
    if (!ids.length) throw new UserFacingError('no agent is done and unmerged: nothing to land.');
    let commitAll = options?.commit ?? false;
    let cleanupAll: boolean | undefined;
    const summary = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Grove: Land All', cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return land(s.grove, { ids, strategy: options?.strategy, commit: options?.commit, cleanup: options?.cleanup, retries: options?.retries, signal: abort.signal }, {
          chooseStrategy: pickTrainStrategy,
          confirmCommit: async (inst, files, message) => {
            if (commitAll) return true;
            const a = await vscode.window.showWarningMessage(`"${inst.title}" has uncommitted work. Commit it to land it?`, {
              modal: true, detail: `${files.slice(0, 15).join('\n')}${files.length > 15 ? `\n… and ${files.length - 15} more` : ''}\n\nMessage: ${message.split('\n')[0]}`,
            }, 'Commit', 'Commit All');
            if (a === 'Commit All') commitAll = true;
            return !!a;
          },
          confirmCleanup: async (inst) => {
            if (cleanupAll !== undefined) return cleanupAll;
            const a = await vscode.window.showInformationMessage(`Grove: landed "${inst.title}". Remove its worktree and branch?`, 'Remove', 'Remove All', 'Keep', 'Keep All');
            if (a === 'Remove All' || a === 'Keep All') cleanupAll = a === 'Remove All';
            return a === 'Remove' || a === 'Remove All';
          },
          onProgress: (p) => progress.report({ message: progressText(p) }),
          onCheckOutput: (_i, c) => s.channel.append(c),
          onSentBack: (e) => s.log.info(`Land All: sent "${e.instance.title}" back: ${e.message}`),
        });
      },
    );
    if (!summary) return undefined;
    const text = landText(summary);
    s.log.info(`Land All:\n${text}`);
    for (const r of new Set([...summary.landed, ...summary.left].map((x) => x.instance.repoRoot))) void s.repos.refresh(s.repos.find(r)?.info.mainWorktree);
    const message = summaryMessage(summary);
    const show = summary.left.length || summary.cancelled ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(`Grove: ${message}`, 'Show Details').then((a) => a && s.channel.show(true));
    return summary;
  }
}

type LandOptions = { strategy?: MergeStrategy; commit?: boolean; cleanup?: 'always' | 'never'; retries?: number };

/** "Landing 3/7: Fix the parser — checking", or the wait for agents sent back. Pure. */
export function progressText(p: LandProgress): string {
  if (!p.instance) return `waiting for ${p.out} agent${p.out === 1 ? '' : 's'} sent back to fix their work…`;
  const step = p.step === 'sync' ? 'syncing' : p.step === 'check' ? 'checking' : 'merging';
  return `Landing ${p.position}/${p.total}: ${p.instance.title} — ${step}${p.out ? ` (${p.out} sent back)` : ''}`;
}

/** One line: landed n of m, who was sent back, who was left and why (the first). Pure. */
export function summaryMessage(s: { landed: unknown[]; sentBack: { instance: InstanceSnapshot }[]; left: { instance: InstanceSnapshot; reason: string }[]; cancelled: boolean; baseCommits: { baseRef: string; commits: string[] }[] }): string {
  const total = s.landed.length + s.sentBack.length + s.left.length;
  const parts = [`${s.cancelled ? 'Land All cancelled: landed' : 'Landed'} ${s.landed.length} of ${total}`];
  if (s.sentBack.length) parts.push(`sent back (still at work): ${s.sentBack.map((e) => `"${e.instance.title}"`).join(', ')}`);
  if (s.left.length) parts.push(`left for you: ${s.left.map((l) => `"${l.instance.title}" (${l.reason.split('\n')[0]})`).join(', ')}`);
  const commits = s.baseCommits.reduce((n, b) => n + b.commits.length, 0);
  if (commits) parts.push(`${commits} new commit${commits === 1 ? '' : 's'} on ${[...new Set(s.baseCommits.map((b) => b.baseRef))].join(', ')}`);
  return `${parts.join('; ')}.`;
}

async function pickTrainStrategy(instances: InstanceSnapshot[]): Promise<MergeStrategy | undefined> {
  const pick = await vscode.window.showQuickPick([
    { label: 'merge', description: 'a merge commit (--no-ff) per agent, keeping its commits' },
    { label: 'squash', description: 'one commit per agent, with a message from its task' },
    { label: 'rebase', description: 'each agent\'s commits rebased onto the base, then fast-forward' },
  ], { title: `Grove: land ${instances.length} agent${instances.length === 1 ? '' : 's'} with` });
  return pick?.label as MergeStrategy | undefined;
}
