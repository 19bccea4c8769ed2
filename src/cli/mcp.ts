/**
 * `grove mcp`: Grove's operations as MCP tools over stdio, for a lead agent (e.g. a Claude Code session with
 * `claude mcp add grove -- grove mcp`). JSON-RPC 2.0, one message per line (MCP stdio transport); written here
 * rather than with @modelcontextprotocol/sdk because the server needs five methods and no dependency.
 *
 * Instances dispatched or followed up through this server are driven by this process: tools return at once
 * and the agents keep running here; grove_wait blocks until they need the lead (with notifications/progress
 * while it blocks, when the request carries a progressToken; notifications/cancelled ends the wait). The server
 * sees what other processes change, dispatch or lose (the fleet mirrors the registry). When the client closes
 * stdin, agents still running here are stopped (recorded as stopped, resumable from VS Code or with grove
 * follow-up) and the server exits. The tools: mcpTools.ts and mcpLand.ts.
 */
import readline from 'node:readline';
import { GroveError } from '../core/errors';
import { CliError, UsageError } from './args';
import type { CliContext } from './context';
import { forModel, type McpSession } from './mcpCommon';
import { TOOLS } from './mcpTools';

export { TOOLS } from './mcpTools';

type Grove = CliContext;

export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-06-18', '2025-03-26', '2024-11-05'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface McpServerOptions {
  /** Opens the repository on the first tool call (so that `initialize` works even outside a repository). */
  open(): Promise<Grove>;
  version: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  log(message: string): void;
  /** The lead agent served (the Claude Code session id, or GROVE_INSTANCE_ID of a Grove agent): recorded on what it dispatches. */
  lead?: string;
  /** How to start the repository's background driver (grove_dispatch with detach: true). */
  driverStarter?(g: Grove): Promise<() => void>;
}

/** Serves until the input ends; resolves after agents this server still drives were stopped. */
export async function serveMcp(options: McpServerOptions): Promise<void> {
  let grove: Promise<Grove> | undefined;
  const open = () => (grove ??= options.open());
  const send = (msg: Record<string, Json | unknown>) => options.output.write(`${JSON.stringify({ jsonrpc: '2.0', ...msg })}\n`);
  const pending = new Set<Promise<void>>();
  const session: McpSession = { mine: new Set(), ...(options.lead ? { lead: options.lead } : {}), ...(options.driverStarter ? { driverStarter: options.driverStarter } : {}) };
  /** Running tools/call requests by id, for notifications/cancelled. */
  const calls = new Map<string | number, AbortController>();

  const handle = async (msg: { id?: string | number | null; method?: unknown; params?: any }): Promise<void> => {
    const isRequest = msg.id !== undefined && msg.id !== null;
    const reply = (result: unknown) => isRequest && send({ id: msg.id, result });
    const fail = (code: number, message: string) => isRequest && send({ id: msg.id, error: { code, message } });
    switch (msg.method) {
      case 'initialize': {
        const requested = msg.params?.protocolVersion;
        return void reply({
          protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : SUPPORTED_PROTOCOL_VERSIONS[0],
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: 'grove', version: options.version },
          instructions: 'Grove runs Claude Code agents in parallel, each on its own git worktree and branch. Plan: split the work into independent tasks (different files), then grove_dispatch them (returns ids at once), grove_wait until they finish, grove_review each, grove_follow_up to ask for fixes (then grove_wait again), grove_land to bring the work into the base branch, grove_remove to clean up.',
        });
      }
      case 'notifications/cancelled': {
        const id = msg.params?.requestId;
        if (typeof id === 'string' || typeof id === 'number') calls.get(id)?.abort();
        return;
      }
      case 'notifications/initialized':
        return;
      case 'ping':
        return void reply({});
      case 'tools/list':
        return void reply({ tools: TOOLS.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })) });
      case 'tools/call': {
        const tool = TOOLS.find((t) => t.name === msg.params?.name);
        if (!tool) return void fail(-32602, `Unknown tool: ${String(msg.params?.name)}`);
        const args = msg.params?.arguments ?? {};
        if (typeof args !== 'object' || Array.isArray(args)) return void fail(-32602, 'arguments must be an object');
        const token = msg.params?._meta?.progressToken;
        const abort = new AbortController();
        if (isRequest) calls.set(msg.id!, abort);
        const progress = (progress: number, total: number | undefined, message: string) => {
          if ((typeof token === 'string' || typeof token === 'number') && !abort.signal.aborted) {
            send({ method: 'notifications/progress', params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), message } });
          }
        };
        try {
          const missing = (tool.inputSchema.required ?? []).filter((k) => args[k] === undefined);
          if (missing.length) throw new UsageError(`missing required argument(s): ${missing.join(', ')}`);
          const unknown = Object.keys(args).filter((k) => !(k in tool.inputSchema.properties));
          if (unknown.length) throw new UsageError(`unknown argument(s) ${unknown.join(', ')}: ${tool.name} takes ${Object.keys(tool.inputSchema.properties).join(', ')}`);
          const data = await tool.run(await open(), args, { session, signal: abort.signal, progress });
          // A cancelled request gets no answer (MCP: the receiver should not respond after a cancellation).
          if (abort.signal.aborted) return;
          return void reply({ content: [{ type: 'text', text: JSON.stringify(data, null, 2) }], structuredContent: data, isError: false });
        } catch (err) {
          const known = err instanceof CliError || err instanceof UsageError || GroveError.is(err);
          if (!known) options.log(`grove mcp: ${tool.name} failed: ${(err as Error).stack ?? err}`);
          if (abort.signal.aborted) return;
          return void reply({ content: [{ type: 'text', text: forModel(err) }], isError: true });
        } finally {
          if (isRequest) calls.delete(msg.id!);
        }
      }
      default:
        if (isRequest) fail(-32601, `Method not found: ${String(msg.method)}`);
    }
  };

  const lines = readline.createInterface({ input: options.input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      send({ id: null, error: { code: -32700, message: 'Parse error' } });
      continue;
    }
    if (Array.isArray(msg) || typeof msg !== 'object' || msg === null || msg.jsonrpc !== '2.0') {
      send({ id: msg?.id ?? null, error: { code: -32600, message: 'Invalid Request' } });
      continue;
    }
    if (msg.method === undefined) continue; // a response to a request we never send
    const p = handle(msg).catch((err: Error) => options.log(`grove mcp: ${err.stack ?? err}`)).finally(() => pending.delete(p));
    pending.add(p);
  }
  for (const c of calls.values()) c.abort(); // the client went away: a blocked grove_wait returns
  await Promise.allSettled([...pending]);
  if (!grove) return;
  const g = await grove.catch(() => undefined);
  if (!g) return;
  const live = g.instances().filter((i) => g.grove.fleet.isDriving(i.id));
  if (live.length) options.log(`grove mcp: the client went away; stopping ${live.length} agent(s) this server drives`);
  await Promise.allSettled(live.map((i) => g.grove.fleet.stopHere(i.id)));
  await g.close();
}
