// A checkpoint per agent turn (issue 13 part 2), through the fleet and the core flows on real git: an agent that
// writes one file per turn; each turn's end is a checkpoint (nothing on its branch), a turn's changes are exactly
// its own, and Revert to Before This Turn gives back the worktree byte for byte (and is itself undoable).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentHandle } from '../../../src/core/agents/port';
import { GroveError } from '../../../src/core/errors';
import { dispatch } from '../../../src/core/flows/dispatch';
import { followUp } from '../../../src/core/flows/instances';
import { revertToBeforeTurn, turnChanges, turns } from '../../../src/core/flows/turns';
import { Grove } from '../../../src/core/grove';
import type { AgentEvent, InstanceSnapshot } from '../../../src/core/model';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { waitForEvent } from '../../../src/core/util/event';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { fingerprint } from '../../support/worktreeFingerprint';

describe('core/flows: a checkpoint per agent turn (real git)', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let repo: string;
  let grove: Grove;
  let settings: GroveSettings;
  const runs = new Map<string, number>();
  /** Milliseconds each step of recording a snapshot or checkpoint takes longer (a slow disk, a busy machine). */
  let slowSteps = 0;

  /** Each turn writes turn-<n>.txt and edits notes.md, like an agent would, then ends its process. */
  const start = (inst: InstanceSnapshot, onEvent: (e: AgentEvent) => void): AgentHandle => {
    const n = (runs.get(inst.id) ?? 0) + 1;
    runs.set(inst.id, n);
    setImmediate(() => {
      onEvent({ type: 'started', sessionId: `session-${inst.id}`, pid: 4242 });
      fs.writeFileSync(path.join(inst.worktreePath, `turn-${n}.txt`), `turn ${n}\n`);
      fs.appendFileSync(path.join(inst.worktreePath, 'notes.md'), `turn ${n}\n`);
      onEvent({ type: 'result', isError: false, subtype: 'success', text: 'ok', costUsd: 0.1, turns: 1 });
      onEvent({ type: 'exit', code: 0, signal: null, stoppedByUser: false });
    });
    return { stop: async () => undefined, acceptsInput: false, followUp: () => undefined };
  };

  beforeEach(async () => {
    repo = repos.create({ files: { 'README.md': '# demo\n', 'notes.md': 'notes\n' } });
    settings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt') };
    runs.clear();
    slowSteps = 0;
    grove = new Grove({
      kind: 'test', settings: () => settings, trusted: () => true, gitEnv: gitTestEnv, capabilities: { terminal: false }, agents: () => ({ start: (i, onEvent) => start(i, onEvent) }),
      snapshots: { onStep: () => (slowSteps ? new Promise((r) => setTimeout(r, slowSteps)) : undefined) },
    });
    await grove.recover([repo]);
  });

  repos.closeFirst(() => grove.close());

  const turnsRecorded = async (id: string, n: number) => {
    for (let i = 0; i < 100; i++) {
      if ((await turns(grove, id)).length >= n) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`fewer than ${n} checkpoints`);
  };
  const done = async (id: string) => {
    const ended = () => grove.fleet.get(id)?.state === 'done' && !grove.fleet.get(id)?.pendingPrompts?.length;
    if (!ended()) await waitForEvent(grove.fleet.onDidChangeInstances, ended, 10_000);
  };

  it('records turn 0 and each turn\'s end, diffs one turn, reverts to before it exactly, and the revert is undoable', async () => {
    const { instances: [first] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Turns', prompt: 'first' }] });
    const id = first!.id;
    await done(id);
    await turnsRecorded(id, 2);
    const wt = grove.fleet.get(id)!.worktreePath;
    const branchTip = git(wt, 'rev-parse', 'HEAD');
    const afterTurn1 = fingerprint(wt);

    await followUp(grove, id, 'second');
    await done(id);
    await turnsRecorded(id, 3);
    const afterTurn2 = fingerprint(wt);
    assert.deepEqual((await turns(grove, id)).map((t) => t.turn), [0, 1, 2]);
    assert.equal(git(wt, 'rev-parse', 'HEAD'), branchTip, 'no commit on the agent\'s branch');
    assert.equal(git(repo, 'for-each-ref', '--format=%(refname)', `refs/grove/checkpoints/${id}/`).split('\n').length, 3);

    const c2 = await turnChanges(grove, id, 2);
    assert.deepEqual(c2.files.map((f) => [f.status, f.path]).sort(), [['A', 'turn-2.txt'], ['M', 'notes.md']]);
    const c1 = await turnChanges(grove, id, 1);
    assert.deepEqual(c1.files.map((f) => f.path).sort(), ['notes.md', 'turn-1.txt']);

    await assert.rejects(revertToBeforeTurn(grove, id, 2), (e) => GroveError.is(e, 'NeedsConfirmation') && /2 file\(s\): .*turn-2\.txt/.test(e.message));
    assert.deepEqual(fingerprint(wt), afterTurn2, 'refused: nothing changed');
    let listed: string[] = [];
    const r = await revertToBeforeTurn(grove, id, 2, { confirm: async (_i, files) => (listed = files.map((f) => f.path).sort(), true) });
    assert.deepEqual(listed, ['notes.md', 'turn-2.txt']);
    assert.deepEqual(fingerprint(wt), afterTurn1);
    assert.ok(r.undoId);
    await grove.snapshots.revertTo(wt, r.undoId!);
    assert.deepEqual(fingerprint(wt), afterTurn2);
  });

  it('the turn that just ended is listed, and its changes shown, the moment its agent is done (a slow disk too)', async () => {
    const { instances: [first] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Asked at once', prompt: 'first' }] });
    const id = first!.id;
    await turnsRecorded(id, 1);
    slowSteps = 150; // the end-of-turn checkpoint takes a while to write
    await done(id);
    const listed = turns(grove, id);
    const changes = turnChanges(grove, id, 1);
    assert.deepEqual((await listed).map((t) => t.turn), [0, 1]);
    assert.deepEqual((await changes).files.map((f) => f.path).sort(), ['notes.md', 'turn-1.txt']);
  });

  // Found by the extension-host turns test on a busy machine: a follow-up sent the moment a turn ended started the
  // next turn while that turn's checkpoint was still being recorded, so "turn 1" held turn 2's files as well.
  it('a follow-up sent the moment a turn ends waits for that turn\'s checkpoint: each turn holds exactly its own changes', async () => {
    const { instances: [first] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Quick', prompt: 'first' }] });
    const id = first!.id;
    await turnsRecorded(id, 1); // turn 0, before the first prompt
    slowSteps = 150;
    await done(id);
    await followUp(grove, id, 'second');
    await done(id);
    await turnsRecorded(id, 3);
    assert.deepEqual((await turnChanges(grove, id, 1)).files.map((f) => f.path).sort(), ['notes.md', 'turn-1.txt']);
    assert.deepEqual((await turnChanges(grove, id, 2)).files.map((f) => f.path).sort(), ['notes.md', 'turn-2.txt']);
  });
});
