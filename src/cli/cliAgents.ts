/**
 * The CLI's AgentPort: core's BackgroundAgents (the same runner the extension uses) with permission requests
 * answered by a fixed policy (`--on-permission`; there is no UI to ask).
 */
import { BackgroundAgents } from '../core/agents/backgroundAgents';
import { describeToolUse } from '../core/agents/claudeStream';
import type { AgentHandle, AgentPort, AgentStartOptions } from '../core/agents/port';
import type { GroveParts } from '../core/grove';
import type { AgentEvent, InstanceSnapshot } from '../core/model';
import { Disposable } from '../core/util/disposable';
import { Emitter } from '../core/util/event';

export interface PermissionAnswered {
  instance: InstanceSnapshot;
  summary: string;
  decision: 'allow' | 'deny';
}

export class CliAgents extends Disposable implements AgentPort {
  private readonly _onDidAnswerPermission = this._register(new Emitter<PermissionAnswered>());
  readonly onDidAnswerPermission = this._onDidAnswerPermission.event;
  readonly background: BackgroundAgents;
  private held = 0;
  private readonly unlockWaiters: (() => void)[] = [];

  constructor(parts: GroveParts, onPermission: () => 'allow' | 'deny') {
    super();
    // Worktree locks are taken while an agent runs and released asynchronously after its exit: counted, so that a
    // short-lived CLI can wait for the release before exiting (else the worktree would stay locked).
    const locks = {
      lock: async (p: string, reason: string) => {
        await parts.worktrees.lock(p, reason);
        this.held++;
      },
      unlock: (p: string) => parts.worktrees.unlock(p).finally(() => {
        this.held--;
        if (this.held <= 0) for (const w of this.unlockWaiters.splice(0)) w();
      }),
    };
    this.background = this._register(new BackgroundAgents({
      locks,
      settings: (instance) => {
        const s = parts.settings(instance.repoRoot);
        return { env: parts.agentEnv(instance), claudePath: s.claudePath, maxBudgetUsd: s.maxBudgetUsd, maxTurns: s.maxTurns };
      },
      logPath: (instance) => parts.logPath(instance),
      logger: parts.logger,
    }));
    this._register(this.background.onDidRequestPermission(({ instance, runner, request }) => {
      const decision = onPermission();
      const summary = request.summary || describeToolUse(request.toolName, request.input, instance.worktreePath);
      try {
        runner.answerPermission(request.requestId, decision, decision === 'deny' ? 'Denied by grove --on-permission deny (no one can be asked).' : undefined);
      } catch (err) {
        parts.logger.warn(`permission ${request.requestId}: ${(err as Error).message}`);
      }
      this._onDidAnswerPermission.fire({ instance, summary, decision });
    }));
  }

  /** Resolves once every worktree lock taken for an agent was released (or after `timeoutMs`). */
  whenUnlocked(timeoutMs = 5000): Promise<void> {
    if (this.held <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.unlockWaiters.push(() => (clearTimeout(t), resolve()));
    });
  }

  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle {
    if (instance.mode === 'terminal') throw new Error('terminal mode needs VS Code; the command line runs background agents only');
    return this.background.start(instance, onEvent, options);
  }
}
