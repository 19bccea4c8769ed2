/**
 * Terminal-mode status from Claude Code hooks: a pure mapping of hook lines to {@link AgentEvent}s, and an incremental
 * tailer of the status file (fs.watch + read from the last offset; no polling loop).
 */
import fs from 'node:fs';
import type { AgentEvent } from '../model';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { describeToolUse } from './claudeStream';

/** One line of the status file: a hook's stdin JSON (see shared/notes/claude-code-cli.md, "Hooks"). */
export interface HookLine {
  hook_event_name?: string;
  session_id?: string;
  cwd?: string;
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  notification_type?: string;
  reason?: string;
  source?: string;
  prompt?: string;
  [key: string]: unknown;
}

/**
 * Maps hook lines of ONE session to events. Lines from other sessions (e.g. a nested `claude -p` the agent started,
 * which inherits the settings) are ignored. Without a known session id, the first SessionStart / UserPromptSubmit
 * line adopts its session. Repeated "running" lines are collapsed.
 */
export class HookStatusMapper {
  private state: 'running' | 'waiting-user' | 'waiting-permission' | 'exited' | undefined;

  constructor(public sessionId?: string) {}

  /** Maps one raw line (JSON text); noise maps to nothing. */
  mapLine(text: string): AgentEvent[] {
    let line: HookLine;
    try {
      line = JSON.parse(text);
    } catch {
      return [];
    }
    return line && typeof line === 'object' ? this.map(line) : [];
  }

  map(line: HookLine): AgentEvent[] {
    const event = line.hook_event_name;
    if (!this.sessionId && line.session_id && (event === 'SessionStart' || event === 'UserPromptSubmit')) {
      this.sessionId = line.session_id;
    }
    if (!this.sessionId || line.session_id !== this.sessionId) return [];
    const out: AgentEvent[] = [];
    const running = () => {
      if (this.state !== 'running') out.push({ type: 'running' });
      this.state = 'running';
    };
    switch (event) {
      case 'SessionStart':
        out.push({ type: 'session', sessionId: this.sessionId });
        break;
      case 'UserPromptSubmit':
      case 'PostToolUse':
        running();
        break;
      case 'PreToolUse':
        running();
        if (line.tool_name) out.push({ type: 'activity', text: describeToolUse(line.tool_name, line.tool_input ?? {}, line.cwd), toolName: line.tool_name });
        break;
      case 'PermissionRequest':
        if (this.state !== 'waiting-permission') out.push({ type: 'waiting', reason: 'permission' });
        this.state = 'waiting-permission';
        break;
      case 'Notification':
        if (line.notification_type === 'permission_prompt' && this.state !== 'waiting-permission') {
          out.push({ type: 'waiting', reason: 'permission' });
          this.state = 'waiting-permission';
        } else if (line.notification_type === 'idle_prompt' && this.state !== 'waiting-user') {
          out.push({ type: 'waiting', reason: 'user' });
          this.state = 'waiting-user';
        }
        break;
      case 'Stop':
        if (this.state !== 'waiting-user') out.push({ type: 'waiting', reason: 'user' });
        this.state = 'waiting-user';
        break;
      case 'StopFailure': {
        // The turn ended on an API error; the session stays at its prompt. A limit pauses the agent until it resets.
        // A failure inside a subagent (its agent_id set, e.g. a compaction) is the main turn's to report.
        if (typeof line.agent_id === 'string') break;
        const error = typeof line.error === 'string' ? line.error : 'unknown';
        const said = [line.error_details, line.last_assistant_message].find((t): t is string => typeof t === 'string' && !!t.trim());
        const detail = said?.trim().slice(0, 300);
        if (error === 'rate_limit' || error === 'overloaded') {
          const text = detail ?? (error === 'overloaded' ? 'the API is overloaded' : 'usage limit reached');
          out.push({ type: 'rateLimited', text, limit: error }, { type: 'result', isError: true, subtype: 'error_during_execution', text, reason: 'rateLimit' });
        } else {
          out.push({ type: 'activity', text: `The turn failed: ${detail ?? error.replace(/_/g, ' ')}` }, { type: 'waiting', reason: 'user' });
        }
        this.state = 'waiting-user';
        break;
      }
      case 'PreCompact':
        running();
        out.push({ type: 'activity', text: 'Compacting the conversation' });
        break;
      case 'PostCompact':
        out.push({ type: 'compacted', trigger: typeof line.trigger === 'string' ? line.trigger : 'auto' });
        break;
      case 'SessionEnd':
        if (this.state !== 'exited') out.push({ type: 'exit', code: null, signal: null, stoppedByUser: line.reason === 'prompt_input_exit' || line.reason === 'logout' });
        this.state = 'exited';
        break;
    }
    return out;
  }
}

/** Follows a growing file line by line: fs.watch for changes, reads from the last offset, keeps partial lines. */
export class StatusFileTailer extends Disposable {
  private readonly _onDidLine = this._register(new Emitter<string>());
  readonly onDidLine = this._onDidLine.event;
  private offset = 0;
  private partial = '';
  private reading = false;
  private again = false;
  private watcher: fs.FSWatcher | undefined;

  /** @param maxLineChars a longer line is dropped (bounded memory). */
  constructor(readonly file: string, private readonly maxLineChars = 1024 * 1024) {
    super();
  }

  /** Starts watching (creating the file if needed) and reads what is already there. */
  start(): void {
    if (!fs.existsSync(this.file)) fs.writeFileSync(this.file, '', { mode: 0o600 });
    this.watcher = fs.watch(this.file, () => this.read());
    this.watcher.on('error', () => { /* file removed: nothing more to tail */ });
    this._register({ dispose: () => this.watcher?.close() });
    this.read();
  }

  /** Reads whatever was appended since the last read (also usable to flush before checking state). */
  read(): void {
    if (this.isDisposed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        let fd: number;
        try {
          fd = fs.openSync(this.file, 'r');
        } catch {
          return;
        }
        try {
          const size = fs.fstatSync(fd).size;
          if (size < this.offset) this.offset = 0; // truncated: start over
          const buf = Buffer.alloc(64 * 1024);
          while (this.offset < size) {
            const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
            if (n <= 0) break;
            this.offset += n;
            this.consume(buf.subarray(0, n).toString('utf8'));
          }
        } finally {
          fs.closeSync(fd);
        }
      } while (this.again);
    } finally {
      this.reading = false;
    }
  }

  private consume(text: string): void {
    // Lines are written whole by one append; a chunk boundary can still split a multi-byte character only inside a
    // line, which `partial` reassembles before parsing.
    let data = this.partial + text;
    let nl: number;
    while ((nl = data.indexOf('\n')) >= 0) {
      const line = data.slice(0, nl).trim();
      data = data.slice(nl + 1);
      if (line) this._onDidLine.fire(line);
    }
    this.partial = data.length > this.maxLineChars ? '' : data;
  }
}
