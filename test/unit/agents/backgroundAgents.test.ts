import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { BackgroundAgents } from '../../../src/core/agents/backgroundAgents';
import { createSnapshot } from '../../../src/core/fleet/instance';
import type { AgentEvent, InstanceSnapshot } from '../../../src/core/model';
import { MemoryLogger } from '../../../src/core/util/logger';
import { ScriptedModel, text, write } from '../../support/scriptedModel';
import { CLAUDE, makeSandbox, type AgentSandbox } from '../../support/agentFixtures';

describe('background agents port (real CLI)', function () {
  this.timeout(60_000);
  let model: ScriptedModel;
  let box: AgentSandbox;
  let agents: BackgroundAgents;
  const locks: string[] = [];

  beforeEach(async () => {
    model = await ScriptedModel.start({ rule: (req) => (req.isToolResult ? text('Started over and done.') : write('fresh.txt', `prompt: ${req.lastUserText}\n`)) });
    box = makeSandbox(model.url);
    agents = new BackgroundAgents({
      locks: { lock: async (p, r) => void locks.push(`lock ${p} ${r}`), unlock: async (p) => void locks.push(`unlock ${p}`) },
      settings: () => ({ env: box.env, claudePath: CLAUDE() }),
      logPath: () => box.logPath,
      logger: new MemoryLogger(),
    });
  });

  afterEach(async () => {
    agents.dispose();
    await model.close();
    box.cleanup();
    locks.length = 0;
  });

  function instance(patch: Partial<InstanceSnapshot>): InstanceSnapshot {
    return {
      ...createSnapshot({ id: 'i1', title: 'Fresh start', prompt: 'Write the fresh file', repoRoot: box.repo, mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' }),
      worktreePath: box.repo,
      ...patch,
    };
  }

  it('starts the task afresh when asked to resume a session the CLI never saved (killed before its first reply)', async () => {
    const lost = randomUUID();
    const events: AgentEvent[] = [];
    const exited = new Promise<void>((resolve) => {
      agents.start(instance({ sessionId: lost, state: 'interrupted' }), (e) => {
        events.push(e);
        if (e.type === 'exit') resolve();
      }, { prompt: 'Grove was interrupted. Continue.', resume: true });
    });
    await exited;
    const result = events.find((e) => e.type === 'result');
    assert.deepEqual(result && { type: result.type, isError: result.isError }, { type: 'result', isError: false }, JSON.stringify(events));
    assert.equal(events.filter((e) => e.type === 'exit').length, 1, 'the failed resume leaked an exit');
    const sessions = events.flatMap((e) => (e.type === 'started' && e.sessionId ? [e.sessionId] : []));
    assert.ok(sessions.at(-1) && sessions.at(-1) !== lost, 'no new session was started');
    assert.match(fs.readFileSync(`${box.repo}/fresh.txt`, 'utf8'), /prompt: Write the fresh file/);
    assert.deepEqual(locks.map((l) => l.split(' ')[0]), ['lock', 'unlock']);
  });

  it('a follow-up to a session that was never saved sends the task and then the follow-up: the request is not lost', async () => {
    const events: AgentEvent[] = [];
    await new Promise<void>((resolve) => {
      agents.start(instance({ sessionId: randomUUID(), state: 'stopped' }), (e) => {
        events.push(e);
        if (e.type === 'exit') resolve();
      }, { prompt: 'Also mention the date', resume: true });
    });
    const seen = fs.readFileSync(`${box.repo}/fresh.txt`, 'utf8');
    assert.match(seen, /prompt: Write the fresh file\s+Also mention the date/, 'the model must see the task, then the follow-up');
    assert.deepEqual(model.requests.filter((r) => !r.isToolResult).map((r) => r.firstUserText.includes('Write the fresh file') && r.firstUserText.includes('Also mention the date')), [true]);
  });

  it('locks the worktree while the agent runs and unlocks it when it ends', async () => {
    await new Promise<void>((resolve) => {
      agents.start(instance({}), (e) => e.type === 'exit' && resolve(), { prompt: 'Write it', resume: false });
    });
    assert.equal(locks.length, 2);
    assert.match(locks[0], /^lock .* agent "Fresh start" is running$/);
    assert.match(locks[1], /^unlock /);
  });
});
