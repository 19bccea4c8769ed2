// Landing a task that started after another (core/flows/merge landingTarget + into) on real git.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { dispatch } from '../../../src/core/flows/dispatch';
import { landingTarget, merge } from '../../../src/core/flows/merge';
import { waitFor } from '../../../src/core/flows/wait';
import { Grove } from '../../../src/core/grove';
import { defaultSettings, type GroveSettings } from '../../../src/core/settings';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { FakeAgents } from '../fleet/fakes';

describe('core/flows/merge: landing a dependent task', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let grove: Grove;

  repos.closeFirst(() => grove?.close());

  it('a task that started from another\'s branch lands where that one landed, once it did; before, into that branch', async () => {
    const repo = repos.create({ files: { 'README.md': '# demo\n' } });
    const settings: GroveSettings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt') };
    const agents = new FakeAgents(30);
    grove = new Grove({ kind: 'test', settings: () => settings, trusted: () => true, agents: () => ({ start: (i, e, o) => agents.start(i, e, o) }), gitEnv: gitTestEnv, capabilities: { terminal: false } });
    await grove.recover([repo]);
    const { instances: [a, b] } = await dispatch(grove, { repoRoot: repo, tasks: [{ title: 'Schema', prompt: 's' }, { title: 'Api', prompt: 'a', after: 'Schema' }] });
    const r = await waitFor(grove, { ids: [a!.id, b!.id], timeoutMs: 20_000 });
    assert.deepEqual(r.instances.map((e) => e.state), ['done', 'done']);
    const [sa, sb] = [grove.fleet.get(a!.id)!, grove.fleet.get(b!.id)!];
    assert.equal(sb.baseRef, sa.branch, 'Api started from Schema\'s branch');
    fs.writeFileSync(path.join(sa.worktreePath, 'schema.txt'), 'schema\n');
    fs.writeFileSync(path.join(sb.worktreePath, 'api.txt'), 'api\n');

    assert.equal(landingTarget(grove, sb), sa.branch, 'Schema has not landed: Api lands into its branch');
    await merge(grove, { id: sa.id, commit: true });
    assert.equal(landingTarget(grove, grove.fleet.get(sb.id)!), 'main', 'Schema landed in main: so does Api');
    const o = await merge(grove, { id: sb.id, commit: true, into: 'main' });
    assert.equal(o!.into, 'main');
    assert.equal(grove.fleet.get(sb.id)!.merge!.into, 'main');
    assert.equal(git(repo, 'show', 'main:schema.txt'), 'schema');
    assert.equal(git(repo, 'show', 'main:api.txt'), 'api');
  });
});
