import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { text, write } from '../support/scriptedModel';
import { api, flatten, setConfig, until, untilInstance, useScriptedAgents } from './helpers';

/**
 * This tier is a remote window: code-server keeps the workspace folder, the extension host, terminals (its pty host)
 * and file watchers on the server, and the workbench runs in a browser, as in Remote-SSH, dev containers or WSL.
 * These tests check that what Grove needs from "the machine where the workspace lives" works from there.
 */
describe('a remote window: workspace, extension host, terminals and file watchers on the server', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;

  before(async () => {
    agents = await useScriptedAgents((req) => {
      if (req.isToolResult) return text('All done.');
      const m = /create (\S+)/i.exec(req.lastUserText);
      return m ? write(m[1], `written on the remote side for: ${req.lastUserText}\n`) : text('Nothing to do.');
    });
  });

  after(async () => {
    await setConfig({ agents: undefined });
    await agents?.dispose();
  });

  it('runs Grove in the remote extension host, on the machine that holds the workspace folder', async () => {
    const ext = vscode.extensions.getExtension('grove-dev.grove')!;
    assert.ok(vscode.env.remoteName, 'this window is not remote: the tier proves nothing about remote windows');
    assert.equal(vscode.env.uiKind, vscode.UIKind.Web, 'the workbench should run in the browser, apart from the host');
    assert.equal(ext.extensionKind, vscode.ExtensionKind.Workspace, 'Grove must run where the workspace is');
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.equal(folder?.scheme, 'file', 'the extension host should see the folder as a local file of its machine');
    assert.ok(fs.existsSync(path.join(folder.fsPath, '.git')), 'the extension host cannot read the workspace folder from its disk');
    console.log(`      (VS Code ${vscode.version}, remote "${vscode.env.remoteName}", extension host on Node ${process.versions.node})`);
  });

  it('runs a terminal agent in a terminal on the remote side, in its worktree; the file watcher there reports its changes', async () => {
    // A CLI without hooks: Grove follows it through a file watcher on its worktree. It writes its working directory
    // into a file, then stays until the test lets it go.
    const script = "const fs = require('fs'); fs.writeFileSync('from-terminal.txt', process.cwd());"
      + " const t = setInterval(() => { if (fs.existsSync('release.txt')) clearInterval(t); }, 100);";
    await setConfig({ agents: [{ name: 'remote-cli', command: process.execPath, args: ['-e', script, '${prompt}'] }] });
    const a = await api();
    const [q] = await a.dispatch([{ title: 'Remote terminal', prompt: 'write where you run', profile: 'remote-cli' }], { mode: 'terminal' });
    const seen = await untilInstance(a, q.id, (i) => i.state === 'running' && i.lastActivity === 'Changed from-terminal.txt', 'the watcher to report the file the terminal agent wrote');
    const terminal = vscode.window.terminals.find((t) => t.name === 'Grove: Remote terminal');
    assert.ok(terminal, 'no terminal for the agent');
    assert.ok(await terminal.processId, 'the terminal has no process on the remote side');
    assert.equal(fs.realpathSync(fs.readFileSync(path.join(seen.worktreePath, 'from-terminal.txt'), 'utf8')), fs.realpathSync(seen.worktreePath));
    fs.writeFileSync(path.join(seen.worktreePath, 'release.txt'), 'go');
    const done = await untilInstance(a, q.id, (i) => i.state === 'done' || i.state === 'failed', 'the terminal agent to exit');
    assert.equal(done.state, 'done', done.error);
  });

  it('runs a background agent there, and a file changed on the remote disk outside VS Code shows in the Agents view without a refresh', async () => {
    const a = await api();
    const [q] = await a.dispatch([{ title: 'Remote background', prompt: 'Please create remote-bg.txt' }], { mode: 'background' });
    const done = await untilInstance(a, q.id, (i) => i.state === 'done' || i.state === 'failed', 'the background agent');
    assert.equal(done.state, 'done', done.error);
    assert.match(fs.readFileSync(path.join(done.worktreePath, 'remote-bg.txt'), 'utf8'), /written on the remote side/);
    // The agent's changed files: the children of its row in the Agents view.
    const changes = async () => flatten(await a.viewSnapshot()).find((n) => n.kind === 'instance' && n.id === q.id)?.children.filter((c) => c.kind === 'change') ?? [];
    await until('the agent\'s file among its changes', async () => (await changes()).some((n) => n.label === 'remote-bg.txt') || undefined);
    // As a person in a shell on the server would: no VS Code command involved, only the watchers see it.
    fs.writeFileSync(path.join(done.worktreePath, 'outside.txt'), 'made in a shell on the server\n');
    await until('the file made outside VS Code among the agent\'s changes', async () => (await changes()).some((n) => n.label === 'outside.txt') || undefined);
  });
});
