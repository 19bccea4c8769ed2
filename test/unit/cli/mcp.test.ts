// `grove mcp` spoken to as an MCP client would: newline-delimited JSON-RPC 2.0 over the stdio of the BUILT
// dist/cli.js, with the real Claude Code CLI behind it against the scripted model.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { claudeBin, claudeEnv, repoRoot } from '../../support/claudeEnv';
import { McpClient } from '../../support/mcpClient';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { hang, ScriptedModel, text, write } from '../../support/scriptedModel';

const CLI = path.join(repoRoot(), 'dist', 'cli.js');

describe('grove mcp (MCP over stdio, real Claude CLI)', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let model: ScriptedModel;
  let child: ChildProcess | undefined;

  repos.closeFirst(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
    await model?.close();
  });

  it('initializes, lists the tools with their schemas, and drives a dispatched task to done', async () => {
    model = await ScriptedModel.start({ rule: (req) => (req.isToolResult ? text('Delta written.') : write('delta.txt', 'delta\n')) });
    const repo = repos.create();
    const env = { ...claudeEnv({ root: repos.dir('claude'), baseUrl: model.url }).env, ...gitTestEnv };
    child = spawn(process.execPath, [CLI, 'mcp', '--repo', repo, '--claude-path', claudeBin()], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const mcp = new McpClient(child);

    const init = await mcp.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } });
    assert.equal(init.result.protocolVersion, '2025-06-18');
    assert.deepEqual(init.result.capabilities, { tools: { listChanged: false } });
    assert.equal(init.result.serverInfo.name, 'grove');
    mcp.notify('notifications/initialized');
    assert.deepEqual((await mcp.request('ping')).result, {});
    assert.equal((await mcp.request('no/such')).error.code, -32601);

    const { result } = await mcp.request('tools/list');
    const tools = Object.fromEntries(result.tools.map((t: any) => [t.name, t]));
    assert.deepEqual(Object.keys(tools), ['grove_dispatch', 'grove_wait', 'grove_status', 'grove_review', 'grove_follow_up', 'grove_stop', 'grove_land', 'grove_merge', 'grove_remove', 'grove_snapshots', 'grove_restore', 'grove_turns', 'grove_revert_turn', 'grove_log']);
    for (const t of result.tools) {
      assert.equal(t.inputSchema.type, 'object', t.name);
      assert.ok(t.description.length > 20, t.name);
    }
    assert.deepEqual(tools.grove_dispatch.inputSchema.properties.tasks.items.required, ['title', 'prompt']);
    assert.deepEqual(Object.keys(tools.grove_dispatch.inputSchema.properties).sort(), ['base', 'detach', 'model', 'plan', 'select', 'tasks']);
    assert.deepEqual(tools.grove_follow_up.inputSchema.required, ['id', 'prompt']);
    assert.deepEqual(tools.grove_merge.inputSchema.properties.strategy.enum, ['merge', 'squash', 'rebase']);
    assert.deepEqual(Object.keys(tools.grove_land.inputSchema.properties).sort(), ['cleanup', 'commit', 'ids', 'strategy', 'wait']);
    for (const name of ['grove_stop', 'grove_review', 'grove_merge', 'grove_remove', 'grove_restore', 'grove_turns', 'grove_log']) assert.deepEqual(tools[name].inputSchema.required, ['id'], name);

    const empty = await mcp.call('grove_status', {});
    assert.equal(empty.isError, false);
    assert.deepEqual(empty.data, { instances: [] });

    const dispatched = await mcp.call('grove_dispatch', { tasks: [{ title: 'Delta', prompt: 'Create delta.txt' }] });
    assert.equal(dispatched.isError, false, dispatched.text);
    const [inst] = dispatched.data.instances;
    assert.equal(inst.title, 'Delta');
    assert.ok(['queued', 'provisioning', 'starting'].includes(inst.state), inst.state);

    let now: any;
    for (let i = 0; i < 150; i++) {
      now = (await mcp.call('grove_status', { id: inst.id })).data.instances[0];
      if (now.state === 'done' || now.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(now.state, 'done', JSON.stringify(now));
    assert.equal(now.result, 'Delta written.');
    assert.deepEqual(now.overlaps, [], 'the conflict radar: no other agent touches its files');
    assert.equal(fs.readFileSync(path.join(now.worktreePath, 'delta.txt'), 'utf8'), 'delta\n');

    // The turn's checkpoint is recorded once its result came in, just after the state says done.
    let turned = await mcp.call('grove_turns', { id: inst.id });
    for (let i = 0; i < 50 && !turned.isError && turned.data.turns.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      turned = await mcp.call('grove_turns', { id: inst.id });
    }
    assert.equal(turned.isError, false, turned.text);
    assert.deepEqual(turned.data.turns.map((t: any) => t.turn), [0, 1]);
    assert.deepEqual(turned.data.turns[1].files.map((f: any) => f.path), ['delta.txt']);
    const unconfirmed = await mcp.call('grove_revert_turn', { id: inst.id, beforeTurn: 1 });
    assert.equal(unconfirmed.isError, true);
    assert.match(unconfirmed.text, /undoes the changes of 1 file\(s\): delta\.txt/);
    assert.ok(fs.existsSync(path.join(now.worktreePath, 'delta.txt')));

    const rev = await mcp.call('grove_review', { id: 'Delta' });
    assert.deepEqual(rev.data.files.map((f: any) => [f.path, f.untracked]), [['delta.txt', true]]);
    assert.match(rev.data.patch, /\+delta/);

    const refused = await mcp.call('grove_merge', { id: inst.id });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /has uncommitted work/);
    const merged = await mcp.call('grove_merge', { id: inst.id, commit: true });
    assert.equal(merged.isError, false, merged.text);
    assert.equal(git(repo, 'show', 'main:delta.txt'), 'delta');
    const nothing = await mcp.call('grove_land', {});
    assert.equal(nothing.isError, true);
    assert.match(nothing.text, /No done agent to land/);

    // Remove with force is restorable: grove_snapshots lists it, grove_restore brings the worktree back as it was.
    fs.writeFileSync(path.join(now.worktreePath, 'notes.md'), 'not committed\n');
    const removed = await mcp.call('grove_remove', { id: inst.id, force: true });
    assert.equal(removed.isError, false, removed.text);
    assert.ok(!fs.existsSync(now.worktreePath));
    const snaps = await mcp.call('grove_snapshots', {});
    assert.equal(snaps.isError, false, snaps.text);
    assert.equal(snaps.data.snapshots[0].id, removed.data.snapshotId);
    assert.equal(snaps.data.snapshots[0].reason, 'remove --force');
    const restored = await mcp.call('grove_restore', { id: removed.data.snapshotId });
    assert.equal(restored.isError, false, restored.text);
    assert.equal(restored.data.worktreePath, now.worktreePath);
    assert.equal(fs.readFileSync(path.join(now.worktreePath, 'notes.md'), 'utf8'), 'not committed\n');
    assert.equal(fs.readFileSync(path.join(now.worktreePath, 'delta.txt'), 'utf8'), 'delta\n');

    const bad = await mcp.call('grove_follow_up', { id: inst.id });
    assert.equal(bad.isError, true);
    assert.match(bad.text, /missing required argument\(s\): prompt/);

    child.stdin!.end();
    assert.equal(await mcp.exited, 0);
    assert.deepEqual(mcp.stray, []);
  });

  it('grove_status is always current: an instance another process dispatches, finishes or loses after the server started shows its new state', async () => {
    model = await ScriptedModel.start({ rule: (req) => (/Slow/.test(req.firstUserText) ? hang() : req.isToolResult ? text('Epsilon written.') : write('epsilon.txt', 'epsilon\n')) });
    const repo = repos.create();
    const env = { ...claudeEnv({ root: repos.dir('claude'), baseUrl: model.url }).env, ...gitTestEnv };
    child = spawn(process.execPath, [CLI, 'mcp', '--repo', repo, '--claude-path', claudeBin()], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const mcp = new McpClient(child);
    await mcp.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } });
    assert.deepEqual((await mcp.call('grove_status', {})).data, { instances: [] });
    const statusOf = async (title: string) => ((await mcp.call('grove_status', {})).data.instances as any[]).find((i) => i.title === title);
    const until = async (what: string, pred: () => Promise<boolean>) => {
      for (let i = 0; i < 200; i++) {
        if (await pred()) return;
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error(`timed out waiting for ${what}`);
    };

    // Another process dispatches and finishes a task after the server started.
    const other = spawn(process.execPath, [CLI, 'dispatch', '--repo', repo, '--prompt', 'Create epsilon.txt', '--title', 'Epsilon', '--claude-path', claudeBin()], { env, stdio: 'ignore' });
    await new Promise((r) => other.on('close', r));
    await until('Epsilon done in grove_status', async () => (await statusOf('Epsilon'))?.state === 'done');

    // Another process's agent runs, then that process dies: the server notices and records it interrupted.
    const doomed = spawn(process.execPath, [CLI, 'dispatch', '--repo', repo, '--prompt', 'Slow work', '--title', 'Doomed', '--claude-path', claudeBin()], { env, stdio: 'ignore' });
    await until('Doomed running in grove_status', async () => (await statusOf('Doomed'))?.state === 'running');
    doomed.kill('SIGKILL');
    await until('Doomed interrupted in grove_status', async () => (await statusOf('Doomed'))?.state === 'interrupted');
    assert.match((await statusOf('Doomed')).error, /grove CLI \(pid \d+.*\) ended/);
    child.stdin!.end();
    assert.equal(await mcp.exited, 0);
  });
});
