// Composition root: builds core objects with plain constructor arguments, wires the VS Code layer, and hands
// every disposable to context.subscriptions. Nothing else constructs services.
import * as vscode from 'vscode';
import { Grove } from './core/grove';
import { AgentRunners } from './vscode/agents/agentRunners';
import { createApi, type GroveApi } from './vscode/api';
import { dispatchCommands } from './vscode/commands/dispatchCommands';
import { instanceCommands } from './vscode/commands/instanceCommands';
import { pluginCommands } from './vscode/commands/pluginCommands';
import { landCommands } from './vscode/commands/landCommands';
import { attemptCommands } from './vscode/commands/attemptCommands';
import { registerCommands } from './vscode/commands/register';
import { restoreCommands } from './vscode/commands/restoreCommands';
import { turnCommands } from './vscode/commands/turnCommands';
import { worktreeCommands } from './vscode/commands/worktreeCommands';
import { groveConfig } from './vscode/config';
import { LOG_SCHEME, LogDocumentProvider } from './vscode/logDocument';
import { ChannelLogger } from './vscode/logger';
import { Notifications } from './vscode/notifications';
import { WorkspaceRepositories } from './vscode/repositories';
import type { Services } from './vscode/services';
import { ChangeDecorations } from './vscode/review/changeDecorations';
import { GitContentProvider, GIT_SCHEME } from './vscode/review/gitContent';
import { reviewCommands } from './vscode/review/reviewCommands';
import { ReviewModel } from './vscode/review/reviewModel';
import { StatusBarSummary } from './vscode/statusBar';
import { AgentMemory } from './vscode/tree/agentMemory';
import { ClaudeSessionsModel } from './vscode/claudeSessions';
import { resolveClaudeExecutable } from './core/agents/agentProcess';
import { AgentsTreeProvider } from './vscode/tree/agentsTree';
import { radarContribution } from './vscode/tree/radarRows';
import { attemptContribution } from './vscode/tree/attemptRows';
import { radarNotifications } from './vscode/radarNotifications';
import { RecentlyRemoved } from './vscode/tree/recentlyRemoved';
import { TurnRows } from './vscode/tree/turnRows';
import { registerConventions } from './vscode/conventions/registerConventions';
import { registerLanguageModelTools } from './vscode/lmTools';
import { registerMcpServers } from './vscode/mcpServer';

export type { GroveApi } from './vscode/api';

/** What deactivate() must do before the subscriptions are disposed (set by activate). */
let beforeExit: (() => Promise<void>) | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<GroveApi> {
  const channel = vscode.window.createOutputChannel('Grove', { log: true });
  context.subscriptions.push(channel);
  const log = new ChannelLogger(channel);
  const demoModel = process.env.GROVE_DEMO_MODEL === '1';

  let repos: WorkspaceRepositories | undefined;
  let agents!: AgentRunners;
  const grove = new Grove({
    kind: 'vscode',
    logger: log,
    settings: (repoRoot) => groveConfig(vscode.Uri.file(repoRoot)),
    trusted: () => vscode.workspace.isTrusted,
    capabilities: { terminal: true },
    agents: (parts) => (agents = new AgentRunners(context, parts)),
    onWorktreeCreated: (repoRoot) => void repos?.refresh(repos.find(repoRoot)?.info.mainWorktree),
    onSparesChanged: (repoRoot) => void repos?.refresh(repos.find(repoRoot)?.info.mainWorktree),
  });
  const { git, worktrees, fleet, merges } = grove;
  repos = new WorkspaceRepositories(worktrees, git, log);
  context.subscriptions.push(repos, grove);
  beforeExit = () => fleet.shutdown();
  const services: Services = { context, log, channel, grove, git, worktrees, repos, fleet, demoModel };

  const review = new ReviewModel(git, merges, fleet, repos, log);
  const claudeSessions = new ClaudeSessionsModel(fleet);
  const memory = new AgentMemory(() => fleet.instances());
  const tree = new AgentsTreeProvider(repos, fleet, repos, review, claudeSessions, memory);
  context.subscriptions.push(
    tree.contribute(radarContribution(grove.radar)),
    tree.contribute(attemptContribution()),
    // A ref moved (a commit on the base, a merge): the radar reads every worktree of the repository again; files
    // changed in worktrees: the agents on them are read again (overlaps between agents still at work).
    repos.onDidChange((c) => void (c.root && (c.worktrees ? grove.radar.worktreesChanged(c.root, c.worktrees) : grove.radar.baseMoved(c.root)))),
    radarNotifications(grove, log),
  );
  const recentlyRemoved = new RecentlyRemoved(grove, repos, log);
  const turnRows = new TurnRows(grove, log);
  context.subscriptions.push(recentlyRemoved, tree.contribute(recentlyRemoved), turnRows, tree.contribute(turnRows));
  const view = vscode.window.createTreeView('grove.agents', { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true });
  // npm start without a signed-in claude: say plainly that no real model answers.
  if (demoModel) {
    view.title = 'Agents (demo model)';
    view.description = 'Demo model';
  }
  const status = new StatusBarSummary(demoModel, (roots) => roots.map((repoRoot) => ({ repoRoot, ...grove.budget(repoRoot) })));
  const logs = new LogDocumentProvider(fleet, repos);
  context.subscriptions.push(
    review, claudeSessions, tree, view, status, logs,
    memory,
    view.onDidChangeVisibility((e) => {
      memory.setVisible(e.visible);
      review.setVisible(e.visible);
      if (e.visible) void claudeSessions.refresh();
    }),
    view.onDidExpandElement((e) => tree.expanded(e.element, true)),
    view.onDidCollapseElement((e) => tree.expanded(e.element, false)),
    vscode.workspace.registerTextDocumentContentProvider(GIT_SCHEME, new GitContentProvider(git)),
    vscode.window.registerFileDecorationProvider(new ChangeDecorations()),
    new Notifications(fleet, (repoRoot) => grove.budget(repoRoot)),
    vscode.workspace.registerTextDocumentContentProvider(LOG_SCHEME, logs),
    fleet.onDidChangeInstances((change) => {
      status.update(fleet.instances());
      memory.instancesChanged();
      for (const i of change.changed) logs.refresh(i.id);
      void vscode.commands.executeCommand('setContext', 'grove.hasInstances', fleet.instances().length > 0);
    }),
    fleet.onDidReportCorruption((c) => {
      void vscode.window.showErrorMessage(`Grove: the agent registry ${c.file} was unreadable. Its content was kept in ${c.backup}.`);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // The cap, the budget and the memory floor are read per repository at each scheduling step: queued work
      // that fits now starts at once.
      if (['maxConcurrent', 'fleetBudgetUsd', 'minFreeMemoryMb', 'maxBudgetUsd'].some((k) => e.affectsConfiguration(`grove.${k}`))) {
        fleet.settingsChanged();
        status.update(fleet.instances());
      }
      if (e.affectsConfiguration('grove.worktreePool')) void reconcilePools();
    }),
    ...registerCommands(log, () => channel.show(true), {
      ...worktreeCommands(services),
      ...dispatchCommands(services),
      ...instanceCommands(services, agents),
      ...reviewCommands(services, merges, review),
      ...pluginCommands(services),
      ...landCommands(services),
      ...attemptCommands(services),
      ...restoreCommands(services, recentlyRemoved),
      ...turnCommands(services, turnRows),
      'grove.showOutput': () => channel.show(),
      'grove.refresh': async () => {
        await Promise.all([repos.discover(), claudeSessions.refresh()]);
      },
      'grove.attachClaudeSession': async (node?: { kind: string; id: string }) => {
        const c = node?.kind === 'claudeSession' ? claudeSessions.get(node.id) : undefined;
        if (!c) return;
        const cfg = groveConfig();
        const env = { ...process.env, ...cfg.agentEnv };
        const exe = resolveClaudeExecutable(cfg.claudePath, env);
        vscode.window.createTerminal({ name: `Claude: ${c.name.slice(0, 40)}`, shellPath: exe.command, shellArgs: [...exe.prefixArgs, 'attach', c.id], cwd: c.cwd, iconPath: new vscode.ThemeIcon('hubot') }).show();
      },
    }),
  );

  context.subscriptions.push(...registerConventions(fleet, { demoModel }));
  // Agent sessions inside VS Code can dispatch, wait for, review and land Grove agents (where lm tools exist).
  context.subscriptions.push(...registerLanguageModelTools(services));
  context.subscriptions.push(...registerMcpServers(context.extensionPath, context.extension.packageJSON.version as string, repos, log));

  // Discovery and recovery run after activation returns, so the view shows at once.
  const ready = repos.discover().then(async () => {
    const roots = (await repos.repositories()).map((r) => r.info.mainWorktree);
    await grove.recover(roots);
    for (const root of roots) void grove.radar.refresh(root);
    await agents.reattachTerminals(fleet);
    void reconcilePools();
    await recentlyRemoved.refresh();
    if (view.visible) void claudeSessions.refresh();
    memory.setVisible(view.visible);
    review.setVisible(view.visible);
    status.update(fleet.instances());
    await vscode.commands.executeCommand('setContext', 'grove.hasInstances', fleet.instances().length > 0);
  }).catch((err: Error) => {
    log.error(err);
    void vscode.window.showErrorMessage(`Grove: could not load the repositories' agents: ${err.message}`, 'Show Output').then((a) => a && channel.show());
  }).finally(() => vscode.commands.executeCommand('setContext', 'grove.ready', true));

  /** `grove.worktreePool` of each repository: fill once idle, or remove the spares (those with work are kept and told). */
  async function reconcilePools(): Promise<void> {
    for (const r of await repos!.repositories()) {
      const result = await grove.pool.reconcile(r.info.mainWorktree).catch((err: Error) => void log.warn(`worktree pool: ${err.message}`));
      if (result?.kept.length) {
        void vscode.window.showWarningMessage(`Grove kept ${result.kept.length} spare worktree(s) that hold work: ${result.kept.map((k) => k.path).join(', ')}. Remove them yourself once the work is safe.`);
      }
    }
  }

  return createApi(context.extension.packageJSON.version as string, services, ready, tree);
}

/** Records running background agents as interrupted (they die with the host) before their processes are ended. */
export async function deactivate(): Promise<void> {
  await beforeExit?.();
  beforeExit = undefined;
}
