/**
 * Grove's agent tools as VS Code language-model tools (`vscode.lm.registerTool`), for agent sessions inside VS Code:
 * the same tools, schemas and core flows as `grove mcp` (src/cli/mcpTools.ts), run on this window's core. Anything
 * that starts agents or changes branches asks the person first (confirmation messages). Feature-detected: nothing
 * is registered where the VS Code version has no language-model tools. The contributions in package.json
 * (`languageModelTools`) are checked against the tools by a unit test.
 */
import * as vscode from 'vscode';
import type { McpSession, ToolHost } from '../cli/mcpCommon';
import { forModel } from '../cli/mcpCommon';
import { TOOLS } from '../cli/mcpTools';
import { confirmBypass } from './commands/dispatchCommands';
import type { Services } from './services';

type Input = Record<string, unknown>;

/** Confirmation for the tools that start agents or change branches; none for reads and waits. */
function confirmation(name: string, input: Input, repoRoot: string, bypass: boolean): { title: string; message: string } | undefined {
  const ids = (v: unknown) => (Array.isArray(v) ? v.map((x) => `"${String(x)}"`).join(', ') : `"${String(v)}"`);
  switch (name) {
    case 'grove_dispatch': {
      const tasks = Array.isArray(input.tasks) ? (input.tasks as Input[]) : [];
      const list = tasks.map((t) => `- **${String(t.title)}**${t.after ? ` (after ${String(t.after)})` : ''}`).join('\n');
      return {
        title: 'Start Grove agents?',
        message: `${input.plan ? `Start the agents of the plan ${String(input.plan)}` : `Start ${tasks.length} Claude Code agent(s)`} on new worktrees of ${repoRoot}:\n\n${list}${bypass ? '\n\nThey run with **bypassPermissions**: any command, any file, without asking.' : ''}`,
      };
    }
    case 'grove_follow_up': return { title: 'Send a follow-up?', message: `The agent of ${ids(input.id)} works on:\n\n> ${String(input.prompt ?? '').slice(0, 500)}` };
    case 'grove_stop': return { title: 'Stop the agent?', message: `Stop ${ids(input.id)} (its worktree and session are kept).` };
    case 'grove_land': return { title: 'Land into the base branch?', message: `Merge ${ids(input.ids)} into their base branch${input.strategy ? ` (${String(input.strategy)})` : ''}${input.commit !== false ? ', committing their uncommitted work first' : ''}.` };
    case 'grove_merge': return { title: 'Merge into the base branch?', message: `Merge ${ids(input.id)} into its base branch${input.strategy ? ` (${String(input.strategy)})` : ''}.` };
    case 'grove_restore': return { title: 'Restore a snapshot?', message: `Restore the snapshot ${ids(input.id)}: its worktree or branch comes back${input.branchName ? ` on the new branch ${String(input.branchName)}` : input.detach ? ' with a detached HEAD' : ''}; a worktree that still exists is restored in place (and that is undoable).` };
    case 'grove_revert_turn': return { title: 'Revert to before the turn?', message: `Put the worktree of ${ids(input.id)} back as it was before turn ${String(input.beforeTurn)} (the state it replaces is kept as a checkpoint).` };
    case 'grove_remove': return { title: 'Remove the worktree?', message: `Remove ${ids(input.id)}, its worktree${input.deleteBranch ? ' and its branch' : ''}.${input.force ? ' **Uncommitted work in it is discarded.**' : ''}` };
    default: return undefined;
  }
}

/** The repository a tool acts on: the one of the active editor, else the first of the workspace. */
async function hostFor(services: Services): Promise<ToolHost> {
  const active = vscode.window.activeTextEditor?.document.uri;
  const repos = await services.repos.repositories();
  const repo = (active?.scheme === 'file' ? services.repos.find(active.fsPath) : undefined) ?? repos[0];
  if (!repo) throw new Error('No git repository is open in this window: open one, then ask again.');
  const repoRoot = repo.info.mainWorktree;
  return { grove: services.grove, repoRoot, instances: () => services.fleet.instances().filter((s) => s.repoRoot === repoRoot) };
}

export function registerLanguageModelTools(services: Services): vscode.Disposable[] {
  const lm = (vscode as { lm?: Partial<typeof vscode.lm> }).lm;
  if (typeof lm?.registerTool !== 'function') return [];
  const session: McpSession = { mine: new Set() };
  return TOOLS.map((tool) => lm.registerTool!<Input>(tool.name, {
    async prepareInvocation(options) {
      const host = await hostFor(services).catch(() => undefined);
      const ask = confirmation(tool.name, options.input ?? {}, host?.repoRoot ?? 'this workspace', !!host && services.grove.settings(host.repoRoot).permissionMode === 'bypassPermissions');
      return {
        invocationMessage: `Grove: ${tool.name.replace(/^grove_/, '').replace('_', ' ')}`,
        ...(ask ? { confirmationMessages: { title: ask.title, message: new vscode.MarkdownString(ask.message) } } : {}),
      };
    },
    async invoke(options, token) {
      const host = await hostFor(services);
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      try {
        const data = await tool.run(host, options.input ?? {}, { session, signal: abort.signal, progress: () => undefined, confirmBypass });
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(JSON.stringify(data, null, 2))]);
      } catch (err) {
        throw new Error(forModel(err));
      } finally {
        sub.dispose();
      }
    },
  }));
}
