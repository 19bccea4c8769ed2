// A scripted Messages-API server on 127.0.0.1 for running the real Claude Code CLI offline.
//
// The CLI calls `POST /v1/messages?beta=true` with `stream: true`, one request per model turn, and expects the SSE
// sequence message_start, content_block_start, content_block_delta, content_block_stop, message_delta, message_stop
// (see shared/notes/claude-code-cli.md). A test gives either a script (one reply per request, in order) or a rule
// (a function of the request, for N agents sharing one server). Every request is recorded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One content block of a scripted reply. */
export type ScriptBlock = { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: Record<string, unknown>; id?: string };

/** What the server answers to one request. */
export interface ScriptReply {
  /** Content blocks, streamed in order. A reply with a tool_use ends with stop_reason `tool_use`. */
  blocks?: ScriptBlock[];
  /** Wait this long before answering (headers included). */
  delayMs?: number;
  /** Answer with an HTTP error instead: 401, 500, 529 (overloaded)… */
  error?: { status: number; message?: string; type?: string };
  /** Never answer (the connection stays open until `close()`); for stop tests. */
  hang?: boolean;
  /** Usage reported in message_start / message_delta (cache tokens count toward the context window). */
  usage?: { input_tokens?: number; output_tokens?: number; cache_creation_input_tokens?: number; cache_read_input_tokens?: number };
  /** Extra HTTP response headers (e.g. `retry-after`, `anthropic-ratelimit-unified-status` / `-reset`). */
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Parsed JSON body (undefined when the body was not JSON). */
  body: any;
  /** Text of the last `role: "user"` message (text blocks and tool_result contents, joined). */
  lastUserText: string;
  /** The last `role: "user"` message as sent. */
  lastUserMessage: any;
  /** Text of the first user message: the task prompt of the session. */
  firstUserText: string;
  /** Number of assistant messages in the history (0 on a session's first request). */
  assistantTurns: number;
  /** True when the last user message carries a tool_result. */
  isToolResult: boolean;
}

export type ScriptRule = (req: RecordedRequest) => ScriptReply | Promise<ScriptReply>;

export interface ScriptedModelOptions {
  /** Replies in order, one per `/v1/messages` request. After the script ends, `fallback` (default: text "Done."). */
  script?: ScriptReply[];
  /** A reply chosen per request; takes precedence over `script`. */
  rule?: ScriptRule;
  fallback?: ScriptReply;
}

// ---- reply builders -------------------------------------------------------------------------------------------

export const text = (t: string, extra: Partial<ScriptReply> = {}): ScriptReply => ({ blocks: [{ type: 'text', text: t }], ...extra });
export const toolUse = (name: string, input: Record<string, unknown>, preface?: string): ScriptReply => ({
  blocks: [...(preface ? [{ type: 'text' as const, text: preface }] : []), { type: 'tool_use', name, input }],
});
/** `Write` a file; keep paths relative to the CLI's cwd (the CLI resolves them; absolute paths escape the test dir). */
export const write = (filePath: string, content: string): ScriptReply => toolUse('Write', { file_path: filePath, content });
export const edit = (filePath: string, oldString: string, newString: string): ScriptReply =>
  toolUse('Edit', { file_path: filePath, old_string: oldString, new_string: newString });
export const bash = (command: string, description?: string): ScriptReply => toolUse('Bash', { command, ...(description ? { description } : {}) });
export const apiError = (status: number, message?: string): ScriptReply => ({ error: { status, message } });
export const hang = (): ScriptReply => ({ hang: true });

// ---- request helpers ------------------------------------------------------------------------------------------

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b: any) => {
      if (b?.type === 'text') return String(b.text ?? '');
      if (b?.type === 'tool_result') return contentText(b.content);
      return '';
    })
    .filter(Boolean)
    .join('\n');
}

/** Removes the `<system-reminder>…</system-reminder>` blocks the CLI injects into user messages. */
export function stripReminders(s: string): string {
  return s.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').trim();
}

export function describeRequest(method: string, path: string, body: any): RecordedRequest {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const users = messages.filter((m) => m?.role === 'user');
  const last = users[users.length - 1];
  const first = users[0];
  return {
    method,
    path,
    body,
    lastUserMessage: last,
    lastUserText: stripReminders(contentText(last?.content)),
    firstUserText: stripReminders(contentText(first?.content)),
    assistantTurns: messages.filter((m) => m?.role === 'assistant').length,
    isToolResult: Array.isArray(last?.content) && last.content.some((b: any) => b?.type === 'tool_result'),
  };
}

// ---- the server -----------------------------------------------------------------------------------------------

export class ScriptedModel {
  readonly requests: RecordedRequest[] = [];
  private readonly server: http.Server;
  private next = 0;
  private ids = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  private constructor(private readonly options: ScriptedModelOptions, readonly port = 0) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Starts a server on 127.0.0.1 on a random port. */
  static async start(options: ScriptedModelOptions = {}): Promise<ScriptedModel> {
    const m = new ScriptedModel(options);
    await new Promise<void>((resolve, reject) => {
      m.server.once('error', reject);
      m.server.listen(0, '127.0.0.1', () => resolve());
    });
    return m;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `n` model requests have arrived. */
  waitForRequests(n: number, timeoutMs = 30_000): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`scripted model: ${this.requests.length}/${n} requests after ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/messages') {
      // e.g. count_tokens: not part of a turn; answer minimal JSON so the CLI does not stall on it.
      if (path === '/v1/messages/count_tokens') return void json(res, 200, { input_tokens: 10 });
      return void json(res, 404, { type: 'error', error: { type: 'not_found_error', message: `scripted model: no route ${req.method} ${path}` } });
    }
    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const recorded = describeRequest(req.method, path, body);
    this.requests.push(recorded);
    for (const w of this.waiters.filter((x) => this.requests.length >= x.n)) w.resolve();
    this.waiters = this.waiters.filter((x) => this.requests.length < x.n);

    let reply: ScriptReply;
    try {
      reply = this.options.rule
        ? await this.options.rule(recorded)
        : (this.options.script?.[this.next++] ?? this.options.fallback ?? text('Done.'));
    } catch (err) {
      reply = { error: { status: 500, message: `scripted model rule failed: ${err}` } };
    }
    if (reply.hang) return; // leave the socket open; close() destroys it
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (res.destroyed) return;
    if (reply.error) {
      const type = reply.error.type ?? errorType(reply.error.status);
      return void json(res, reply.error.status, { type: 'error', error: { type, message: reply.error.message ?? `scripted ${type}` } }, reply.headers);
    }
    const model = String(body?.model ?? 'claude-scripted');
    const blocks = reply.blocks ?? [{ type: 'text', text: 'Done.' }];
    const message = this.message(model, blocks, reply.usage);
    if (body?.stream === false) return void json(res, 200, message);
    this.stream(res, message, reply.headers);
  }

  private message(model: string, blocks: ScriptBlock[], usage: ScriptReply['usage']) {
    const content = blocks.map((b) => (b.type === 'text' ? b : { type: 'tool_use', id: b.id ?? `toolu_scripted_${++this.ids}`, name: b.name, input: b.input }));
    return {
      id: `msg_scripted_${++this.ids}`,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: usage?.input_tokens ?? 100, output_tokens: usage?.output_tokens ?? 20, cache_creation_input_tokens: usage?.cache_creation_input_tokens ?? 0, cache_read_input_tokens: usage?.cache_read_input_tokens ?? 0 },
    };
  }

  private stream(res: http.ServerResponse, message: ReturnType<ScriptedModel['message']>, headers: Record<string, string> = {}): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': `req_${message.id}`, ...headers });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('message_start', {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
    });
    message.content.forEach((b: any, index) => {
      if (b.type === 'text') {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: b.text } });
      } else {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
      }
      send('content_block_stop', { type: 'content_block_stop', index });
    });
    send('message_delta', { type: 'message_delta', delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: { output_tokens: message.usage.output_tokens } });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }
}

function errorType(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 429: return 'rate_limit_error';
    case 529: return 'overloaded_error';
    default: return 'api_error';
  }
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

// ---- demo -----------------------------------------------------------------------------------------------------

/** A short file-name-safe slug of a task: "Add a login page!" → "add-a-login-page". */
export function slugOf(task: string): string {
  const slug = task.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').split('-').slice(0, 6).join('-');
  return slug || 'task';
}

/**
 * The demo model (`npm start -- --demo-model`): for any prompt, writes `NOTES-<slug>.md` in the cwd describing the
 * task, then answers with a short summary. Stateless, so any number of agents can share one server.
 */
export const demoScript: ScriptRule = (req) => {
  if (req.isToolResult) {
    return text(`Demo model: I wrote my notes for "${firstLine(req.firstUserText)}". This is a scripted demo reply; no real model was called.`);
  }
  // A plan's prompt carries the plan's shared context first and then "Task: <title>": name the notes after the task.
  const task = /^Task: (.+)$/m.exec(req.lastUserText)?.[1] ?? (req.lastUserText || 'the task');
  const file = `NOTES-${slugOf(task)}.md`;
  const content = `# ${firstLine(task)}\n\nWritten by Grove's scripted demo model (no real model was called).\n\n## Task\n\n${task}\n\n## Plan\n\n1. Read the relevant code.\n2. Make the change.\n3. Run the tests.\n`;
  return toolUse('Write', { file_path: file, content }, `I'll write my notes for this task to ${file}.`);
};

function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim()) ?? s;
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}
