/**
 * Grove: Install the Lead Skill for Claude Code — the VS Code face of `grove install-plugin` (core/flows/plugin.ts):
 * the skill and the `grove mcp` entry for this repository or for every session of the user. The entry runs the
 * `grove` command line, which must be on PATH (the extension does not ship it).
 */
import * as vscode from 'vscode';
import { installPlugin, pluginTargets, type FileAction } from '../../core/flows/plugin';
import type { Services } from '../services';

const verb = (a: FileAction) => (a === 'written' ? 'written' : a === 'unchanged' ? 'already up to date' : 'kept as you had it');

export function pluginCommands(s: Services) {
  return {
    'grove.installLeadSkill': async () => {
      const active = vscode.window.activeTextEditor?.document.uri;
      const repo = (active?.scheme === 'file' ? s.repos.find(active.fsPath) : undefined) ?? (await s.repos.repositories())[0];
      const choices: (vscode.QuickPickItem & { scope: 'project' | 'user' })[] = [
        ...(repo ? [{ label: 'This repository', description: `${repo.info.mainWorktree}: .claude/skills/grove and .mcp.json`, scope: 'project' as const }] : []),
        { label: 'Every Claude Code session of mine', description: '~/.claude/skills/grove and ~/.claude.json', scope: 'user' },
      ];
      const pick = await vscode.window.showQuickPick(choices, { title: 'Install the Grove lead skill and MCP server for Claude Code' });
      if (!pick) return;
      const targets = pluginTargets(pick.scope, { projectRoot: repo?.info.mainWorktree, env: process.env });
      const r = installPlugin(targets, { command: 'grove', args: ['mcp'] });
      const open = await vscode.window.showInformationMessage(
        `Grove: the lead skill was ${verb(r.skill.action)} (${r.skill.path}) and the grove MCP server ${verb(r.mcp.action)} (${r.mcp.path}). Claude Code runs \`grove mcp\`: the grove command line must be on PATH.${r.notes.length ? ` ${r.notes.join(' ')}` : ''}`,
        'Open Skill');
      if (open) await vscode.window.showTextDocument(vscode.Uri.file(r.skill.path));
    },
  };
}
