/**
 * Runs one Claude Code instance in the background: `claude -p --input-format stream-json --output-format stream-json
 * --verbose --permission-prompt-tool stdio …` in the worktree, one process per turn.
 *
 * Follow-ups — measured (test/unit/agents/backgroundRunner.test.ts "follow-up", and a probe with the pinned CLI
 * 2.1.332 against the scripted model on a 2-core machine):
 *   - one long-lived stream-json process: follow-up turn ≈ 40–60 ms to `result`, but each idle process holds
 *     ≈ 197 MB RSS while it waits for the user;
 *   - a new process per turn with `--resume <id>`: ≈ 440–470 ms to `result` (≈ 550 ms spawn to exit).
 * The ≈ 0.4 s of extra latency is invisible next to a real model turn (seconds to minutes), whereas 20 finished
 * instances waiting for follow-ups would pin ≈ 4 GB in idle CLIs. A per-turn process also survives a window reload
 * (there is no process to re-attach to, only a session id) and makes "finished" mean "no process". So: per-turn
 * `--resume`. Input is still stream-json, because the stdio permission protocol needs stdin open during a turn
 * (with the prompt as an argument the CLI closes its control channel and every permission request fails with
 * "Stream closed"); it also keeps the task text out of the process list. Stdin is closed after `result`, which
 * makes the CLI exit; one that lingers is ended after `lingerMs`.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentEvent } from '../model';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { AgentProcess, describeCommand, resolveClaudeExecutable, type ProcessExit, type ResolvedCommand, type StopTimeouts } from './agentProcess';
import { ClaudeStreamParser, parseCanUseTool, type CanUseToolRequest, type StreamMessage } from './claudeStream';

export type PermissionDecision = 'allow' | 'allowAlways' | 'deny';

export interface BackgroundRunnerOptions {
  /** The worktree. */
  cwd: string;
  /** The CLI's complete environment (API keys included; they are never logged). */
  env: Record<string, string | undefined>;
  /** Raw stream-json of every turn is appended here (plus `grove_*` lines for prompts, stderr and exits). */
  logPath: string;
  /** `grove.claudePath`; empty → `claude` on PATH. Ignored when `executable` is given. */
  claudePath?: string;
  /** An already resolved executable (tests, profiles). */
  executable?: ResolvedCommand;
  permissionMode?: string;
  model?: string;
  maxBudgetUsd?: number;
  maxTurns?: number;
  appendSystemPrompt?: string;
  /** Session id: chosen up front for the first run (`--session-id`), or an existing one to resume. */
  sessionId?: string;
  /** True when `sessionId` is an existing session (first turn uses `--resume`). */
  resume?: boolean;
  /** Extra CLI arguments, appended as is. */
  extraArgs?: string[];
  logger?: Logger;
  stopTimeouts?: StopTimeouts;
  /** How long the CLI may stay alive after its `result` before it is ended (default 3000 ms). */
  lingerMs?: number;
}

/**
 * Opens a log for appending, readable by the user only (0600; its folder 0700 when created here): it holds prompts,
 * tool output and file contents. A log that already existed (setup output written first) is narrowed to 0600 too.
 */
export function openPrivateLog(file: string): fs.WriteStream {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    if (process.platform !== 'win32') fs.fchmodSync(fd, 0o600);
  } catch {
    /* not ours to change: still written */
  }
  return fs.createWriteStream(file, { fd });
}

/** Bytes of stderr kept to explain a failure without a `result`. */
const STDERR_TAIL = 4096;

/**
 * One background instance. Events: `started` (per turn), `session`, `activity`, `assistantText`,
 * `permissionRequest` then `waiting{permission}`, `running` after an answer, `usage`, `result` (once per turn,
 * after the process exited, `isError` combining `is_error` and the exit code), `exit`.
 */
export class BackgroundRunner extends Disposable {
  private readonly _onDidEvent = this._register(new Emitter<AgentEvent>());
  readonly onDidEvent = this._onDidEvent.event;

  private proc: AgentProcess | undefined;
  private _sessionId: string;
  private hasSession: boolean;
  private readonly logger: Logger;
  private readonly pending = new Map<string, CanUseToolRequest>();
  private log: fs.WriteStream | undefined;
  private userStopped = false;

  constructor(private readonly options: BackgroundRunnerOptions) {
    super();
    this.logger = options.logger ?? nullLogger;
    this._sessionId = options.sessionId ?? randomUUID();
    this.hasSession = options.resume === true;
  }

  get sessionId(): string {
    return this._sessionId;
  }
  get pid(): number | undefined {
    return this.proc?.hasExited ? undefined : this.proc?.pid;
  }
  /** True while a turn's process is alive. */
  get isRunning(): boolean {
    return !!this.proc && !this.proc.hasExited;
  }
  /** Permission requests not answered yet. */
  get pendingPermissions(): CanUseToolRequest[] {
    return [...this.pending.values()];
  }

  /** Starts the first turn. Resolves when the process is spawned; follow `onDidEvent` for progress. */
  start(prompt: string): Promise<ProcessExit> {
    return this.runTurn(prompt);
  }

  /** Sends another prompt in the same session (the previous turn must have ended). */
  followUp(prompt: string): Promise<ProcessExit> {
    if (this.isRunning) return Promise.reject(new Error('The agent is still working; wait for it to finish or stop it first.'));
    return this.runTurn(prompt);
  }

  /** Answers a `permissionRequest`. `allowAlways` also adds the CLI's suggested rule for this session. */
  answerPermission(requestId: string, decision: PermissionDecision, message?: string): void {
    const req = this.pending.get(requestId);
    if (!req) throw new Error(`No pending permission request ${requestId}`);
    this.pending.delete(requestId);
    const response =
      decision === 'deny'
        ? { behavior: 'deny', message: message ?? 'The user denied this action in Grove.' }
        : {
            behavior: 'allow',
            updatedInput: req.input,
            ...(decision === 'allowAlways' && req.permissionSuggestions ? { updatedPermissions: req.permissionSuggestions } : {}),
          };
    const line = { type: 'control_response', response: { subtype: 'success', request_id: requestId, response } };
    this.proc?.write(`${JSON.stringify(line)}\n`);
    this.appendLog({ type: 'grove_permission', request_id: requestId, tool: req.toolName, decision });
    if (this.pending.size === 0) this._onDidEvent.fire({ type: 'running' });
  }

  /** Ends the running turn's whole process group (interrupt → terminate → kill). */
  async stop(): Promise<void> {
    if (!this.proc || this.proc.hasExited) return;
    this.userStopped = true;
    await this.proc.stop();
  }

  override dispose(): void {
    this.proc?.dispose();
    this.closeLog();
    super.dispose();
  }

  private async runTurn(prompt: string): Promise<ProcessExit> {
    const exe = this.options.executable ?? resolveClaudeExecutable(this.options.claudePath, this.options.env);
    const args = [...exe.prefixArgs, ...this.buildArgs()];
    this.log ??= openPrivateLog(this.options.logPath);
    const commandLine = describeCommand(exe.command, args, this.options.env);
    this.logger.info(`> ${commandLine}`);
    this.appendLog({ type: 'grove_spawn', command: commandLine, cwd: this.options.cwd, ts: Date.now() });
    this.appendLog({ type: 'grove_prompt', text: prompt, ts: Date.now() });

    const parser = new ClaudeStreamParser({ cwd: this.options.cwd });
    const proc = this._register(
      new AgentProcess({ command: exe.command, args, cwd: this.options.cwd, env: this.options.env, logger: this.logger, stopTimeouts: this.options.stopTimeouts }),
    );
    this.proc = proc;
    this.userStopped = false;
    this.pending.clear();
    let result: Extract<AgentEvent, { type: 'result' }> | undefined;
    let stderrTail = '';
    let linger: NodeJS.Timeout | undefined;

    const handle = (chunk: ReturnType<ClaudeStreamParser['push']>) => {
      for (const msg of chunk.messages) {
        const req = parseCanUseTool(msg);
        if (req) this.pending.set(req.requestId, req);
        else if (msg.type === 'control_request') this.rejectControl(proc, msg);
      }
      for (const e of chunk.events) {
        if (e.type === 'session') {
          this._sessionId = e.sessionId;
          this.hasSession = true;
        }
        if (e.type === 'result') {
          // The CLI reports error_during_execution when interrupted: after a user's stop that is not a failure.
          if (this.userStopped) continue;
          // Held until exit so that the exit code can turn it into a failure.
          result = e;
          proc.endInput();
          linger = setTimeout(() => void proc.stop(), this.options.lingerMs ?? 3000);
          continue;
        }
        this._onDidEvent.fire(e);
        if (e.type === 'permissionRequest') this._onDidEvent.fire({ type: 'waiting', reason: 'permission' });
      }
    };
    proc.onDidOutput(({ stream, data }) => {
      if (stream === 'stdout') {
        this.log?.write(data);
        handle(parser.push(data));
      } else {
        const text = data.toString('utf8');
        stderrTail = (stderrTail + text).slice(-STDERR_TAIL);
        this.appendLog({ type: 'grove_stderr', text });
      }
    });
    this._onDidEvent.fire({ type: 'started', sessionId: this._sessionId, pid: proc.pid, model: this.options.model });
    this._onDidEvent.fire({ type: 'running' });
    proc.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt } })}\n`);

    const exit = await proc.exited;
    clearTimeout(linger);
    handle(parser.end());
    this.pending.clear();
    this.appendLog({ type: 'grove_exit', code: exit.code, signal: exit.signal, stopped: exit.stoppedByUser, ts: Date.now() });
    // The turn's log is complete on disk before anyone hears it ended (transcript views read it then).
    await this.flushLog();
    if (result) {
      // An API error reports subtype "success" with is_error true and exit code 1. A CLI we ended for lingering
      // after its result is not a failure.
      const failedExit = exit.code !== 0 && exit.code !== null && !exit.stoppedByUser;
      this._onDidEvent.fire({ ...result, isError: result.isError || failedExit });
    } else if (!exit.stoppedByUser) {
      const why = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      const detail = stderrTail.trim() ? `: ${stderrTail.trim().split('\n').slice(-5).join('\n')}` : '';
      this._onDidEvent.fire({ type: 'result', isError: true, subtype: 'error_exit', text: `Claude Code ${why} before finishing${detail}` });
    }
    this._onDidEvent.fire({ type: 'exit', code: exit.code, signal: exit.signal, stoppedByUser: exit.stoppedByUser });
    return exit;
  }

  private buildArgs(): string[] {
    const o = this.options;
    const args = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio'];
    args.push('--permission-mode', o.permissionMode ?? 'acceptEdits');
    if (o.model) args.push('--model', o.model);
    if (o.maxBudgetUsd !== undefined) args.push('--max-budget-usd', String(o.maxBudgetUsd));
    if (o.maxTurns !== undefined) args.push('--max-turns', String(o.maxTurns));
    if (o.appendSystemPrompt) args.push('--append-system-prompt', o.appendSystemPrompt);
    args.push(...(this.hasSession ? ['--resume', this._sessionId] : ['--session-id', this._sessionId]));
    args.push(...(o.extraArgs ?? []));
    return args;
  }

  /** Control requests Grove does not implement get an error answer, so the CLI never waits on them. */
  private rejectControl(proc: AgentProcess, msg: StreamMessage): void {
    if (typeof msg.request_id !== 'string') return;
    proc.write(`${JSON.stringify({ type: 'control_response', response: { subtype: 'error', request_id: msg.request_id, error: 'Not supported by Grove' } })}\n`);
  }

  private appendLog(line: Record<string, unknown>): void {
    this.log?.write(`${JSON.stringify(line)}\n`);
  }

  private closeLog(): void {
    this.log?.end();
    this.log = undefined;
  }

  /** Closes the log once everything written so far is in the file. */
  private flushLog(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    if (!log) return Promise.resolve();
    return new Promise((resolve) => {
      log.once('error', () => resolve());
      log.end(() => resolve());
    });
  }
}
