// The command palette, used the way a patient person would. The palette's list is fixed when it opens, and an
// extension's commands are listed only a few seconds after the workbench shows (longer on a busy machine), so a
// palette opened too early never lists them: close it and open it again. A key press that lands while a menu
// closes can also be lost; the same retry covers it.
import type { Workbench } from './workbench';

const exact = (title: string) => new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

async function withCommandRow<T>(wb: Workbench, title: string, use: (row: import('playwright-core').Locator) => Promise<T>, attempts: number): Promise<T> {
  const { page } = wb;
  for (let attempt = 1; ; attempt++) {
    try {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 5_000 });
      await input.fill(`>${title}`);
      const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact(title) }) }).first();
      await row.waitFor({ state: 'visible', timeout: 5_000 });
      return await use(row);
    } catch (err) {
      await page.keyboard.press('Escape');
      if (attempt >= attempts) throw err;
    }
  }
}

/** Waits until the palette lists `title` (e.g. an extension's command once it is loaded), without running it. */
export async function waitForCommand(wb: Workbench, title: string, attempts = 12): Promise<void> {
  await withCommandRow(wb, title, async () => {
    await wb.page.keyboard.press('Escape');
  }, attempts);
}

/** Runs `title` from the palette, reopening it until the command is listed. */
export async function runCommandWhenListed(wb: Workbench, title: string, attempts = 6): Promise<void> {
  await withCommandRow(wb, title, (row) => row.click(), attempts);
}
