/** The radar kept current for a real fleet: turns that end, a base that moves; nothing of anyone touched. */
import assert from 'node:assert/strict';
import { main } from '../../../src/cli/main';
import { dispatch } from '../../../src/core/flows/dispatch';
import { followUp } from '../../../src/core/flows/instances';
import { overlapDetails, overlapPrompt, overlapSummary, tellAboutOverlap } from '../../../src/core/flows/radar';
import type { OverlapStarted } from '../../../src/core/fleet/radarWatch';
import { merge } from '../../../src/core/flows/merge';
import { radarCandidates } from '../../../src/core/fleet/radarWatch';
import { waitForEvent } from '../../../src/core/util/event';
import { wholeState } from '../../support/mergeFixtures';
import { commit, git, useTempRepos, writeFiles } from '../../support/repo';
import { groveFixture, type GroveFixture } from './groveFixture';

const lines = (n: number, edit: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => `${edit[i] ?? `line ${i}`}\n`).join('');

describe('flows: the conflict radar of a fleet', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let fx: GroveFixture | undefined;
  repos.closeFirst(async () => {
    await fx?.grove.close();
    fx = undefined;
  });

  it('after the turns end: same lines → a conflict pair, same file other lines → an overlap; the base moving updates it', async () => {
    fx = await groveFixture(repos, { 'a.txt': lines(20), 'b.txt': 'b\n' });
    const { grove, repo } = fx;
    const radar = grove.radar;
    const [one, two, three] = await fx.agentsDone([
      { title: 'One', work: (wt) => commit(wt, 'one', { 'a.txt': lines(20, { 2: 'one' }) }) },
      { title: 'Two', work: (wt) => writeFiles(wt, { 'a.txt': lines(20, { 2: 'two' }) }) }, // uncommitted
      { title: 'Three', work: (wt) => commit(wt, 'three', { 'a.txt': lines(20, { 15: 'three' }) }) },
    ]);
    await radar.whenIdle();
    const before = wholeState(repo, one!.worktreePath, two!.worktreePath, three!.worktreePath);
    await radar.refresh(repo);
    assert.equal(wholeState(repo, one!.worktreePath, two!.worktreePath, three!.worktreePath), before, 'the radar changed nothing');

    const view = (id: string) => radar.of(id)?.overlaps.map((o) => [o.title, o.files, o.conflict]);
    assert.deepEqual(view(one!.id), [['Two', ['a.txt'], true], ['Three', ['a.txt'], false]].sort(byId(grove)));
    assert.deepEqual(radar.of(two!.id)?.overlaps.find((o) => o.id === one!.id), { id: one!.id, title: 'One', files: ['a.txt'], conflict: true, conflictFiles: ['a.txt'] });
    assert.deepEqual(radar.of(three!.id)?.overlaps.map((o) => o.conflict), [false, false]);
    assert.equal(radar.of(one!.id)?.base, undefined, 'the base did not move');

    // The base moves (the user commits on main): the host says so, and the radar sees who now conflicts with main.
    commit(repo, 'user', { 'a.txt': lines(20, { 15: 'user' }) });
    const changed = waitForEvent(radar.onDidChange, (e) => e.ids.includes(three!.id));
    await radar.baseMoved(repo);
    await changed;
    assert.deepEqual(radar.of(three!.id)?.base, { ref: 'main', files: ['a.txt'], conflict: true, conflictFiles: ['a.txt'] });
    assert.deepEqual(radar.of(one!.id)?.base, { ref: 'main', files: ['a.txt'], conflict: false, conflictFiles: [] });

    // A merge into the base is a fleet event: the radar updates by itself (no call), with no timer.
    git(repo, 'reset', '-q', '--hard', 'HEAD~1');
    await radar.baseMoved(repo);
    const afterMerge = waitForEvent(radar.onDidChange, (e) => e.ids.includes(two!.id));
    await merge(grove, { id: one!.id, strategy: 'merge', cleanup: 'never' });
    await afterMerge;
    await radar.whenIdle();
    assert.deepEqual(radar.of(two!.id)?.base, { ref: 'main', files: ['a.txt'], conflict: true, conflictFiles: ['a.txt'] }, 'Two now conflicts with main');
    assert.equal(radar.of(two!.id)?.overlaps.some((o) => o.id === one!.id), false, 'One is in main now: no pair');
  });

  it('a turn that ends is seen without asking: a follow-up that edits the same lines makes a conflict', async () => {
    fx = await groveFixture(repos, { 'a.txt': lines(20) });
    const { grove, repo, agents } = fx;
    const radar = grove.radar;
    const [one, two] = await fx.agentsDone([
      { title: 'One', work: (wt) => commit(wt, 'one', { 'a.txt': lines(20, { 2: 'one' }) }) },
      { title: 'Two', work: (wt) => commit(wt, 'two', { 'b.txt': 'two\n' }) },
    ]);
    await radar.refresh(repo);
    assert.deepEqual(radar.of(two!.id)?.overlaps, []);
    agents.work.set('Two', (inst) => writeFiles(inst.worktreePath, { 'a.txt': lines(20, { 2: 'two' }) }));
    const seen = waitForEvent(radar.onDidChange, (e) => e.ids.includes(two!.id));
    await followUp(grove, two!.id, 'edit a.txt');
    await fx.settle(two!.id);
    await seen;
    assert.deepEqual(radar.of(two!.id)?.overlaps.map((o) => [o.id, o.conflict]), [[one!.id, true]]);
    assert.deepEqual(radarCandidates(grove.fleet.instances(), repo).map((s) => s.title), ['One', 'Two']);
  });
});

describe('flows: overlaps between agents still at work', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let fx: GroveFixture | undefined;
  repos.closeFirst(async () => {
    await fx?.grove.close();
    fx = undefined;
  });

  const scans = () => fx!.logger.lines.filter((l) => l.startsWith('info radar: ')).length;

  /** Two agents at work (their turns do not end) on a repository with a.txt; file events scan per `fileScanEveryMs`. */
  async function twoRunning(fileScanEveryMs: number) {
    fx = await groveFixture(repos, { 'a.txt': lines(10) }, { radar: { fileScanEveryMs } });
    const { grove, repo, agents } = fx;
    agents.waitTitles.add('Left');
    agents.waitTitles.add('Right');
    const { instances } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Left', prompt: 'l' }, { title: 'Right', prompt: 'r' }] });
    await waitForEvent(grove.fleet.onDidChangeInstances, () => instances.every((i) => grove.fleet.get(i.id)!.state === 'waiting'), 10_000);
    const [left, right] = instances.map((i) => grove.fleet.get(i.id)!);
    return { grove, repo, left: left!, right: right! };
  }

  it('file events in two running agents\' worktrees: one "started overlapping" event per pair; Tell <agent> names the other\'s branch and files', async () => {
    const { grove, repo, left, right } = await twoRunning(0);
    const started: OverlapStarted[] = [];
    grove.radar.onDidStartOverlap((e) => started.push(e));
    await grove.radar.refresh(repo);
    assert.equal(started.length, 0);

    writeFiles(left.worktreePath, { 'a.txt': lines(10, { 1: 'left' }) });
    writeFiles(right.worktreePath, { 'a.txt': lines(10, { 1: 'right' }), 'r.txt': 'r\n' });
    await grove.radar.worktreesChanged(repo, [left.worktreePath, right.worktreePath]);
    assert.deepEqual(started.map((e) => [e.a.title, e.b.title, e.files, e.conflict]), [['Left', 'Right', ['a.txt'], true]]);
    await grove.radar.worktreesChanged(repo, [right.worktreePath]);
    assert.equal(started.length, 1, 'told once per pair');

    const told = await tellAboutOverlap(grove, right.id, left.id);
    assert.equal(told.outcome, 'queued', 'a background turn takes no input: the follow-up waits for the turn to end');
    const prompt = grove.fleet.get(right.id)!.pendingPrompts![0]!;
    assert.match(prompt, new RegExp(`"Left" \\(branch \`${left.branch}\`\\).*would conflict:\n- a\\.txt\n`));
    assert.match(prompt, new RegExp(`git diff HEAD\\.\\.\\.${left.branch} -- <file>`));
    await assert.rejects(tellAboutOverlap(grove, right.id, right.id), /do not change the same files/);
    assert.match(overlapPrompt({ title: 'T', branch: 'b' }, ['x'], false), /changing the same files as you:\n- x/);
  });

  it('events right after a scan are held, and the next scan for any reason answers them all', async () => {
    const { grove, repo, left, right } = await twoRunning(10 * 60_000);
    await grove.radar.refresh(repo);
    writeFiles(left.worktreePath, { 'a.txt': lines(10, { 1: 'left' }) });
    writeFiles(right.worktreePath, { 'a.txt': lines(10, { 1: 'right' }) });
    const before = scans();
    const held = [1, 2, 3].map(() => grove.radar.worktreesChanged(repo, [left.worktreePath, right.worktreePath]));
    let answered = false;
    void Promise.all(held).then(() => (answered = true));
    await grove.radar.whenIdle();
    assert.equal(scans(), before, 'a file event right after a scan did not wait');
    assert.equal(answered, false);
    assert.equal(grove.radar.of(left.id)?.overlaps.length, 0);
    // The base moved (or a turn ended): that scan reads the changed worktrees and answers the held events.
    await grove.radar.baseMoved(repo);
    await Promise.all(held);
    assert.equal(scans(), before + 1, 'one scan for three events and the moved base');
    assert.deepEqual(grove.radar.of(left.id)?.overlaps.map((o) => [o.title, o.files, o.conflict]), [['Right', ['a.txt'], true]]);
  });

  it('a held event scans by itself once the interval has passed', async () => {
    const { grove, repo, left, right } = await twoRunning(300);
    await grove.radar.refresh(repo);
    writeFiles(left.worktreePath, { 'a.txt': lines(10, { 1: 'left' }) });
    writeFiles(right.worktreePath, { 'a.txt': lines(10, { 1: 'right' }) });
    const before = scans();
    await Promise.all([grove.radar.worktreesChanged(repo, [left.worktreePath]), grove.radar.worktreesChanged(repo, [right.worktreePath])]);
    assert.equal(scans(), before + 1);
    assert.deepEqual(grove.radar.of(right.id)?.overlaps.map((o) => [o.title, o.files, o.conflict]), [['Left', ['a.txt'], true]]);
  });
});

describe('flows/radar: the words of a row and its tooltip', () => {
  it('overlapSummary and overlapDetails', () => {
    const o = (title: string, conflict: boolean, files: string[]) => ({ id: title, title, files, conflict, conflictFiles: conflict ? files : [] });
    assert.equal(overlapSummary(undefined), undefined);
    assert.equal(overlapSummary({ overlaps: [] }), undefined);
    assert.equal(overlapSummary({ overlaps: [o('One', false, ['a', 'b'])] }), 'overlaps with One (2 files)');
    assert.equal(overlapSummary({ overlaps: [o('One', true, ['a'])], base: { ref: 'main', files: ['x'], conflict: true, conflictFiles: ['x'] } }), 'conflicts with main; conflicts with One');
    assert.equal(overlapSummary({ overlaps: [o('A', false, ['a']), o('B', false, ['a']), o('C', false, ['c'])] }), 'overlaps with 3 agents (2 files)');
    assert.deepEqual(overlapDetails({ overlaps: [o('One', true, ['a'])], base: { ref: 'main', files: ['x', 'y'], conflict: false, conflictFiles: [] } }), ['Overlaps with main: x, y', 'Conflicts with One: a']);
  });
});

describe('grove status: the conflict radar of each instance', function () {
  this.timeout(60_000);
  const repos = useTempRepos();

  it('--json gives each instance overlaps: [{ id, files, conflict }] and baseOverlap; the table lists them', async () => {
    const fx = await groveFixture(repos, { 'a.txt': lines(20) });
    const [one, two, three] = await fx.agentsDone([
      { title: 'One', work: (wt) => commit(wt, 'one', { 'a.txt': lines(20, { 2: 'one' }) }) },
      { title: 'Two', work: (wt) => commit(wt, 'two', { 'a.txt': lines(20, { 2: 'two' }) }) },
      { title: 'Three', work: (wt) => commit(wt, 'three', { 'c.txt': 'three\n' }) },
    ]);
    await fx.grove.close();
    commit(fx.repo, 'user', { 'c.txt': 'user\n' });
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: () => undefined };
    assert.equal(await main(['status', '--json', '--repo', fx.repo], io), 0);
    const list = JSON.parse(out.join('\n')) as Array<{ id: string; overlaps: Array<{ id: string; files: string[]; conflict: boolean }>; baseOverlap?: { conflict: boolean } }>;
    const of = (id: string) => list.find((s) => s.id === id)!;
    assert.deepEqual(of(one!.id).overlaps.map((o) => [o.id, o.files, o.conflict]), [[two!.id, ['a.txt'], true]]);
    assert.deepEqual(of(two!.id).overlaps.map((o) => [o.id, o.files, o.conflict]), [[one!.id, ['a.txt'], true]]);
    assert.deepEqual(of(three!.id).overlaps, []);
    assert.equal(of(three!.id).baseOverlap?.conflict, true);
    out.length = 0;
    assert.equal(await main(['status', '--repo', fx.repo], io), 0);
    assert.match(out.join('\n'), /Conflict radar:\n.*One: Conflicts with Two: a\.txt/);
    assert.match(out.join('\n'), /Three: Conflicts with main: c\.txt/);
  });
});

/** Overlaps are listed by instance id: the expected rows in that order. */
function byId(grove: GroveFixture['grove']) {
  const ids = new Map(grove.fleet.instances().map((s) => [s.title, s.id]));
  return (a: unknown[], b: unknown[]) => (ids.get(a[0] as string)! < ids.get(b[0] as string)! ? -1 : 1);
}
