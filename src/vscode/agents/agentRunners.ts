import * as path from 'node:path';
import * as vscode from 'vscode';
import { BackgroundAgents, lockWhileRunning } from '../../core/agents/backgroundAgents';
import type { BackgroundRunner, PermissionDecision } from '../../core/agents/backgroundRunner';
import type { AgentHandle, AgentPort, AgentStartOptions, WorktreePort } from '../../core/fleet/dispatcher';
import { appendSetupOutput, worktreePort } from '../../core/fleet/worktreePort';
import type { Fleet } from '../../core/fleet/fleet';
import { isActive } from '../../core/fleet/instance';
import type { WorktreeManager } from '../../core/git/worktreeManager';
import type { AgentEvent, InstanceSnapshot, PermissionRequest } from '../../core/model';
import { instanceLogPath } from '../../core/paths';
import { Disposable } from '../../core/util/disposable';
import type { Logger } from '../../core/util/logger';
import { groveConfig } from '../config';
import type { WorkspaceRepositories } from '../repositories';
import { TerminalAgents } from './terminalAgents';

/**
 * The fleet's AgentPort in VS Code: background instances through core's BackgroundAgents (permission requests
 * asked with a notification), terminal instances in managed terminals. Nothing starts in an untrusted workspace.
 */
export class AgentRunners extends Disposable implements AgentPort {
  readonly background: BackgroundAgents;
  readonly terminals: TerminalAgents;

  constructor(
    context: vscode.ExtensionContext,
    private readonly worktrees: WorktreeManager,
    private readonly repos: WorkspaceRepositories,
    private readonly log: Logger,
  ) {
    super();
    this.terminals = this._register(new TerminalAgents(context, log));
    this.background = this._register(new BackgroundAgents({
      locks: worktrees,
      settings: (instance) => {
        const cfg = groveConfig(vscode.Uri.file(instance.repoRoot));
        return { env: this.env(instance), claudePath: cfg.claudePath, maxBudgetUsd: cfg.maxBudgetUsd, maxTurns: cfg.maxTurns };
      },
      logPath: (instance) => instanceLogPath(this.commonDir(instance.repoRoot), instance.id),
      logger: log,
    }));
    this._register(this.background.onDidRequestPermission(({ instance, runner, request }) => void this.askPermission(instance, runner, request)));
  }

  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle {
    if (!vscode.workspace.isTrusted) throw new Error('Grove starts no agents in an untrusted workspace. Trust the workspace first.');
    if (instance.mode !== 'terminal') return this.background.start(instance, onEvent, options);
    const cfg = groveConfig(vscode.Uri.file(instance.repoRoot));
    const unlock = lockWhileRunning(this.worktrees, instance, this.log);
    return this.terminals.start(instance, (e) => {
      if (e.type === 'exit') unlock();
      onEvent(e);
    }, options, { env: this.env(instance), claudePath: cfg.claudePath, profiles: cfg.profiles });
  }

  private commonDir(repoRoot: string): string {
    return this.repos.find(repoRoot)?.info.commonDir ?? path.join(repoRoot, '.git');
  }

  /**
   * After a window reload: terminal agents whose terminal survived are attached again (their worktree stays
   * locked until they end); the fleet's recovery already marked those whose process is gone as interrupted.
   */
  async reattachTerminals(fleet: Fleet): Promise<number> {
    let attached = 0;
    for (const inst of fleet.instances()) {
      if (inst.mode !== 'terminal' || !isActive(inst.state)) continue;
      const terminal = await this.terminals.findTerminal(inst);
      if (!terminal) continue;
      fleet.attach(inst.id, (onEvent) => this.terminals.reattach(inst, terminal, (e) => {
        if (e.type === 'exit') void this.worktrees.unlock(inst.worktreePath).catch((err: Error) => this.log.warn(`unlock ${inst.worktreePath}: ${err.message}`));
        onEvent(e);
      }));
      attached++;
    }
    return attached;
  }

  runner(instanceId: string): BackgroundRunner | undefined {
    return this.background.runner(instanceId);
  }

  /** The agent's environment: the host's, `grove.agentEnv`, and the worktree's `GROVE_PORT`. */
  private env(instance: InstanceSnapshot): Record<string, string | undefined> {
    const cfg = groveConfig(vscode.Uri.file(instance.repoRoot));
    const wt = this.repos.find(instance.repoRoot)?.worktrees.find((w) => path.resolve(w.path) === path.resolve(instance.worktreePath));
    return { ...process.env, ...cfg.agentEnv, ...(wt?.port ? { GROVE_PORT: String(wt.port) } : {}) };
  }

  /** Asks "Allow Bash: npm test?"; the answer goes back to the agent. Dismissing keeps the request pending. */
  async askPermission(instance: InstanceSnapshot, runner: BackgroundRunner, request: PermissionRequest): Promise<void> {
    const allowOnce = 'Allow Once';
    const allowAlways = 'Allow for This Agent';
    const deny = 'Deny';
    const answer = await vscode.window.showWarningMessage(`Grove: "${instance.title}" asks: Allow ${request.summary}?`, allowOnce, allowAlways, deny);
    if (!answer) return; // still pending: the instance shows "needs permission"; clicking it asks again
    this.answer(runner, request.requestId, answer === allowOnce ? 'allow' : answer === allowAlways ? 'allowAlways' : 'deny');
  }

  answer(runner: BackgroundRunner, requestId: string, decision: PermissionDecision): void {
    try {
      runner.answerPermission(requestId, decision);
    } catch (err) {
      this.log.warn(`permission ${requestId}: ${(err as Error).message}`);
    }
  }

  /** The WorktreePort with the user's settings; refuses in an untrusted workspace (setup commands run there). */
  worktreePort(): WorktreePort {
    const port = worktreePort(this.worktrees, (repoRoot) => groveConfig(vscode.Uri.file(repoRoot)), {
      onOutput: (title, chunk, req) => {
        this.log.info(`[setup ${title.slice(0, 40)}] ${chunk.trimEnd()}`);
        if (req.instanceId) appendSetupOutput(instanceLogPath(this.commonDir(req.repoRoot), req.instanceId), chunk);
      },
      onCreated: (repoRoot) => void this.repos.refresh(this.repos.find(repoRoot)?.info.mainWorktree),
    });
    return {
      create: (req) => {
        if (!vscode.workspace.isTrusted) return Promise.reject(new Error('Grove runs no setup commands or agents in an untrusted workspace.'));
        return port.create(req);
      },
    };
  }
}
