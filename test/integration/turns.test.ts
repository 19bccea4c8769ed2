import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { InstanceSnapshot } from '../../src/core/model';
import type { TreeSnapshotNode } from '../../src/vscode/tree/agentsTree';
import { text, write, type ScriptRule } from '../support/scriptedModel';
import { api, flatten, until, untilInstance, useScriptedAgents, workspaceRepo } from './helpers';

// Turn 1 writes notes/first.txt, the follow-up (turn 2) notes/second.txt; neither is committed.
const rule: ScriptRule = (req) => {
  if (req.isToolResult) return text('Wrote it.');
  return /second/.test(req.lastUserText) ? write('notes/second.txt', 'from turn two\n') : write('notes/first.txt', 'from turn one\n');
};

describe('an agent\'s turns and Recently Removed in the Agents view', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
  let inst: InstanceSnapshot;
  const rowsUnder = async (id: string, label: string) => {
    const a = await api();
    const n = flatten(await a.viewSnapshot()).find((x) => x.kind === 'instance' && x.id === id);
    return n?.children.find((c) => c.kind === 'contributed' && c.label === label);
  };

  before(async () => {
    agents = await useScriptedAgents(rule);
    const a = await api();
    const [queued] = await a.dispatch([{ title: 'Turn taker', prompt: 'Write the first notes' }], { mode: 'background' });
    inst = await untilInstance(a, queued!.id, (i) => i.state === 'done' || i.state === 'failed', 'turn 1 to end');
    assert.equal(inst.state, 'done', inst.error);
    await a.followUp(inst.id, 'Now write the second notes');
    inst = await untilInstance(a, inst.id, (i) => (i.state === 'done' || i.state === 'failed') && fs.existsSync(path.join(i.worktreePath, 'notes', 'second.txt')), 'turn 2 to end');
    assert.equal(inst.state, 'done', inst.error);
  });

  after(async () => {
    // Leave the shared workspace as the next files expect it: the restored worktree goes again (restorable).
    if (inst && fs.existsSync(inst.worktreePath)) {
      await vscode.commands.executeCommand('grove.removeWorktree', { kind: 'worktree', root: workspaceRepo(), path: inst.worktreePath }, { confirm: 'deleteBranch' });
    }
    await agents?.dispose();
  });

  it('lists the agent\'s turns under it, and Show Turn Changes opens what one turn changed', async () => {
    const group = await until('the Turns row with both turns', async () => {
      const g = await rowsUnder(inst.id, 'Turns');
      return g && g.children.length === 2 && g.description === '2' ? g : undefined;
    });
    assert.equal(group.description, '2');
    assert.deepEqual(group.children.map((c) => `${c.label}:${c.contextValue}`), ['Turn 1:turn', 'Turn 2:turn']);

    const turn2 = group.children[1]!;
    const r = await vscode.commands.executeCommand<{ title: string; resources: { label: string; original?: string; modified?: string }[] }>(
      'grove.showTurnChanges', { kind: 'contributed', contribution: 'turns', key: turn2.id });
    assert.deepEqual(r.resources.map((x) => vscode.Uri.parse(x.label).fsPath), [path.join(inst.worktreePath, 'notes', 'second.txt')], 'turn 2 changed only its own file');
    assert.equal(r.resources[0]!.original, undefined, 'a file the turn added has no original side');
    const modified = await vscode.workspace.openTextDocument(vscode.Uri.parse(r.resources[0]!.modified!));
    assert.equal(modified.getText(), 'from turn two\n');
    await until('the turn\'s multi-diff tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label.startsWith(r.title)), 10_000);
  });

  it('Revert to Before This Turn puts the worktree back as it was before turn 2, and keeps what it replaced', async () => {
    const wt = inst.worktreePath;
    const r = await vscode.commands.executeCommand<{ undoId?: string; cancelled?: boolean }>('grove.revertTurn', { instanceId: inst.id, turn: 2, confirmed: true });
    assert.ok(r && !r.cancelled && r.undoId, JSON.stringify(r));
    assert.equal(fs.existsSync(path.join(wt, 'notes', 'second.txt')), false, 'turn 2\'s file is gone');
    assert.equal(fs.readFileSync(path.join(wt, 'notes', 'first.txt'), 'utf8'), 'from turn one\n', 'turn 1\'s work stays');
  });

  it('Remove puts the worktree in Recently Removed, and Restore brings it back with its uncommitted work', async () => {
    const wt = inst.worktreePath;
    const removed = await vscode.commands.executeCommand<{ snapshotId?: string }>('grove.removeWorktree', { kind: 'worktree', root: workspaceRepo(), path: wt }, { confirm: 'keepBranch' });
    assert.ok(removed?.snapshotId, JSON.stringify(removed));
    assert.equal(fs.existsSync(wt), false);
    const a = await api();
    const row = await until('the snapshot under Recently Removed', async () => {
      const group = flatten(await a.viewSnapshot()).find((x) => x.kind === 'contributed' && x.label === 'Recently Removed');
      return group?.children.find((c: TreeSnapshotNode) => c.id.includes(removed.snapshotId!));
    });
    assert.match(row.contextValue, /^snapshot\.worktree/);
    await vscode.commands.executeCommand('grove.restoreSnapshot', { kind: 'contributed', contribution: 'recentlyRemoved', key: row.id });
    assert.equal(fs.readFileSync(path.join(wt, 'notes', 'first.txt'), 'utf8'), 'from turn one\n', 'the untracked notes are back');
    assert.equal(fs.existsSync(path.join(wt, 'notes', 'second.txt')), false, 'exactly as removed');
    // Its agent is back too, under the worktree, with its turns.
    const back = await until('the agent back in the view', async () => flatten(await a.viewSnapshot()).find((x) => x.kind === 'instance' && x.id === inst.id));
    assert.equal(back.label, 'Turn taker');
    assert.equal(a.instances().find((i) => i.id === inst.id)?.sessionId, inst.sessionId);
  });
});
