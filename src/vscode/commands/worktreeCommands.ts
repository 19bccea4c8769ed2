import * as path from 'node:path';
import * as vscode from 'vscode';
import { remove, type RemovalPlan, type RemoveDecision, type RemoveRequest } from '../../core/flows/remove';
import { describeLoss } from '../../core/git/worktreeManager';
import { createWorktree, pruneWorktrees } from '../../core/flows/worktrees';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { pickBase, pickRepository, pickWorktree } from './pick';
import { UserFacingError } from './register';

export interface NewWorktreeArgs {
  title?: string;
  baseRef?: string;
  repoRoot?: string;
}

/** Commands on worktrees: new, open, reveal, terminal, remove, prune, init. */
export function worktreeCommands(s: Services) {
  return {
    'grove.initRepository': async () => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) throw new UserFacingError('Open a folder first.');
      await s.git.mutate(folder.uri.fsPath, ['init']);
      await s.repos.discover();
      void vscode.window.showInformationMessage(`Grove: initialised a git repository in ${folder.name}. Make a first commit to start agents on it.`);
    },

    'grove.newWorktree': async (nodeOrArgs?: Node | NewWorktreeArgs) => {
      const args: NewWorktreeArgs = nodeOrArgs && !('kind' in nodeOrArgs) ? nodeOrArgs : {};
      const repo = args.repoRoot ? s.repos.find(args.repoRoot) : await pickRepository(s, nodeOrArgs as Node | undefined);
      if (!repo) throw new UserFacingError(`${args.repoRoot} is not a repository of this workspace.`);
      const title = args.title ?? await vscode.window.showInputBox({
        title: 'Grove: New Worktree',
        prompt: 'What is it for? The branch name is made from this.',
        placeHolder: 'e.g. Fix the login redirect',
        validateInput: (v) => (v.trim() ? undefined : 'Enter a name'),
      });
      if (!title) throw new vscode.CancellationError();
      const baseRef = args.baseRef ?? await pickBase(s, repo, `Grove: base for "${title}"`);
      const created = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Grove: creating worktree for "${title}"`, cancellable: true },
        async (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return createWorktree(s.grove, {
            repoRoot: repo.info.mainWorktree, title, baseRef, signal: abort.signal,
            onOutput: (chunk) => {
              s.channel.append(chunk);
              const last = chunk.trim().split('\n').pop();
              if (last) progress.report({ message: last.slice(0, 80) });
            },
          });
        },
      );
      await s.repos.refresh(repo.info.mainWorktree);
      if (created.setupFailed) {
        const a = await vscode.window.showWarningMessage(
          `Grove: the setup command failed (exit code ${created.setupExitCode}) in ${created.path}. The worktree is kept for you to inspect.`,
          'Show Log', 'Open Terminal Here');
        if (a === 'Show Log') s.channel.show(true);
        if (a === 'Open Terminal Here') openTerminal(created.path, created.branch);
      } else {
        void vscode.window.showInformationMessage(`Grove: created ${created.branch} from ${created.baseRef}${created.setupSkipped ? ' (setup command skipped: workspace not trusted)' : ''}.`);
      }
      return created;
    },

    'grove.openWorktreeInNewWindow': async (node?: Node) => {
      const { worktree } = await pickWorktree(s, node, (w) => !w.stale);
      await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(worktree.path), { forceNewWindow: true });
    },

    'grove.revealWorktree': async (node?: Node) => {
      const { worktree } = await pickWorktree(s, node, (w) => !w.stale);
      if (vscode.env.remoteName) {
        // The OS file manager is on the other side of a remote connection: offer the path instead.
        const a = await vscode.window.showInformationMessage(`Grove: the worktree is at ${worktree.path} on the remote host.`, 'Copy Path');
        if (a) await vscode.env.clipboard.writeText(worktree.path);
        return;
      }
      await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(worktree.path));
    },

    'grove.openTerminalHere': async (node?: Node) => {
      const { worktree } = await pickWorktree(s, node, (w) => !w.stale);
      openTerminal(worktree.path, worktree.branch ?? path.basename(worktree.path));
    },

    'grove.pruneWorktrees': async (node?: Node) => {
      const repo = await pickRepository(s, node);
      const pruned = await pruneWorktrees(s.grove, repo.info.mainWorktree);
      await s.repos.refresh(repo.info.mainWorktree);
      void vscode.window.showInformationMessage(pruned.length ? `Grove: pruned ${pruned.length} stale worktree record(s).` : 'Grove: no stale worktree to prune.');
    },

    'grove.removeWorktree': async (node?: Node, options?: { confirm?: RemoveDecision }) => {
      const { repo, worktree } = await pickWorktree(s, node);
      return removeWithConfirmation(s, { worktreePath: worktree.path, repoRoot: repo.info.mainWorktree }, options?.confirm);
    },
  };
}

/**
 * Remove… of a worktree or an agent: the modal lists exactly what would be lost (and which agents would be stopped)
 * before anything changes; Cancel changes nothing. `preset` answers the modal (automation).
 */
export async function removeWithConfirmation(s: Services, req: RemoveRequest, preset?: RemoveDecision) {
  const result = await remove(s.grove, req, { confirm: (plan) => (preset ? Promise.resolve(preset) : confirmRemoval(plan)) });
  const roots = new Set([req.repoRoot, ...s.fleet.instances().map((i) => i.repoRoot)].filter((r): r is string => !!r));
  await Promise.all([...roots].map((r) => s.repos.refresh(s.repos.find(r)?.info.mainWorktree)));
  if (result.cancelled) return undefined;
  const branchNote = result.branch
    ? result.branchDeleted ? ` and deleted branch ${result.branch}` : `; kept branch ${result.branch}${result.branchKeptReason ? ` (${result.branchKeptReason})` : ''}`
    : '';
  const restorable = result.snapshotId ? ' It is restorable from Recently Removed.' : '';
  void vscode.window.showInformationMessage(`Grove: removed ${result.worktreePath ? 'the worktree' : 'the agent'}${branchNote}.${restorable}`, ...(result.snapshotId ? ['Restore'] : [])).then((a) => {
    if (a === 'Restore') void vscode.commands.executeCommand('grove.restoreSnapshot', { id: result.snapshotId, confirmed: true });
  });
  return result;
}

/** A modal that lists exactly what would be lost; resolves to the person's choice or undefined. */
async function confirmRemoval(plan: RemovalPlan): Promise<RemoveDecision | undefined> {
  const r = plan.report;
  const name = plan.instances[0]?.title ?? r?.branch ?? (r ? path.basename(r.path) : 'the agent');
  const stopping = plan.running.length
    ? `\n\n${plan.running.map((i) => `"${i.title}" is ${i.state}: it will be stopped first.`).join('\n')}`
    : '';
  if (!r || r.stale) {
    const a = await vscode.window.showWarningMessage(
      r ? `Remove the stale worktree record of ${name}? Its folder is already gone.` : `Remove "${name}"? Its worktree is already gone; its record goes.`,
      { modal: true, detail: stopping.trim() || undefined }, 'Remove');
    return a ? 'keepBranch' : undefined;
  }
  if (!r.hasLoss) {
    const a = await vscode.window.showInformationMessage(
      `Remove the worktree of ${name}?`,
      { modal: true, detail: `${r.path}\n\nNothing is lost: ${r.merged ? 'its work is in the base; the branch will be deleted' : 'the branch has no unique commits'}.${stopping}` },
      'Remove');
    return a ? 'keepBranch' : undefined;
  }
  const detail = describeLoss(r, { max: 12 }).join('\n');
  const buttons = plan.unmergedCommits ? ['Remove Worktree, Keep Branch', 'Remove Worktree and Delete Branch'] : ['Remove and Discard'];
  const a = await vscode.window.showWarningMessage(
    `Removing ${name} loses work.`,
    { modal: true, detail: `${r.path}\n\n${detail}${plan.unmergedCommits ? '\n\nKeeping the branch keeps its commits.' : ''}${stopping}` },
    ...buttons);
  if (!a) return undefined;
  return a === 'Remove Worktree and Delete Branch' ? 'deleteBranch' : 'keepBranch';
}

export function openTerminal(cwd: string, name: string): vscode.Terminal {
  const t = vscode.window.createTerminal({ name: `Grove: ${name}`, cwd, iconPath: new vscode.ThemeIcon('git-branch') });
  t.show();
  return t;
}
