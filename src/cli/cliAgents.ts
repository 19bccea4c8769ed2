/**
 * The CLI's AgentPort: core's BackgroundAgents (the same runner the extension uses), permission requests
 * answered by a fixed policy (`--on-permission`; there is no UI to ask), and stop requests from other processes
 * honoured (see foreignStop.ts). Terminal mode needs VS Code and is refused.
 */
import { BackgroundAgents } from '../core/agents/backgroundAgents';
import { describeToolUse } from '../core/agents/claudeStream';
import type { AgentHandle, AgentPort, AgentStartOptions } from '../core/fleet/dispatcher';
import type { WorktreeManager } from '../core/git/worktreeManager';
import type { AgentEvent, InstanceSnapshot } from '../core/model';
import { instanceLogPath } from '../core/paths';
import { Disposable } from '../core/util/disposable';
import { Emitter } from '../core/util/event';
import type { Logger } from '../core/util/logger';
import { consumeStopRequest } from './foreignStop';
import type { CliSettings } from './settings';

export const TERMINAL_REFUSAL = 'terminal mode runs Claude Code in a VS Code terminal and is not available from the command line; use --mode background (the default), or dispatch from VS Code';

export interface PermissionAnswered {
  instance: InstanceSnapshot;
  summary: string;
  decision: 'allow' | 'deny';
}

export class CliAgents extends Disposable implements AgentPort {
  private readonly _onDidAnswerPermission = this._register(new Emitter<PermissionAnswered>());
  readonly onDidAnswerPermission = this._onDidAnswerPermission.event;
  readonly background: BackgroundAgents;
  /** When this process began driving the current run of an instance (stop requests before it are stale). */
  private readonly since = new Map<string, number>();

  constructor(
    worktrees: WorktreeManager,
    private readonly commonDir: string,
    private readonly settings: CliSettings,
    logger: Logger,
  ) {
    super();
    // Worktree locks are taken while an agent runs and released asynchronously after its exit: counted, so
    // that a short-lived CLI can wait for the release before exiting (else the worktree would stay locked).
    const locks = {
      lock: async (p: string, reason: string) => {
        await worktrees.lock(p, reason);
        this.held++;
      },
      unlock: (p: string) => worktrees.unlock(p).finally(() => {
        this.held--;
        if (this.held <= 0) for (const w of this.unlockWaiters.splice(0)) w();
      }),
    };
    this.background = this._register(new BackgroundAgents({
      locks,
      settings: () => ({ env: { ...process.env }, claudePath: settings.claudePath, maxBudgetUsd: settings.maxBudgetUsd, maxTurns: settings.maxTurns }),
      logPath: (instance) => instanceLogPath(commonDir, instance.id),
      logger,
    }));
    this._register(this.background.onDidRequestPermission(({ instance, runner, request }) => {
      const decision = this.settings.onPermission;
      const summary = request.summary || describeToolUse(request.toolName, request.input, instance.worktreePath);
      try {
        runner.answerPermission(request.requestId, decision, decision === 'deny' ? 'Denied by grove --on-permission deny (no one can be asked).' : undefined);
      } catch (err) {
        logger.warn(`permission ${request.requestId}: ${(err as Error).message}`);
      }
      this._onDidAnswerPermission.fire({ instance, summary, decision });
    }));
  }

  private held = 0;
  private readonly unlockWaiters: (() => void)[] = [];

  /** Resolves once every worktree lock taken for an agent was released (or after `timeoutMs`). */
  whenUnlocked(timeoutMs = 5000): Promise<void> {
    if (this.held <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.unlockWaiters.push(() => (clearTimeout(t), resolve()));
    });
  }

  /** Call before a follow-up or resume this process drives. */
  noteRun(id: string): void {
    this.since.set(id, Date.now());
  }

  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle {
    if (instance.mode === 'terminal') throw new Error(TERMINAL_REFUSAL);
    const since = this.since.get(instance.id) ?? instance.createdAt;
    if (consumeStopRequest(this.commonDir, instance.id, since)) {
      onEvent({ type: 'exit', code: null, signal: null, stoppedByUser: true });
      return { stop: async () => undefined, followUp: () => undefined };
    }
    // The runner reports `result` just before `exit`; it is held so that an exit caused by another process's
    // stop becomes `stopped` rather than `failed`.
    let held: AgentEvent | undefined;
    return this.background.start(instance, (e) => {
      if (e.type === 'result') {
        held = e;
        return;
      }
      if (e.type === 'exit') {
        const stopped = consumeStopRequest(this.commonDir, instance.id, since);
        // Claude Code answers SIGINT with an error result (error_during_execution) and may still exit 0.
        const finishedWell = held?.type === 'result' && !held.isError && e.code === 0 && e.signal === null;
        if (stopped && !e.stoppedByUser && !finishedWell) {
          held = undefined;
          onEvent({ ...e, stoppedByUser: true });
          return;
        }
        if (held) onEvent(held);
        held = undefined;
      }
      onEvent(e);
    }, options);
  }
}
