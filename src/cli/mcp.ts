/**
 * `grove mcp`: Grove's operations as MCP tools over stdio, for a lead agent (e.g. a Claude Code session with
 * `claude mcp add grove -- grove mcp`). JSON-RPC 2.0, one message per line (MCP stdio transport); written here
 * rather than with @modelcontextprotocol/sdk because the server needs five methods and no dependency.
 *
 * Instances dispatched or followed up through this server are driven by this process: tools return at once
 * and the agents keep running here (poll grove_status). When the client closes stdin, agents still running are
 * stopped (recorded as stopped, resumable from VS Code or with grove follow-up) and the server exits.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { GroveError } from '../core/errors';
import { dispatch } from '../core/flows/dispatch';
import { followUp, stop } from '../core/flows/instances';
import { merge } from '../core/flows/merge';
import { remove } from '../core/flows/remove';
import { listSnapshots, restoreSnapshot } from '../core/flows/restore';
import { revertToBeforeTurn, turnChanges, turns } from '../core/flows/turns';
import { review } from '../core/flows/review';
import { transcript } from '../core/flows/worktrees';
import { isActive } from '../core/fleet/instance';
import type { TaskSpec } from '../core/fleet/ports';
import type { MergeStrategy } from '../core/git/mergeService';
import type { InstanceSnapshot } from '../core/model';
import { CliError, UsageError } from './args';
import { readPlan } from './commands/dispatch';
import type { CliContext } from './context';

type Grove = CliContext;

export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-06-18', '2025-03-26', '2024-11-05'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { type: 'object'; properties: Record<string, unknown>; required?: string[]; additionalProperties?: boolean };

interface Tool {
  name: string;
  description: string;
  inputSchema: Schema;
  run(g: Grove, args: Record<string, unknown>): Promise<unknown>;
}

const id = { type: 'string', description: 'Instance id, a unique id prefix (4+ characters), or the exact task title' };

/** The tools, in the order tools/list gives them. */
export const TOOLS: Tool[] = [
  {
    name: 'grove_dispatch',
    description: 'Start Claude Code agents, each on a new git worktree and branch of the repository. Give `tasks` (title + prompt each) or `plan` (path of a markdown plan: one `## Title` section per task). Returns the instance ids at once; the agents keep running in this server: poll grove_status until they are done, then grove_review and grove_merge.',
    inputSchema: {
      type: 'object',
      properties: {
        tasks: {
          type: 'array',
          description: 'Tasks to run in parallel',
          items: {
            type: 'object',
            properties: {
              title: { type: 'string', description: 'Short title; the branch name is made from it' },
              prompt: { type: 'string', description: 'The full instructions for the agent' },
              base: { type: 'string', description: 'Branch or commit to start from (default: the current branch)' },
              after: { type: 'string', description: 'Title of another task of this call to wait for; starts from its branch' },
              model: { type: 'string' },
            },
            required: ['title', 'prompt'],
          },
        },
        plan: { type: 'string', description: 'Path of a markdown plan file (relative paths: to the repository root)' },
        select: { type: 'array', items: { type: 'string' }, description: 'With plan: only these task titles' },
        base: { type: 'string', description: 'Default base for every task' },
        model: { type: 'string', description: 'Model for every task (e.g. sonnet, opus)' },
      },
    },
    async run(g, a) {
      const tasks: TaskSpec[] = a.plan !== undefined
        ? readPlan(resolvePath(g, str(a.plan, 'plan')), strings(a.select, 'select'))
        : arr(a.tasks, 'tasks').map((t, i) => {
          const o = obj(t, `tasks[${i}]`);
          return {
            title: str(o.title, `tasks[${i}].title`),
            prompt: str(o.prompt, `tasks[${i}].prompt`),
            ...(o.base !== undefined ? { baseRef: str(o.base, 'base') } : {}),
            ...(o.after !== undefined ? { after: str(o.after, 'after') } : {}),
            ...(o.model !== undefined ? { model: str(o.model, 'model') } : {}),
          };
        });
      // bypassPermissions only when the person started this server with it (a flag or variable), never from a model's call.
      const r = await dispatch(g.grove, { repoRoot: g.repoRoot, tasks, baseRef: opt(a.base, 'base'), model: opt(a.model, 'model') }, { confirmBypass: async () => true });
      return { instances: r.instances.map(summary), ...(r.warnings.length ? { warnings: r.warnings } : {}) };
    },
  },
  {
    name: 'grove_status',
    description: 'List the agent instances of the repository (all Grove processes and VS Code windows share them): state (queued, provisioning, starting, running, waiting, done, failed, stopped, interrupted), branch, worktree, cost, last activity, final result.',
    inputSchema: { type: 'object', properties: { id: { ...id, description: 'Only this instance (optional)' } } },
    async run(g, a) {
      const list = a.id !== undefined ? [g.resolve(str(a.id, 'id'))] : g.instances();
      return { instances: list.map(summary) };
    },
  },
  {
    name: 'grove_follow_up',
    description: 'Send another prompt to a finished (done, failed, stopped, interrupted) instance: the agent continues its session in its worktree. Returns at once; poll grove_status.',
    inputSchema: { type: 'object', properties: { id, prompt: { type: 'string', description: 'The follow-up instructions' } }, required: ['id', 'prompt'] },
    async run(g, a) {
      const r = await followUp(g.grove, g.resolve(str(a.id, 'id')).id, str(a.prompt, 'prompt'));
      return { instance: summary(r.instance), outcome: r.outcome, message: r.message };
    },
  },
  {
    name: 'grove_stop',
    description: 'Stop an instance\'s agent, whichever Grove process or VS Code window drives it. Its worktree and session are kept.',
    inputSchema: { type: 'object', properties: { id }, required: ['id'] },
    async run(g, a) {
      const r = await stop(g.grove, g.resolve(str(a.id, 'id')).id);
      return { instance: summary(r.instance), message: r.message };
    },
  },
  {
    name: 'grove_review',
    description: 'What an instance changed against the merge-base with its base: changed files with line counts, its commits, and the unified diff (committed, uncommitted and untracked work).',
    inputSchema: {
      type: 'object',
      properties: { id, patch: { type: 'boolean', description: 'Include the diff (default true)' }, maxPatchChars: { type: 'number', description: 'Cut the diff after this many characters (default 100000)' } },
      required: ['id'],
    },
    async run(g, a) {
      const max = typeof a.maxPatchChars === 'number' && a.maxPatchChars > 0 ? a.maxPatchChars : 100_000;
      return review(g.grove, g.resolve(str(a.id, 'id')).id, { patch: a.patch !== false, maxPatchChars: max });
    },
  },
  {
    name: 'grove_merge',
    description: 'Merge a finished instance\'s branch into its base branch (merge commit, squash, or rebase + fast-forward) without touching uncommitted work in the user\'s checkout. Refuses, changing nothing, with the reasons (conflicts, uncommitted work, agent running…).',
    inputSchema: {
      type: 'object',
      properties: {
        id,
        strategy: { type: 'string', enum: ['merge', 'squash', 'rebase'], description: 'Default merge' },
        commit: { type: 'boolean', description: 'Commit the agent\'s uncommitted and untracked work first (default false)' },
      },
      required: ['id'],
    },
    async run(g, a) {
      const strategy = opt(a.strategy, 'strategy');
      if (strategy !== undefined && !['merge', 'squash', 'rebase'].includes(strategy)) throw new UsageError(`strategy must be merge, squash or rebase, not "${strategy}"`);
      return merge(g.grove, { id: g.resolve(str(a.id, 'id')).id, strategy: strategy as MergeStrategy | undefined, commit: a.commit === true });
    },
  },
  {
    name: 'grove_remove',
    description: 'Remove an instance, its worktree and (if merged, or with deleteBranch) its branch. Refuses and lists what would be lost (uncommitted or untracked files; commits with deleteBranch) unless force.',
    inputSchema: {
      type: 'object',
      properties: { id, force: { type: 'boolean', description: 'Discard the listed work' }, deleteBranch: { type: 'boolean', description: 'Delete the branch even if it is not merged' } },
      required: ['id'],
    },
    async run(g, a) {
      return remove(g.grove, { id: g.resolve(str(a.id, 'id')).id, force: a.force === true, deleteBranch: a.deleteBranch === true });
    },
  },
  {
    name: 'grove_snapshots',
    description: 'Recently Removed: the snapshots Grove recorded before removing a worktree (even with force), deleting a branch, aborting a sync or cleaning up after a merge, newest first. Each holds HEAD, the branch, the index, tracked, untracked and listed ignored files; grove_restore brings one back. Kept grove.snapshotRetentionDays days (default 14).',
    inputSchema: { type: 'object', properties: {} },
    async run(g) {
      return { snapshots: await listSnapshots(g.grove, [g.repoRoot]) };
    },
  },
  {
    name: 'grove_restore',
    description: 'Restore a snapshot from grove_snapshots exactly: recreates the removed worktree at its path (or a free sibling) on its branch, or the deleted branch; a worktree that still exists is restored in place and the state it replaced becomes a new snapshot (returned as undoId). A branch that moved since is never moved back: give branchName or detach.',
    inputSchema: {
      type: 'object',
      properties: {
        id: { type: 'string', description: 'The snapshot id, as grove_snapshots lists it (e.g. 20250101-120000-a1b2c3)' },
        branchName: { type: 'string', description: 'Restore on this new branch instead of the recorded one (when that one moved since)' },
        detach: { type: 'boolean', description: 'Restore with a detached HEAD at the recorded commit instead of on a branch' },
        path: { type: 'string', description: 'Recreate the worktree in this folder instead of its recorded path' },
      },
      required: ['id'],
    },
    async run(g, a) {
      const branchName = opt(a.branchName, 'branchName');
      const where = opt(a.path, 'path');
      if (branchName && a.detach === true) throw new UsageError('give branchName or detach, not both');
      return restoreSnapshot(g.grove, { repoRoot: g.repoRoot, id: str(a.id, 'id'), ...(branchName ? { branchName } : {}), ...(a.detach === true ? { detach: true } : {}), ...(where ? { path: path.resolve(g.repoRoot, where) } : {}) });
    },
  },
  {
    name: 'grove_turns',
    description: 'The checkpoints Grove recorded for an instance: turn 0 before its first prompt, then one at the end of each turn (refs/grove/checkpoints, never a commit on its branch), each with the files that turn changed.',
    inputSchema: { type: 'object', properties: { id }, required: ['id'] },
    async run(g, a) {
      const inst = g.resolve(str(a.id, 'id'));
      const out = [];
      for (const t of await turns(g.grove, inst.id)) {
        const files = t.turn ? (await turnChanges(g.grove, inst.id, t.turn).catch(() => undefined))?.files : undefined;
        out.push({ turn: t.turn ?? 0, id: t.id, createdAt: t.createdAt, ...(files ? { files } : {}) });
      }
      return { turns: out };
    },
  },
  {
    name: 'grove_revert_turn',
    description: 'Restore an instance\'s worktree exactly as it was before one of its turns (files, index, HEAD). Without confirm it refuses and lists the files that would go; the state it replaces is kept as a checkpoint (grove_restore with the returned undoId undoes it).',
    inputSchema: {
      type: 'object',
      properties: {
        id,
        beforeTurn: { type: 'number', description: 'The turn to undo (with every later one), as grove_turns lists them; at least 1' },
        confirm: { type: 'boolean', description: 'The person agreed to lose the listed changes' },
      },
      required: ['id', 'beforeTurn'],
    },
    async run(g, a) {
      if (typeof a.beforeTurn !== 'number' || !Number.isInteger(a.beforeTurn) || a.beforeTurn < 1) throw new UsageError('beforeTurn must be a turn number ≥ 1');
      return revertToBeforeTurn(g.grove, g.resolve(str(a.id, 'id')).id, a.beforeTurn, {}, a.confirm === true);
    },
  },
  {
    name: 'grove_log',
    description: 'The transcript of an instance: prompts, the agent\'s messages, tool calls and results, permission answers.',
    inputSchema: {
      type: 'object',
      properties: { id, raw: { type: 'boolean', description: 'The raw stream-json log instead' }, tailLines: { type: 'number', description: 'Only the last N lines' } },
      required: ['id'],
    },
    async run(g, a) {
      const r = await transcript(g.grove, g.resolve(str(a.id, 'id')).id, { raw: a.raw === true, tailLines: typeof a.tailLines === 'number' ? a.tailLines : undefined });
      return { id: r.instance.id, title: r.instance.title, state: r.instance.state, transcript: r.text };
    },
  },
];

export interface McpServerOptions {
  /** Opens the repository on the first tool call (so that `initialize` works even outside a repository). */
  open(): Promise<Grove>;
  version: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  log(message: string): void;
}

/** Serves until the input ends; resolves after agents this server still drives were stopped. */
export async function serveMcp(options: McpServerOptions): Promise<void> {
  let grove: Promise<Grove> | undefined;
  const open = () => (grove ??= options.open());
  const send = (msg: Record<string, Json | unknown>) => options.output.write(`${JSON.stringify({ jsonrpc: '2.0', ...msg })}\n`);
  const pending = new Set<Promise<void>>();

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
          instructions: 'Grove runs Claude Code agents in parallel, each on its own git worktree. grove_dispatch starts them (returns at once), grove_status shows progress, grove_review the work, grove_merge brings it into the base branch, grove_remove cleans up.',
        });
      }
      case 'notifications/initialized':
      case 'notifications/cancelled':
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
        try {
          const missing = (tool.inputSchema.required ?? []).filter((k) => args[k] === undefined);
          if (missing.length) throw new UsageError(`missing required argument(s): ${missing.join(', ')}`);
          const data = await tool.run(await open(), args);
          return void reply({ content: [{ type: 'text', text: JSON.stringify(data, null, 2) }], structuredContent: data, isError: false });
        } catch (err) {
          const known = err instanceof CliError || err instanceof UsageError || GroveError.is(err);
          if (!known) options.log(`grove mcp: ${tool.name} failed: ${(err as Error).stack ?? err}`);
          return void reply({ content: [{ type: 'text', text: (err as Error).message }], isError: true });
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
  await Promise.allSettled([...pending]);
  if (!grove) return;
  const g = await grove.catch(() => undefined);
  if (!g) return;
  const live = g.instances().filter((i) => g.grove.fleet.isDriving(i.id));
  if (live.length) options.log(`grove mcp: the client went away; stopping ${live.length} agent(s) this server drives`);
  await Promise.allSettled(live.map((i) => g.grove.fleet.stopHere(i.id)));
  await g.close();
}

function summary(s: InstanceSnapshot) {
  return {
    id: s.id, title: s.title, state: s.state, ...(s.waitReason ? { waitReason: s.waitReason } : {}),
    active: isActive(s.state), branch: s.branch, baseRef: s.baseRef, worktreePath: s.worktreePath,
    costUsd: s.costUsd, turns: s.turns,
    ...(s.lastActivity ? { lastActivity: s.lastActivity } : {}),
    ...(s.error ? { error: s.error } : {}),
    ...(s.resultText ? { result: s.resultText } : {}),
    ...(s.after ? { after: s.after } : {}),
  };
}

function resolvePath(g: Grove, p: string): string {
  if (path.isAbsolute(p)) return p;
  const fromRepo = path.resolve(g.repoRoot, p);
  return fs.existsSync(fromRepo) ? fromRepo : path.resolve(p);
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new UsageError(`${name} must be a string`);
  return v;
}
function opt(v: unknown, name: string): string | undefined {
  return v === undefined ? undefined : str(v, name);
}
function arr(v: unknown, name: string): unknown[] {
  if (!Array.isArray(v) || !v.length) throw new UsageError(`give ${name} (a non-empty array) or plan`);
  return v;
}
function strings(v: unknown, name: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new UsageError(`${name} must be an array of strings`);
  return v as string[];
}
function obj(v: unknown, name: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${name} must be an object`);
  return v as Record<string, unknown>;
}
