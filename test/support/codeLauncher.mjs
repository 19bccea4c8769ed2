#!/usr/bin/env node
// A "VS Code executable" for @vscode/test-electron's runTests({ vscodeExecutablePath }).
// Desktop VS Code cannot be had offline, so this takes the arguments runTests passes, starts code-server (the
// real workbench with the real Node extension host), opens it in Debian chromium with the development and
// tests paths in the URL payload, relays the host's console and exits with the tests' exit code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { startCodeServer } from './codeServer.mjs';
import { allowDevelopmentPayload, launchBrowser, workbenchUrl } from './browser.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const extensionTestsPath = flag('extensionTestsPath');
const extensionDevelopmentPath = flag('extensionDevelopmentPath');
const folder = args.find((a) => !a.startsWith('-'));
// A guard against a hung window, not a speed target: a busy 2-core machine ran the extension-host tier in 15 min.
const timeoutMs = Number(process.env.GROVE_LAUNCHER_TIMEOUT_MS ?? 35 * 60_000);

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-launcher-'));
const server = await startCodeServer({ folder, stateDir, env: {} });
console.log(`launcher: VS Code ${server.vscodeVersion} (code-server ${server.version})`);
const { context, close } = await launchBrowser();
let exitCode = 1;
const cleanup = async () => {
  await close();
  server.stop();
  await new Promise((r) => setTimeout(r, 300));
  fs.rmSync(stateDir, { recursive: true, force: true });
};
try {
  const page = await context.newPage();
  await allowDevelopmentPayload(page);
  const done = new Promise((resolve) => {
    page.exposeFunction('codeAutomationExit', (code) => resolve(code));
  });
  await page.exposeFunction('codeAutomationLog', (type, items) => {
    // The host's console arguments arrive as a format string and its values (mocha's reporter uses %s / %d).
    const text = util.format(...(items ?? []).map((i) => (typeof i === 'string' ? i : JSON.stringify(i))));
    (type === 'error' ? process.stderr : process.stdout).write(`${text}\n`);
  });
  await page.goto(await workbenchUrl(server.url, { folder, extensionDevelopmentPath, extensionTestsPath }));
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));
  const result = await Promise.race([done, timeout]);
  if (result === 'timeout') {
    console.error(`launcher: the extension host did not finish within ${timeoutMs} ms`);
    fs.mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: `test-results/integration-timeout-${server.vscodeVersion}.png` }).catch(() => {});
  } else {
    exitCode = Number(result);
  }
} catch (err) {
  console.error('launcher:', err);
} finally {
  await cleanup();
}
process.exit(exitCode);
