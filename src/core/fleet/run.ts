/**
 * One instance's life in this process (VS Code's pty host keeps one object per running thing, too): its place in
 * the queue, its `after:` dependency, provisioning, the live agent and the follow-ups kept for its next turn. The
 * dispatcher decides when a run starts; the run does the starting and folds its agent's events into the instance.
 */
import { RESUME_PROMPT, type AgentHandle, type AgentStartOptions } from '../agents/port';
import type { AgentEvent, DriverIdentity } from '../model';
import type { ProcessProbe } from '../platform/processes';
import { Disposable } from '../util/disposable';
import type { Logger } from '../util/logger';
import { GroveError } from '../errors';
import { isActive, isFinished, type Instance, type InstancePatch } from './instance';
import type { DispatcherPorts, ProvisionedWorktree } from './ports';

/** What a run needs from the dispatcher that owns it. */
export interface RunContext {
  self: DriverIdentity;
  ports: DispatcherPorts;
  probe: ProcessProbe;
  logger: Logger;
  /** Lets the dispatcher start what waits for the slot this run just freed. */
  pump(): void;
  /** How long a rate-limited agent without a reset time waits before its n-th attempt. */
  backoffMs(attempt: number): number;
  now(): number;
}

export type FollowUpOutcome = 'sent' | 'queued' | 'started';

export class Run extends Disposable {
  queued = false;
  /** Instance id of the `after:` dependency, resolved at dispatch. */
  dependsOn?: string;
  provisioning?: { controller: AbortController; done: Promise<void> };
  agent?: { handle?: AgentHandle; exited: boolean };
  /** While `paused`: the timer that resumes the session when the limit resets. */
  private pauseTimer?: NodeJS.Timeout;
  /** The checkpoint of the turn that just ended, while it is being recorded: the next turn starts only after it. */
  private checkpointing?: Promise<void>;

  constructor(
    readonly instance: Instance,
    /** False once the dispatcher dropped this run (events of a removed instance are ignored). */
    private readonly current: (run: Run) => boolean,
  ) {
    super();
    this._register(instance);
    this._register({ dispose: () => clearTimeout(this.pauseTimer) });
  }

  /** Releases `d` with this run. */
  hold<T extends { dispose(): unknown }>(d: T): T {
    return this._register(d);
  }

  get driving(): boolean {
    return this.queued || !!this.provisioning || (!!this.agent && !this.agent.exited) || !!this.pauseTimer;
  }

  /**
   * Stops what this process does for the instance: a queued one is not started, a provisioning one is rolled back, a
   * paused one stays stopped, a live agent is ended. False when this process does nothing for it.
   */
  async stop(ctx: RunContext): Promise<boolean> {
    const inst = this.instance;
    if (inst.state === 'queued') {
      this.queued = false;
      inst.transition('stopped');
      return true;
    }
    if (this.provisioning) {
      this.provisioning.controller.abort();
      await this.provisioning.done;
      return true;
    }
    const agent = this.agent;
    if (inst.state === 'paused' && this.pauseTimer) {
      this.cancelPause();
      // A terminal session stays open while paused: Stop ends it too.
      if (agent?.handle && !agent.exited) await agent.handle.stop();
      if (this.agent === agent) this.agent = undefined;
      if (inst.state === 'paused') inst.transition('stopped');
      return true;
    }
    if (agent && !agent.handle && !agent.exited && inst.state === 'starting') {
      // Waiting for the last turn's checkpoint: it never starts.
      this.agent = undefined;
      inst.transition('stopped');
      ctx.pump();
      return true;
    }
    if (agent?.handle && !agent.exited) {
      await agent.handle.stop();
      // The runner should have reported `exit`; make sure the instance does not stay active if it did not.
      if (this.agent === agent) this.agent = undefined;
      if (isActive(inst.state)) inst.transition('stopped');
      ctx.pump();
      return true;
    }
    return false;
  }

  /**
   * Sends `prompt` to the live agent when it takes input now, into `pendingPrompts` when a turn is under way (sent
   * when it ends), otherwise by starting the agent again in the same session.
   */
  followUp(ctx: RunContext, prompt: string): FollowUpOutcome {
    const inst = this.instance;
    const agent = this.agent;
    if (agent?.handle && !agent.exited) {
      if (agent.handle.acceptsInput && (inst.state === 'running' || inst.state === 'waiting')) {
        agent.handle.followUp(prompt);
        return 'sent';
      }
      inst.update({ pendingPrompts: [...(inst.snapshot.pendingPrompts ?? []), prompt] });
      return 'queued';
    }
    if (this.queued || this.provisioning || inst.state === 'starting' || (inst.state === 'paused' && this.pauseTimer)) {
      inst.update({ pendingPrompts: [...(inst.snapshot.pendingPrompts ?? []), prompt] });
      return 'queued';
    }
    if (!isFinished(inst.state) && inst.state !== 'waiting') {
      throw new GroveError('Busy', `"${inst.title}" is ${inst.state} in another Grove process.`);
    }
    if (!inst.snapshot.worktreePath) throw new GroveError('NotFound', `"${inst.title}" has no worktree to follow up in.`);
    this.startAgent(ctx, { prompt: this.withPending(prompt), resume: inst.snapshot.sessionId !== undefined });
    return 'started';
  }

  /** Resume: a paused agent now; a finished one in its session; 'requeue' when it never got a worktree. */
  resume(ctx: RunContext): 'started' | 'requeue' {
    const inst = this.instance;
    if (inst.state === 'paused') {
      this.resumeNow(ctx);
      return 'started';
    }
    if (!isFinished(inst.state) || inst.state === 'done') throw new GroveError('Busy', `"${inst.title}" cannot be resumed: it is ${inst.state}.`);
    const s = inst.snapshot;
    if (!s.worktreePath) {
      if (inst.state !== 'interrupted') throw new GroveError('NotFound', `"${inst.title}" never got a worktree; dispatch it again.`);
      inst.transition('queued', { driver: ctx.self, error: undefined });
      return 'requeue';
    }
    const resume = s.sessionId !== undefined;
    const pending = s.pendingPrompts?.length ? this.withPending(undefined) : undefined;
    this.startAgent(ctx, { prompt: pending ?? (resume ? RESUME_PROMPT : s.prompt), resume });
    return 'started';
  }

  /**
   * Carries the task on in a new session in the same worktree (after its context was exhausted): `prompt` is the new
   * session's first prompt. @throws GroveError unless the instance is finished and has a worktree.
   */
  continueFresh(ctx: RunContext, prompt: string): void {
    const inst = this.instance;
    if (!isFinished(inst.state) || !inst.snapshot.worktreePath) throw new GroveError('Busy', `"${inst.title}" cannot continue in a fresh session: it is ${inst.state}.`);
    // One change: nobody sees the failed instance with its new count before it starts.
    this.startAgent(ctx, { prompt, resume: false }, { sessionId: undefined, continuations: (inst.snapshot.continuations ?? 0) + 1, context: undefined });
  }

  /** A paused agent continues its session now (Resume Now, or its limit reset). */
  resumeNow(ctx: RunContext): void {
    this.cancelPause();
    const s = this.instance.snapshot;
    const pending = s.pendingPrompts?.length ? this.withPending(undefined) : undefined;
    const agent = this.agent;
    if (agent?.handle && !agent.exited && agent.handle.acceptsInput) {
      // A terminal session the limit paused is still open at its prompt: the next turn is typed into it.
      agent.handle.followUp(pending ?? RESUME_PROMPT);
      this.instance.transition('running');
      return;
    }
    this.startAgent(ctx, { prompt: pending ?? RESUME_PROMPT, resume: s.sessionId !== undefined });
  }

  cancelPause(): void {
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
  }

  /** After a limit paused the agent: resume at its reset time, or after the backoff when none was given. */
  private schedulePause(ctx: RunContext): void {
    const s = this.instance.snapshot;
    const until = s.pausedUntil ?? ctx.now() + ctx.backoffMs(s.pauseAttempts ?? 1);
    if (s.pausedUntil === undefined) this.instance.update({ pausedUntil: until });
    this.cancelPause();
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      if (this.instance.state === 'paused' && this.current(this)) this.resumeNow(ctx);
    }, Math.max(0, until - ctx.now()));
  }

  /** `prompt` preceded by the follow-ups kept for this turn (which are then cleared). */
  withPending(prompt: string | undefined): string {
    const pending = this.instance.snapshot.pendingPrompts ?? [];
    if (!pending.length) return prompt ?? '';
    this.instance.update({ pendingPrompts: undefined });
    return [prompt, ...pending].filter((p): p is string => !!p?.trim()).join('\n\n');
  }

  /** Creates the worktree (cancellable through `provisioning.controller`), records it, starts the agent. */
  async provision(ctx: RunContext, baseFromDependency: string | undefined, maxBudgetUsd?: number): Promise<void> {
    const inst = this.instance;
    const controller = new AbortController();
    let settle!: () => void;
    this.provisioning = { controller, done: new Promise<void>((r) => (settle = r)) };
    try {
      inst.transition('provisioning', { error: undefined, driver: ctx.self, ...(baseFromDependency ? { baseRef: baseFromDependency } : {}) });
      const s = inst.snapshot;
      let wt: ProvisionedWorktree;
      try {
        wt = await ctx.ports.worktrees.create({ repoRoot: s.repoRoot, instanceId: s.id, title: s.title, baseRef: s.baseRef || undefined, signal: controller.signal });
      } catch (err) {
        if (controller.signal.aborted) inst.transition('stopped', { error: 'cancelled during provisioning; the worktree was rolled back' });
        else inst.transition('failed', { error: `could not create the worktree: ${(err as Error).message}` });
        return;
      }
      inst.update({
        worktreePath: wt.path, branch: wt.branch, baseRef: wt.baseRef, baseCommit: wt.baseCommit,
        ...(wt.port !== undefined ? { port: wt.port } : {}), ...(wt.copiedFiles?.length ? { copiedFiles: wt.copiedFiles } : {}),
      });
      if (wt.setupFailed) {
        inst.transition('failed', { error: wt.setupFailed });
        return;
      }
      if (ctx.ports.checkpoints) await this.checkpoint(ctx, (c) => c.beforeFirstTurn(inst.snapshot));
      if (controller.signal.aborted) {
        // The port finished before it saw the abort: keep the worktree recorded so nothing is left untracked.
        inst.transition('stopped', { error: 'cancelled during provisioning; the worktree was created and kept' });
        return;
      }
      this.provisioning = undefined;
      this.startAgent(ctx, { prompt: this.withPending(s.prompt), resume: false, ...(maxBudgetUsd !== undefined ? { maxBudgetUsd } : {}) });
    } catch (err) {
      ctx.logger.error(`dispatch of "${inst.title}" failed: ${(err as Error).message}`);
    } finally {
      this.provisioning = undefined;
      settle();
    }
  }

  startAgent(ctx: RunContext, options: AgentStartOptions, patch: InstancePatch = {}): void {
    const inst = this.instance;
    // The run holds its agent before the state change is seen, so nobody takes the instance for idle meanwhile.
    const agent = { exited: false } as NonNullable<Run['agent']>;
    this.agent = agent;
    inst.transition('starting', { ...patch, driver: ctx.self });
    const start = () => {
      if (this.agent !== agent || !this.current(this)) return; // stopped or removed while the checkpoint was written
      try {
        agent.handle = ctx.ports.agents.start(inst.snapshot, (e) => this.onAgentEvent(ctx, agent, e), options);
      } catch (err) {
        if (this.agent === agent) this.agent = undefined;
        inst.transition('failed', { error: `the agent did not start: ${(err as Error).message}` });
      }
    };
    // A follow-up right after a turn ended: that turn's checkpoint must hold the worktree as the turn left it.
    const cp = this.checkpointing;
    if (cp) void cp.then(start);
    else start();
  }

  /** Drives a live agent started by an earlier process (a terminal that survived a window reload). */
  connect(ctx: RunContext, connect: (onEvent: (event: AgentEvent) => void) => AgentHandle): void {
    const agent = { exited: false } as NonNullable<Run['agent']>;
    this.agent = agent;
    this.instance.update({ driver: ctx.self });
    agent.handle = connect((e) => this.onAgentEvent(ctx, agent, e));
  }

  private onAgentEvent(ctx: RunContext, agent: NonNullable<Run['agent']>, event: AgentEvent): void {
    const inst = this.instance;
    if (this.agent !== agent || !this.current(this)) {
      ctx.logger.trace(`ignoring ${event.type} from a previous run of "${inst.title}"`);
      return;
    }
    if (event.type === 'started' && event.pid !== undefined && event.agent === undefined) {
      const startTime = ctx.probe.startTime(event.pid);
      event = { ...event, agent: { pid: event.pid, host: ctx.probe.host, ...(startTime !== undefined ? { startTime } : {}) } };
    }
    const before = inst.state;
    try {
      inst.applyEvent(event);
    } catch (err) {
      ctx.logger.error(`"${inst.title}": ${(err as Error).message}`);
    }
    if (event.type === 'result' && ctx.ports.checkpoints) {
      const cp = this.checkpoint(ctx, (c) => c.turnEnded(inst.snapshot));
      this.checkpointing = cp;
      void cp.finally(() => {
        if (this.checkpointing === cp) this.checkpointing = undefined;
      });
    }
    if (event.type !== 'exit') {
      // A live session (a terminal) was paused by a limit: wait for the reset with the session open; someone typing
      // into it meanwhile ends the pause.
      if (inst.state === 'paused' && before !== 'paused') {
        this.schedulePause(ctx);
        ctx.pump();
      } else if (before === 'paused' && inst.state !== 'paused') {
        this.cancelPause();
      }
      return;
    }
    agent.exited = true;
    this.agent = undefined;
    if (inst.state === 'paused') {
      this.schedulePause(ctx);
      ctx.pump();
      return;
    }
    // Follow-ups that arrived during the turn: the next turn, unless the person stopped it.
    const s = inst.snapshot;
    if (s.pendingPrompts?.length && (s.state === 'done' || s.state === 'failed') && s.worktreePath) {
      // After the turn's checkpoint: the next turn's changes must not be in it.
      const next = () => {
        const now = inst.snapshot;
        if (this.agent || !this.current(this) || !now.pendingPrompts?.length || !(now.state === 'done' || now.state === 'failed')) return;
        this.startAgent(ctx, { prompt: this.withPending(undefined), resume: now.sessionId !== undefined });
      };
      const cp = this.checkpointing;
      if (cp) void cp.then(next);
      else next();
      return;
    }
    ctx.pump();
  }

  /** Runs a checkpoint step of the port, if any; a failure is logged, never the turn's. */
  private async checkpoint(ctx: RunContext, step: (c: NonNullable<RunContext['ports']['checkpoints']>) => Promise<void>): Promise<void> {
    const port = ctx.ports.checkpoints;
    if (!port) return;
    try {
      await step(port);
    } catch (err) {
      ctx.logger.warn(`checkpoint of "${this.instance.title}" failed: ${(err as Error).message}`);
    }
  }
}
