import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { text, write } from '../support/scriptedModel';
import { api, flatten, setConfig, until, untilInstance, useScriptedAgents } from './helpers';

describe('take over, hand back, profiles, Ask Agent and 20 agents at once', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
  /** While set, the model holds its first answer to every fleet agent (so all of them stay running) until it settles. */
  let fleetGate: Promise<void> | undefined;

  before(async () => {
    agents = await useScriptedAgents(async (req) => {
      if (req.isToolResult) return text('Done with that.');
      const m = /create (\S+)/i.exec(req.lastUserText);
      if (m && /fleet-/.test(m[1])) await fleetGate;
      return m ? write(m[1], `for: ${req.lastUserText}\n`) : text(`You said: ${req.lastUserText.slice(0, 200)}`);
    });
  });

  after(async () => {
    await setConfig({ agents: undefined, maxConcurrent: undefined });
    await agents?.dispose();
  });

  it('takes a background session over in a terminal (claude --resume), follows up there, and hands it back', async () => {
    const a = await api();
    const [q] = await a.dispatch([{ title: 'Take me over', prompt: 'Please create first.txt' }], { mode: 'background' });
    const done = await untilInstance(a, q.id, (i) => i.state === 'done' || i.state === 'failed', 'the background run');
    assert.equal(done.state, 'done', done.error);
    const session = done.sessionId!;

    await vscode.commands.executeCommand('grove.takeOver', { kind: 'instance', id: q.id });
    const waiting = await untilInstance(a, q.id, (i) => i.mode === 'terminal' && i.state === 'waiting', 'the terminal session');
    assert.equal(waiting.sessionId, session);
    const terminal = vscode.window.terminals.find((t) => t.name === 'Grove: Take me over');
    assert.ok(terminal, 'no terminal for the taken-over session');
    const args = (terminal.creationOptions as vscode.TerminalOptions).shellArgs as string[];
    assert.deepEqual(args.slice(args.indexOf('--resume'), args.indexOf('--resume') + 2), ['--resume', session]);

    await vscode.commands.executeCommand('grove.followUp', { kind: 'instance', id: q.id }, { prompt: 'Please create second.txt' });
    await until('the follow-up typed into the terminal session', () => fs.existsSync(path.join(done.worktreePath, 'second.txt')) || undefined);
    await untilInstance(a, q.id, (i) => i.state === 'waiting', 'the terminal turn to end');

    await vscode.commands.executeCommand('grove.handBack', { kind: 'instance', id: q.id });
    const back = await untilInstance(a, q.id, (i) => i.mode === 'background' && i.state === 'done', 'the hand-back');
    assert.equal(back.sessionId, session);
    await vscode.commands.executeCommand('grove.followUp', { kind: 'instance', id: q.id }, { prompt: 'Please create third.txt' });
    const again = await untilInstance(a, q.id, (i) => i.state === 'done' && fs.existsSync(path.join(i.worktreePath, 'third.txt')), 'the background follow-up');
    assert.equal(again.sessionId, session, 'the follow-up did not continue the same session');
    // The model saw the whole conversation: the first and the terminal prompts are in the last request's history.
    const last = agents.model.requests.filter((r) => /third\.txt/.test(r.lastUserText)).pop();
    assert.ok(last, 'the model never saw the third prompt');
    const history = JSON.stringify(last.body.messages);
    assert.match(history, /first\.txt/);
    assert.match(history, /second\.txt/);
  });

  it('runs another CLI through a profile in a terminal; its exit decides done', async () => {
    await setConfig({ agents: [{ name: 'scripted-cli', command: process.execPath, args: ['-e', "require('fs').writeFileSync('profile-out.txt', process.argv[1])", '${prompt}'] }] });
    const a = await api();
    const [q] = await a.dispatch([{ title: 'Profile run', prompt: 'it\'s "quoted" $(not run) `nor this`', profile: 'scripted-cli' }], { mode: 'terminal' });
    const done = await untilInstance(a, q.id, (i) => i.state === 'done' || i.state === 'failed', 'the profile CLI to exit');
    assert.equal(done.state, 'done', done.error);
    assert.equal(fs.readFileSync(path.join(done.worktreePath, 'profile-out.txt'), 'utf8'), 'it\'s "quoted" $(not run) `nor this`');
  });

  it('asks the agent about selected lines from the diff editor', async () => {
    const a = await api();
    const [q] = await a.dispatch([{ title: 'Ask me', prompt: 'Please create ask.txt' }], { mode: 'background' });
    const done = await untilInstance(a, q.id, (i) => i.state === 'done' || i.state === 'failed', 'the run');
    const file = path.join(done.worktreePath, 'src', 'app.js');
    const doc = await vscode.workspace.openTextDocument(file);
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(1, 0, 1, 100);
    const prompt = await vscode.commands.executeCommand<string>('grove.askAgent', undefined, { request: 'Make this friendlier' });
    assert.match(prompt, /In `src\/app\.js, lines 2–2`:/);
    assert.match(prompt, /Make this friendlier/);
    await until('the follow-up to reach the model', () => agents.model.requests.find((r) => /Make this friendlier/.test(r.lastUserText)));
    await untilInstance(a, q.id, (i) => i.state === 'done', 'the follow-up to finish');
  });

  // How long the extension host stalls meanwhile is measured by `npm run bench` (test/bench/hostLag.mjs), not here.
  it('runs 20 background agents at once and still answers commands and renders the view while they all run', async function () {
    this.timeout(420_000);
    await setConfig({ maxConcurrent: 20 });
    const a = await api();
    let release!: () => void;
    fleetGate = new Promise<void>((r) => (release = r));
    try {
      const tasks = Array.from({ length: 20 }, (_, i) => ({ title: `Fleet ${i + 1}`, prompt: `Please create fleet-${i + 1}.txt` }));
      const queued = await a.dispatch(tasks, { mode: 'background' });
      const ids = new Set(queued.map((q) => q.id));
      const mine = () => a.instances().filter((i) => ids.has(i.id));
      // All 20 CLIs are up and waiting on the model at the same time.
      await until('20 agents running at once, each waiting on its first answer', () => {
        const asked = new Set(agents.model.requests.map((r) => /create (fleet-\d+)\.txt/.exec(r.lastUserText)?.[1]).filter(Boolean));
        return (mine().filter((i) => i.state === 'running').length === 20 && asked.size === 20) || undefined;
      }, 300_000);
      // The host still answers: a command round-trip, and a full render of the view with every agent running.
      await vscode.commands.executeCommand('grove.refresh');
      const rows = flatten(await a.viewSnapshot()).filter((n) => n.kind === 'instance' && ids.has(n.id));
      assert.equal(rows.length, 20);
      assert.deepEqual(rows.filter((r) => !r.description.startsWith('running') || !r.contextValue.startsWith('instance.running')).map((r) => `${r.label}: ${r.description}`), []);
      assert.deepEqual(mine().filter((i) => i.state !== 'running').map((i) => `${i.title}: ${i.state}`), []);
      release();
      await until('all 20 done', () => mine().filter((i) => i.state === 'done' || i.state === 'failed').length === 20 || undefined, 300_000);
      assert.deepEqual(mine().filter((i) => i.state === 'failed').map((f) => `${f.title}: ${f.error}`), []);
      for (const i of mine()) assert.ok(fs.existsSync(path.join(i.worktreePath, `fleet-${i.title.split(' ')[1]}.txt`)), `${i.title} wrote no file`);
    } finally {
      release();
      fleetGate = undefined;
    }
  });
});
