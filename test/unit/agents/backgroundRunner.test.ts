import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentEvent } from '../../../src/core/model';
import { waitForEvent } from '../../../src/core/util/event';
import { MemoryLogger } from '../../../src/core/util/logger';
import { BackgroundRunner, type BackgroundRunnerOptions } from '../../../src/core/agents/backgroundRunner';
import { apiError, bash, edit, hang, ScriptedModel, text, write, type ScriptReply } from '../../support/scriptedModel';
import { CLAUDE, collect, groupMembers, makeSandbox, pidAlive, processesMatching, sleep, type AgentSandbox } from '../../support/agentFixtures';

type Result = Extract<AgentEvent, { type: 'result' }>;

describe('background runner (real CLI)', function () {
  this.timeout(60_000);
  let model: ScriptedModel | undefined;
  let box: AgentSandbox | undefined;
  let runner: BackgroundRunner | undefined;

  afterEach(async () => {
    runner?.dispose();
    await model?.close();
    box?.cleanup();
    runner = model = box = undefined;
  });

  async function setup(script: ScriptReply[] | ((req: any) => ScriptReply), opts: Partial<BackgroundRunnerOptions> = {}, files?: Record<string, string>) {
    model = await ScriptedModel.start(typeof script === 'function' ? { rule: script } : { script });
    box = makeSandbox(model.url, files);
    const logger = new MemoryLogger();
    runner = new BackgroundRunner({
      cwd: box.repo, env: box.env, logPath: box.logPath, claudePath: CLAUDE(), logger, stopTimeouts: { interruptMs: 1500, terminateMs: 1500 }, ...opts,
    });
    const events = collect(runner.onDidEvent);
    return { runner, events, logger, box, model };
  }
  const resultOf = (events: AgentEvent[]) => events.find((e): e is Result => e.type === 'result');

  it('edits files with Write and Edit, reports activity, session, cost and a successful result', async () => {
    const { runner, events, logger, box } = await setup(
      [write('src/app.ts', 'export const answer = 41;\n'), edit('src/app.ts', '41', '42'), text('Answer fixed.')],
      {},
      { 'README.md': '# x\n' },
    );
    const exit = await runner.start('Fix the answer');
    assert.equal(exit.code, 0);
    assert.equal(fs.readFileSync(path.join(box.repo, 'src/app.ts'), 'utf8'), 'export const answer = 42;\n');
    const activities = events.filter((e) => e.type === 'activity').map((e) => (e as any).text);
    assert.deepEqual(activities, ['Write src/app.ts', 'Edit src/app.ts']);
    const session = events.find((e) => e.type === 'session') as any;
    assert.equal(session.sessionId, runner.sessionId);
    const result = resultOf(events)!;
    assert.equal(result.isError, false);
    assert.equal(result.text, 'Answer fixed.');
    assert.ok((result.costUsd ?? 0) > 0, 'cost from total_cost_usd');
    assert.deepEqual(events.map((e) => e.type).slice(-2), ['result', 'exit']);
    // The raw stream is in the log file; the API key is in no log.
    const log = fs.readFileSync(box.logPath, 'utf8');
    assert.match(log, /"type":"result"/);
    assert.match(log, /"grove_prompt","text":"Fix the answer"/);
    assert.ok(logger.lines.some((l) => l.includes('ANTHROPIC_API_KEY=***')), logger.lines.join('\n'));
    assert.ok(!/ANTHROPIC_API_KEY=test/.test(log + logger.lines.join('\n')));
  });

  it('keeps secrets out of the Output channel and the jsonl log, which is private (0600)', async function () {
    if (process.platform === 'win32') this.skip();
    const secret = 'Bearer grove-header-secret-9f3';
    model = await ScriptedModel.start({ script: [text('Hello.')] });
    box = makeSandbox(model.url);
    // The setup command's output may have created the log first, with the default mode.
    fs.mkdirSync(path.dirname(box.logPath), { recursive: true });
    fs.writeFileSync(box.logPath, '{"type":"grove_setup","text":"ok"}\n', { mode: 0o644 });
    fs.chmodSync(box.logPath, 0o644);
    const logger = new MemoryLogger();
    runner = new BackgroundRunner({
      cwd: box.repo, env: { ...box.env, ANTHROPIC_CUSTOM_HEADERS: `Authorization: ${secret}`, GROVE_TEST_TOKEN: 'tok-secret-2' }, logPath: box.logPath, claudePath: CLAUDE(), logger,
    });
    const exit = await runner.start('Say hello');
    assert.equal(exit.code, 0);
    const log = fs.readFileSync(box.logPath, 'utf8');
    const output = logger.lines.join('\n');
    assert.match(log, /"grove_spawn"/);
    assert.match(log, /"grove_setup"/, 'the earlier lines are kept');
    assert.match(output, /ANTHROPIC_CUSTOM_HEADERS=\*\*\*/);
    for (const s of [secret, 'grove-header-secret', 'tok-secret-2']) {
      assert.ok(!log.includes(s), `${s} is in the jsonl log`);
      assert.ok(!output.includes(s), `${s} is in the Output channel: ${output}`);
    }
    assert.equal(fs.statSync(box.logPath).mode & 0o777, 0o600);
  });

  for (const [status, message, visible] of [[500, 'Scripted internal failure', /500|Scripted internal failure/], [401, 'Scripted invalid x-api-key', /Invalid API key/], [529, 'Scripted overload', /529|verloaded|Scripted overload/]] as const) {
    it(`an API error ${status} fails the instance with the CLI's message visible`, async () => {
      const { runner, events } = await setup([apiError(status, message)]);
      const exit = await runner.start('Do something');
      assert.notEqual(exit.code, 0);
      const result = resultOf(events)!;
      assert.equal(result.isError, true);
      assert.ok(result.text.length > 0);
      assert.match(result.text, visible);
    });
  }

  it('max turns ends with error_max_turns and fails', async () => {
    const { runner, events } = await setup([write('a.txt', 'a'), write('b.txt', 'b'), text('never')], { maxTurns: 1 });
    await runner.start('Write two files');
    const result = resultOf(events)!;
    assert.equal(result.subtype, 'error_max_turns');
    assert.equal(result.isError, true);
    assert.ok(result.text.length > 0);
  });

  it('stop while the model hangs ends the CLI and its whole process group', async () => {
    const { runner, events, model } = await setup([hang()]);
    const done = runner.start('Wait forever');
    await model.waitForRequests(1);
    const pid = runner.pid!;
    assert.ok(pidAlive(pid));
    await runner.stop();
    const exit = await done;
    assert.equal(exit.stoppedByUser, true);
    assert.equal(pidAlive(pid), false);
    assert.deepEqual(groupMembers(pid), []);
    assert.equal(resultOf(events), undefined, 'a user stop is not a failure');
    assert.deepEqual(events[events.length - 1], { type: 'exit', code: exit.code, signal: exit.signal, stoppedByUser: true });
  });

  it('stop while a Bash tool runs leaves no process behind (the tool child included)', async () => {
    const marker = `grove-stop-${process.pid}`;
    const { runner } = await setup([bash(`node -e 'setTimeout(() => {}, 60000)' ${marker}`), text('slept')], { permissionMode: 'bypassPermissions' });
    const done = runner.start('Sleep');
    await waitForEvent(runner.onDidEvent, (e) => e.type === 'activity', 20_000);
    for (let i = 0; i < 50 && processesMatching(marker).length === 0; i++) await sleep(100);
    assert.ok(processesMatching(marker).length > 0, 'the Bash tool started');
    const pid = runner.pid!;
    await runner.stop();
    await done;
    await sleep(200);
    assert.equal(pidAlive(pid), false);
    assert.deepEqual(groupMembers(pid), []);
    assert.deepEqual(processesMatching(marker), []);
  });

  it('SIGKILL of the CLI mid-run fails the instance and leaves the worktree intact', async () => {
    const marker = `grove-kill-${process.pid}`;
    const { runner, events, box } = await setup([write('kept.txt', 'work so far\n'), bash(`node -e 'setTimeout(() => {}, 60000)' ${marker}`), text('never')], { permissionMode: 'bypassPermissions' });
    const done = runner.start('Work then sleep');
    await waitForEvent(runner.onDidEvent, (e) => e.type === 'activity' && e.toolName === 'Bash', 20_000);
    for (let i = 0; i < 50 && processesMatching(marker).length === 0; i++) await sleep(100);
    process.kill(runner.pid!, 'SIGKILL');
    const exit = await done;
    assert.equal(exit.signal, 'SIGKILL');
    const result = resultOf(events)!;
    assert.equal(result.isError, true);
    assert.match(result.text, /killed by SIGKILL/);
    assert.equal(fs.readFileSync(path.join(box.repo, 'kept.txt'), 'utf8'), 'work so far\n');
    await sleep(200);
    assert.deepEqual(processesMatching(marker), [], 'the orphaned tool process was ended');
  });

  it('follow-up keeps the session id and sends the first prompt in its history', async () => {
    const { runner, events, model } = await setup((req) =>
      req.isToolResult ? text(`done: ${req.firstUserText}`) : req.lastUserText.includes('first') ? write('first.txt', '1') : text('second answer'),
    );
    await runner.start('first task');
    const firstSession = runner.sessionId;
    const t = Date.now();
    await runner.followUp('second task');
    const followUpMs = Date.now() - t;
    console.log(`      follow-up with --resume: ${followUpMs} ms spawn to exit`);
    assert.equal(runner.sessionId, firstSession);
    const sessions = events.filter((e) => e.type === 'session').map((e) => (e as any).sessionId);
    assert.deepEqual(sessions, [firstSession, firstSession]);
    const second = model.requests.find((r) => r.lastUserText === 'second task')!;
    assert.ok(second, 'the follow-up reached the model');
    assert.ok(JSON.stringify(second.body.messages).includes('first task'), 'history contains the first prompt');
    const results = events.filter((e): e is Result => e.type === 'result');
    assert.deepEqual(results.map((r) => r.text), ['done: first task', 'second answer']);
  });

  const nodeWrite = `node -e "require('fs').writeFileSync('perm.txt','ran')"`;

  it('a permission request allowed: waiting → answer → Bash runs, file appears', async () => {
    const { runner, events, box } = await setup([bash(nodeWrite), text('ok')]);
    const done = runner.start('Run the script');
    const req = (await waitForEvent(runner.onDidEvent, (e) => e.type === 'permissionRequest', 20_000)) as Extract<AgentEvent, { type: 'permissionRequest' }>;
    assert.equal(req.request.toolName, 'Bash');
    assert.equal(req.request.summary, `Bash: ${nodeWrite}`);
    await sleep(50);
    assert.deepEqual(events[events.length - 1], { type: 'waiting', reason: 'permission' });
    assert.equal(fs.existsSync(path.join(box.repo, 'perm.txt')), false, 'nothing runs before the answer');
    runner.answerPermission(req.request.requestId, 'allow');
    await done;
    assert.equal(fs.readFileSync(path.join(box.repo, 'perm.txt'), 'utf8'), 'ran');
    assert.equal(resultOf(events)!.isError, false);
    assert.ok(events.findIndex((e) => e.type === 'running') < events.findIndex((e) => e.type === 'result'));
  });

  it('a permission request denied: the command does not run and the denial reaches the agent', async () => {
    const { runner, events, box, model } = await setup([bash(nodeWrite), text('understood')]);
    const done = runner.start('Run the script');
    const req = (await waitForEvent(runner.onDidEvent, (e) => e.type === 'permissionRequest', 20_000)) as Extract<AgentEvent, { type: 'permissionRequest' }>;
    runner.answerPermission(req.request.requestId, 'deny', 'Not on my machine');
    await done;
    assert.equal(fs.existsSync(path.join(box.repo, 'perm.txt')), false);
    assert.match(model.requests[1].lastUserText, /Not on my machine/);
    assert.equal(resultOf(events)!.text, 'understood');
    assert.match(fs.readFileSync(box.logPath, 'utf8'), /"grove_permission".*"decision":"deny"/);
  });

  it('a missing CLI fails with a clear message', async () => {
    const { runner } = await setup([text('x')], { claudePath: '/nonexistent/claude' });
    await assert.rejects(runner.start('x'), /Claude Code CLI not found: install with npm i -g @anthropic-ai\/claude-code or set grove.claudePath/);
  });
});
