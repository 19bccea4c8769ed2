import * as path from 'node:path';
import * as vscode from 'vscode';
import { isGitError } from '../../core/git/gitError';
import type { RemovalReport } from '../../core/git/worktreeManager';
import { isActive as isActiveState } from '../../core/fleet/instance';
import { groveConfig } from '../config';
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
      if (!folder) throw new UserFacingError('Grove: open a folder first.');
      await s.git.mutate(folder.uri.fsPath, ['init']);
      await s.repos.discover();
      void vscode.window.showInformationMessage(`Grove: initialised a git repository in ${folder.name}. Make a first commit to start agents on it.`);
    },

    'grove.newWorktree': async (nodeOrArgs?: Node | NewWorktreeArgs) => {
      const args: NewWorktreeArgs = nodeOrArgs && !('kind' in nodeOrArgs) ? nodeOrArgs : {};
      const repo = args.repoRoot ? s.repos.find(args.repoRoot) : await pickRepository(s, nodeOrArgs as Node | undefined);
      if (!repo) throw new UserFacingError(`Grove: ${args.repoRoot} is not a repository of this workspace.`);
      const title = args.title ?? await vscode.window.showInputBox({
        title: 'Grove: New Worktree',
        prompt: 'What is it for? The branch name is made from this.',
        placeHolder: 'e.g. Fix the login redirect',
        validateInput: (v) => (v.trim() ? undefined : 'Enter a name'),
      });
      if (!title) throw new vscode.CancellationError();
      const baseRef = args.baseRef ?? await pickBase(s, repo, `Grove: base for "${title}"`);
      const cfg = groveConfig(vscode.Uri.file(repo.info.mainWorktree));
      const trusted = vscode.workspace.isTrusted;
      const created = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Grove: creating worktree for "${title}"`, cancellable: true },
        async (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return s.worktrees.create({
            repoRoot: repo.info.mainWorktree,
            title,
            baseRef,
            branchPrefix: cfg.branchPrefix,
            worktreeRoot: cfg.worktreeRoot,
            copyFiles: cfg.copyFiles,
            // The setup command is the user's own, but it still never runs in an untrusted workspace.
            setupCommand: trusted ? cfg.setupCommand : undefined,
            signal: abort.signal,
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
        const skipped = !trusted && cfg.setupCommand ? ' (setup command skipped: workspace not trusted)' : '';
        void vscode.window.showInformationMessage(`Grove: created ${created.branch} from ${created.baseRef}${skipped}.`);
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
      const pruned = await s.worktrees.prune(repo.info.mainWorktree);
      await s.repos.refresh(repo.info.mainWorktree);
      void vscode.window.showInformationMessage(pruned.length ? `Grove: pruned ${pruned.length} stale worktree record(s).` : 'Grove: no stale worktree to prune.');
    },

    'grove.removeWorktree': async (node?: Node, options?: { confirm?: 'keepBranch' | 'deleteBranch' }) => {
      const { repo, worktree } = await pickWorktree(s, node);
      const running = s.fleet.instances().filter((i) => path.resolve(i.worktreePath || '/\0') === path.resolve(worktree.path) && isActiveState(i.state));
      if (running.length) throw new UserFacingError(`Grove: "${running[0].title}" is still running in this worktree. Stop it first.`);
      const report = await s.worktrees.inspectRemoval(worktree.path, { repoRoot: repo.info.mainWorktree });
      if (report.isMain) throw new UserFacingError('Grove: the main worktree cannot be removed.');
      const decision = options?.confirm ?? await confirmRemoval(report);
      if (!decision) return undefined;
      try {
        const result = await s.worktrees.remove(worktree.path, {
          force: report.hasLoss,
          deleteBranch: decision === 'deleteBranch' ? 'always' : 'ifMerged',
          repoRoot: repo.info.mainWorktree,
        });
        for (const inst of s.fleet.instances().filter((i) => path.resolve(i.worktreePath || '/\0') === path.resolve(worktree.path))) {
          await s.fleet.remove(inst.id);
        }
        await s.repos.refresh(repo.info.mainWorktree);
        const branchNote = result.branch
          ? result.branchDeleted ? ` and deleted branch ${result.branch}` : `; kept branch ${result.branch}${result.branchKeptReason ? ` (${result.branchKeptReason})` : ''}`
          : '';
        void vscode.window.showInformationMessage(`Grove: removed the worktree${branchNote}.`);
        return result;
      } catch (err) {
        if (isGitError(err)) throw new UserFacingError(`Grove: could not remove the worktree: ${err.message}`);
        throw err;
      }
    },
  };
}

/** A modal that lists exactly what would be lost; resolves to the user's choice or undefined. */
async function confirmRemoval(r: RemovalReport): Promise<'keepBranch' | 'deleteBranch' | undefined> {
  const name = r.branch ?? path.basename(r.path);
  if (r.stale) {
    const a = await vscode.window.showWarningMessage(`Remove the stale worktree record of ${name}? Its folder is already gone.`, { modal: true }, 'Remove');
    return a ? 'keepBranch' : undefined;
  }
  const list = (label: string, items: string[]) => items.length
    ? `${label} (${items.length}):\n${items.slice(0, 12).map((i) => `  • ${i}`).join('\n')}${items.length > 12 ? `\n  … and ${items.length - 12} more` : ''}\n`
    : '';
  const detail = [
    list('Uncommitted changes that will be discarded', r.uncommitted),
    list('Untracked files that will be deleted', r.untracked),
    list(`Commits not in ${r.baseRef ?? 'any other branch'}`, r.commits.map((c) => `${c.sha.slice(0, 8)} ${c.subject}`)),
  ].filter(Boolean).join('\n');
  if (!r.hasLoss) {
    const a = await vscode.window.showInformationMessage(
      `Remove the worktree of ${name}?`,
      { modal: true, detail: `${r.path}\n\nNothing is lost: ${r.merged ? 'the branch is merged and will be deleted' : 'the branch has no unique commits'}.` },
      'Remove');
    return a ? 'keepBranch' : undefined;
  }
  const buttons = r.commits.length && !r.merged ? ['Remove Worktree, Keep Branch', 'Remove Worktree and Delete Branch'] : ['Remove and Discard'];
  const a = await vscode.window.showWarningMessage(
    `Removing ${name} loses work.`,
    { modal: true, detail: `${r.path}\n\n${detail}${r.commits.length && !r.merged ? '\nKeeping the branch keeps its commits.' : ''}` },
    ...buttons);
  if (!a) return undefined;
  return a === 'Remove Worktree and Delete Branch' ? 'deleteBranch' : 'keepBranch';
}

export function openTerminal(cwd: string, name: string): vscode.Terminal {
  const t = vscode.window.createTerminal({ name: `Grove: ${name}`, cwd, iconPath: new vscode.ThemeIcon('git-branch') });
  t.show();
  return t;
}
