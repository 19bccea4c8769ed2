import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Locator } from 'playwright-core';
import { startDemoModel, type DemoModel } from '../support/demoModel';
// @ts-expect-error plain ESM helper
import { makeDemoRepo } from '../support/demoRepo.mjs';
import { openWorkbench, screenshotOnFailure, Workbench } from '../support/workbench';

describe('UI: a plan file in the editor — lenses, the Dispatch Plan keybinding, problems and completion', function () {
  let wb: Workbench;
  let repo: string;
  let model: DemoModel;
  const lens = (title: string) => wb.page.locator('.codelens-decoration a', { hasText: title });
  /** The lens titled exactly `title` in the view zone right above the editor line `lineText`. */
  /** The lens titled `title` right above the line with `lineText`, once VS Code has laid both out (30 s at most). */
  const lensAbove = async (lineText: string, title: string) => {
    const deadline = Date.now() + 30_000;
    let seen = '';
    for (;;) {
      const line = await wb.page.locator('.monaco-editor .view-line', { hasText: lineText }).first().boundingBox().catch(() => null);
      let best: { el: Locator; y: number } | undefined;
      const titles: string[] = [];
      for (const el of await wb.page.locator('.codelens-decoration a').all()) {
        const box = await el.boundingBox().catch(() => null);
        const text = (await el.innerText().catch(() => '')).replace(/^\W+/, '').trim();
        titles.push(text);
        if (!line || !box || text !== title || box.y >= line.y) continue;
        if (!best || box.y > best.y) best = { el, y: box.y };
      }
      if (line && best && line.y - best.y < 2 * line.height) return best.el;
      seen = `${line ? 'the line is on screen' : 'the line is not on screen'}; lenses: ${titles.join(', ') || 'none'}`;
      if (Date.now() > deadline) assert.fail(`no "${title}" lens right above "${lineText}" (${seen})`);
      await wb.page.waitForTimeout(250);
    }
  };

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-ui-planedit-'));
    repo = makeDemoRepo(dir);
    model = await startDemoModel();
    wb = await openWorkbench(repo, {
      env: { GROVE_DEMO_MODEL: '1' },
      settings: { 'grove.agentEnv': model.agentEnv(path.join(dir, 'claude-state'), repo), 'grove.claudePath': model.claudePath, 'grove.notifications': 'off' },
    });
    await wb.page.keyboard.press('Control+P');
    await wb.typeInQuickInput('plan.md', false);
    await wb.quickPickSelect('plan.md');
    await wb.page.locator('.tab', { hasText: 'plan.md' }).first().waitFor({ state: 'visible' });
  });

  screenshotOnFailure(() => wb);

  after(async () => {
    await wb?.close();
    await model?.close();
  });

  it('shows "Dispatch All" above the first task and "Dispatch" above every task', async () => {
    await lens('Dispatch All (3)…').first().waitFor({ state: 'visible', timeout: 60_000 });
    // VS Code may draw the lenses again (after the file's first parse): count once they are all drawn, not mid-way.
    const deadline = Date.now() + 60_000;
    let count = await lens('Dispatch').count();
    while (count !== 4 && Date.now() < deadline) {
      await wb.page.waitForTimeout(250);
      count = await lens('Dispatch').count();
    }
    assert.equal(count, 4, 'expected Dispatch All and three Dispatch lenses');
    await wb.screenshot('plan-codelens');
  });

  it('Ctrl+Shift+Alt+P (Dispatch Plan) opens the preview of this plan\'s tasks', async () => {
    await wb.page.locator('.monaco-editor .view-lines').first().click();
    await wb.page.keyboard.press('Control+Shift+Alt+KeyP');
    const preview = wb.page.locator('.quick-input-widget', { hasText: 'dispatch 3 task(s) from plan.md' }).first();
    await preview.waitFor({ state: 'visible', timeout: 30_000 });
    for (const t of ['Add a farewell function', 'Document the API', 'Add a license file']) {
      await preview.locator('.monaco-list-row', { hasText: t }).first().waitFor({ state: 'visible' });
    }
    await wb.page.keyboard.press('Escape');
    await preview.waitFor({ state: 'hidden' });
  });

  it('a task\'s Dispatch lens starts that one agent, with no questions', async () => {
    await (await lensAbove('## Document the API', 'Dispatch')).click();
    await wb.openGrove();
    await wb.page.locator('.monaco-list-row', { hasText: 'Document the API' }).filter({ hasText: /done/ }).first().waitFor({ state: 'visible', timeout: 120_000 });
    const branches = execFileSync('git', ['branch', '--list', '--format=%(refname:short)', 'grove/*'], { cwd: repo, encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(branches, ['grove/document-the-api']);
  });

  it('underlines an after: that names no task, counts it in the status bar, and completes task titles after "after: "', async () => {
    await wb.page.locator('.tab', { hasText: 'plan.md' }).first().click();
    // The end of "Add an MIT LICENSE file." (line 12): a new line with an after: naming no task.
    await wb.page.locator('.monaco-editor .view-line', { hasText: 'Add an MIT LICENSE file.' }).first().click();
    await wb.page.keyboard.press('End');
    await wb.page.keyboard.press('Enter');
    await wb.page.keyboard.type('after: Nobody');
    await wb.page.locator('.monaco-editor .squiggly-error').first().waitFor({ state: 'visible', timeout: 30_000 });
    await wb.page.locator('.statusbar-item', { hasText: /^\s*1\s+0\s*$/ }).first().waitFor({ state: 'visible', timeout: 30_000 })
      .catch(async () => assert.fail(`the status bar shows no error count of 1: ${await wb.page.locator('.statusbar').innerText()}`));
    await wb.screenshot('plan-problem');

    // Replace the name: typing after "after: " offers the other tasks.
    for (let i = 0; i < 'Nobody'.length; i++) await wb.page.keyboard.press('Backspace');
    await wb.page.keyboard.press('Control+Space');
    const suggest = wb.page.locator('.suggest-widget');
    await suggest.locator('.monaco-list-row', { hasText: 'Add a farewell function' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    assert.ok(await suggest.locator('.monaco-list-row', { hasText: 'Document the API' }).first().isVisible());
    await wb.screenshot('plan-completion');
    await suggest.locator('.monaco-list-row', { hasText: 'Add a farewell function' }).first().click();
    await wb.page.locator('.monaco-editor .view-line', { hasText: 'after: Add a farewell function' }).first().waitFor({ state: 'visible' });
    await wb.page.locator('.monaco-editor .squiggly-error').first().waitFor({ state: 'detached', timeout: 30_000 });
    // The dependent task's lens now says what it waits for.
    await lens('Dispatch with "Add a farewell function"').first().waitFor({ state: 'visible', timeout: 30_000 });
  });
});
