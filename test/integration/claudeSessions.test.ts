import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { inheritFolderTrust } from '../../src/core/agents/claudeTrust';
import type { CreatedWorktree } from '../../src/core/git/worktreeManager';
import { text } from '../support/scriptedModel';
import { api, flatten, repoRoot, until, useScriptedAgents, workspaceRepo } from './helpers';

/** Processes whose command line mentions `marker` (the daemon's socket folder names its pty hosts). */
function processesWith(marker: string): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).filter((d) => {
    try {
      return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  }).map(Number);
}

describe("Claude Code's own sessions in the Agents view", function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;

  before(async () => {
    agents = await useScriptedAgents(() => text('Hello from a background session.'));
  });

  after(async () => agents?.dispose());

  it('shows a `claude --bg` session running in a worktree, read-only, under that worktree', async function () {
    const a = await api();
    const created = await vscode.commands.executeCommand<CreatedWorktree>('grove.newWorktree', { title: 'Hosts a bg session', baseRef: 'main' });
    const env = { ...process.env, ...vscode.workspace.getConfiguration('grove').get<Record<string, string>>('agentEnv') };
    // `claude --bg` refuses an untrusted folder: the repository is trusted, and Grove carries that to its worktrees.
    inheritFolderTrust(path.join(env.CLAUDE_CONFIG_DIR!, '.claude.json'), workspaceRepo(), created.path);
    const claude = path.join(repoRoot(), 'node_modules', '.bin', 'claude');
    const cli = (args: string[]) => execFileSync(claude, args, { cwd: created.path, env, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    let sockDir: string | undefined;
    try {
      cli(['--bg', 'Say hello']);
      sockDir = /sock dir:\s+(\S+)/.exec(cli(['daemon', 'status']))?.[1];
      const row = await until('the Claude Code session under its worktree', async () => {
        await vscode.commands.executeCommand('grove.refresh');
        const wt = flatten(await a.viewSnapshot()).find((n) => n.kind === 'worktree' && n.id === created.path);
        return wt?.children.find((c) => c.kind === 'claudeSession');
      }, 60_000);
      assert.match(row.description, /^Claude Code background/);
      assert.equal(row.label, 'Say hello');
      assert.match(row.contextValue, /^claudeSession\.background/);
      assert.equal(a.instances().some((i) => i.title === 'Say hello'), false, 'a session Grove does not drive became a Grove instance');
    } finally {
      try { cli(['daemon', 'stop', '--any']); } catch { /* not running */ }
      await new Promise((r) => setTimeout(r, 300));
      if (sockDir) {
        for (const pid of processesWith(sockDir)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        fs.rmSync(sockDir, { recursive: true, force: true });
      }
    }
  });
});
