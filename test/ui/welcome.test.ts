import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error plain ESM helper
import { makeDemoRepo } from '../support/demoRepo.mjs';
import { openWorkbench, screenshotOnFailure, Workbench } from '../support/workbench';

describe('UI: Grove in the workbench (installed from the .vsix)', function () {
  let wb: Workbench;
  let repo: string;

  before(async function () {
    repo = makeDemoRepo(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-ui-repo-')));
    wb = await openWorkbench(repo);
  });

  screenshotOnFailure(() => wb);

  after(async () => {
    await wb?.close();
  });

  const welcome = () => wb.page.locator('.welcome-view-content', { hasText: 'No agents yet' });

  it('shows the Grove container with the Agents view and its welcome buttons', async () => {
    await wb.openGrove();
    await welcome().waitFor({ state: 'visible', timeout: 30_000 });
    await welcome().getByRole('button', { name: 'Dispatch Task' }).waitFor({ state: 'visible' });
    await welcome().getByRole('button', { name: 'Dispatch Plan' }).waitFor({ state: 'visible' });
    assert.match(await welcome().innerText(), /Dispatch a task to start one on a fresh worktree, or a plan to start many/);
    await wb.screenshot('welcome');
  });

  it('runs Dispatch Plan from the command palette: it asks for a plan file, then previews its tasks', async () => {
    await wb.runCommand('Grove: Dispatch Plan…');
    // No markdown editor is active, so Grove asks for the plan with VS Code's file dialog.
    const quick = wb.page.locator('.quick-input-widget');
    await quick.locator('.quick-input-title', { hasText: 'Grove: choose a plan (## sections or - [ ] items)' }).waitFor({ state: 'visible', timeout: 30_000 });
    await wb.screenshot('command-palette');
    // VS Code's own file dialog (a quick input) takes the typed path once it has listed that folder: Enter before
    // that is lost on a busy machine, so wait for the file's row, and press Enter again while the dialog still asks.
    await wb.typeInQuickInput(path.join(repo, 'plan.md'), false);
    const preview = quick.locator('.quick-input-title', { hasText: 'Grove: dispatch 3 task(s) from plan.md' });
    for (let attempt = 1; ; attempt++) {
      // The dialog may have put its own folder back into the input: type the path again before each retry.
      if (attempt > 1) await wb.typeInQuickInput(path.join(repo, 'plan.md'), false);
      await quick.locator('.monaco-list-row', { hasText: 'plan.md' }).first().waitFor({ state: 'visible', timeout: 10_000 }).catch(() => undefined);
      await wb.page.keyboard.press('Enter');
      // The preview lists every task of plan.md, checked.
      const shown = await preview.waitFor({ state: 'visible', timeout: attempt < 3 ? 10_000 : 30_000 }).then(() => true, () => false);
      if (shown) break;
      const stillAsking = await quick.locator('.quick-input-title', { hasText: 'Grove: choose a plan' }).isVisible();
      assert.ok(attempt < 3, `the plan's preview never showed (the quick input shows "${await quick.innerText().catch(() => '')}")`);
      if (!stillAsking) {
        // The path was taken: the preview is on its way.
        await preview.waitFor({ state: 'visible', timeout: 30_000 });
        break;
      }
    }
    const rows = quick.locator('.monaco-list-row');
    for (const t of ['Add a farewell function', 'Document the API', 'Add a license file']) await rows.filter({ hasText: t }).first().waitFor({ state: 'visible' });
    assert.equal(await rows.count(), 3);
    await wb.screenshot('plan-preview');
    // Escape dispatches nothing: the welcome stays and no branch was made.
    await wb.page.keyboard.press('Escape');
    await quick.waitFor({ state: 'hidden' });
    await welcome().waitFor({ state: 'visible' });
    assert.equal(execFileSync('git', ['branch', '--list', 'grove/*'], { cwd: repo, encoding: 'utf8' }), '');
  });
});
