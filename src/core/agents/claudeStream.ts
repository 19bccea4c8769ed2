/**
 * Incremental parser of Claude Code's `--output-format stream-json` output: one JSON object a line.
 * Pure (no I/O): feed it chunks, get typed {@link AgentEvent}s back. Robust to partial lines across chunks,
 * non-JSON noise (ignored, counted) and huge lines (a line beyond `maxLineChars` is dropped, memory stays bounded).
 */
import { StringDecoder } from 'node:string_decoder';
import path from 'node:path';
import type { AgentEvent, PermissionRequest } from '../model';

export interface ClaudeStreamParserOptions {
  /** The agent's cwd: tool paths inside it are shown relative ("Edit src/app.ts"). */
  cwd?: string;
  /** A single line longer than this is dropped (default 16 Mi chars). */
  maxLineChars?: number;
}

/** What one `push` produced: typed events and the parsed JSON messages they came from (for the runner). */
export interface ParsedChunk {
  events: AgentEvent[];
  messages: StreamMessage[];
}

/** A parsed stream-json line; only the fields Grove reads are typed. */
export interface StreamMessage {
  type: string;
  subtype?: string;
  session_id?: string;
  [key: string]: unknown;
}

/** A `control_request` of subtype `can_use_tool` as the CLI sends it with `--permission-prompt-tool stdio`. */
export interface CanUseToolRequest {
  requestId: string;
  toolName: string;
  input: Record<string, unknown>;
  /** Rules the CLI proposes for "always allow" (sent back as `updatedPermissions`). */
  permissionSuggestions?: unknown[];
  toolUseId?: string;
}

const DEFAULT_MAX_LINE = 16 * 1024 * 1024;

export class ClaudeStreamParser {
  /** Lines that were not JSON objects (banners, warnings…). */
  noiseLines = 0;
  /** Lines longer than the cap, dropped. */
  droppedLines = 0;
  private readonly decoder = new StringDecoder('utf8');
  private parts: string[] = [];
  private partChars = 0;
  private discarding = false;
  private readonly maxLine: number;

  constructor(private readonly options: ClaudeStreamParserOptions = {}) {
    this.maxLine = options.maxLineChars ?? DEFAULT_MAX_LINE;
  }

  /** Feeds a chunk of stdout; returns what the complete lines in it mean. */
  push(chunk: string | Uint8Array): ParsedChunk {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: ParsedChunk = { events: [], messages: [] };
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.append(text.slice(start, nl));
      this.finishLine(out);
      start = nl + 1;
    }
    if (start < text.length) this.append(text.slice(start));
    return out;
  }

  /** Flushes a last line without a trailing newline. */
  end(): ParsedChunk {
    const out: ParsedChunk = { events: [], messages: [] };
    const rest = this.decoder.end();
    if (rest) this.append(rest);
    if (this.partChars > 0 || this.discarding) this.finishLine(out);
    return out;
  }

  private append(s: string): void {
    if (!s || this.discarding) return;
    if (this.partChars + s.length > this.maxLine) {
      this.discarding = true;
      this.parts = [];
      this.partChars = 0;
      return;
    }
    this.parts.push(s);
    this.partChars += s.length;
  }

  private finishLine(out: ParsedChunk): void {
    if (this.discarding) {
      this.discarding = false;
      this.droppedLines++;
      return;
    }
    const line = (this.parts.length === 1 ? this.parts[0] : this.parts.join('')).trim();
    this.parts = [];
    this.partChars = 0;
    if (!line) return;
    let msg: unknown;
    if (line.startsWith('{')) {
      try {
        msg = JSON.parse(line);
      } catch {
        msg = undefined;
      }
    }
    if (!msg || typeof msg !== 'object' || typeof (msg as StreamMessage).type !== 'string') {
      this.noiseLines++;
      return;
    }
    out.messages.push(msg as StreamMessage);
    out.events.push(...messageToEvents(msg as StreamMessage, this.options.cwd));
  }
}

/**
 * Limits, as Claude Code 2.1.332 reports them (measured against the scripted model; re-check on a new pin):
 * - API-key accounts: a refused request (HTTP 429 rate limit, 529 overloaded) gives an `assistant` message with
 *   `error: "rate_limit"` and `api_error_status`, then a `result` with `is_error: true` and the same status. The
 *   reset time is not in the stream (the CLI keeps the response headers to itself), so Grove backs off.
 * - Subscription accounts: `rate_limit_event` lines carry `rate_limit_info` { status: allowed | allowed_warning |
 *   rejected, resetsAt (epoch seconds), rateLimitType }; a `rejected` one gives the reset time.
 * - Context: every `assistant` message has the request's `usage` (input + cache tokens = what the window held); the
 *   `result`'s `modelUsage[model].contextWindow` is the window. A conversation that no longer fits ends with
 *   `terminal_reason: "prompt_too_long"`. A compaction is a `system` line `compact_boundary` with `compact_metadata`
 *   { trigger: auto | manual, pre_tokens, post_tokens } (and the PreCompact / PostCompact hooks in terminal mode).
 */
const LIMIT_STATUSES = new Set([429, 529]);

/** Maps one stream-json message to events. Unknown types map to nothing. */
export function messageToEvents(msg: StreamMessage, cwd?: string): AgentEvent[] {
  switch (msg.type) {
    case 'system':
      if (msg.subtype === 'init' && typeof msg.session_id === 'string') {
        return [{ type: 'session', sessionId: msg.session_id, model: str(msg.model) }];
      }
      if (msg.subtype === 'status' && msg.status === 'compacting') return [{ type: 'activity', text: 'Compacting the conversation…' }];
      if (msg.subtype === 'compact_boundary') {
        const meta = asRecord(msg.compact_metadata);
        return [{ type: 'compacted', trigger: str(meta.trigger) ?? 'auto', preTokens: num(meta.pre_tokens), postTokens: num(meta.post_tokens) }];
      }
      return [];
    case 'rate_limit_event': {
      const info = asRecord(msg.rate_limit_info);
      if (info.status !== 'rejected') return [];
      const resetsAt = num(info.resetsAt);
      const limit = str(info.rateLimitType);
      return [{ type: 'rateLimited', text: `usage limit reached${limit ? ` (${limit.replace(/_/g, ' ')})` : ''}`, ...(resetsAt ? { resetsAt: resetsAt < 1e12 ? resetsAt * 1000 : resetsAt } : {}), ...(limit ? { limit } : {}) }];
    }
    case 'assistant': {
      const message = msg.message as { content?: unknown; usage?: unknown } | undefined;
      const content = Array.isArray(message?.content) ? (message!.content as any[]) : [];
      const events: AgentEvent[] = [];
      const status = num(msg.api_error_status);
      if (msg.error === 'rate_limit' || (status !== undefined && LIMIT_STATUSES.has(status))) {
        const text = content.find((b) => b?.type === 'text' && typeof b.text === 'string')?.text as string | undefined;
        events.push({ type: 'rateLimited', text: text ?? `API error ${status ?? 429}`, limit: status === 529 ? 'overloaded' : 'rate_limit' });
        return events;
      }
      const usage = asRecord(message?.usage);
      const used = sum(num(usage.input_tokens), num(usage.cache_creation_input_tokens), num(usage.cache_read_input_tokens));
      if (used !== undefined && used > 0 && msg.error === undefined) events.push({ type: 'context', used });
      for (const block of content) {
        if (block?.type === 'text' && typeof block.text === 'string' && block.text) {
          events.push({ type: 'assistantText', text: block.text });
        } else if (block?.type === 'tool_use' && typeof block.name === 'string') {
          events.push({ type: 'activity', text: describeToolUse(block.name, asRecord(block.input), cwd), toolName: block.name });
        }
      }
      return events;
    }
    case 'result': {
      const isError = msg.is_error === true || (typeof msg.subtype === 'string' && msg.subtype !== 'success');
      const usage = asRecord(msg.usage);
      const costUsd = num(msg.total_cost_usd);
      const turns = num(msg.num_turns);
      const inputTokens = sum(num(usage.input_tokens), num(usage.cache_creation_input_tokens), num(usage.cache_read_input_tokens));
      const outputTokens = num(usage.output_tokens);
      const status = num(msg.api_error_status);
      const reason = isError && status !== undefined && LIMIT_STATUSES.has(status) ? 'rateLimit' as const
        : isError && msg.terminal_reason === 'prompt_too_long' ? 'contextExhausted' as const : undefined;
      const windows = Object.values(asRecord(msg.modelUsage)).map((m) => num(asRecord(m).contextWindow)).filter((w): w is number => !!w);
      return [
        { type: 'usage', costUsd, inputTokens, outputTokens, turns },
        ...(windows.length ? [{ type: 'context' as const, window: Math.max(...windows) }] : []),
        { type: 'result', isError, subtype: str(msg.subtype) ?? 'unknown', text: resultText(msg), costUsd, turns, ...(reason ? { reason } : {}) },
      ];
    }
    case 'control_request': {
      const req = parseCanUseTool(msg);
      if (!req) return [];
      const request: PermissionRequest = {
        requestId: req.requestId,
        toolName: req.toolName,
        input: req.input,
        summary: describeToolUse(req.toolName, req.input, cwd, ': '),
      };
      return [{ type: 'permissionRequest', request }];
    }
    default:
      return [];
  }
}

/** The `can_use_tool` request in a `control_request` message, or undefined. */
export function parseCanUseTool(msg: StreamMessage): CanUseToolRequest | undefined {
  if (msg.type !== 'control_request') return undefined;
  const request = asRecord(msg.request);
  if (request.subtype !== 'can_use_tool' || typeof msg.request_id !== 'string') return undefined;
  return {
    requestId: msg.request_id,
    toolName: str(request.tool_name) ?? 'unknown',
    input: asRecord(request.input),
    permissionSuggestions: Array.isArray(request.permission_suggestions) ? request.permission_suggestions : undefined,
    toolUseId: str(request.tool_use_id),
  };
}

function resultText(msg: StreamMessage): string {
  if (typeof msg.result === 'string' && msg.result) return msg.result;
  if (Array.isArray(msg.errors) && msg.errors.length) return msg.errors.map(String).join('\n');
  switch (msg.subtype) {
    case 'error_max_turns': return `Reached the maximum number of turns (${num(msg.num_turns) ?? '?'}).`;
    case 'error_max_budget_usd': return 'Reached the maximum budget.';
    case 'error_during_execution': return 'The agent stopped with an error during execution.';
    default: return '';
  }
}

/**
 * A one-line description of a tool call: "Edit src/app.ts", "Write notes.md", "Bash: npm test".
 * Paths inside `cwd` are shown relative, with forward slashes.
 */
export function describeToolUse(name: string, input: Record<string, unknown>, cwd?: string, sep = ' '): string {
  const filePath = str(input.file_path) ?? str(input.notebook_path) ?? str(input.path);
  switch (name) {
    case 'Bash':
    case 'PowerShell':
      return `${name}: ${oneLine(str(input.command) ?? '', 100)}`;
    case 'Edit':
    case 'MultiEdit':
    case 'Write':
    case 'Read':
    case 'NotebookEdit':
      return filePath ? `${name}${sep}${relativePath(filePath, cwd)}` : name;
    case 'Grep':
    case 'Glob':
      return input.pattern !== undefined ? `${name}${sep}${oneLine(String(input.pattern), 80)}` : name;
    case 'WebFetch':
      return input.url !== undefined ? `${name}${sep}${oneLine(String(input.url), 100)}` : name;
    case 'WebSearch':
      return input.query !== undefined ? `${name}${sep}${oneLine(String(input.query), 80)}` : name;
    case 'Task':
    case 'Agent':
      return input.description !== undefined ? `${name}${sep}${oneLine(String(input.description), 80)}` : name;
    default:
      return filePath ? `${name}${sep}${relativePath(filePath, cwd)}` : name;
  }
}

/** `p` relative to `cwd` with forward slashes when inside it; otherwise `p` unchanged. */
export function relativePath(p: string, cwd?: string): string {
  if (!cwd || !path.isAbsolute(p)) return p.split(path.sep).join('/');
  const rel = path.relative(cwd, p);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return p;
  return rel.split(path.sep).join('/');
}

function oneLine(s: string, max: number): string {
  const line = s.replace(/\s*\n\s*/g, ' ⏎ ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function sum(...vs: Array<number | undefined>): number | undefined {
  return vs.some((v) => v !== undefined) ? vs.reduce<number>((a, v) => a + (v ?? 0), 0) : undefined;
}
