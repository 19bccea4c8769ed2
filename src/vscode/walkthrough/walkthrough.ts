import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkClaude, type ClaudeCheck } from './claudeCheck';

/** The least Grove's walkthrough needs to know of the fleet: instances and a change event. */
export interface InstancesSource {
  instances(): readonly { state: string; profile?: string; worktreePath: string; archived?: boolean; merge?: unknown }[];
  onDidChangeInstances(listener: (e: unknown) => void): { dispose(): void };
}

/** Context keys the walkthrough's steps complete on (package.json `contributes.walkthroughs`). */
export const WalkthroughKeys = {
  claudeReady: 'grove.claudeReady',
  reviewed: 'grove.reviewedChanges',
  merged: 'grove.hasMerged',
} as const;

const INSTALL_URL = 'https://docs.anthropic.com/en/docs/claude-code/setup';

/**
 * The "Get Started with Grove" walkthrough's moving parts: the Check Claude Code command, and context keys set
 * when the person has done a step — Claude Code checked (or an agent finished, which proves it), an agent's
 * changes opened (a `grove-git:` original or a file of an agent's worktree in an editor), a branch merged.
 * Dispatching is `grove.hasInstances`, set by the composition root.
 */
export function registerWalkthrough(fleet: InstancesSource, opts: { demoModel: boolean }): vscode.Disposable[] {
  const set = (key: string, value: boolean) => void vscode.commands.executeCommand('setContext', key, value);
  let claudeReady = false, reviewed = false, merged = false;

  const onInstances = () => {
    const all = fleet.instances();
    if (!claudeReady && all.some((i) => (i.profile ?? 'claude') === 'claude' && i.state === 'done')) {
      claudeReady = true;
      set(WalkthroughKeys.claudeReady, true);
    }
    if (!merged && all.some((i) => i.merge)) {
      merged = true;
      set(WalkthroughKeys.merged, true);
    }
  };

  // The review's original sides are grove-git: documents; its modified sides (and added files) are files of the
  // agent's worktree.
  const isAgentWork = (uri: vscode.Uri) => {
    if (uri.scheme === 'grove-git') return true;
    if (uri.scheme !== 'file') return false;
    return fleet.instances().some((i) => {
      if (i.archived || !i.worktreePath) return false;
      const rel = path.relative(i.worktreePath, uri.fsPath);
      return !rel.startsWith('..') && !path.isAbsolute(rel);
    });
  };
  const onDocument = (doc: vscode.TextDocument) => {
    if (reviewed || !isAgentWork(doc.uri)) return;
    reviewed = true;
    set(WalkthroughKeys.reviewed, true);
  };

  onInstances();
  vscode.workspace.textDocuments.forEach(onDocument);

  return [
    fleet.onDidChangeInstances(onInstances),
    vscode.workspace.onDidOpenTextDocument(onDocument),
    vscode.commands.registerCommand('grove.checkClaude', async (): Promise<ClaudeCheck> => {
      const cfg = vscode.workspace.getConfiguration('grove');
      // Read through getConfiguration: in an untrusted workspace VS Code then ignores the workspace's values of
      // these settings (package.json capabilities.untrustedWorkspaces.restrictedConfigurations).
      const claudePath = cfg.get<string>('claudePath', '').trim() || undefined;
      const agentEnv = cfg.get<Record<string, string>>('agentEnv', {});
      const env = { ...process.env, ...agentEnv };
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Grove: checking Claude Code' },
        () => checkClaude({ claudePath, env, demoModel: opts.demoModel }),
      );
      const ready = result.installed && result.signedIn === true;
      if (ready && !claudeReady) {
        claudeReady = true;
        set(WalkthroughKeys.claudeReady, true);
      }
      void report(result, agentEnv);
      return result;
    }),
  ];
}

async function report(r: ClaudeCheck, agentEnv: Record<string, string>): Promise<void> {
  if (!r.installed) {
    const a = await vscode.window.showWarningMessage(
      `Grove: ${r.problem ?? 'Claude Code was not found'}.`,
      'Installation Guide', 'Set grove.claudePath');
    if (a === 'Installation Guide') void vscode.env.openExternal(vscode.Uri.parse(INSTALL_URL));
    if (a === 'Set grove.claudePath') void vscode.commands.executeCommand('workbench.action.openSettings', 'grove.claudePath');
    return;
  }
  const what = `Claude Code ${r.version ?? ''} (${r.executable})`;
  if (r.signedIn) {
    void vscode.window.showInformationMessage(`Grove: ${what} is ready, signed in with ${r.signedInWith}.`);
    return;
  }
  const a = await vscode.window.showWarningMessage(
    r.signedIn === false
      ? `Grove: ${what} is installed but not signed in. Sign in with "claude auth login", or give agents an API key in grove.agentEnv (ANTHROPIC_API_KEY).`
      : `Grove: ${what} is installed; whether it is signed in could not be told: ${r.problem}.`,
    'Sign In in Terminal', 'Edit grove.agentEnv');
  if (a === 'Sign In in Terminal' && r.command) {
    // No shell: the terminal runs the CLI itself, with the environment agents get.
    vscode.window.createTerminal({
      name: 'Claude Code sign-in', shellPath: r.command.file, shellArgs: [...r.command.prefixArgs, 'auth', 'login'], env: agentEnv, iconPath: new vscode.ThemeIcon('hubot'),
    }).show();
  }
  if (a === 'Edit grove.agentEnv') void vscode.commands.executeCommand('workbench.action.openSettings', 'grove.agentEnv');
}
