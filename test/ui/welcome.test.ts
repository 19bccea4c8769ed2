import assert from 'node:assert/strict';
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

  it('shows the Grove container with the Agents view and its welcome buttons', async () => {
    await wb.openGrove();
    const welcome = wb.page.locator('.welcome-view-content', { hasText: 'No agents yet' });
    await welcome.waitFor({ state: 'visible', timeout: 30_000 });
    assert.ok(await welcome.getByRole('button', { name: 'Dispatch Task' }).isVisible());
    assert.ok(await welcome.getByRole('button', { name: 'Dispatch Plan' }).isVisible());
    await wb.screenshot('welcome');
  });

  it('runs a Grove command from the command palette', async () => {
    await wb.runCommand('Grove: Dispatch Plan…');
    const quick = wb.page.locator('.quick-input-widget');
    const toast = wb.page.locator('.notification-toast', { hasText: 'Dispatch Plan' });
    await Promise.race([
      quick.locator('.quick-input-title, .quick-input-message', { hasText: /plan/i }).first().waitFor({ state: 'visible', timeout: 30_000 }),
      toast.first().waitFor({ state: 'visible', timeout: 30_000 }),
    ]);
    await wb.screenshot('command-palette');
  });
});
