/**
 * The background half of the fleet's AgentPort, shared by the VS Code extension and the `grove` CLI: one
 * {@link BackgroundRunner} per instance turn, the worktree locked while it runs, the raw stream logged next to the
 * registry. Permission requests are surfaced as an event; the host decides how to ask (a notification, a TTY, a
 * default answer).
 */
import { RESUME_PROMPT, type AgentHandle, type AgentPort, type AgentStartOptions } from './port';
import type { AgentEvent, InstanceSnapshot, PermissionRequest } from '../model';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { BackgroundRunner } from './backgroundRunner';

export interface AgentLaunchSettings {
  /** Complete environment of the CLI (secrets included; never logged). */
  env: Record<string, string | undefined>;
  claudePath?: string;
  maxBudgetUsd?: number;
  maxTurns?: number;
}

export interface WorktreeLocks {
  lock(worktreePath: string, reason: string): Promise<void>;
  unlock(worktreePath: string): Promise<void>;
}

export interface BackgroundAgentsOptions {
  locks: WorktreeLocks;
  settings(instance: InstanceSnapshot): AgentLaunchSettings;
  logPath(instance: InstanceSnapshot): string;
  logger?: Logger;
}

export interface PermissionAsk {
  instance: InstanceSnapshot;
  runner: BackgroundRunner;
  request: PermissionRequest;
}

export class BackgroundAgents extends Disposable implements AgentPort {
  private readonly _onDidRequestPermission = this._register(new Emitter<PermissionAsk>());
  readonly onDidRequestPermission = this._onDidRequestPermission.event;
  private readonly runners = new Map<string, BackgroundRunner>();
  private readonly logger: Logger;

  constructor(private readonly options: BackgroundAgentsOptions) {
    super();
    this.logger = options.logger ?? nullLogger;
    this._register({ dispose: () => { for (const r of this.runners.values()) r.dispose(); this.runners.clear(); } });
  }

  /** The runner of an instance while this process drives it. */
  runner(instanceId: string): BackgroundRunner | undefined {
    return this.runners.get(instanceId);
  }

  start(instance: InstanceSnapshot, onEvent: (event: AgentEvent) => void, options: AgentStartOptions): AgentHandle {
    const unlock = lockWhileRunning(this.options.locks, instance, this.logger);
    let restarted = false;
    const forward = (e: AgentEvent) => {
      if (e.type === 'exit') unlock();
      onEvent(e);
    };
    let runner = this.launch(instance, options, (e) => {
      // A session killed before its first reply was never saved, so it cannot be resumed: start the task afresh
      // (new session, original prompt) rather than fail the resume.
      if (options.resume && e.type === 'result' && e.isError && NO_CONVERSATION.test(e.text)) {
        this.logger.info(`"${instance.title}": session ${instance.sessionId} was never saved; starting the task again`);
        restarted = true;
        return;
      }
      if (restarted && e.type === 'exit') {
        // The model never saw the task: send it, followed by what was asked now (unless that was a plain resume).
        const prompt = options.prompt === RESUME_PROMPT || options.prompt === instance.prompt ? instance.prompt : `${instance.prompt}\n\n${options.prompt}`;
        runner = this.launch({ ...instance, sessionId: undefined }, { prompt, resume: false }, forward);
        return;
      }
      forward(e);
    });
    return {
      stop: () => runner.stop(),
      // One process per turn: a follow-up during a turn waits for the next one (the fleet keeps it).
      acceptsInput: false,
      followUp: () => {
        throw new Error(`"${instance.title}" takes no input during a background turn`);
      },
    };
  }

  private launch(instance: InstanceSnapshot, options: AgentStartOptions, onEvent: (event: AgentEvent) => void): BackgroundRunner {
    const settings = this.options.settings(instance);
    const runner = new BackgroundRunner({
      cwd: instance.worktreePath,
      env: settings.env,
      logPath: this.options.logPath(instance),
      claudePath: settings.claudePath,
      permissionMode: instance.permissionMode,
      model: instance.model,
      maxBudgetUsd: options.maxBudgetUsd !== undefined ? Math.min(options.maxBudgetUsd, settings.maxBudgetUsd ?? Infinity) : settings.maxBudgetUsd,
      maxTurns: settings.maxTurns,
      sessionId: instance.sessionId,
      resume: options.resume && !!instance.sessionId,
      logger: this.logger,
    });
    this.runners.get(instance.id)?.dispose();
    this.runners.set(instance.id, runner);
    runner.onDidEvent((e) => {
      if (e.type === 'permissionRequest') this._onDidRequestPermission.fire({ instance, runner, request: e.request });
      onEvent(e);
    });
    runner.start(options.prompt).catch((err: Error) => {
      onEvent({ type: 'result', isError: true, subtype: 'error_start', text: err.message });
      onEvent({ type: 'exit', code: null, signal: null, stoppedByUser: false });
    });
    return runner;
  }
}

/** What the CLI says when asked to resume a session it never saved. */
const NO_CONVERSATION = /No conversation found with session ID/i;

/** Locks the instance's worktree (`git worktree lock`) and returns the unlock, callable more than once. */
export function lockWhileRunning(locks: WorktreeLocks, instance: InstanceSnapshot, logger: Logger): () => void {
  const reason = `agent "${instance.title.slice(0, 60)}" is running`;
  const locked = locks.lock(instance.worktreePath, reason).then(() => true, (e: Error) => {
    logger.warn(`lock ${instance.worktreePath}: ${e.message}`);
    return false;
  });
  let done = false;
  return () => {
    if (done) return;
    done = true;
    void locked.then(async (ok) => {
      if (ok) await locks.unlock(instance.worktreePath).catch((e: Error) => logger.warn(`unlock ${instance.worktreePath}: ${e.message}`));
    });
  };
}
