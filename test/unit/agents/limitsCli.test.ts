// The scheduler's limits with the real Claude Code CLI against the scripted model, through one Grove core on a
// real repository: rate limits pause and resume sessions, the fleet budget lets only what fits start, memory holds
// the queue, an exhausted context continues in a fresh session, and compactions are recorded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { dispatch } from '../../../src/core/flows/dispatch';
import { continueInFreshSession, followUp, resume } from '../../../src/core/flows/instances';
import { Grove } from '../../../src/core/grove';
import type { InstanceSnapshot, InstanceState } from '../../../src/core/model';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { CliAgents } from '../../../src/cli/cliAgents';
import { claudeBin, claudeEnv } from '../../support/claudeEnv';
import { gitTestEnv, useTempRepos } from '../../support/repo';
import { ScriptedModel, text, write, type ScriptRule } from '../../support/scriptedModel';

describe('limits with the real CLI', function () {
  this.timeout(120_000);
  const repos = useTempRepos();
  let model: ScriptedModel | undefined;
  let grove: Grove | undefined;
  let settings: GroveSettings;
  let memory: number | undefined;
  let repo: string;

  async function start(rule: ScriptRule, patch: Partial<GroveSettings> = {}, fleet: { backoffMs?: (n: number) => number } = {}) {
    model = await ScriptedModel.start({ rule });
    repo = repos.create({ files: { 'README.md': '# demo\n' } });
    const env = { ...claudeEnv({ root: repos.dir('claude'), baseUrl: model.url }).env, ...gitTestEnv };
    settings = { ...defaultSettings(), claudePath: claudeBin(), agentEnv: env, worktreeRoot: path.join(path.dirname(repo), 'wt'), minFreeMemoryMb: 0, ...patch };
    memory = undefined;
    grove = new Grove({
      kind: 'test', settings: () => settings, trusted: () => true, gitEnv: gitTestEnv,
      agents: (parts) => new CliAgents(parts, () => 'deny'),
      memory: () => memory ?? 64_000,
      fleet,
    });
    await grove.recover([repo]);
    return grove;
  }

  repos.closeFirst(async () => {
    await grove?.close();
    await model?.close();
    grove = undefined;
    model = undefined;
  });

  const until = (g: Grove, what: string, pred: () => boolean, ms = 90_000) => new Promise<void>((resolve, reject) => {
    if (pred()) return resolve();
    const t = setTimeout(() => (sub.dispose(), reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(g.fleet.instances().map((i) => [i.title, i.state, i.waitingFor ?? i.error ?? '']))}`))), ms);
    const sub = g.fleet.onDidChangeInstances(() => {
      if (pred()) (clearTimeout(t), sub.dispose(), resolve());
    });
  });
  const states = (g: Grove, ids: string[]) => ids.map((id) => g.fleet.get(id)!.state);

  it('a rate limit pauses four agents (none fails), holds the queue, and they resume in their sessions after it ends', async () => {
    let limitedUntil = 0;
    let arrived = 0;
    let release!: () => void;
    const allFourIn = new Promise<void>((r) => (release = r));
    const g = await start(async (req) => {
      if (!req.isToolResult && limitedUntil === 0) {
        // The four first turns are held until all four are in; then a 3-second rate limit starts for everyone.
        if (++arrived === 4) {
          limitedUntil = Date.now() + 3000;
          release();
        }
        await allFourIn;
      }
      if (Date.now() < limitedUntil) {
        return { error: { status: 429, message: 'Rate limited' }, headers: { 'retry-after': '3', 'anthropic-ratelimit-unified-status': 'rejected', 'anthropic-ratelimit-unified-reset': String(Math.ceil(limitedUntil / 1000)) } };
      }
      if (req.isToolResult) return text('Done.');
      const name = /Write (\w+)\.txt/.exec(req.firstUserText)?.[1] ?? 'x';
      return write(`${name}.txt`, `${name}\n`);
    }, { maxConcurrent: 4 }, { backoffMs: () => 3500 });
    const seen = new Map<string, Set<InstanceState>>();
    g.fleet.onDidChangeInstances((c) => {
      for (const s of c.changed) seen.set(s.id, (seen.get(s.id) ?? new Set()).add(s.state));
    });
    const tasks = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ title: `Limited ${n}`, prompt: `Write ${n}.txt` }));
    const { instances } = await dispatch(g, { repoRoot: repo, tasks });
    const ids = instances.map((i) => i.id);
    await until(g, 'a pause', () => ids.some((id) => g.fleet.get(id)!.state === 'paused'));
    const paused = g.fleet.instances().filter((i) => i.state === 'paused');
    assert.ok(paused.every((p) => p.pausedUntil && p.pausedUntil > Date.now() && /Rate limited|rate limit/i.test(p.pauseReason ?? '')), JSON.stringify(paused));
    const sessions = new Map(paused.map((p) => [p.id, p.sessionId]));
    await until(g, 'all done', () => ids.every((id) => ['done', 'failed'].includes(g.fleet.get(id)!.state)));
    assert.deepEqual(states(g, ids), ids.map(() => 'done'));
    for (const id of ids) assert.ok(!seen.get(id)!.has('failed'), `${g.fleet.get(id)!.title} failed on the way`);
    for (const [id, session] of sessions) assert.equal(g.fleet.get(id)!.sessionId, session, 'it resumed the same session');
    const fifth = g.fleet.get(ids[4]!)!;
    assert.ok(seen.get(fifth.id)!.has('queued'));
    assert.ok(fifth.startedAt! >= limitedUntil, 'no new agent started while its account was rate limited');
    for (const n of ['a', 'b', 'c', 'd', 'e']) {
      const inst = g.fleet.instances().find((i) => i.title === `Limited ${n}`)!;
      assert.equal(fs.readFileSync(path.join(inst.worktreePath, `${n}.txt`), 'utf8'), `${n}\n`);
    }
  });

  it('a $1.00 fleet budget with $0.40 agents: exactly two start, the rest wait with the reason; raising it starts them', async () => {
    // 100,000 input tokens of the scripted reply cost $0.40 at the CLI's list price.
    const g = await start(() => text('Done.', { usage: { input_tokens: 100_000, output_tokens: 0 } }), { maxConcurrent: 5, fleetBudgetUsd: 1 });
    const { instances } = await dispatch(g, { repoRoot: repo, tasks: [1, 2, 3, 4, 5].map((n) => ({ title: `Budget ${n}`, prompt: `Task ${n}` })) });
    const ids = instances.map((i) => i.id);
    await until(g, 'two done and three waiting for the budget', () => {
      const all = ids.map((id) => g.fleet.get(id)!);
      return all.filter((i) => i.state === 'done').length === 2 && all.filter((i) => i.state === 'queued' && /^budget: \$0\.80 of \$1\.00 spent today/.test(i.waitingFor ?? '')).length === 3;
    });
    assert.ok(g.fleet.instances().filter((i) => i.state === 'done').every((i) => Math.abs(i.costUsd - 0.4) < 0.005), 'each agent cost $0.40');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(ids.filter((id) => g.fleet.get(id)!.state === 'done').length, 2, 'nothing more started');
    settings = { ...settings, fleetBudgetUsd: 2.5 };
    g.fleet.settingsChanged();
    await until(g, 'all done', () => ids.every((id) => g.fleet.get(id)!.state === 'done'));
  });

  it('memory: nothing starts while less than grove.minFreeMemoryMb is available; lowering it starts the queue', async () => {
    const g = await start(() => text('Done.'), { minFreeMemoryMb: 4096 });
    memory = 1500;
    const { instances: [i] } = await dispatch(g, { repoRoot: repo, tasks: [{ title: 'Memory', prompt: 'hello' }] });
    await until(g, 'the reason', () => /^memory: 1500 MB free, 4096 MB needed$/.test(g.fleet.get(i!.id)!.waitingFor ?? ''));
    assert.equal(g.fleet.get(i!.id)!.state, 'queued');
    settings = { ...settings, minFreeMemoryMb: 1024 };
    g.fleet.settingsChanged();
    await until(g, 'done', () => g.fleet.get(i!.id)!.state === 'done');
    assert.equal(g.fleet.get(i!.id)!.waitingFor, undefined);
  });

  it('an exhausted context fails the turn with Continue in a Fresh Session, whose first prompt holds the task, a bounded summary and the diff stat', async () => {
    const firstTexts: string[] = [];
    const g = await start((req) => {
      if (!req.isToolResult) firstTexts.push(req.firstUserText);
      if (/You are continuing this task in a fresh session/.test(req.firstUserText)) return req.isToolResult ? text('Finished after the fresh start.') : write('part2.txt', 'second half\n');
      if (!req.isToolResult) return write('part1.txt', 'first half\n');
      return { error: { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } };
    });
    const { instances: [i] } = await dispatch(g, { repoRoot: repo, tasks: [{ title: 'Long task', prompt: 'Write the two halves of the report' }] });
    await until(g, 'failure', () => g.fleet.get(i!.id)!.state === 'failed');
    const failed = g.fleet.get(i!.id)!;
    assert.equal(failed.contextExhausted, true);
    assert.match(failed.error ?? '', /^context exhausted: /);
    const before = failed.sessionId;
    await continueInFreshSession(g, i!.id);
    await until(g, 'done', () => g.fleet.get(i!.id)!.state === 'done');
    const done = g.fleet.get(i!.id)!;
    assert.notEqual(done.sessionId, before, 'a new session');
    assert.equal(done.continuations, 1);
    assert.equal(done.worktreePath, failed.worktreePath);
    assert.ok(fs.existsSync(path.join(done.worktreePath, 'part1.txt')) && fs.existsSync(path.join(done.worktreePath, 'part2.txt')));
    const fresh = firstTexts.find((t) => /fresh session/.test(t))!;
    assert.match(fresh, /^Write the two halves of the report\n/);
    assert.match(fresh, /You ran: Write part1\.txt/);
    assert.match(fresh, /1 new file\(s\) not added yet: part1\.txt/);
    assert.ok(fresh.length < 8000, `the first prompt is bounded (${fresh.length} chars)`);
  });

  it('grove.autoContinue carries an exhausted task on by itself, at most twice', async () => {
    let fresh = 0;
    const g = await start((req) => {
      if (!req.isToolResult && /fresh session/.test(req.firstUserText)) fresh++;
      if (!req.isToolResult) return write(`part${fresh}.txt`, 'x\n');
      return { error: { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } };
    }, { autoContinue: true });
    const { instances: [i] } = await dispatch(g, { repoRoot: repo, tasks: [{ title: 'Endless', prompt: 'Write everything' }] });
    await until(g, 'two continuations, then left for the person', () => {
      const s = g.fleet.get(i!.id)!;
      return s.state === 'failed' && s.continuations === 2;
    });
    await new Promise((r) => setTimeout(r, 1500));
    const s = g.fleet.get(i!.id)!;
    assert.deepEqual([s.state, s.continuations, s.contextExhausted, fresh], ['failed', 2, true, 2]);
  });

  it('a compaction is recorded on the instance and in its transcript', async () => {
    const g = await start((req) => (/CRITICAL: Respond with TEXT ONLY/.test(req.lastUserText) ? text('Summary of the work so far.') : text('ok', { usage: { input_tokens: 10, cache_read_input_tokens: 150_000, output_tokens: 5 } })));
    const { instances: [i] } = await dispatch(g, { repoRoot: repo, tasks: [{ title: 'Chatty', prompt: 'hello' }] });
    await until(g, 'done', () => g.fleet.get(i!.id)!.state === 'done');
    const ctx = g.fleet.get(i!.id)!.context!;
    assert.equal(ctx.used, 150_010);
    assert.ok(ctx.window && ctx.window >= 200_000, JSON.stringify(ctx));
    await followUp(g, i!.id, '/compact');
    await until(g, 'compacted', () => g.fleet.get(i!.id)!.state === 'done' && (g.fleet.get(i!.id)!.compactions ?? 0) === 1);
    assert.match(g.fleet.get(i!.id)!.lastActivity ?? '', /^Compacted the conversation \(manual, \d+ → \d+ tokens\)$/);
    const log = fs.readFileSync(await g.logPath(g.fleet.get(i!.id) as InstanceSnapshot), 'utf8');
    assert.match(log, /"compact_boundary"/);
    await assert.rejects(resume(g, i!.id), /is done/);
  });
});
