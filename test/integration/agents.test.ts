import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { text, write } from '../support/scriptedModel';
import { api, depthOf, flatten, until, untilInstance, useScriptedAgents } from './helpers';

/**
 * Agents in the real extension host: the real Claude Code CLI (node_modules) against a scripted model served
 * from this process; CLI state lives in a temporary folder given to agents through grove.agentEnv.
 */
describe('agents in the extension host', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;

  before(async () => {
    agents = await useScriptedAgents((req) => {
      if (req.isToolResult) return text('All done.');
      const m = /create (\S+)/i.exec(req.lastUserText);
      return m ? write(m[1], `written for: ${req.lastUserText}\n`) : text('Nothing to do.');
    });
  });

  after(async () => agents?.dispose());

  it('runs a background agent that writes a file; the view shows it done under its worktree', async () => {
    const a = await api();
    const [inst] = await a.dispatch([{ title: 'Background writer', prompt: 'Please create bg-result.txt' }], { mode: 'background' });
    assert.ok(['queued', 'provisioning'].includes(inst.state), inst.state);
    const done = await untilInstance(a, inst.id, (i) => i.state === 'done' || i.state === 'failed', 'the background agent to finish');
    assert.equal(done.state, 'done', done.error);
    assert.ok(done.sessionId, 'no session id recorded');
    assert.ok(fs.readFileSync(path.join(done.worktreePath, 'bg-result.txt'), 'utf8').includes('create bg-result.txt'));
    const row = await until('the instance row under its worktree', async () => {
      const wt = flatten(await a.viewSnapshot()).find((n) => n.kind === 'worktree' && n.id === done.worktreePath);
      return wt?.children.find((c) => c.id === inst.id && /^done/.test(c.description) && c.children.some((k) => k.kind === 'change'));
    });
    assert.equal(row.label, 'Background writer');
    assert.equal(row.icon, 'pass');
    assert.match(row.contextValue, /^instance\.done\.background/);
    // To a depth: the same rows down to the agent's, none of theirs (its changed file is a row under it).
    const depth = depthOf(await a.viewSnapshot(), (n) => n.kind === 'instance' && n.id === inst.id);
    assert.ok(depth);
    const shallow = flatten(await a.viewSnapshot({ depth })).find((n) => n.kind === 'instance' && n.id === inst.id);
    assert.equal(shallow?.description, row.description);
    assert.deepEqual(shallow?.children, []);
  });

  it('shows a readable live transcript with Show Log', async () => {
    const a = await api();
    const inst = a.instances().find((i) => i.title === 'Background writer');
    assert.ok(inst, 'the previous test did not leave its instance');
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>('grove.showLog', { kind: 'instance', id: inst.id });
    assert.equal(doc.uri.scheme, 'grove-log');
    const body = doc.getText();
    assert.match(body, /▶ You:\n {4}Please create bg-result\.txt/);
    assert.match(body, /⚙ Write bg-result\.txt/);
    assert.match(body, /✔ Done/);
    assert.doesNotMatch(body, /integration-test-key/, 'the API key leaked into the log');
  });

  it('runs Claude Code interactively in a managed terminal; hooks drive running → waiting → exited', async () => {
    const a = await api();
    const [inst] = await a.dispatch([{ title: 'Terminal writer', prompt: 'Please create term-result.txt' }], { mode: 'terminal' });
    const waiting = await untilInstance(a, inst.id, (i) => i.state === 'waiting' || i.state === 'failed', 'the terminal agent to wait for the user', 120_000);
    assert.equal(waiting.state, 'waiting', waiting.error);
    assert.equal(waiting.waitReason, 'user');
    assert.ok(fs.existsSync(path.join(waiting.worktreePath, 'term-result.txt')), 'the agent did not write its file');
    const terminal = vscode.window.terminals.find((t) => t.name === 'Grove: Terminal writer');
    assert.ok(terminal, 'no managed terminal named after the task');
    const opts = terminal.creationOptions as vscode.TerminalOptions;
    assert.equal(opts.cwd, waiting.worktreePath);
    assert.ok(opts.shellArgs?.includes('--session-id'), 'not started with --session-id');
    assert.equal(opts.shellArgs?.at(-1), 'Please create term-result.txt', 'the prompt is not one argument');
    terminal.dispose();
    const ended = await untilInstance(a, inst.id, (i) => i.state === 'done' || i.state === 'failed' || i.state === 'stopped', 'the terminal agent to end');
    assert.equal(ended.state, 'done');
  });
});
