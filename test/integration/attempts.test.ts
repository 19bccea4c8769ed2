import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { InstanceSnapshot } from '../../src/core/model';
import { text } from '../support/scriptedModel';
import { api, flatten, until, untilInstance, useScriptedAgents, workspaceRepo } from './helpers';

describe('Best of N in the Agents view', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
  let attempts: InstanceSnapshot[] = [];

  before(async () => {
    agents = await useScriptedAgents(() => text('Nothing to change.'));
  });

  after(async () => {
    for (const i of attempts) {
      const now = (await api()).instances().find((x) => x.id === i.id);
      if (now?.worktreePath) await vscode.commands.executeCommand('grove.removeWorktree', { kind: 'worktree', root: workspaceRepo(), path: now.worktreePath }, { confirm: 'deleteBranch' });
    }
    await agents?.dispose();
  });

  it('groups the attempts at one task under attempt #1, which sums them up', async () => {
    attempts = await vscode.commands.executeCommand<InstanceSnapshot[]>('grove.dispatchTask', { prompt: 'Tidy the readme', title: 'Tidy up', attempts: 3, mode: 'background' });
    assert.deepEqual(attempts.map((i) => i.title), ['Tidy up #1', 'Tidy up #2', 'Tidy up #3']);
    const a = await api();
    for (const i of attempts) await untilInstance(a, i.id, (x) => x.state === 'done' || x.state === 'failed', `${i.title} to finish`);
    const first = await until('attempt #1 with the other two under it', async () => {
      const n = flatten(await a.viewSnapshot()).find((x) => x.kind === 'instance' && x.id === attempts[0]!.id);
      return n && n.children.filter((c) => c.kind === 'instance').length === 2 && /2 other attempts: 2 done/.test(n.description) ? n : undefined;
    });
    assert.deepEqual(first.children.filter((c) => c.kind === 'instance').map((c) => c.label), ['Tidy up #2', 'Tidy up #3']);
    assert.match(first.description, /attempt 1\/3/);
    assert.match(first.contextValue, /attempt/);
    const everywhere = flatten(await a.viewSnapshot()).filter((x) => x.kind === 'instance' && attempts.slice(1).some((i) => i.id === x.id));
    assert.equal(everywhere.length, 2, 'each other attempt shows once, under #1');
  });
});
