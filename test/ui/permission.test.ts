import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemoModel, type DemoModel } from '../support/demoModel';
// @ts-expect-error plain ESM helper
import { makeDemoRepo } from '../support/demoRepo.mjs';
import { bash, text } from '../support/scriptedModel';
import { openWorkbench, screenshotOnFailure, Workbench } from '../support/workbench';

describe('UI: Dispatch Task from the view, and a permission request answered in VS Code', function () {
  let wb: Workbench;
  let model: DemoModel;
  let repo: string;

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-ui-perm-'));
    repo = makeDemoRepo(dir);
    // The agent wants to run a command: outside acceptEdits, so Claude Code asks Grove, and Grove asks the user.
    model = await startDemoModel((req) => (req.isToolResult ? text('The build ran.') : bash(`node -e "require('fs').writeFileSync('built.txt', 'ok')"`, 'Build')));
    wb = await openWorkbench(repo, {
      settings: {
        'grove.agentEnv': model.agentEnv(path.join(dir, 'claude-state'), repo),
        'grove.claudePath': model.claudePath,
      },
    });
    await wb.openGrove();
  });

  screenshotOnFailure(() => wb);

  after(async () => {
    await wb?.close();
    await model?.close();
  });

  it('dispatches a task typed into the + button\'s prompt and asks "Allow Bash: …?" before the agent runs it', async () => {
    await wb.page.getByRole('button', { name: 'Dispatch Task…' }).first().click();
    await wb.typeInQuickInput('Run the build and report');
    await wb.quickPickSelect('Dispatch');
    const toast = wb.page.locator('.notification-toast', { hasText: /asks: Allow Bash: node -e/ }).first();
    await toast.waitFor({ state: 'visible', timeout: 90_000 });
    await wb.page.locator('.monaco-list-row', { hasText: 'Run the build and report' }).filter({ hasText: /needs permission/ }).first().waitFor({ state: 'visible' });
    await wb.screenshot('permission-asked');
    assert.equal(fs.existsSync(path.join(`${repo}.worktrees`, 'run-the-build-and-report', 'built.txt')), false, 'the command ran before it was allowed');
    await toast.getByRole('button', { name: 'Allow Once' }).click();
    await wb.page.locator('.monaco-list-row', { hasText: 'Run the build and report' }).filter({ hasText: /done/ }).first().waitFor({ state: 'visible', timeout: 90_000 });
    assert.equal(fs.readFileSync(path.join(`${repo}.worktrees`, 'run-the-build-and-report', 'built.txt'), 'utf8'), 'ok');
    await wb.screenshot('permission-allowed');
  });
});
