// A minimal MCP client over a child's stdio (newline-delimited JSON-RPC 2.0), as Claude Code speaks to `grove mcp`.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export class McpClient {
  private next = 1;
  private readonly waiting = new Map<number, (msg: any) => void>();
  /** Messages that answer no request of ours: notifications (progress…). */
  readonly stray: any[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line); // every stdout line must be JSON-RPC
      const resolve = this.waiting.get(msg.id);
      if (resolve) {
        this.waiting.delete(msg.id);
        resolve(msg);
      } else this.stray.push(msg);
    });
    child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((r) => child.on('close', (code) => r(code)));
  }

  request(method: string, params?: unknown, id = this.next++): Promise<any> {
    const p = new Promise<any>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${method} (stderr: ${this.stderr})`)), 30_000);
      this.waiting.set(id, (m) => (clearTimeout(t), resolve(m)));
    });
    this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) })}\n`);
    return p;
  }

  notify(method: string, params?: unknown): void {
    this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method, ...(params !== undefined ? { params } : {}) })}\n`);
  }

  async call(name: string, args: Record<string, unknown>, meta?: Record<string, unknown>): Promise<{ isError: boolean; data: any; text: string }> {
    const r = await this.request('tools/call', { name, arguments: args, ...(meta ? { _meta: meta } : {}) });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const t = r.result.content[0].text as string;
    return { isError: r.result.isError, data: r.result.isError ? undefined : r.result.structuredContent, text: t };
  }
}
