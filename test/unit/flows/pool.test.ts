// The warm pool through the core flows, on real git: what every surface (VS Code, the CLI) gets from one Grove.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { dispatch } from '../../../src/core/flows/dispatch';
import { Grove } from '../../../src/core/grove';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { Emitter, waitForEvent } from '../../../src/core/util/event';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { FakeAgents } from '../fleet/fakes';

describe('warm worktree pool through the flows', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let repo: string;
  let grove: Grove;
  let settings: GroveSettings;
  let agents: FakeAgents;
  const sparesChanged = new Emitter<string>();

  beforeEach(async () => {
    repo = repos.create({ files: { 'README.md': '# demo\n', '.gitignore': '.env\n' } });
    fs.writeFileSync(path.join(repo, '.env'), 'K=1\n');
    agents = new FakeAgents(30);
    settings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt'), worktreePool: 1 };
    grove = new Grove({
      kind: 'test', settings: () => settings, trusted: () => true, gitEnv: gitTestEnv, capabilities: { terminal: false },
      agents: () => ({ start: (inst, onEvent, opts) => agents.start(inst, onEvent, opts) }),
      onSparesChanged: (r) => sparesChanged.fire(r),
    });
    await grove.recover([repo]);
  });

  repos.closeFirst(() => grove.close());

  const spares = async () => (await grove.worktrees.list(repo)).filter((w) => w.spare).map((w) => w.path);

  it('fills when asked, a dispatch starts its agent in the spare, the pool refills once idle, and 0 removes the spares', async () => {
    const filled = waitForEvent(sparesChanged.event);
    await grove.pool.reconcile(repo);
    await filled;
    const [spare] = await spares();
    assert.ok(spare);
    assert.equal(fs.readFileSync(path.join(spare, '.env'), 'utf8'), 'K=1\n');

    const refilled = waitForEvent(sparesChanged.event);
    const { instances: [i] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Pooled task', prompt: 'p' }] });
    await refilled;
    const inst = grove.fleet.get(i!.id)!;
    assert.equal(inst.worktreePath, spare);
    assert.equal(inst.branch, 'grove/pooled-task');
    assert.equal(git(spare, 'symbolic-ref', '--short', 'HEAD'), 'grove/pooled-task');
    assert.equal(agents.runs.length, 1, 'the agent started');
    const [next] = await spares();
    assert.ok(next && next !== spare, 'a new spare replaced the taken one');

    settings = { ...settings, worktreePool: 0 };
    const drained = await grove.pool.reconcile(repo);
    assert.deepEqual(drained?.removed, [next]);
    assert.deepEqual(await spares(), []);
    assert.ok(fs.existsSync(spare), 'the task worktree stays');
  });

  it('refills only once the agents of the repository are no longer working: a fill never competes with them', async () => {
    const filled = waitForEvent(sparesChanged.event);
    await grove.pool.reconcile(repo);
    await filled;
    agents = new FakeAgents(1500);
    const refilled = waitForEvent(sparesChanged.event).then(() => Date.now());
    const { instances: [i] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Long task', prompt: 'p' }] });
    const refilledAt = await refilled;
    const run = agents.runs.find((r) => r.id === i!.id)!;
    assert.ok(run.endedAt !== undefined && refilledAt >= run.endedAt, `refilled ${run.endedAt === undefined ? 'while the agent ran' : `${run.endedAt - refilledAt} ms before the agent ended`}`);
    assert.equal((await spares()).length, 1);
  });
});
