/**
 * `grove mcp` offered to VS Code's own MCP client (chat agents), where the VS Code version has an MCP server
 * definition API (`vscode.lm.registerMcpServerDefinitionProvider`, 1.101+; feature-detected: Grove still runs on
 * 1.100). One server per repository of the workspace, started from the packaged CLI with the editor's own runtime.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import type { WorkspaceRepositories } from './repositories';

export const MCP_PROVIDER_ID = 'grove.mcpServers';

/** How VS Code starts Grove's MCP server for a repository: the extension's dist/cli.js on the editor's runtime. */
export interface StdioServer {
  label: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

export function groveMcpServer(extensionPath: string, repoRoot: string, execPath: string = process.execPath): StdioServer {
  return {
    label: `Grove (${path.basename(repoRoot)})`,
    // The editor's runtime is Electron on the desktop: ELECTRON_RUN_AS_NODE makes it run the script as Node does.
    command: execPath,
    args: [path.join(extensionPath, 'dist', 'cli.js'), 'mcp', '--repo', repoRoot],
    env: { ELECTRON_RUN_AS_NODE: '1' },
    cwd: repoRoot,
  };
}

interface McpApi {
  registerMcpServerDefinitionProvider(id: string, provider: {
    onDidChangeMcpServerDefinitions?: vscode.Event<void>;
    provideMcpServerDefinitions(token: vscode.CancellationToken): Promise<unknown[]>;
  }): vscode.Disposable;
}
type StdioDefinitionClass = new (label: string, command: string, args?: string[], env?: Record<string, string>, version?: string) => { cwd?: vscode.Uri };

/** Whether this VS Code has the finalised MCP server definition API (1.101; 1.100 has an earlier, different form). */
export function hasMcpServerApi(vscodeVersion: string = vscode.version): boolean {
  const [major, minor] = vscodeVersion.split('.').map(Number);
  const lm = vscode.lm as unknown as Partial<McpApi>;
  return (major! > 1 || minor! >= 101) && typeof lm.registerMcpServerDefinitionProvider === 'function'
    && typeof (vscode as unknown as { McpStdioServerDefinition?: unknown }).McpStdioServerDefinition === 'function';
}

/** Registers the provider where the API exists; nothing (an empty list) elsewhere. Never fails activation. */
export function registerMcpServers(extensionPath: string, version: string, repos: WorkspaceRepositories, log?: { warn(m: string): void }): vscode.Disposable[] {
  if (!hasMcpServerApi()) return [];
  try {
    return register(extensionPath, version, repos);
  } catch (err) {
    log?.warn(`grove mcp is not offered to VS Code's MCP client: ${(err as Error).message}`);
    return [];
  }
}

function register(extensionPath: string, version: string, repos: WorkspaceRepositories): vscode.Disposable[] {
  const lm = vscode.lm as unknown as McpApi;
  const Definition = (vscode as unknown as { McpStdioServerDefinition: StdioDefinitionClass }).McpStdioServerDefinition;
  const changed = new vscode.EventEmitter<void>();
  let roots = '';
  // Only a change of which repositories the workspace has changes the servers (not a file event in a worktree).
  const sub = repos.onDidChange((c) => {
    if (c.worktrees) return;
    const now = repos.repositoriesNow().map((r) => r.info.mainWorktree).join('\n');
    if (now !== roots) (roots = now, changed.fire());
  });
  const registration = lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
    onDidChangeMcpServerDefinitions: changed.event,
    async provideMcpServerDefinitions() {
      const list = await repos.repositories();
      roots = list.map((r) => r.info.mainWorktree).join('\n');
      return list.map((r) => {
        const s = groveMcpServer(extensionPath, r.info.mainWorktree);
        const d = new Definition(s.label, s.command, s.args, s.env, version);
        d.cwd = vscode.Uri.file(s.cwd);
        return d;
      });
    },
  });
  return [registration, sub, changed];
}
