import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemoModel, type DemoModel } from '../support/demoModel';
// @ts-expect-error plain ESM helper
import { makeDemoRepo } from '../support/demoRepo.mjs';
import { runCommandWhenListed, waitForCommand } from '../support/palette';
import { openWorkbench, screenshotOnFailure, Workbench } from '../support/workbench';

const STEPS = ['checkClaude', 'dispatch', 'review', 'merge'];
const TASK = 'Add a goodbye function';

describe('UI: the Get Started walkthrough, each step done by doing it', function () {
  let wb: Workbench;
  let repo: string;
  let model: DemoModel;

  const step = (id: string) => wb.page.locator(`.getting-started-step[data-step-id="grove-dev.grove#grove.gettingStarted#${id}"]`);
  /** Brings the walkthrough to the front, opening it from the palette the first time. */
  const showWalkthrough = async () => {
    const tab = wb.page.locator('.tab', { hasText: 'Walkthrough: Grove' }).first();
    if (await tab.count()) {
      await tab.click();
    } else {
      await runCommandWhenListed(wb, 'Welcome: Open Walkthrough...');
      await wb.quickPickSelect('Get Started with Grove');
    }
    await wb.page.locator('.gettingStartedContainer', { hasText: 'Get Started with Grove' }).first().waitFor({ state: 'visible', timeout: 30_000 });
  };
  /** Shows the walkthrough and waits until the step shows as done. */
  const expectStep = async (id: string, done: boolean) => {
    await showWalkthrough();
    await wb.page.waitForSelector(`.getting-started-step[data-step-id$="#${id}"][aria-checked="${done}"]`, { timeout: 60_000 });
  };
  const checked = async () => Promise.all(STEPS.map(async (id) => (await step(id).getAttribute('aria-checked')) === 'true'));

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-ui-walk-'));
    repo = makeDemoRepo(dir);
    model = await startDemoModel();
    wb = await openWorkbench(repo, {
      env: { GROVE_DEMO_MODEL: '1' },
      settings: {
        'grove.agentEnv': model.agentEnv(path.join(dir, 'claude-state'), repo),
        'grove.claudePath': model.claudePath,
        'grove.notifications': 'off',
        'grove.mergeStrategy': 'squash',
        'grove.cleanupAfterMerge': 'always',
        // The walkthrough keeps its tab while the review's editors open (instead of being replaced as a preview).
        'workbench.editor.enablePreview': false,
      },
    });
    await waitForCommand(wb, 'Grove: Check Claude Code');
  });

  screenshotOnFailure(() => wb);

  after(async () => {
    await wb?.close();
    await model?.close();
  });

  it('opens from Welcome: Open Walkthrough with four steps, none done', async () => {
    await showWalkthrough();
    assert.deepEqual(await wb.page.locator('.getting-started-step[data-step-id^="grove-dev.grove#grove.gettingStarted#"]').evaluateAll(
      (els) => els.map((e) => e.getAttribute('data-step-id')!.split('#').pop())), STEPS);
    assert.deepEqual(await checked(), [false, false, false, false]);
    await wb.screenshot('walkthrough');
  });

  it('step 1: Check Claude Code reports the demo model and the step is done', async () => {
    if (!/\bexpanded\b/.test(await step('checkClaude').getAttribute('class') ?? '')) await step('checkClaude').click();
    await wb.page.locator('.getting-started-step.expanded').getByRole('button', { name: 'Check Claude Code' }).click();
    await wb.page.locator('.notification-toast', { hasText: /Claude Code \d+\.\d+\.\d+ .* is ready, signed in with the demo model/ }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await expectStep('checkClaude', true);
    assert.deepEqual(await checked(), [true, false, false, false]);
  });

  it('step 2: the Dispatch Task keybinding (Ctrl+Shift+Alt+D) starts an agent and the step is done', async () => {
    await wb.page.keyboard.press('Control+Shift+Alt+KeyD');
    await wb.page.locator('.quick-input-widget', { hasText: 'Grove: Dispatch Task' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await wb.typeInQuickInput(TASK);
    await wb.quickPickSelect('Dispatch');
    await expectStep('dispatch', true);
    await wb.openGrove();
    await wb.page.locator('.monaco-list-row', { hasText: TASK }).filter({ hasText: /done/ }).first().waitFor({ state: 'visible', timeout: 120_000 });
  });

  it('step 3: reviewing the agent\'s changes completes the review step', async () => {
    await showWalkthrough();
    assert.equal((await checked())[2], false);
    const tab = wb.page.locator('.tab', { hasText: TASK }).first();
    await wb.contextMenu(TASK, 'Review Changes', tab);
    await tab.waitFor({ state: 'visible', timeout: 30_000 });
    await expectStep('review', true);
  });

  it('step 4: merging it completes the last step', async () => {
    await showWalkthrough();
    assert.equal((await checked())[3], false);
    await wb.contextMenu(TASK, 'Merge into Base…', wb.page.locator('.monaco-dialog-box').getByRole('button', { name: 'Commit Agent\'s Work', exact: true }));
    await wb.dialogButton('Commit Agent\'s Work');
    await wb.page.locator('.monaco-list-row', { hasText: 'Archived' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(execFileSync('git', ['log', '-1', '--format=%s', 'main'], { cwd: repo, encoding: 'utf8' }), new RegExp(TASK));
    await expectStep('merge', true);
    assert.deepEqual(await checked(), [true, true, true, true]);
    await wb.screenshot('walkthrough-done');
  });
});
