import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as vscode from 'vscode';
import { groveMcpServer, hasMcpServerApi, MCP_PROVIDER_ID } from '../../src/vscode/mcpServer';
import { api, until, workspaceRepo } from './helpers';

describe('grove mcp offered to VS Code\'s MCP client', function () {
  this.timeout(60_000);

  it('the server definition starts the packaged CLI on the editor\'s runtime and lists Grove\'s tools', async () => {
    await api();
    const ext = vscode.extensions.getExtension('grove-dev.grove')!;
    const contributed = (ext.packageJSON as { contributes: { mcpServerDefinitionProviders?: { id: string }[] } }).contributes.mcpServerDefinitionProviders ?? [];
    assert.deepEqual(contributed.map((p) => p.id), [MCP_PROVIDER_ID]);
    const s = groveMcpServer(ext.extensionPath, workspaceRepo());
    const server = spawn(s.command, s.args, { cwd: s.cwd, env: { ...process.env, ...s.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const replies = new Map<number, { tools?: { name: string }[] }>();
    let buffer = '';
    server.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { id?: number; result?: { tools?: { name: string }[] } };
        buffer = buffer.slice(nl + 1);
        if (msg.id !== undefined && msg.result) replies.set(msg.id, msg.result);
      }
    });
    const send = (m: object) => server.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    try {
      send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'vscode-test', version: '1' } } });
      await until('the initialize reply', () => replies.get(1));
      send({ method: 'notifications/initialized' });
      send({ id: 2, method: 'tools/list', params: {} });
      const list = await until('the tools', () => replies.get(2));
      const names = (list.tools ?? []).map((t) => t.name);
      for (const n of ['grove_dispatch', 'grove_wait', 'grove_status', 'grove_land']) assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
    } finally {
      server.kill();
    }
    // The provider is registered only where the finalised API exists (1.101+); 1.100's earlier form is skipped.
    assert.equal(hasMcpServerApi(), Number(vscode.version.split('.')[1]) >= 101, `the MCP server API on ${vscode.version}`);
  });
});
