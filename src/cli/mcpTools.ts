/**
 * The tools `grove mcp` offers a lead agent, in the order tools/list gives them. Each one calls a core flow and
 * only decides how to read its arguments and what the model sees; refusals say what to call next (mcpArgs.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { dispatchDetached } from '../core/flows/detach';
import { dispatch } from '../core/flows/dispatch';
import { followUp, stop } from '../core/flows/instances';
import { withOverlaps } from '../core/flows/radar';
import { review } from '../core/flows/review';
import { waitFor } from '../core/flows/wait';
import { transcript } from '../core/flows/worktrees';
import type { TaskSpec } from '../core/fleet/ports';
import { UsageError } from './args';
import { readPlan } from './commands/dispatch';
import { arr, bool, idArg, instanceOf, mine, num, obj, opt, str, strings, summary, type Tool, type ToolHost } from './mcpCommon';
import { LAND_TOOLS } from './mcpLand';
import { RESTORE_TOOLS } from './mcpRestore';

const DEFAULT_WAIT_S = 600;
const MAX_WAIT_S = 3600;

const dispatchTool: Tool = {
  name: 'grove_dispatch',
  description: 'Start Claude Code agents, each in its own new git worktree and branch of this repository, working in parallel. Give `tasks` (a title and a self-contained prompt each; a task with `after` starts from the branch of the task it names once that one is done) or `plan` (a markdown file with one `## Title` section per task). Returns the instance ids at once while the agents work: call grove_wait next.',
  inputSchema: {
    type: 'object',
    properties: {
      tasks: {
        type: 'array',
        description: 'The tasks. Each agent sees only its own prompt: say what to change, where, and how to check it. Split work so that tasks touch different files.',
        items: {
          type: 'object',
          properties: {
            title: { type: 'string', description: 'Short unique title, e.g. "Add login form"; the branch name is made from it and it can stand for the id later' },
            prompt: { type: 'string', description: 'The full instructions for the agent' },
            after: { type: 'string', description: 'Title of another task in this call: this one waits until that one is done and starts from its branch' },
            base: { type: 'string', description: 'Branch or commit to start from (default: the current branch of the repository)' },
            model: { type: 'string', description: 'Model for this task (e.g. sonnet, opus; default: the configured one)' },
          },
          required: ['title', 'prompt'],
          additionalProperties: false,
        },
      },
      plan: { type: 'string', description: 'Instead of tasks: path of a markdown plan file (relative to the repository root). Each `## Title` section is a task; an `after: Title` line inside makes it wait for another' },
      select: { type: 'array', items: { type: 'string' }, description: 'With plan: only the tasks with these titles' },
      base: { type: 'string', description: 'Default base branch or commit for every task' },
      model: { type: 'string', description: 'Default model for every task (e.g. sonnet, opus)' },
      detach: { type: 'boolean', description: 'Run the agents in the repository\'s background driver, so that they go on after this session ends (default false: this server runs them and stops them when the session ends)' },
    },
    additionalProperties: false,
  },
  async run(g, a, call) {
    if (a.plan === undefined && a.tasks === undefined) throw new UsageError('give tasks (an array of {title, prompt}) or plan (a markdown file)');
    const tasks: TaskSpec[] = a.plan !== undefined
      ? readPlan(resolvePath(g, str(a.plan, 'plan')), strings(a.select, 'select'))
      : arr(a.tasks, 'tasks').map((t, i) => {
        const o = obj(t, `tasks[${i}]`);
        return {
          title: str(o.title, `tasks[${i}].title`),
          prompt: str(o.prompt, `tasks[${i}].prompt`),
          ...(o.base !== undefined ? { baseRef: str(o.base, `tasks[${i}].base`) } : {}),
          ...(o.after !== undefined ? { after: str(o.after, `tasks[${i}].after`) } : {}),
          ...(o.model !== undefined ? { model: str(o.model, `tasks[${i}].model`) } : {}),
        };
      });
    const detach = bool(a.detach, 'detach') === true;
    const baseRef = opt(a.base, 'base');
    const model = opt(a.model, 'model');
    if (detach) {
      if (!call.session.driverStarter) throw new UsageError('this server cannot start a background driver: dispatch without detach');
      const startDriver = await call.session.driverStarter(g);
      const r = await dispatchDetached(g.grove, g.repoRoot, { tasks, ...(baseRef ? { baseRef } : {}), ...(model ? { model } : {}), ...(call.session.lead ? { lead: call.session.lead } : {}) }, { startDriver });
      for (const i of r.instances) call.session.mine.add(i.id);
      return {
        instances: r.instances.map(summary), driver: { pid: r.driver.pid, log: r.log },
        ...(r.warnings.length ? { warnings: r.warnings } : {}),
        next: 'The background driver runs them (they go on if this session ends). Call grove_wait to block until they are done.',
      };
    }
    // bypassPermissions only when the person started this server with it (a flag or variable) or confirms it now,
    // never from a model's call.
    const r = await dispatch(g.grove, { repoRoot: g.repoRoot, tasks, baseRef, model, ...(call.session.lead ? { lead: call.session.lead } : {}) }, { confirmBypass: call.confirmBypass ?? (async () => true) });
    for (const i of r.instances) call.session.mine.add(i.id);
    return {
      instances: r.instances.map(summary),
      ...(r.warnings.length ? { warnings: r.warnings } : {}),
      next: 'Call grove_wait (no ids: every agent this server dispatched) to block until they are done.',
    };
  },
};

const waitTool: Tool = {
  name: 'grove_wait',
  description: 'Block until every given instance (default: every one this server dispatched) is done, failed, stopped, paused or waiting for a person, or until timeoutSeconds pass. Returns each instance\'s state, final result text and diff stat (files, insertions, deletions), plus the files more than one of them changed. When it says "still running", call it again.',
  inputSchema: {
    type: 'object',
    properties: {
      ids: { type: 'array', items: { type: 'string' }, description: 'Instances to wait for (ids, id prefixes or titles). Omit to wait for all the instances this server dispatched' },
      timeoutSeconds: { type: 'number', minimum: 1, maximum: MAX_WAIT_S, description: `Return after this many seconds even if some still run (default ${DEFAULT_WAIT_S})` },
    },
    additionalProperties: false,
  },
  async run(g, a, call) {
    const refs = strings(a.ids, 'ids');
    const timeout = num(a.timeoutSeconds, 'timeoutSeconds', 1, MAX_WAIT_S) ?? DEFAULT_WAIT_S;
    const ids = refs.length ? refs.map((r, i) => instanceOf(g, r, `ids[${i}]`).id) : mine(g, call.session).map((s) => s.id);
    if (!ids.length) throw new UsageError('this server has dispatched nothing yet: give ids (grove_status lists the instances) or call grove_dispatch first');
    const started = Date.now();
    let last = 0;
    const r = await waitFor(g.grove, {
      ids, timeoutMs: timeout * 1000, signal: call.signal,
      onProgress: (p) => {
        // Progress is the time waited (strictly increasing, as MCP asks); the message carries the states.
        last = Math.max(last + 0.001, Math.round((Date.now() - started) / 100) / 10);
        call.progress(last, timeout, `${p.settled}/${p.total} settled: ${p.message}`);
      },
    });
    const doneCount = r.instances.filter((e) => e.state === 'done').length;
    const next = !r.settled
      ? ' Call grove_wait again to keep waiting.'
      : doneCount ? ' Next: grove_review the done ones, grove_follow_up for fixes, then grove_land.' : '';
    return { ...r, message: `${r.message}${next}` };
  },
};

const statusTool: Tool = {
  name: 'grove_status',
  description: 'List the agent instances of this repository (every Grove process and VS Code window shares them): state (queued, provisioning, starting, running, waiting, paused, done, failed, stopped, interrupted), branch, worktree, cost, last activity, final result, and the conflict radar: overlaps (other agents changing the same files; conflict: merging both would conflict) and baseOverlap (what the base changed too). Returns at once; use grove_wait to block.',
  inputSchema: {
    type: 'object',
    properties: {
      id: { ...idArg, description: 'Only this instance (optional)' },
      mine: { type: 'boolean', description: 'Only the instances this server dispatched' },
    },
    additionalProperties: false,
  },
  async run(g, a, call) {
    const list = a.id !== undefined ? [instanceOf(g, a.id)] : bool(a.mine, 'mine') ? mine(g, call.session) : g.instances();
    // With the conflict radar: other agents changing the same files (conflict: merging both would conflict).
    const withRadar = await withOverlaps(g.grove, g.repoRoot, list);
    return { instances: withRadar.map((s) => ({ ...summary(s), overlaps: s.overlaps, ...(s.baseOverlap ? { baseOverlap: s.baseOverlap } : {}) })) };
  },
};

const reviewTool: Tool = {
  name: 'grove_review',
  description: 'What an instance changed against the merge-base with its base branch: changed files with line counts, its commits, and the unified diff (committed, uncommitted and untracked work), cut at maxPatchChars with a note.',
  inputSchema: {
    type: 'object',
    properties: {
      id: idArg,
      patch: { type: 'boolean', description: 'Include the diff (default true)' },
      maxPatchChars: { type: 'number', minimum: 1000, description: 'Cut the diff after this many characters (default 100000)' },
    },
    required: ['id'],
    additionalProperties: false,
  },
  async run(g, a) {
    const max = num(a.maxPatchChars, 'maxPatchChars', 1000, 10_000_000) ?? 100_000;
    const patch = bool(a.patch, 'patch') !== false;
    const inst = instanceOf(g, a.id);
    if (inst.state === 'queued' || inst.state === 'provisioning') throw new UsageError(`"${inst.title}" is still ${inst.state}: it has no work to review yet. Call grove_wait with its id first.`);
    return review(g.grove, inst.id, { patch, maxPatchChars: max });
  },
};

const followUpTool: Tool = {
  name: 'grove_follow_up',
  description: 'Send an instance\'s agent another prompt (a fix, a review comment, a next step): it continues the same session in the same worktree. While it is still working the prompt is queued for the end of its turn. Returns at once: call grove_wait with its id next.',
  inputSchema: {
    type: 'object',
    properties: { id: idArg, prompt: { type: 'string', description: 'The follow-up instructions, e.g. what the review found and what to change' } },
    required: ['id', 'prompt'],
    additionalProperties: false,
  },
  async run(g, a) {
    const r = await followUp(g.grove, instanceOf(g, a.id).id, str(a.prompt, 'prompt'));
    return { instance: summary(r.instance), outcome: r.outcome, message: r.message };
  },
};

const stopTool: Tool = {
  name: 'grove_stop',
  description: 'Stop an instance\'s agent (a queued one never starts), whichever Grove process or VS Code window drives it. Its worktree, branch and session are kept: grove_follow_up continues it.',
  inputSchema: { type: 'object', properties: { id: idArg }, required: ['id'], additionalProperties: false },
  async run(g, a) {
    const r = await stop(g.grove, instanceOf(g, a.id).id);
    return { instance: summary(r.instance), message: r.message };
  },
};

const logTool: Tool = {
  name: 'grove_log',
  description: 'The transcript of an instance: prompts, the agent\'s messages, tool calls and results, permission answers. Use it to see why an agent failed.',
  inputSchema: {
    type: 'object',
    properties: {
      id: idArg,
      raw: { type: 'boolean', description: 'The raw stream-json log instead' },
      tailLines: { type: 'number', minimum: 1, description: 'Only the last N lines' },
    },
    required: ['id'],
    additionalProperties: false,
  },
  async run(g, a) {
    const r = await transcript(g.grove, instanceOf(g, a.id).id, { raw: bool(a.raw, 'raw') === true, tailLines: num(a.tailLines, 'tailLines', 1, 1_000_000) });
    return { id: r.instance.id, title: r.instance.title, state: r.instance.state, transcript: r.text };
  },
};

export const TOOLS: Tool[] = [dispatchTool, waitTool, statusTool, reviewTool, followUpTool, stopTool, ...LAND_TOOLS, ...RESTORE_TOOLS, logTool];

function resolvePath(g: ToolHost, p: string): string {
  if (path.isAbsolute(p)) return p;
  const fromRepo = path.resolve(g.repoRoot, p);
  return fs.existsSync(fromRepo) ? fromRepo : path.resolve(p);
}
