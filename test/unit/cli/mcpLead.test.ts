// `grove mcp` as a lead agent plans with it: every tool's schema, one actionable error per tool, grove_wait blocking
// (with progress, a timeout, cancellation) and returning what the agents did, grove_land. The BUILT dist/cli.js
// with the real Claude Code CLI behind it against the scripted model.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { claudeBin, claudeEnv, repoRoot } from '../../support/claudeEnv';
import { McpClient } from '../../support/mcpClient';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { hang, ScriptedModel, text, write } from '../../support/scriptedModel';

const CLI = path.join(repoRoot(), 'dist', 'cli.js');
const TOOL_NAMES = ['grove_dispatch', 'grove_wait', 'grove_status', 'grove_review', 'grove_follow_up', 'grove_stop', 'grove_land', 'grove_merge', 'grove_remove', 'grove_snapshots', 'grove_restore', 'grove_turns', 'grove_revert_turn', 'grove_log'];

/** Every property of a schema (and of array items) has a type and a description a model can follow. */
function undescribed(schema: any, at: string): string[] {
  const out: string[] = [];
  for (const [k, p] of Object.entries<any>(schema.properties ?? {})) {
    if (!p.type) out.push(`${at}.${k}: no type`);
    if (typeof p.description !== 'string' || p.description.length < 12) out.push(`${at}.${k}: no description`);
    if (p.items?.type === 'object') out.push(...undescribed(p.items, `${at}.${k}[]`));
  }
  return out;
}

describe('grove mcp for a lead agent (real Claude CLI)', function () {
  this.timeout(90_000);
  const repos = useTempRepos();
  let model: ScriptedModel;
  let child: ChildProcess | undefined;
  let repo: string;

  const serve = async (existing?: string): Promise<McpClient> => {
    repo = existing ?? repos.create({ files: { 'README.md': '# demo\n' } });
    const env = { ...claudeEnv({ root: repos.dir('claude'), baseUrl: model.url }).env, ...gitTestEnv };
    child = spawn(process.execPath, [CLI, 'mcp', '--repo', repo, '--claude-path', claudeBin()], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const mcp = new McpClient(child);
    await mcp.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'lead', version: '1' } });
    mcp.notify('notifications/initialized');
    return mcp;
  };

  repos.closeFirst(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
    await model?.close();
  });

  it('lists every tool with a described input schema, and each tool refuses a wrong call saying what to do instead', async () => {
    model = await ScriptedModel.start({ rule: () => text('unused') });
    const mcp = await serve();
    const { result } = await mcp.request('tools/list');
    assert.deepEqual(result.tools.map((t: any) => t.name), TOOL_NAMES);
    for (const t of result.tools) {
      assert.equal(t.inputSchema.type, 'object', t.name);
      assert.equal(t.inputSchema.additionalProperties, false, t.name);
      assert.ok(t.description.length > 60, t.name);
      assert.deepEqual(undescribed(t.inputSchema, t.name), []);
    }
    const tools = Object.fromEntries(result.tools.map((t: any) => [t.name, t.inputSchema]));
    assert.deepEqual(Object.keys(tools.grove_wait.properties), ['ids', 'timeoutSeconds']);
    assert.equal(tools.grove_wait.required, undefined, 'no ids: every instance this server dispatched');
    assert.equal(tools.grove_land.required, undefined, 'no ids: every done instance (Land All)');
    assert.deepEqual(tools.grove_land.properties.strategy.enum, ['merge', 'squash', 'rebase']);

    const errors: Record<string, [Record<string, unknown>, RegExp]> = {
      grove_dispatch: [{}, /^give tasks \(an array of \{title, prompt\}\) or plan/],
      grove_wait: [{}, /^this server has dispatched nothing yet: give ids \(grove_status lists the instances\) or call grove_dispatch first$/],
      grove_status: [{ id: 'nope' }, /^No instance "nope" in .*\. grove_status lists the instances of this repository\.$/],
      grove_review: [{ id: 'nope', maxPatchChars: 5 }, /^maxPatchChars must be a number from 1000 to 10000000$/],
      grove_follow_up: [{ id: 'nope' }, /^missing required argument\(s\): prompt$/],
      grove_stop: [{ id: 'nope' }, /^No instance "nope".*grove_status lists/],
      grove_land: [{ ids: [] }, /^ids must name at least one instance$/],
      grove_merge: [{ id: 'nope', strategy: 'octopus' }, /^strategy must be merge, squash or rebase, not "octopus"$/],
      grove_remove: [{ id: 'nope', force: 'yes' }, /^force must be true or false$/],
      grove_snapshots: [{ all: true }, /^unknown argument\(s\) all/],
      grove_restore: [{ id: 'nope', branchName: 'x', detach: true }, /^give branchName or detach, not both$/],
      grove_turns: [{ id: 'nope' }, /^No instance "nope".*grove_status lists/],
      grove_revert_turn: [{ id: 'nope', beforeTurn: 0 }, /^beforeTurn must be a number from 1 to 1000000$/],
      grove_log: [{ id: 'nope', lines: 3 }, /^unknown argument\(s\) lines: grove_log takes id, raw, tailLines$/],
    };
    assert.deepEqual(Object.keys(errors), TOOL_NAMES);
    for (const [name, [args, expected]] of Object.entries(errors)) {
      const r = await mcp.call(name, args);
      assert.equal(r.isError, true, name);
      assert.match(r.text, expected, name);
    }
    child!.stdin!.end();
    assert.equal(await mcp.exited, 0);
  });

  it('grove_wait: a 1 s timeout on a running agent says "still running" with its state (progress meanwhile); stop it and the next wait returns every agent settled with result and diff stat; grove_land lands the done one', async () => {
    model = await ScriptedModel.start({ rule: (req) => (/Slow/.test(req.firstUserText) ? hang() : req.isToolResult ? text('Quick written.') : write('quick.txt', 'quick\n')) });
    const mcp = await serve();
    const d = await mcp.call('grove_dispatch', { tasks: [{ title: 'Slow', prompt: 'Slow work' }, { title: 'Quick', prompt: 'Create quick.txt' }] });
    assert.equal(d.isError, false, d.text);
    assert.match(d.data.next, /Call grove_wait/);
    const [slow, quick] = d.data.instances;
    const listed = await mcp.call('grove_status', { mine: true });
    assert.deepEqual(listed.data.instances.map((i: any) => i.title), ['Slow', 'Quick'], 'mine: what this server dispatched');

    for (let i = 0; i < 200 && (await mcp.call('grove_status', { id: slow.id })).data.instances[0].state !== 'running'; i++) await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const still = await mcp.call('grove_wait', { ids: ['Slow'], timeoutSeconds: 1 }, { progressToken: 'w1' });
    assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
    assert.equal(still.isError, false, still.text);
    assert.equal(still.data.settled, false);
    assert.equal(still.data.timedOut, true);
    assert.deepEqual(still.data.instances.map((e: any) => [e.title, e.state, e.settled]), [['Slow', 'running', false]]);
    assert.match(still.data.message, /^Still running after 1 s: "Slow" \(running\)\. Call grove_wait again to keep waiting\.$/);
    const progress = mcp.stray.filter((m) => m.method === 'notifications/progress' && m.params.progressToken === 'w1');
    assert.ok(progress.length >= 1, JSON.stringify(mcp.stray));
    assert.equal(progress[0].params.total, 1);
    assert.match(progress[0].params.message, /^0\/1 settled: Slow: running$/);

    const early = await mcp.call('grove_land', { ids: ['Slow'] });
    assert.equal(early.isError, true);
    assert.equal(early.text, '"Slow" is still running: call grove_wait with its id first (or grove_stop it), then land it.');

    // A cancelled wait gets no answer, and the server goes on answering.
    child!.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id: 900, method: 'tools/call', params: { name: 'grove_wait', arguments: { ids: [slow.id] } } })}\n`);
    await new Promise((r) => setTimeout(r, 300));
    mcp.notify('notifications/cancelled', { requestId: 900, reason: 'the lead moved on' });
    assert.deepEqual((await mcp.request('ping')).result, {});

    assert.equal((await mcp.call('grove_stop', { id: slow.id })).isError, false);
    const all = await mcp.call('grove_wait', { timeoutSeconds: 60 });
    assert.equal(all.isError, false, all.text);
    assert.equal(all.data.settled, true);
    const byTitle = Object.fromEntries(all.data.instances.map((e: any) => [e.title, e]));
    assert.deepEqual(Object.keys(byTitle).sort(), ['Quick', 'Slow'], 'no ids: every instance this server dispatched');
    assert.equal(byTitle.Slow.state, 'stopped');
    assert.equal(byTitle.Quick.state, 'done');
    assert.equal(byTitle.Quick.result, 'Quick written.');
    assert.deepEqual(byTitle.Quick.diffStat, { files: 1, insertions: 1, deletions: 0, paths: ['quick.txt'] });
    assert.match(all.data.message, /^All 2 settled: .*Next: grove_review the done ones, grove_follow_up for fixes, then grove_land\.$/);

    const land = await mcp.call('grove_land', { ids: [quick.id] });
    assert.equal(land.isError, false, land.text);
    assert.deepEqual(land.data.landed.map((l: any) => [l.title, l.into]), [['Quick', 'main']]);
    assert.equal(git(repo, 'status', '--porcelain'), '', 'the agent\'s uncommitted quick.txt was committed and landed; the checkout is untouched');
    assert.equal(land.data.message, 'Landed "Quick" into main.');
    assert.equal(git(repo, 'show', 'main:quick.txt'), 'quick');
    assert.equal(mcp.stray.filter((m) => m.id === 900).length, 0, 'the cancelled call was never answered');
    child!.stdin!.end();
    assert.equal(await mcp.exited, 0);
  });

  it('grove_dispatch with detach: the background driver runs the agent on after the lead\'s server is gone; a new server waits for it to done', async () => {
    model = await ScriptedModel.start({ rule: (req) => (req.isToolResult ? text('Late written.') : { ...write('late.txt', 'late\n'), delayMs: 1500 }) });
    const first = await serve();
    const d = await first.call('grove_dispatch', { tasks: [{ title: 'Late', prompt: 'Create late.txt' }], detach: true });
    assert.equal(d.isError, false, d.text);
    assert.match(d.data.next, /background driver runs them/);
    const driverPid = d.data.driver.pid as number;
    assert.notEqual(driverPid, child!.pid);
    child!.stdin!.end();
    assert.equal(await first.exited, 0);
    assert.match(first.stderr, /^$/, 'the server had no agent of its own to stop');

    const second = await serve(repo);
    const w = await second.call('grove_wait', { ids: ['Late'], timeoutSeconds: 60 });
    assert.equal(w.isError, false, w.text);
    assert.deepEqual(w.data.instances.map((e: any) => [e.title, e.state, e.result]), [['Late', 'done', 'Late written.']]);
    const alive = () => {
      try {
        process.kill(driverPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(), false, 'the driver exited when idle');
    child!.stdin!.end();
    assert.equal(await second.exited, 0);
  });
});
