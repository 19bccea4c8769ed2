// Drives the real workbench like a person: code-server with Grove installed from the packaged .vsix (what users
// install), Debian chromium through playwright-core, and helpers for the palette, views and screenshots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConsoleMessage, Locator, Page } from 'playwright-core';
// @ts-expect-error plain ESM helpers shared with the launcher scripts
import { installVsix, startCodeServer } from './codeServer.mjs';
// @ts-expect-error plain ESM helpers shared with the launcher scripts
import { launchBrowser, workbenchUrl } from './browser.mjs';

export const repoRoot = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();

export const resultsDir = path.join(repoRoot, 'test-results');

export interface Workbench {
  page: Page;
  /** The first tree item whose accessible name matches (label, then description). */
  treeItem(name: string | RegExp): Promise<Locator>;
  /** Runs `command` from the context menu of the row named `rowName` and waits until `outcome` shows. */
  contextMenu(rowName: string | RegExp, command: string, outcome: Locator): Promise<void>;
  /** Expands the tree row showing `rowText`. */
  expand(rowText: string | RegExp): Promise<void>;
  quickPickSelect(label: string): Promise<void>;
  typeInQuickInput(value: string, submit?: boolean): Promise<void>;
  dialogButton(label: string): Promise<void>;
  notificationButton(text: string | RegExp, button: string): Promise<void>;
  close(): Promise<void>;
  screenshot(name: string): Promise<string>;
  runCommand(title: string): Promise<void>;
  /** The workbench's context key values (Developer: Inspect Context Keys on the Agents view). */
  contextKeys(): Promise<Record<string, unknown>>;
  /** Waits until Grove has discovered the repositories and recovered its agents (the `grove.ready` context key). */
  groveReady(): Promise<void>;
  /** Shows the Grove container with the Agents view, then waits for `groveReady()`. */
  openGrove(): Promise<void>;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function openWorkbench(folder: string, opts: { env?: Record<string, string>; settings?: Record<string, unknown> } = {}): Promise<Workbench> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-ui-'));
  const extensionsDir = path.join(stateDir, 'extensions');
  const vsix = path.join(repoRoot, 'dist', 'grove.vsix');
  if (!fs.existsSync(vsix)) throw new Error(`${vsix} is missing: run npm run package`);
  installVsix(vsix, extensionsDir, stateDir);
  const server = await startCodeServer({ folder, stateDir, extensionsDir, env: { ...opts.env }, settings: opts.settings ?? {} });
  const browser = await launchBrowser();
  const page = await browser.context.newPage();
  await page.goto(await workbenchUrl(server.url, { folder }));
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60_000 }); // the folder is open
  await workbenchRestored(page);

  const wb: Workbench = {
    page,
    async treeItem(name) {
      const item = page.getByRole('treeitem', { name }).first();
      await item.waitFor({ state: 'visible', timeout: 60_000 });
      return item;
    },
    async contextMenu(rowName, command, outcome) {
      // The tree re-renders as agents report progress, and two things can go wrong that a person would just redo:
      // a menu opened on a row that is then replaced closes without running anything; and a command run from a row
      // during one of Grove's whole-view refreshes reaches Grove without its row (VS Code resolves the row's argument
      // in the extension host's cache of tree elements, which such a refresh empties until the view is fetched
      // again), so Grove asks "choose an agent to …" instead. So: run it, wait for what it shows, and redo it if
      // instead Grove asked which agent or worktree, or nothing happened.
      const chooser = page.locator('.quick-input-widget .quick-input-title', { hasText: /^Grove: choose an? (agent|worktree)/ });
      const deadline = Date.now() + 120_000;
      const entry = page.locator('.context-view .action-menu-item', { hasText: command }).first();
      for (let attempt = 1; ; attempt++) {
        if (attempt > 1 && (await outcome.filter({ visible: true }).count()) > 0) return; // the last attempt got there after all
        const row = await wb.treeItem(rowName);
        await row.click({ button: 'right' });
        try {
          await entry.waitFor({ state: 'visible', timeout: 5_000 });
          // Menus act on mouse-up after a hover, like a person's click; a synthetic click alone can land too early.
          await entry.hover();
          await page.keyboard.press('Enter');
          await entry.waitFor({ state: 'detached', timeout: 5_000 });
          // The first of them to show (the widget keeps old, hidden titles in the page).
          await outcome.or(chooser).filter({ visible: true }).first().waitFor({ state: 'visible', timeout: 20_000 });
          const asked = chooser.filter({ visible: true });
          if ((await asked.count()) === 0) return;
          console.log(`    (${command} reached Grove without its row and Grove asked "${await asked.first().innerText()}"; running it again from the row)`);
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`${command} on "${String(rowName)}" never showed its outcome (attempt ${attempt}): ${(err as Error).message}`);
        }
        await page.keyboard.press('Escape');
        await chooser.filter({ visible: true }).first().waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
        await entry.waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
      }
    },
    async expand(rowText) {
      // A click on a row that is being re-rendered may select it without toggling it: click until it is expanded.
      const row = page.locator('.monaco-list-row[aria-expanded]', { hasText: rowText }).first();
      const deadline = Date.now() + 60_000;
      for (;;) {
        await row.waitFor({ state: 'visible', timeout: 60_000 });
        if ((await row.getAttribute('aria-expanded')) === 'true') return;
        await row.click();
        try {
          await page.locator('.monaco-list-row[aria-expanded="true"]', { hasText: rowText }).first().waitFor({ state: 'visible', timeout: 5_000 });
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
      }
    },
    async quickPickSelect(label) {
      const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first();
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      await row.click();
    },
    async typeInQuickInput(value, submit = true) {
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill(value);
      if (submit) await page.keyboard.press('Enter');
    },
    async dialogButton(label) {
      const button = page.locator('.monaco-dialog-box').getByRole('button', { name: label, exact: true }).first();
      await button.waitFor({ state: 'visible', timeout: 30_000 });
      await button.click();
    },
    async notificationButton(text, button) {
      const toast = page.locator('.notification-toast', { hasText: text }).first();
      await toast.waitFor({ state: 'visible', timeout: 60_000 });
      await toast.getByRole('button', { name: button }).click();
    },
    async close() {
      await browser.close();
      server.stop();
      await new Promise((r) => setTimeout(r, 300));
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
    async screenshot(name) {
      // One folder per VS Code version, so a run on both keeps the pictures of each.
      const dir = path.join(resultsDir, `vscode-${server.vscodeVersion}`);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    async runCommand(title) {
      // The palette lists the commands registered when its filter last changed, and on its first opening it waits
      // at most 800 ms for the extensions to be registered (CommandsQuickAccessProvider's extensionRegistrationRace):
      // a row that is missing can appear on a new query, never by waiting on the same one. So: open it, type, and
      // if the exact row is not listed, close it and query again.
      const input = page.locator('.quick-input-widget input');
      // The row whose label is exactly the command (recently used or similar commands may be listed first).
      const row = page.locator('.quick-input-widget .monaco-list-row')
        .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) }).first();
      const deadline = Date.now() + 90_000;
      for (;;) {
        await page.keyboard.press('F1');
        await input.waitFor({ state: 'visible', timeout: 30_000 });
        try {
          // The palette can close under the typing when something takes the focus (the walkthrough does as a step
          // completes, on 1.139): then it is opened again, like the missing row below.
          await input.fill(`>${title}`, { timeout: 5_000 });
          await row.waitFor({ state: 'visible', timeout: 5_000 });
          await row.click();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`the command palette never listed "${title}": ${(err as Error).message}`);
          console.log(`    (the palette did not list "${title}", or closed while it was typed; querying it again)`);
          await page.keyboard.press('Escape');
          await input.waitFor({ state: 'hidden', timeout: 30_000 });
        }
      }
    },
    async contextKeys() {
      // Developer: Inspect Context Keys logs the context of the next element clicked to the page's console.
      let onConsole: (m: ConsoleMessage) => void = () => undefined;
      let timer: NodeJS.Timeout | undefined;
      const logged = new Promise<Record<string, unknown>>((resolve, reject) => {
        onConsole = (m) => {
          if (m.type() !== 'log' || m.args().length !== 1) return;
          m.args()[0].jsonValue().then((v: unknown) => {
            if (v && typeof v === 'object' && 'workbenchState' in v) resolve(v as Record<string, unknown>);
          }, () => undefined);
        };
        page.on('console', onConsole);
        timer = setTimeout(() => reject(new Error('Developer: Inspect Context Keys logged no context')), 60_000);
      });
      try {
        await wb.runCommand('Developer: Inspect Context Keys');
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 30_000 });
        await page.locator('.part.sidebar').first().click({ position: { x: 20, y: 20 } });
        return await logged;
      } finally {
        clearTimeout(timer);
        page.off('console', onConsole);
      }
    },
    async groveReady() {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const keys = await wb.contextKeys();
        if (keys['grove.ready'] === true) return;
        if (Date.now() > deadline) throw new Error(`grove.ready never became true (context: ${JSON.stringify(Object.fromEntries(Object.entries(keys).filter(([k]) => k.startsWith('grove'))))})`);
      }
    },
    async openGrove() {
      // The view's focus command shows the container whatever its state; clicking its activity-bar tab would hide
      // the side bar when the container is already shown (as after a reload). Opening the view activates Grove.
      await wb.runCommand('Grove: Focus on Agents View');
      await page.locator('.pane-header[aria-label^="Agents"]').first().waitFor({ state: 'attached', timeout: 30_000 });
      await page.locator('.sidebar .composite.title', { hasText: /grove/i }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await wb.groveReady();
    },
  };
  return wb;
}

/**
 * Waits until the workbench stands and shows Grove's activity-bar entry. In a fresh window the entry appears only once
 * the remote extension host's extensions are registered (and with them the palette's commands) — under load seconds
 * after the workbench and the explorer are up. After a reload the workbench shows the entry from its cache before
 * that, which is why runCommand() also queries the palette again.
 */
export async function workbenchRestored(page: Page): Promise<void> {
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  await page.locator('.activitybar').getByRole('tab', { name: /^Grove/ }).first().waitFor({ state: 'visible', timeout: 90_000 });
}

/**
 * Registers a mocha afterEach that saves `test-results/failure-<test>.png` when a test fails, and runs `also` (e.g.
 * to print state files) then.
 */
export function screenshotOnFailure(wb: () => Workbench | undefined, also?: () => void): void {
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    await wb()?.screenshot(`failure-${this.currentTest.title.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => undefined);
    also?.();
  });
}
