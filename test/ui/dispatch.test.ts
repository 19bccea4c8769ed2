import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemoModel, type DemoModel } from '../support/demoModel';
// @ts-expect-error plain ESM helper
import { makeDemoRepo } from '../support/demoRepo.mjs';
import { openWorkbench, screenshotOnFailure, Workbench } from '../support/workbench';

const TASKS = ['Add a farewell function', 'Document the API', 'Add a license file'];

describe('UI: dispatch a plan, watch the agents finish, review and merge one', function () {
  let wb: Workbench;
  let repo: string;
  let model: DemoModel;

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-ui-plan-'));
    repo = makeDemoRepo(dir);
    model = await startDemoModel();
    wb = await openWorkbench(repo, {
      env: { GROVE_DEMO_MODEL: '1' },
      settings: {
        'grove.agentEnv': model.agentEnv(path.join(dir, 'claude-state'), repo),
        'grove.claudePath': model.claudePath,
        'grove.maxConcurrent': 2,
        'grove.notifications': 'off',
        'grove.mergeStrategy': 'squash',
        'grove.cleanupAfterMerge': 'always',
      },
    });
    await wb.openGrove();
  });

  screenshotOnFailure(() => wb);

  after(async () => {
    await wb?.close();
    await model?.close();
  });

  it('dispatches plan.md from the command palette and shows every agent done', async () => {
    await wb.page.keyboard.press('Control+P');
    await wb.typeInQuickInput('plan.md', false);
    await wb.quickPickSelect('plan.md');
    await wb.page.locator('.tab', { hasText: 'plan.md' }).first().waitFor({ state: 'visible' });
    await wb.runCommand('Grove: Dispatch Plan…');
    for (const t of TASKS) await wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: t }).first().waitFor({ state: 'visible' });
    await wb.page.keyboard.press('Enter');
    for (const t of TASKS) {
      await wb.page.locator('.monaco-list-row', { hasText: t }).filter({ hasText: /done/ }).first().waitFor({ state: 'visible', timeout: 120_000 });
    }
    // The demo model is labelled as such, in the view's title and the status bar.
    await wb.page.locator('.sidebar .composite.title', { hasText: /demo model/i }).first().waitFor({ state: 'visible' });
    await wb.page.locator('.statusbar-item', { hasText: 'Grove (demo model): 3 done' }).first().waitFor({ state: 'visible' });
    await wb.screenshot('plan-done');
    const branches = execFileSync('git', ['branch', '--list', 'grove/*'], { cwd: repo, encoding: 'utf8' });
    for (const slug of ['add-a-farewell-function', 'document-the-api', 'add-a-license-file']) assert.match(branches, new RegExp(`grove/${slug}`));
  });

  it('reviews an agent\'s changes in the multi-diff editor', async () => {
    const tab = wb.page.locator('.tab', { hasText: TASKS[0] }).first();
    await wb.contextMenu(TASKS[0], 'Review Changes', tab);
    await wb.page.locator('.multiDiffEditor, .multi-diff-editor, .monaco-diff-editor').first().waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await tab.innerText(), /1 file/);
    await wb.screenshot('review');
  });

  it('merges it into main after committing the agent\'s work, and archives it', async () => {
    await wb.contextMenu(TASKS[0], 'Merge into Base…', wb.page.locator('.monaco-dialog-box').getByRole('button', { name: 'Commit Agent\'s Work', exact: true }));
    await wb.dialogButton('Commit Agent\'s Work');
    await wb.page.locator('.monaco-list-row', { hasText: 'Archived' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    const log = execFileSync('git', ['log', '-1', '--format=%s', 'main'], { cwd: repo, encoding: 'utf8' });
    assert.match(log, /Add a farewell function/);
    assert.ok(fs.existsSync(path.join(repo, 'NOTES-add-a-farewell-function.md')), 'the agent\'s file is not in the user\'s checkout');
    await wb.expand('Archived');
    await wb.page.locator('.monaco-list-row', { hasText: TASKS[0] }).filter({ hasText: /merged into main/ }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await wb.screenshot('merged');
  });

  it('lands the other two with Land All from the view\'s title bar: progress, one question for both, then the summary', async () => {
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.page.locator('.pane-header[aria-label^="Agents"], .sidebar .composite.title').first().hover();
    await wb.page.getByRole('button', { name: 'Land All' }).first().click();
    // The first agent's uncommitted notes: one answer ("Commit All") for the whole train.
    const commitAll = wb.page.locator('.monaco-dialog-box').getByRole('button', { name: 'Commit All', exact: true });
    await commitAll.waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await wb.page.locator('.monaco-dialog-box').first().innerText(), /has uncommitted work\. Commit it to land it\?/);
    await wb.screenshot('land-all-progress');
    await wb.dialogButton('Commit All');
    const summary = wb.page.locator('.notification-toast', { hasText: /Landed 2 of 2/ }).first();
    await summary.waitFor({ state: 'visible', timeout: 120_000 });
    assert.match(await summary.innerText(), /2 new commits on main/);
    const log = execFileSync('git', ['log', '--format=%s', 'main'], { cwd: repo, encoding: 'utf8' });
    for (const t of TASKS.slice(1)) assert.match(log, new RegExp(t), `${t} is not on main`);
    // Landed and cleaned up (grove.cleanupAfterMerge: always): all three are archived, no worktree is left.
    assert.deepEqual(fs.readdirSync(`${repo}.worktrees`).filter((d) => !d.startsWith('.')), []);
    await wb.page.locator('.monaco-list-row', { hasText: /^Archived\s*3$/ }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await wb.screenshot('land-all-summary');
  });
});
