import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { CreatedWorktree } from '../../src/core/git/worktreeManager';
import { api, flatten, until, workspaceRepo } from './helpers';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

describe('worktrees in the Agents view', () => {
  it('shows a worktree created with Grove: New Worktree, with branch, base and changed files', async () => {
    const a = await api();
    const created = await vscode.commands.executeCommand<CreatedWorktree>('grove.newWorktree', { title: 'Add "login" page / ü', baseRef: 'main' });
    assert.ok(created, 'the command returned no worktree');
    assert.match(created.branch, /^grove\/add-login-page-u/);
    assert.equal(path.dirname(created.path), `${workspaceRepo()}.worktrees`);
    assert.ok(fs.existsSync(path.join(created.path, '.env')), '.env (git-ignored) was not copied by grove.copyFiles');
    fs.writeFileSync(path.join(created.path, 'new-file.txt'), 'hello\n');

    const node = await until('the worktree row with 1 changed file', async () =>
      flatten(await a.viewSnapshot()).find((n) => n.kind === 'worktree' && n.id === created.path && /1 changed/.test(n.description)));
    assert.equal(node.label, created.branch);
    assert.match(node.description, /from main/);
    assert.match(node.contextValue, /^worktree\.managed/);
  });

  it('marks a worktree made outside Grove as external, and one deleted by hand as stale', async () => {
    const a = await api();
    const repo = workspaceRepo();
    const external = path.join(path.dirname(repo), 'outside-grove');
    git(repo, 'worktree', 'add', '-q', '-b', 'outside', external);
    const ext = await until('the external worktree', async () => flatten(await a.viewSnapshot()).find((n) => n.id === external));
    assert.match(ext.contextValue, /external/);
    fs.rmSync(external, { recursive: true, force: true });
    await vscode.commands.executeCommand('grove.refresh');
    const stale = await until('the stale worktree', async () => flatten(await a.viewSnapshot()).find((n) => n.id === external && /stale/.test(n.contextValue)));
    assert.match(stale.description, /stale/);
    await vscode.commands.executeCommand('grove.pruneWorktrees');
    await until('the pruned worktree to disappear', async () => !flatten(await a.viewSnapshot()).some((n) => n.id === external) || undefined);
  });

  it('removes a clean worktree and deletes its merged branch without asking twice', async () => {
    const a = await api();
    const created = await vscode.commands.executeCommand<CreatedWorktree>('grove.newWorktree', { title: 'Throwaway', baseRef: 'main' });
    await vscode.commands.executeCommand('grove.removeWorktree', { kind: 'worktree', root: workspaceRepo(), path: created.path }, { confirm: 'keepBranch' });
    assert.equal(fs.existsSync(created.path), false);
    assert.equal(git(workspaceRepo(), 'branch', '--list', created.branch), '', 'the merged branch was kept');
    await until('the removed worktree to leave the view', async () => !flatten(await a.viewSnapshot()).some((n) => n.id === created.path) || undefined);
  });

  it('keeps an unmerged branch when removing its worktree', async () => {
    const created = await vscode.commands.executeCommand<CreatedWorktree>('grove.newWorktree', { title: 'Has commits', baseRef: 'main' });
    fs.writeFileSync(path.join(created.path, 'work.txt'), 'agent work\n');
    git(created.path, 'add', '-A');
    git(created.path, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'agent work');
    await vscode.commands.executeCommand('grove.removeWorktree', { kind: 'worktree', root: workspaceRepo(), path: created.path }, { confirm: 'keepBranch' });
    assert.equal(fs.existsSync(created.path), false);
    assert.equal(git(workspaceRepo(), 'log', '-1', '--format=%s', created.branch), 'agent work', 'the unmerged commit was lost');
  });
});
