import * as vscode from 'vscode';
import { BackgroundAgents, lockWhileRunning } from '../../core/agents/backgroundAgents';
import type { BackgroundRunner, PermissionDecision } from '../../core/agents/backgroundRunner';
import type { AgentHandle, AgentPort, AgentStartOptions } from '../../core/agents/port';
import type { Fleet } from '../../core/fleet/fleet';
import { isActive } from '../../core/fleet/instance';
import type { GroveParts } from '../../core/grove';
import type { AgentEvent, InstanceSnapshot, PermissionRequest } from '../../core/model';
import { Disposable } from '../../core/util/disposable';
import { TerminalAgents } from './terminalAgents';

/**
 * The fleet's AgentPort in VS Code: background instances through core's BackgroundAgents (permission requests asked
 * with a notification), terminal instances in managed terminals. Nothing starts in an untrusted workspace.
 */
export class AgentRunners extends Disposable implements AgentPort {
  readonly background: BackgroundAgents;
  readonly terminals: TerminalAgents;

  constructor(
    context: vscode.ExtensionContext,
    private readonly parts: GroveParts,
  ) {
    super();
    this.terminals = this._register(new TerminalAgents(context, parts.logger));
    this.background = this._register(new BackgroundAgents({
      locks: parts.worktrees,
      settings: (instance) => {
        const s = parts.settings(instance.repoRoot);
        return { env: parts.agentEnv(instance), claudePath: s.claudePath, maxBudgetUsd: s.maxBudgetUsd, maxTurns: s.maxTurns };
      },
      logPath: (instance) => parts.logPath(instance),
      logger: parts.logger,
    }));
    this._register(this.background.onDidRequestPermission(({ instance, runner, request }) => void this.askPermission(instance, runner, request)));
  }

  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle {
    if (!vscode.workspace.isTrusted) throw new Error('Grove starts no agents in an untrusted workspace. Trust the workspace first.');
    if (instance.mode !== 'terminal') return this.background.start(instance, onEvent, options);
    const s = this.parts.settings(instance.repoRoot);
    const unlock = lockWhileRunning(this.parts.worktrees, instance, this.parts.logger);
    return this.terminals.start(instance, (e) => {
      if (e.type === 'exit') unlock();
      onEvent(e);
    }, options, { env: this.parts.agentEnv(instance), claudePath: s.claudePath, profiles: s.agents });
  }

  /**
   * After a window reload: terminal agents whose terminal survived are driven by this window again (their worktree
   * stays locked until they end). Those whose process is gone were recorded interrupted by the fleet.
   */
  async reattachTerminals(fleet: Fleet): Promise<number> {
    let attached = 0;
    for (const inst of fleet.instances()) {
      if (inst.mode !== 'terminal' || !isActive(inst.state) || fleet.isDriving(inst.id)) continue;
      const terminal = await this.terminals.findTerminal(inst);
      if (!terminal) continue;
      // The worktree's lock names the window that started the agent; it names this one from now on.
      await this.parts.worktrees.unlock(inst.worktreePath).catch(() => undefined);
      await this.parts.worktrees.lock(inst.worktreePath, `agent "${inst.title.slice(0, 60)}" is running`).catch((err: Error) => this.parts.logger.warn(`lock ${inst.worktreePath}: ${err.message}`));
      fleet.attach(inst.id, (onEvent) => this.terminals.reattach(inst, terminal, (e) => {
        if (e.type === 'exit') void this.parts.worktrees.unlock(inst.worktreePath).catch((err: Error) => this.parts.logger.warn(`unlock ${inst.worktreePath}: ${err.message}`));
        onEvent(e);
      }));
      attached++;
    }
    return attached;
  }

  runner(instanceId: string): BackgroundRunner | undefined {
    return this.background.runner(instanceId);
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
      this.parts.logger.warn(`permission ${requestId}: ${(err as Error).message}`);
    }
  }
}
