// core/flows/wait on real git worktrees, with agents that behave like the background runner but run no model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GroveError } from '../../../src/core/errors';
import { dispatch } from '../../../src/core/flows/dispatch';
import { stop } from '../../../src/core/flows/instances';
import { waitFor, type WaitProgress } from '../../../src/core/flows/wait';
import { Grove } from '../../../src/core/grove';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { waitForEvent } from '../../../src/core/util/event';
import { gitTestEnv, useTempRepos } from '../../support/repo';
import { FakeAgents } from '../fleet/fakes';

describe('core/flows/wait on real git', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let repo: string;
  let agents: FakeAgents;
  let grove: Grove;
  let settings: GroveSettings;

  const open = async (runMs: number) => {
    agents = new FakeAgents(runMs);
    grove = new Grove({ kind: 'test', settings: () => settings, trusted: () => true, agents: () => ({ start: (inst, onEvent, opts) => agents.start(inst, onEvent, opts) }), gitEnv: gitTestEnv, capabilities: { terminal: false } });
    await grove.recover([repo]);
  };

  beforeEach(() => {
    repo = repos.create({ files: { 'README.md': '# demo\n' } });
    settings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt') };
  });

  repos.closeFirst(() => grove?.close());

  it('returns when every instance is done, with each result, diff stat and the files two of them both changed; progress on every change', async () => {
    await open(600);
    const { instances } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Alpha', prompt: 'a' }, { title: 'Beta', prompt: 'b' }] });
    const ids = instances.map((i) => i.id);
    await waitForEvent(grove.fleet.onDidChangeInstances, () => ids.every((id) => grove.fleet.get(id)!.state === 'running'), 10_000);
    for (const [i, id] of ids.entries()) {
      const wt = grove.fleet.get(id)!.worktreePath;
      fs.writeFileSync(path.join(wt, 'shared.txt'), `from ${i}\n`);
      fs.writeFileSync(path.join(wt, `own${i}.txt`), 'one\ntwo\n');
    }
    const seen: WaitProgress[] = [];
    const r = await waitFor(grove, { ids, timeoutMs: 20_000, onProgress: (p) => seen.push(p) });
    assert.equal(r.settled, true);
    assert.equal(r.timedOut, false);
    assert.deepEqual(r.instances.map((e) => [e.title, e.state, e.settled, e.result]), [['Alpha', 'done', true, 'ok'], ['Beta', 'done', true, 'ok']]);
    assert.deepEqual(r.instances.map((e) => e.diffStat && [e.diffStat.files, e.diffStat.insertions, e.diffStat.deletions]), [[2, 3, 0], [2, 3, 0]]);
    assert.deepEqual(r.overlaps, [{ path: 'shared.txt', titles: ['Alpha', 'Beta'] }]);
    assert.match(r.message, /^All 2 settled: 2 done\.$/);
    assert.equal(seen[0]!.message, 'Alpha: running · Beta: running');
    assert.deepEqual(seen.at(-1), { settled: 2, total: 2, message: 'Alpha: done · Beta: done' });
  });

  it('at the timeout it says which are still running and in which state; a heartbeat reports while nothing changes', async () => {
    await open(60_000);
    const { instances: [slow] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Slow', prompt: 's' }] });
    await waitForEvent(grove.fleet.onDidChangeInstances, () => grove.fleet.get(slow!.id)!.state === 'running', 10_000);
    const seen: WaitProgress[] = [];
    const t0 = Date.now();
    const r = await waitFor(grove, { ids: [slow!.id], timeoutMs: 1000, heartbeatMs: 300, onProgress: (p) => seen.push(p) });
    assert.ok(Date.now() - t0 >= 1000 && Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
    assert.equal(r.settled, false);
    assert.equal(r.timedOut, true);
    assert.deepEqual(r.instances.map((e) => [e.title, e.state, e.settled]), [['Slow', 'running', false]]);
    assert.match(r.message, /^Still running after 1 s: "Slow" \(running\)\.$/);
    assert.ok(seen.length >= 3, `a first report and heartbeats: ${seen.length}`);
    assert.ok(seen.every((p) => p.message === 'Slow: running' && p.settled === 0 && p.total === 1));
    await stop(grove, slow!.id);
  });

  it('an agent waiting for a person and one stopped count as settled; an unknown id is refused before waiting', async () => {
    await open(60_000);
    agents.waitTitles.add('Asks');
    const { instances: [asks, going] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Asks', prompt: 'a' }, { title: 'Going', prompt: 'g' }] });
    await waitForEvent(grove.fleet.onDidChangeInstances, () => grove.fleet.get(asks!.id)!.state === 'waiting' && grove.fleet.get(going!.id)!.state === 'running', 10_000);
    const waiting = waitFor(grove, { ids: [asks!.id, going!.id], timeoutMs: 20_000 });
    setTimeout(() => void stop(grove, going!.id), 200);
    const r = await waiting;
    assert.equal(r.settled, true);
    assert.deepEqual(r.instances.map((e) => [e.title, e.state, e.waitReason]), [['Asks', 'waiting', 'user'], ['Going', 'stopped', undefined]]);
    assert.match(r.message, /1 waiting, 1 stopped/);
    await assert.rejects(waitFor(grove, { ids: ['nope'], timeoutMs: 100 }), (e) => GroveError.is(e, 'NotFound'));
    await stop(grove, asks!.id);
  });
});
