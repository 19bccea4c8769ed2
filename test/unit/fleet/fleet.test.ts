// The fleet over a real registry folder: persistence, recovery, and the ownership protocol between processes. Two
// "processes" are two Fleets with their own driver identities over the same registry folder; which pids are alive is
// decided by an injected probe, so a driver can die on cue.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RESUME_PROMPT } from '../../../src/core/agents/port';
import { Fleet } from '../../../src/core/fleet/fleet';
import { createSnapshot } from '../../../src/core/fleet/instance';
import { InstanceRegistry } from '../../../src/core/fleet/registry';
import type { DriverIdentity, InstanceSnapshot } from '../../../src/core/model';
import type { ProcessProbe } from '../../../src/core/platform/processes';
import { waitForEvent } from '../../../src/core/util/event';
import { FakeAgents, FakeWorktrees, sleep } from './fakes';

const repo = { repoRoot: '/repo' };
const host = os.hostname();

/** A probe over a table of fake processes (pid → start time); anything else is dead. */
class FakeProcesses implements ProcessProbe {
  readonly host = host;
  readonly table = new Map<number, string>();
  isAlive(pid: number): boolean {
    return this.table.has(pid);
  }
  startTime(pid: number): string | undefined {
    return this.table.get(pid);
  }
  spawn(pid: number, start = `t${pid}`): DriverIdentity {
    this.table.set(pid, start);
    return { pid, host, startTime: start, kind: 'test' };
  }
}

function stored(id: string, patch: Partial<InstanceSnapshot>): InstanceSnapshot {
  return {
    ...createSnapshot({ id, title: id, prompt: `Do ${id}`, repoRoot: '/repo', mode: 'background', profile: 'claude', permissionMode: 'acceptEdits' }, 1),
    sessionId: `sess-${id}`, costUsd: 1.25, turns: 7, branch: `grove/${id}`, baseRef: 'main', baseCommit: 'abc', startedAt: 2, updatedAt: 2,
    ...patch,
  };
}

describe('fleet/fleet', () => {
  let dir: string;
  let procs: FakeProcesses;
  const fleets: Fleet[] = [];
  const fleetOf = (self: DriverIdentity, agents = new FakeAgents(10), titles: string[] = []) => {
    const f = new Fleet({ worktrees: new FakeWorktrees(titles, 2), agents, commonDir: async () => dir }, { self, probe: procs, orphanCheckMs: 100, activityWriteMs: 200 });
    fleets.push(f);
    return f;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-fleet-'));
    procs = new FakeProcesses();
  });
  afterEach(() => {
    for (const f of fleets.splice(0)) f.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('recover(): an instance whose driver died is interrupted with everything it knew kept; a live driver\'s is untouched; Resume continues the session', async () => {
    const worktreePath = fs.mkdtempSync(path.join(dir, 'wt-'));
    const dead = procs.spawn(101);
    procs.table.delete(101);
    const live = procs.spawn(102);
    const seed = new InstanceRegistry(dir);
    await seed.upsert([
      stored('lost', { state: 'running', driver: dead, worktreePath }),
      stored('alive', { state: 'running', driver: live, worktreePath }),
      stored('gone', { state: 'done', worktreePath: path.join(dir, 'deleted') }),
    ]);
    seed.dispose();

    const agents = new FakeAgents(10);
    const fleet = fleetOf(procs.spawn(103), agents);
    const byId = Object.fromEntries((await fleet.recover(['/repo'])).map((s) => [s.id, s]));
    assert.equal(byId.lost.state, 'interrupted');
    assert.match(byId.lost.error ?? '', /pid 101.*ended/);
    assert.deepEqual([byId.lost.prompt, byId.lost.sessionId, byId.lost.costUsd, byId.lost.branch, byId.lost.turns], ['Do lost', 'sess-lost', 1.25, 'grove/lost', 7]);
    assert.equal(byId.lost.driver, undefined, 'a finished instance has no driver');
    assert.equal(byId.alive.state, 'running', 'an instance a live process drives is never changed');
    assert.equal(byId.gone.error, 'worktree missing');
    await fleet.flush();
    const onDisk = Object.fromEntries((await new InstanceRegistry(dir).read()).map((s) => [s.id, s]));
    assert.equal(onDisk.lost.state, 'interrupted');
    assert.equal(onDisk.alive.updatedAt, 2, 'the live driver\'s instance was not rewritten');

    const finished = waitForEvent(fleet.onDidChangeInstances, (e) => e.changed.some((s) => s.id === 'lost' && s.state === 'done'), 5000);
    fleet.resumeHere('lost');
    assert.deepEqual(agents.runs[0]!.options, { prompt: RESUME_PROMPT, resume: true });
    await finished;
    assert.equal(fleet.get('lost')!.costUsd, 1.75, 'the resumed run adds to the earlier cost');
  });

  it('a reused pid is not the driver: same pid, another start time counts as dead; a driver on another host is left alone', async () => {
    const seed = new InstanceRegistry(dir);
    await seed.upsert([
      stored('reused', { state: 'queued', driver: { pid: 201, host, startTime: 'before-reboot', kind: 'cli' } }),
      stored('remote', { state: 'running', driver: { pid: 202, host: 'another-machine', startTime: 'x', kind: 'cli' } }),
    ]);
    seed.dispose();
    procs.spawn(201, 'a-new-process');
    const fleet = fleetOf(procs.spawn(203));
    const byId = Object.fromEntries((await fleet.recover(['/repo'])).map((s) => [s.id, s]));
    assert.equal(byId.reused.state, 'interrupted');
    assert.equal(byId.remote.state, 'running');
  });

  it('a terminal agent whose window died but whose process lives is left for a window to re-attach; a background one left behind is ended', async () => {
    const dead = procs.spawn(301);
    procs.table.delete(301);
    const term = procs.spawn(302);
    const bg = procs.spawn(303);
    const seed = new InstanceRegistry(dir);
    await seed.upsert([
      stored('term', { state: 'running', mode: 'terminal', driver: dead, agent: term }),
      stored('bg', { state: 'running', driver: dead, agent: bg }),
    ]);
    seed.dispose();
    const ended: number[] = [];
    const fleet = new Fleet({ worktrees: new FakeWorktrees([]), agents: new FakeAgents(), commonDir: async () => dir }, {
      self: procs.spawn(304), probe: procs, endOrphanAgent: async (a) => void ended.push(a.pid),
    });
    fleets.push(fleet);
    const byId = Object.fromEntries((await fleet.recover(['/repo'])).map((s) => [s.id, s]));
    assert.equal(byId.term.state, 'running');
    assert.equal(byId.bg.state, 'interrupted');
    assert.deepEqual(ended, [303]);
  });

  it('a stop request from another process reaches the driver: a queued instance never starts, a running one stops', async () => {
    const a = procs.spawn(401);
    const b = procs.spawn(402);
    const agentsA = new FakeAgents(2000);
    const driver = fleetOf(a, agentsA, ['Run', 'Later']);
    driver.maxConcurrent = 1;
    const [run, later] = await driver.dispatch([{ title: 'Run', prompt: 'r' }, { title: 'Later', prompt: 'l' }], repo);
    await waitForEvent(driver.onDidChangeInstances, () => driver.get(run.id)?.state === 'running', 5000);
    await driver.flush();

    const other = fleetOf(b);
    await other.recover(['/repo']);
    assert.equal(other.get(later.id)?.state, 'queued');
    assert.equal(other.get(later.id)?.driver?.pid, 401);
    const started = Date.now();
    await other.request(later.id, 'stop');
    await waitForEvent(other.onDidChangeInstances, () => other.get(later.id)?.state === 'stopped', 5000);
    assert.ok(Date.now() - started < 2000, `the stop took ${Date.now() - started} ms`);
    await other.request(run.id, 'stop');
    await waitForEvent(other.onDidChangeInstances, () => other.get(run.id)?.state === 'stopped', 5000);
    await sleep(50);
    assert.deepEqual(agentsA.runs.map((r) => r.title), ['Run'], 'the queued instance never started');
    assert.equal(driver.get(later.id)?.state, 'stopped');
  });

  it('a follow-up request from another process is delivered by the driver after the running turn', async () => {
    const agentsA = new FakeAgents(150);
    const driver = fleetOf(procs.spawn(501), agentsA, ['Work']);
    const [work] = await driver.dispatch([{ title: 'Work', prompt: 'w' }], repo);
    await waitForEvent(driver.onDidChangeInstances, () => driver.get(work.id)?.state === 'running', 5000);
    await driver.flush();
    const other = fleetOf(procs.spawn(502));
    await other.recover(['/repo']);
    await other.request(work.id, 'followUp', 'and document it');
    await waitForEvent(driver.onDidChangeInstances, () => agentsA.runs.length === 2, 5000);
    assert.equal(agentsA.runs[1]!.options.prompt, 'and document it');
  });

  it('when a driver dies, every other process records its instances interrupted within the check interval and their slots are free', async () => {
    const doomed = procs.spawn(601);
    const driver = fleetOf(doomed, new FakeAgents(60_000), ['Long']);
    const [long] = await driver.dispatch([{ title: 'Long', prompt: 'l' }], repo);
    await waitForEvent(driver.onDidChangeInstances, () => driver.get(long.id)?.state === 'running', 5000);
    await driver.flush();
    const watcher = fleetOf(procs.spawn(602));
    await watcher.recover(['/repo']);
    assert.equal(watcher.get(long.id)?.state, 'running');
    procs.table.delete(601); // the driver is killed (SIGKILL: it writes nothing more)
    await waitForEvent(watcher.onDidChangeInstances, () => watcher.get(long.id)?.state === 'interrupted', 5000);
    assert.match(watcher.get(long.id)?.error ?? '', /pid 601/);
  });

  it('an idle fleet arms no timer; activity-only changes are written at most once per interval, state changes at once', async () => {
    const agents = new FakeAgents(300);
    const fleet = fleetOf(procs.spawn(701), agents, ['Chatty']);
    let writes = 0;
    fs.mkdirSync(path.join(dir, 'grove'), { recursive: true });
    const w = fs.watch(path.join(dir, 'grove'), (ev, name) => {
      if (ev === 'rename' && name === 'instances.json') writes++;
    });
    try {
      const [chatty] = await fleet.dispatch([{ title: 'Chatty', prompt: 'c' }], repo);
      await waitForEvent(fleet.onDidChangeInstances, () => fleet.get(chatty.id)?.state === 'running', 5000);
      await fleet.flush();
      await sleep(50);
      const before = writes;
      // 30 activity events inside one interval.
      const inst = (fleet as unknown as { dispatcher: { get(id: string): { applyEvent(e: unknown): void } } }).dispatcher.get(chatty.id);
      for (let i = 0; i < 30; i++) inst.applyEvent({ type: 'activity', text: `step ${i}` });
      await sleep(400);
      assert.ok(writes - before <= 2, `${writes - before} registry writes for 30 activity events`);
      assert.equal((await new InstanceRegistry(dir).read())[0]!.lastActivity, 'step 29', 'the last activity reached the disk');
      await fleet.whenSettled();
      await fleet.flush();
      assert.equal((await new InstanceRegistry(dir).read())[0]!.state, 'done');
      assert.equal((fleet as unknown as { peers: { timer?: unknown } }).peers.timer, undefined, 'nothing to watch: no timer');
    } finally {
      w.close();
    }
  });

  it('shutdown() records running background agents as interrupted (resumable) and leaves terminal agents alone', async () => {
    const agents = new FakeAgents(10);
    agents.waitTitles.add('Bg').add('Term');
    const fleet = fleetOf(procs.spawn(801), agents, ['Bg', 'Term']);
    const [bg] = await fleet.dispatch([{ title: 'Bg', prompt: 'Work in the background' }], repo);
    const [term] = await fleet.dispatch([{ title: 'Term', prompt: 'Work in a terminal', mode: 'terminal' }], repo);
    await waitForEvent(fleet.onDidChangeInstances, () => fleet.instances().every((i) => i.state === 'waiting'), 5000);
    await fleet.shutdown();
    assert.equal(fleet.get(bg.id)!.state, 'interrupted');
    assert.equal(fleet.get(bg.id)!.error, 'Grove was closed while the agent was working');
    assert.equal(fleet.get(term.id)!.state, 'waiting');
    const onDisk = Object.fromEntries((await new InstanceRegistry(dir).read()).map((x) => [x.id, x]));
    assert.equal(onDisk[bg.id]!.state, 'interrupted', 'the interruption was on disk when shutdown() resolved');
  });

  it('dispatch lands in the registry with prompt, branch, session and cost; a removal reaches other processes', async () => {
    const fleet = fleetOf(procs.spawn(901), new FakeAgents(5), ['One']);
    const [one] = await fleet.dispatch([{ title: 'One', prompt: 'Do one' }], repo);
    await fleet.whenSettled();
    await fleet.flush();
    const s = (await new InstanceRegistry(dir).read())[0]!;
    assert.deepEqual([s.id, s.state, s.prompt, s.branch, s.sessionId, s.costUsd], [one.id, 'done', 'Do one', 'grove/one', `session-${one.id}`, 0.5]);
    const other = fleetOf(procs.spawn(902));
    await other.recover(['/repo']);
    assert.equal(other.get(one.id)?.state, 'done');
    // Listening before the removal: the other process may see the registry change before this one reads it back.
    const seen = waitForEvent(other.onDidChangeInstances, (e) => e.removed.includes(one.id), 10_000);
    await fleet.remove(one.id);
    await fleet.flush();
    assert.deepEqual(await new InstanceRegistry(dir).read(), []);
    await seen;
    assert.equal(other.get(one.id), undefined);
  });
});
