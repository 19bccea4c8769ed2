import * as path from 'node:path';
import * as vscode from 'vscode';
import { BackgroundRunner, type PermissionDecision } from '../../core/agents/backgroundRunner';
import type { AgentHandle, AgentPort, AgentStartOptions, ProvisionedWorktree, WorktreePort } from '../../core/fleet/dispatcher';
import type { WorktreeManager } from '../../core/git/worktreeManager';
import type { AgentEvent, InstanceSnapshot, PermissionRequest } from '../../core/model';
import { instanceLogPath } from '../../core/paths';
import { Disposable } from '../../core/util/disposable';
import type { Logger } from '../../core/util/logger';
import { groveConfig } from '../config';
import type { WorkspaceRepositories } from '../repositories';
import { TerminalAgents } from './terminalAgents';

/**
 * The fleet's AgentPort: starts each instance in the background (`claude -p` stream-json, core BackgroundRunner)
 * or in a managed terminal (hooks), locks its worktree while it runs, and asks the user about permissions.
 */
export class AgentRunners extends Disposable implements AgentPort {
  private readonly background = new Map<string, BackgroundRunner>();
  readonly terminals: TerminalAgents;

  constructor(
    context: vscode.ExtensionContext,
    private readonly worktrees: WorktreeManager,
    private readonly repos: WorkspaceRepositories,
    private readonly log: Logger,
  ) {
    super();
    this.terminals = this._register(new TerminalAgents(context, log));
    this._register({ dispose: () => { for (const r of this.background.values()) r.dispose(); } });
  }

  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle {
    if (!vscode.workspace.isTrusted) throw new Error('Grove starts no agents in an untrusted workspace. Trust the workspace first.');
    const cfg = groveConfig(vscode.Uri.file(instance.repoRoot));
    const repo = this.repos.find(instance.repoRoot);
    const wt = repo?.worktrees.find((w) => path.resolve(w.path) === path.resolve(instance.worktreePath));
    const env: Record<string, string | undefined> = { ...process.env, ...cfg.agentEnv };
    if (wt?.port) env.GROVE_PORT = String(wt.port);
    const lockReason = `agent "${instance.title.slice(0, 60)}" is running`;
    void this.worktrees.lock(instance.worktreePath, lockReason).catch((e: Error) => this.log.warn(`lock ${instance.worktreePath}: ${e.message}`));
    const unlock = () => void this.worktrees.unlock(instance.worktreePath).catch((e: Error) => this.log.warn(`unlock ${instance.worktreePath}: ${e.message}`));
    const forward = (e: AgentEvent) => {
      if (e.type === 'exit') unlock();
      onEvent(e);
    };

    if (instance.mode === 'terminal') {
      return this.terminals.start(instance, forward, options, { env, claudePath: cfg.claudePath, profiles: cfg.profiles });
    }

    const commonDir = repo?.info.commonDir ?? path.join(instance.repoRoot, '.git');
    const runner = new BackgroundRunner({
      cwd: instance.worktreePath,
      env,
      logPath: instanceLogPath(commonDir, instance.id),
      claudePath: cfg.claudePath,
      permissionMode: instance.permissionMode,
      model: instance.model,
      maxBudgetUsd: cfg.maxBudgetUsd,
      maxTurns: cfg.maxTurns,
      sessionId: instance.sessionId,
      resume: options.resume && !!instance.sessionId,
      logger: this.log,
    });
    this.background.get(instance.id)?.dispose();
    this.background.set(instance.id, runner);
    runner.onDidEvent((e) => {
      if (e.type === 'permissionRequest') void this.askPermission(instance, runner, e.request);
      forward(e);
    });
    void runner.start(options.prompt).catch((err: Error) => {
      forward({ type: 'result', isError: true, subtype: 'error_start', text: err.message });
      forward({ type: 'exit', code: null, signal: null, stoppedByUser: false });
    });
    return {
      stop: () => runner.stop(),
      followUp: (prompt) => {
        void runner.followUp(prompt).catch((err: Error) => void vscode.window.showWarningMessage(`Grove: ${err.message}`));
      },
    };
  }

  /** The background runner of an instance, while this window drives it. */
  runner(instanceId: string): BackgroundRunner | undefined {
    return this.background.get(instanceId);
  }

  /** Asks "Allow Bash: npm test?"; the answer goes back to the agent. Dismissing keeps the request pending. */
  async askPermission(instance: InstanceSnapshot, runner: BackgroundRunner, request: PermissionRequest): Promise<void> {
    const allowOnce = 'Allow Once';
    const allowAlways = 'Allow for This Agent';
    const deny = 'Deny';
    const answer = await vscode.window.showWarningMessage(
      `Grove: "${instance.title}" asks: Allow ${request.summary}?`,
      allowOnce, allowAlways, deny,
    );
    if (!answer) return; // still pending: the instance stays "needs permission"; clicking it asks again
    this.answer(runner, request.requestId, answer === allowOnce ? 'allow' : answer === allowAlways ? 'allowAlways' : 'deny');
  }

  answer(runner: BackgroundRunner, requestId: string, decision: PermissionDecision): void {
    try {
      runner.answerPermission(requestId, decision);
    } catch (err) {
      this.log.warn(`permission ${requestId}: ${(err as Error).message}`);
    }
  }

  /** Adapts the WorktreeManager to the fleet's WorktreePort with the user's settings. */
  worktreePort(): WorktreePort {
    return {
      create: async (req): Promise<ProvisionedWorktree> => {
        const cfg = groveConfig(vscode.Uri.file(req.repoRoot));
        if (!vscode.workspace.isTrusted) throw new Error('Grove runs no setup commands or agents in an untrusted workspace.');
        const created = await this.worktrees.create({
          repoRoot: req.repoRoot,
          title: req.title,
          baseRef: req.baseRef,
          branchPrefix: cfg.branchPrefix,
          worktreeRoot: cfg.worktreeRoot,
          copyFiles: cfg.copyFiles,
          setupCommand: cfg.setupCommand,
          signal: req.signal,
          onOutput: (chunk) => this.log.info(`[setup ${req.title.slice(0, 40)}] ${chunk.trimEnd()}`),
        });
        void this.repos.refresh(this.repos.find(req.repoRoot)?.info.mainWorktree);
        if (created.setupFailed) {
          throw new Error(`the setup command failed (exit code ${created.setupExitCode}); the worktree is kept for inspection at ${created.path}`);
        }
        return { path: created.path, branch: created.branch, baseRef: created.baseRef, baseCommit: created.baseCommit };
      },
    };
  }
}
