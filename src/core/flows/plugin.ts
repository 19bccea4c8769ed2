/**
 * Install the lead-agent plugin: a Claude Code skill that teaches a lead session to plan, dispatch, wait, review,
 * ask for fixes and land with Grove, plus the `grove mcp` server entry Claude Code loads — for one project
 * (`.claude/skills/grove/SKILL.md`, `.mcp.json`) or for the user (`~/.claude/skills/grove/SKILL.md`, the user MCP
 * servers of `~/.claude.json`, which is where `claude mcp add --scope user` writes; both under `CLAUDE_CONFIG_DIR`
 * when it is set). Other entries of those files are kept as they are; an existing `grove` entry or skill that
 * differs from Grove's is kept too, unless `force`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { GroveError } from '../errors';

export const SKILL_MD = `---
name: grove
description: Lead several Claude Code agents working in parallel with Grove, each in its own git worktree and branch. Use it when a task splits into parts that can be done at the same time; then review their work and land it.
---

# Leading agents with Grove

1. **Plan.** Split the work into 2–6 tasks that touch different files. Give each a short unique title and a
   self-contained prompt: what to change, where, and how to check it (the agent sees nothing else). A task that
   needs another's result gets \`after: "<title>"\` and starts from that task's branch.
2. **Dispatch.** Call \`grove_dispatch\` with \`tasks: [{title, prompt, after?}]\`. It returns the ids at once.
   Add \`detach: true\` when the agents should go on after this session ends.
3. **Wait.** Call \`grove_wait\` (no ids: everything you dispatched). When it says "still running", call it again.
   Each instance comes back with its state, the agent's final message and a diff stat; \`overlaps\` lists files two
   agents both changed.
4. **Review.** Call \`grove_review\` for each done instance and read the patch against its task.
5. **Fix.** When something is wrong or missing, call \`grove_follow_up\` with the id and a concrete request, then
   \`grove_wait\` for it again. For a failed agent read \`grove_log\` first.
6. **Land.** Call \`grove_land\` with the ids in order (a task before the tasks that started after it). When it
   refuses because of conflicts, ask that agent with \`grove_follow_up\` to merge its base branch and resolve them,
   \`grove_wait\`, and land again.
7. **Report** what landed and what did not. \`grove_remove\` clears instances you give up on (it refuses to lose
   work unless \`force: true\`).

Never land work you have not reviewed, and never edit an agent's worktree yourself: ask the agent.
`;

export interface McpServerEntry {
  type: 'stdio';
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Claude Code's per-call limit (ms; a hard wall clock, progress does not extend it): above grove_wait's longest wait. */
  timeout: number;
}

/** grove_wait waits at most an hour; a call may take a minute more. */
export const TOOL_TIMEOUT_MS = 61 * 60 * 1000;

export interface PluginTargets {
  skillFile: string;
  /** The JSON file with the `mcpServers` object Claude Code reads. */
  mcpFile: string;
}

/** Where the skill and the server entry go. Pure. */
export function pluginTargets(scope: 'project' | 'user', where: { projectRoot?: string; env?: NodeJS.ProcessEnv; home?: string }): PluginTargets {
  if (scope === 'project') {
    if (!where.projectRoot) throw new GroveError('InvalidInput', 'A project install needs the project folder.');
    return { skillFile: path.join(where.projectRoot, '.claude', 'skills', 'grove', 'SKILL.md'), mcpFile: path.join(where.projectRoot, '.mcp.json') };
  }
  const configDir = (where.env ?? process.env).CLAUDE_CONFIG_DIR;
  const home = where.home ?? os.homedir();
  return configDir
    ? { skillFile: path.join(configDir, 'skills', 'grove', 'SKILL.md'), mcpFile: path.join(configDir, '.claude.json') }
    : { skillFile: path.join(home, '.claude', 'skills', 'grove', 'SKILL.md'), mcpFile: path.join(home, '.claude.json') };
}

export type FileAction = 'written' | 'unchanged' | 'kept';

export interface PluginInstallResult {
  skill: { path: string; action: FileAction };
  mcp: { path: string; action: FileAction; entry: McpServerEntry };
  /** Sentences for the person (what was kept and why). */
  notes: string[];
}

/** Writes the skill and merges the server entry into the MCP file. @throws GroveError InvalidInput for a file that is not JSON. */
export function installPlugin(targets: PluginTargets, server: { command: string; args: string[] }, options: { force?: boolean } = {}): PluginInstallResult {
  const entry: McpServerEntry = { type: 'stdio', command: server.command, args: server.args, env: {}, timeout: TOOL_TIMEOUT_MS };
  const notes: string[] = [];

  // The MCP file first: refusing on a broken file must leave the skill unwritten too.
  let config: Record<string, unknown> = {};
  const text = readText(targets.mcpFile);
  if (text !== undefined && text.trim()) {
    try {
      config = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new GroveError('InvalidInput', `${targets.mcpFile} is not valid JSON (${(err as Error).message}); fix or move it and install again. Nothing was written.`);
    }
    if (!config || typeof config !== 'object' || Array.isArray(config)) throw new GroveError('InvalidInput', `${targets.mcpFile} does not hold a JSON object; nothing was written.`);
  }
  const servers = config.mcpServers ?? {};
  if (typeof servers !== 'object' || Array.isArray(servers)) throw new GroveError('InvalidInput', `"mcpServers" in ${targets.mcpFile} is not an object; nothing was written.`);
  const existing = (servers as Record<string, unknown>).grove;
  let mcpAction: FileAction;
  if (isDeepStrictEqual(existing, entry)) mcpAction = 'unchanged';
  else if (existing !== undefined && !options.force) {
    mcpAction = 'kept';
    notes.push(`${targets.mcpFile} already has a "grove" server (${JSON.stringify(existing)}); it was kept (--force replaces it).`);
  } else {
    writeAtomic(targets.mcpFile, `${JSON.stringify({ ...config, mcpServers: { ...(servers as object), grove: entry } }, null, 2)}\n`);
    mcpAction = 'written';
  }

  const current = readText(targets.skillFile);
  let skillAction: FileAction;
  if (current === SKILL_MD) skillAction = 'unchanged';
  else if (current !== undefined && !options.force) {
    skillAction = 'kept';
    notes.push(`${targets.skillFile} exists and differs from Grove's skill; it was kept (--force replaces it).`);
  } else {
    writeAtomic(targets.skillFile, SKILL_MD);
    skillAction = 'written';
  }
  return { skill: { path: targets.skillFile, action: skillAction }, mcp: { path: targets.mcpFile, action: mcpAction, entry }, notes };
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function writeAtomic(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  let mode: number | undefined;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    // A new file.
  }
  fs.writeFileSync(tmp, content, mode !== undefined ? { mode } : {});
  fs.renameSync(tmp, file);
}
