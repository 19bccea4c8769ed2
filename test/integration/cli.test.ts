import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import * as vscode from 'vscode';
import { text, write } from '../support/scriptedModel';
import { api, flatten, repoRoot, until, useScriptedAgents, workspaceRepo } from './helpers';

describe('the grove CLI and the extension share one registry', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;

  before(async () => {
    agents = await useScriptedAgents((req) => (req.isToolResult ? text('CLI work done.') : write('from-cli.txt', 'written by a CLI-dispatched agent\n')));
  });

  after(async () => agents?.dispose());

  it('shows an instance dispatched by `grove dispatch` in the Agents view', async () => {
    const a = await api();
    const agentEnv = vscode.workspace.getConfiguration('grove').get<Record<string, string>>('agentEnv')!;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [path.join(repoRoot(), 'dist', 'cli.js'), 'dispatch', '--prompt', 'Write from-cli.txt', '--title', 'From the CLI',
        '--json', '--repo', workspaceRepo(), '--claude-path', path.join(repoRoot(), 'node_modules', '.bin', 'claude')],
      { env: { ...process.env, ...agentEnv, ELECTRON_RUN_AS_NODE: '1' }, timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const result = JSON.parse(out) as { ok: boolean; instances: { id: string; state: string }[] };
    assert.equal(result.ok, true);
    const id = result.instances[0].id;
    const row = await until('the CLI instance in the tree', async () =>
      flatten(await a.viewSnapshot()).find((n) => n.kind === 'instance' && n.id === id && /^done/.test(n.description)));
    assert.equal(row.label, 'From the CLI');
    assert.equal(a.instances().find((i) => i.id === id)?.state, 'done');
  });
});
