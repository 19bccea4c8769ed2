// Fakes of the dispatcher's ports. They implement the real interfaces, record what happened with timestamps and
// throw on anything a test did not set them up for.
import type { AgentHandle, AgentPort, AgentStartOptions } from '../../../src/core/agents/port';
import type { ProvisionedWorktree, WorktreePort, WorktreeRequest } from '../../../src/core/fleet/ports';
import type { AgentEvent, DriverIdentity, InstanceSnapshot } from '../../../src/core/model';
import { currentProcess } from '../../../src/core/platform/processes';

/** This test process as a driver. */
export const testSelf: DriverIdentity = { ...currentProcess(), kind: 'test' };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FakeWorktrees implements WorktreePort {
  readonly requests: WorktreeRequest[] = [];
  readonly rolledBack: string[] = [];
  readonly created: ProvisionedWorktree[] = [];
  /** Titles whose create never finishes on its own (only an abort ends it). */
  readonly hang = new Set<string>();
  readonly failing = new Map<string, string>();

  constructor(
    private readonly expectedTitles: readonly string[],
    private readonly delayMs = 5,
  ) {}

  create(req: WorktreeRequest): Promise<ProvisionedWorktree> {
    if (!this.expectedTitles.includes(req.title)) throw new Error(`FakeWorktrees: unexpected create for "${req.title}"`);
    if (this.requests.some((r) => r.title === req.title)) throw new Error(`FakeWorktrees: second create for "${req.title}"`);
    this.requests.push(req);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        this.rolledBack.push(req.title);
        reject(new Error('aborted'));
      };
      const timer = this.hang.has(req.title)
        ? undefined
        : setTimeout(() => {
            req.signal.removeEventListener('abort', onAbort);
            const failure = this.failing.get(req.title);
            if (failure) return reject(new Error(failure));
            const wt = {
              path: `/wt/${req.title}`,
              branch: `grove/${req.title.toLowerCase().replace(/\W+/g, '-')}`,
              baseRef: req.baseRef ?? 'main',
              baseCommit: 'c0ffee',
            };
            this.created.push(wt);
            resolve(wt);
          }, this.delayMs);
      req.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export interface AgentRecord {
  id: string;
  title: string;
  baseRef: string;
  options: AgentStartOptions;
  startedAt: number;
  endedAt?: number;
}

/** Each start runs a scripted life: started → activity → (after runMs) result + exit, unless told otherwise. */
export class FakeAgents implements AgentPort {
  readonly runs: AgentRecord[] = [];
  readonly followUps: { id: string; prompt: string }[] = [];
  readonly failTitles = new Set<string>();
  /** Titles that wait for the user instead of finishing. */
  readonly waitTitles = new Set<string>();
  /**
   * Titles whose live agent takes typed input (like a terminal session). Every other one behaves like the real
   * background runner: one process per turn, no input while it runs (the fleet must keep follow-ups for later).
   */
  readonly interactiveTitles = new Set<string>();
  /**
   * What an agent does in its worktree during a turn, by title: called with the instance and the turn's prompt just
   * before the turn ends (it may write files, commit, resolve conflicts). A throw fails the turn.
   */
  readonly work = new Map<string, (instance: InstanceSnapshot, prompt: string) => void>();

  constructor(private readonly runMs = 30) {}

  start(instance: InstanceSnapshot, onEvent: (e: AgentEvent) => void, options: AgentStartOptions): AgentHandle {
    if (!instance.worktreePath) throw new Error(`FakeAgents: start without a worktree for "${instance.title}"`);
    if (instance.state !== 'starting') throw new Error(`FakeAgents: start while ${instance.state}`);
    const rec: AgentRecord = { id: instance.id, title: instance.title, baseRef: instance.baseRef, options, startedAt: Date.now() };
    this.runs.push(rec);
    let ended = false;
    const end = (ev: AgentEvent[]) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      rec.endedAt = Date.now();
      for (const e of ev) onEvent(e);
    };
    setImmediate(() => {
      if (ended) return;
      onEvent({ type: 'started', sessionId: instance.sessionId ?? `session-${instance.id}`, pid: 4242 });
      onEvent({ type: 'activity', text: `Edit ${instance.title}.ts`, toolName: 'Edit' });
      if (this.waitTitles.has(instance.title)) onEvent({ type: 'waiting', reason: 'user' });
    });
    const timer = this.waitTitles.has(instance.title)
      ? undefined
      : setTimeout(() => {
          let fail = this.failTitles.has(instance.title);
          try {
            this.work.get(instance.title)?.(instance, options.prompt ?? '');
          } catch {
            fail = true;
          }
          end([
            { type: 'result', isError: fail, subtype: 'success', text: fail ? 'API error' : 'ok', costUsd: 0.5, turns: 2 },
            { type: 'exit', code: fail ? 1 : 0, signal: null, stoppedByUser: false },
          ]);
        }, this.runMs);
    const interactive = this.interactiveTitles.has(instance.title);
    return {
      stop: async () => end([{ type: 'exit', code: null, signal: 'SIGTERM', stoppedByUser: true }]),
      acceptsInput: interactive,
      followUp: (prompt) => {
        if (!interactive) throw new Error(`FakeAgents: "${instance.title}" takes no input during a turn (a background runner)`);
        if (ended) throw new Error('FakeAgents: followUp after exit');
        this.followUps.push({ id: instance.id, prompt });
      },
    };
  }
}
