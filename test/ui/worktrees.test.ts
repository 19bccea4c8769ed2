import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error plain ESM helper
import { makeDemoRepo } from '../support/demoRepo.mjs';
import { openWorkbench, screenshotOnFailure, Workbench } from '../support/workbench';

describe('UI: a worktree created from the Agents view and removed again', function () {
  let wb: Workbench;
  let repo: string;

  before(async () => {
    repo = makeDemoRepo(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-ui-wt-')));
    wb = await openWorkbench(repo, { settings: { 'grove.notifications': 'off' } });
    await wb.openGrove();
  });

  screenshotOnFailure(() => wb);

  after(async () => wb?.close());

  it('creates it with the New Worktree button and shows it in the tree', async () => {
    await wb.page.locator('.pane-header[aria-label^="Agents"], .sidebar .composite.title').first().hover();
    await wb.page.getByRole('button', { name: 'New Worktree…' }).first().click();
    await wb.typeInQuickInput('Try the UI');
    await wb.quickPickSelect('main');
    const row = await wb.treeItem(/grove\/try-the-ui/);
    assert.ok(await row.isVisible());
    const branches = execFileSync('git', ['branch', '--list', 'grove/*'], { cwd: repo, encoding: 'utf8' });
    assert.match(branches, /grove\/try-the-ui/);
    await wb.screenshot('worktree-created');
  });

  it('removes it from the context menu after a confirmation', async () => {
    await wb.contextMenu(/grove\/try-the-ui/, 'Remove Worktree…', wb.page.locator('.monaco-dialog-box').getByRole('button', { name: 'Remove', exact: true }));
    await wb.dialogButton('Remove');
    await wb.page.getByRole('treeitem', { name: /grove\/try-the-ui/ }).first().waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal(fs.existsSync(path.join(`${repo}.worktrees`, 'try-the-ui')), false);
    await wb.screenshot('worktree-removed');
  });

  it('lists it under Recently Removed, and Restore brings the worktree and its branch back', async () => {
    await wb.expand('Recently Removed');
    const snapshot = wb.page.getByRole('treeitem', { name: /grove\/try-the-ui.*remove/ }).first();
    await snapshot.waitFor({ state: 'visible', timeout: 60_000 });
    await wb.screenshot('recently-removed');
    await wb.contextMenu(/grove\/try-the-ui.*remove/, 'Restore Snapshot', wb.page.locator('.notification-toast', { hasText: /restored "grove\/try-the-ui"/ }));
    await wb.page.locator('.notification-toast', { hasText: /restored "grove\/try-the-ui"/ }).first().waitFor({ state: 'visible', timeout: 60_000 });
    assert.ok(fs.existsSync(path.join(`${repo}.worktrees`, 'try-the-ui', 'README.md')), 'the worktree is back, with its files');
    assert.equal(execFileSync('git', ['branch', '--show-current'], { cwd: path.join(`${repo}.worktrees`, 'try-the-ui'), encoding: 'utf8' }).trim(), 'grove/try-the-ui');
    // Back in the tree as a worktree again (a row without the snapshot's "remove" description).
    await wb.page.getByRole('treeitem', { name: /^grove\/try-the-ui(?!.*remove)/ }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await wb.screenshot('worktree-restored');
  });
});
