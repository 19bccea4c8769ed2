import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { text } from '../support/scriptedModel';
import { api, until, untilInstance, useScriptedAgents } from './helpers';

/** Terminal agents: what reaches the terminal's environment, and what typed follow-ups look like to the agent. */
describe('terminal agents: environment and typed input', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;

  before(async () => {
    agents = await useScriptedAgents((req) => text(`Read ${req.lastUserText.length} characters.`));
  });
  after(async () => agents?.dispose());

  it('hooks work without ELECTRON_RUN_AS_NODE in the terminal; a multi-line follow-up with control characters arrives whole', async () => {
    const a = await api();
    const [inst] = await a.dispatch([{ title: 'Typed input', prompt: 'Say hello' }], { mode: 'terminal' });
    const waiting = await untilInstance(a, inst.id, (i) => i.state === 'waiting' || i.state === 'failed', 'the terminal agent to wait for the user', 120_000);
    assert.equal(waiting.state, 'waiting', waiting.error);
    const terminal = vscode.window.terminals.find((t) => t.name === 'Grove: Typed input');
    assert.ok(terminal, 'no managed terminal');
    const env = (terminal.creationOptions as vscode.TerminalOptions).env ?? {};
    assert.equal(env.ELECTRON_RUN_AS_NODE, null, 'the terminal must not pass ELECTRON_RUN_AS_NODE on to what the agent runs');

    const before = agents.model.requests.length;
    await vscode.commands.executeCommand('grove.followUp', { kind: 'instance', id: inst.id }, { prompt: 'First line\r\nsecond\rthird\x1b[201~\x1b[2J\x07 end' });
    const req = await until('the follow-up to reach the model', () => agents.model.requests.slice(before).find((r) => /First line/.test(r.lastUserText)), 90_000);
    assert.match(req.lastUserText, /First line\nsecond\nthird\[201~\[2J end/, JSON.stringify(req.lastUserText));
    await untilInstance(a, inst.id, (i) => i.state === 'waiting', 'the follow-up turn to end');
    assert.equal(agents.model.requests.slice(before).length, 1, 'the text was submitted in pieces');
    terminal.dispose();
    await untilInstance(a, inst.id, (i) => i.state === 'done' || i.state === 'failed' || i.state === 'stopped', 'the terminal agent to end');
  });
});
