import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { InstanceSnapshot } from '../../src/core/model';
import { text, write } from '../support/scriptedModel';
import { api, flatten, setConfig, until, untilInstance, useScriptedAgents, workspaceRepo } from './helpers';

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

describe('review, sync and merge in VS Code editors', function () {
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
  let inst: InstanceSnapshot;

  before(async () => {
    agents = await useScriptedAgents((req) => (req.isToolResult ? text('Wrote the greeting and notes.') : write('notes/review.txt', 'notes from the agent\n')));
    const a = await api();
    const [queued] = await a.dispatch([{ title: 'Reviewable work', prompt: 'Write notes and change the greeting' }], { mode: 'background' });
    inst = await untilInstance(a, queued.id, (i) => i.state === 'done' || i.state === 'failed', 'the agent to finish');
    assert.equal(inst.state, 'done', inst.error);
    // The agent also changed a tracked file (uncommitted), as agents do.
    fs.writeFileSync(path.join(inst.worktreePath, 'src', 'app.js'), 'export function greet(name) {\n  return `Hi, ${name}!`;\n}\n');
  });

  after(async () => {
    await setConfig({ checkCommand: undefined });
    await agents?.dispose();
  });

  it('opens the multi-diff editor on the branch against its merge-base, uncommitted and untracked work included', async () => {
    const r = await vscode.commands.executeCommand<{ title: string; resources: { label: string; original?: string; modified?: string }[] }>(
      'grove.reviewChanges', { kind: 'instance', id: inst.id });
    assert.ok(r, 'no review was opened');
    const byName = new Map(r.resources.map((x) => [path.basename(vscode.Uri.parse(x.label).fsPath), x]));
    assert.deepEqual([...byName.keys()].sort(), ['app.js', 'review.txt']);
    assert.equal(byName.get('review.txt')!.original, undefined, 'an added file has no original side');
    const original = vscode.Uri.parse(byName.get('app.js')!.original!);
    assert.equal(original.scheme, 'grove-git');
    assert.match((await vscode.workspace.openTextDocument(original)).getText(), /Hello, \$\{name\}!/, 'the original side is not the base version');
    assert.equal(vscode.Uri.parse(byName.get('app.js')!.modified!).fsPath, path.join(inst.worktreePath, 'src', 'app.js'));
    const tab = await until('the multi-diff tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === `${r.title} (2 files)`), 10_000)
      .catch((err) => { throw new Error(`${err.message}; tabs: ${vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => `${t.label} [${t.input?.constructor.name}]`).join(', ')}`); });
    assert.ok(tab.isActive);
    const a = await api();
    const node = await until('the changed files under the agent', async () => {
      const n = flatten(await a.viewSnapshot()).find((x) => x.kind === 'instance' && x.id === inst.id);
      return n && n.children.length === 2 ? n : undefined;
    });
    assert.deepEqual(node.children.map((c) => `${c.label}:${c.contextValue}`).sort(), ['app.js:change', 'review.txt:change']);
  });

  it('syncs a moved base with a conflict, opens the merge editor on the three versions, and aborts to exactly the state before', async () => {
    await vscode.commands.executeCommand('grove.commitAgentWork', { kind: 'instance', id: inst.id });
    const before = git(inst.worktreePath, 'rev-parse', 'HEAD');
    // Meanwhile the user changed the same line on main.
    const repo = workspaceRepo();
    fs.writeFileSync(path.join(repo, 'src', 'app.js'), 'export function greet(name) {\n  return `Welcome, ${name}!`;\n}\n');
    git(repo, 'commit', '-qam', 'Welcome instead of Hello');

    const summary = await vscode.commands.executeCommand<string[]>('grove.syncFromBase', { kind: 'instance', id: inst.id });
    assert.match(summary.join(), /syncing main stopped on conflicts in src\/app\.js/);
    const a = await api();
    const conflicted = await until('the conflicted agent row', async () =>
      flatten(await a.viewSnapshot()).find((x) => x.kind === 'instance' && x.id === inst.id && /conflicted/.test(x.contextValue)));
    assert.ok(conflicted.children.some((c) => c.kind === 'conflict' && c.label === 'app.js'));

    await vscode.commands.executeCommand('grove.openConflict', { kind: 'conflict', instanceId: inst.id, path: 'src/app.js' });
    const stages = await until('the merge editor inputs', () => {
      const refs = vscode.workspace.textDocuments.filter((d) => d.uri.scheme === 'grove-git' && d.uri.path.endsWith('app.js')).map((d) => JSON.parse(d.uri.query).ref);
      return [':1', ':2', ':3'].every((r) => refs.includes(r)) ? refs : undefined;
    });
    assert.ok(stages.length >= 3);
    const welcome = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'grove-git' && JSON.parse(d.uri.query).ref === ':3');
    assert.match(welcome!.getText(), /Welcome/, 'input 2 is not the base version');
    // The merge editor holds an unsaved result: close it without saving, as a user who gives up would.
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');

    await vscode.commands.executeCommand('grove.abortSync', { kind: 'instance', id: inst.id }, { confirmed: true });
    assert.equal(git(inst.worktreePath, 'rev-parse', 'HEAD'), before);
    assert.equal(git(inst.worktreePath, 'status', '--porcelain'), '');
    assert.match(fs.readFileSync(path.join(inst.worktreePath, 'src', 'app.js'), 'utf8'), /Hi, /);
  });

  it('completes a sync once the conflict is resolved', async () => {
    await vscode.commands.executeCommand('grove.syncFromBase', { kind: 'instance', id: inst.id });
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('grove.completeSync', { kind: 'instance', id: inst.id }, { throwErrors: true })), /conflict markers remain/i);
    fs.writeFileSync(path.join(inst.worktreePath, 'src', 'app.js'), 'export function greet(name) {\n  return `Welcome, hi, ${name}!`;\n}\n');
    const r = await vscode.commands.executeCommand<{ status: string }>('grove.completeSync', { kind: 'instance', id: inst.id });
    assert.equal(r.status, 'synced');
    assert.equal(git(inst.worktreePath, 'status', '--porcelain'), '');
    git(inst.worktreePath, 'merge-base', '--is-ancestor', 'main', 'HEAD');
  });

  it('blocks the merge when the check command fails, then squashes into main and archives the agent', async () => {
    await setConfig({ checkCommand: 'node -e "console.error(\'check says no\'); process.exit(3)"' });
    const blocked = await vscode.commands.executeCommand<{ blocked: string[]; output: string }>('grove.mergeInstance', { kind: 'instance', id: inst.id }, { strategy: 'squash', cleanup: 'always' });
    assert.deepEqual(blocked.blocked, ['CheckFailed']);
    assert.match(blocked.output, /check says no/);
    await setConfig({ checkCommand: 'node -e "process.exit(0)"' });

    const merged = await vscode.commands.executeCommand<{ mergedCommit: string }>('grove.mergeInstance', { kind: 'instance', id: inst.id }, { strategy: 'squash', cleanup: 'always' });
    const repo = workspaceRepo();
    assert.equal(git(repo, 'rev-parse', 'main'), merged.mergedCommit);
    assert.match(git(repo, 'log', '-1', '--format=%B', 'main'), /Reviewable work/);
    assert.ok(fs.existsSync(path.join(repo, 'notes', 'review.txt')), 'the merge did not reach the user\'s checkout');
    assert.equal(fs.existsSync(inst.worktreePath), false, 'the worktree was not cleaned up');
    const a = await api();
    const archived = await until('the Archived group', async () => flatten(await a.viewSnapshot()).find((n) => n.kind === 'archive'));
    const row = archived.children.find((c) => c.id === inst.id);
    assert.ok(row, 'the merged agent is not in the Archived group');
    assert.match(row.description, /merged into main/);
  });
});
