import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { text, write } from '../support/scriptedModel';
import { api, repoRoot, untilInstance, useScriptedAgents } from './helpers';

/** What a tool answered, as the model reads it. */
async function call(name: string, input: Record<string, unknown>): Promise<string> {
  const r = await vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined });
  return r.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
}

describe('Grove as language-model tools for VS Code\'s own agents', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;

  before(async () => {
    agents = await useScriptedAgents((req) => (req.isToolResult ? text('Wrote it.') : write('lm-tool.txt', 'written for the tool test\n')));
  });

  after(async () => {
    await agents?.dispose();
  });

  it('registers every tool package.json contributes, with its schema', async () => {
    await api();
    const contributed = (JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { contributes: { languageModelTools: { name: string }[] } })
      .contributes.languageModelTools.map((t) => t.name);
    const registered = new Map(vscode.lm.tools.map((t) => [t.name, t]));
    assert.ok(contributed.length >= 8, `only ${contributed.length} tools contributed`);
    for (const name of contributed) {
      const tool = registered.get(name);
      assert.ok(tool, `${name} is contributed but not registered`);
      assert.ok(tool.inputSchema && typeof tool.inputSchema === 'object', `${name} has no input schema`);
    }
  });

  it('grove_wait and grove_status answer about an agent the window runs, as grove mcp would', async () => {
    const a = await api();
    const [inst] = await a.dispatch([{ title: 'Written for a tool', prompt: 'Write lm-tool.txt' }], { mode: 'background' });
    const waited = JSON.parse(await call('grove_wait', { ids: [inst.id], timeoutSeconds: 120 })) as { settled: boolean; instances: { id: string; state: string }[] };
    const mine = waited.instances.find((i) => i.id === inst.id);
    assert.equal(mine?.state, 'done', JSON.stringify(waited));
    await untilInstance(a, inst.id, (i) => i.state === 'done', 'the agent done in the fleet too');
    const status = await call('grove_status', {});
    assert.match(status, new RegExp(inst.id));
    assert.match(status, /Written for a tool/);
    // An error a model can act on, not a stack trace.
    await assert.rejects(Promise.resolve(vscode.lm.invokeTool('grove_follow_up', { input: { id: 'no-such-agent', prompt: 'x' }, toolInvocationToken: undefined })), /no-such-agent|No instance|not found/i);
  });
});
