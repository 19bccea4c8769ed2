/**
 * `grove install-plugin [--project | --user] [--force]`: the Claude Code skill for a lead session and the
 * `grove mcp` server entry (core/flows/plugin.ts decides what goes where and never overwrites other entries).
 */
import fs from 'node:fs';
import path from 'node:path';
import { installPlugin, pluginTargets } from '../../core/flows/plugin';
import { parse, UsageError } from '../args';
import { CliContext } from '../context';
import { cliScript } from './detach';
import { settingsOf, stderrLogger, type Io } from './common';

/** `grove` when the `grove` on PATH is this very CLI; otherwise this Node and this script, by absolute path. */
export function mcpServerCommand(env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const self = realpath(cliScript());
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    if (self && realpath(path.join(dir, 'grove')) === self) return { command: 'grove', args: ['mcp'] };
  }
  return { command: process.execPath, args: [cliScript(), 'mcp'] };
}

function realpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

export async function installPluginCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { project: { type: 'boolean' }, user: { type: 'boolean' }, force: { type: 'boolean' } });
  if (positionals.length) throw new UsageError('grove install-plugin takes no arguments');
  if (values.project === true && values.user === true) throw new UsageError('give --project or --user, not both');
  const scope = values.user === true ? 'user' : 'project';
  let projectRoot: string | undefined;
  if (scope === 'project') {
    const ctx = await CliContext.open({ repo: typeof values.repo === 'string' ? values.repo : undefined, settings: settingsOf(values), logger: stderrLogger(io, false) });
    projectRoot = ctx.repoRoot;
    await ctx.close();
  }
  const server = mcpServerCommand();
  const r = installPlugin(pluginTargets(scope, { projectRoot }), server, { force: values.force === true });
  if (values.json === true) {
    io.out(JSON.stringify({ ok: true, scope, ...r }, null, 2));
    return 0;
  }
  io.out(`${r.skill.action === 'written' ? 'Wrote' : r.skill.action === 'unchanged' ? 'Up to date:' : 'Kept'} ${r.skill.path}`);
  io.out(`${r.mcp.action === 'written' ? 'Added the grove MCP server to' : r.mcp.action === 'unchanged' ? 'Up to date:' : 'Kept the grove entry of'} ${r.mcp.path} (${[r.mcp.entry.command, ...r.mcp.entry.args].join(' ')})`);
  for (const n of r.notes) io.err(`note: ${n}`);
  if (scope === 'project' && server.command !== 'grove') io.err('note: `grove` is not on PATH, so the entry names this Node and script by absolute path; install grove globally (npm install -g) before sharing .mcp.json.');
  io.err(scope === 'project'
    ? 'Start `claude` in the repository and approve the project\'s grove server when asked; then ask it to lead the work with Grove.'
    : 'Every `claude` session now has the grove tools and skill; start it in a repository and ask it to lead the work with Grove.');
  return 0;
}
