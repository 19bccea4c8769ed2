// Debian chromium driven by playwright-core, pointed at a code-server workbench.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export function chromiumPath() {
  for (const p of [process.env.GROVE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (p && fs.existsSync(p)) return p;
  }
  throw new Error('chromium is missing: apt-get install chromium (or set GROVE_CHROMIUM)');
}

export async function launchBrowser() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}

/** The workbench's remoteAuthority, read from the page's configuration meta tag. */
export async function remoteAuthority(baseUrl) {
  const html = await (await fetch(`${baseUrl}/`)).text();
  const m = /id="vscode-workbench-web-configuration"\s+data-settings="([^"]*)"/.exec(html);
  if (!m) throw new Error('workbench configuration meta tag not found');
  const json = m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  return JSON.parse(json).remoteAuthority;
}

/** URL that opens `folder` with the extension under development (and optionally a tests module) loaded. */
export async function workbenchUrl(baseUrl, { folder, extensionDevelopmentPath, extensionTestsPath }) {
  const params = new URLSearchParams();
  if (folder) params.set('folder', folder);
  const payload = [];
  if (extensionDevelopmentPath || extensionTestsPath) {
    const auth = await remoteAuthority(baseUrl);
    if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', `vscode-remote://${auth}${extensionDevelopmentPath}`]);
    if (extensionTestsPath) payload.push(['extensionTestsPath', `vscode-remote://${auth}${extensionTestsPath}`]);
    params.set('payload', JSON.stringify(payload));
  }
  return `${baseUrl}/?${params.toString()}`;
}

/**
 * Newer workbenches (1.139) honour the URL's development payload (extensionDevelopmentPath, extensionTestsPath) only
 * when the page's configuration has `developmentOptions.enableSmokeTestDriver`, which code-server does not set. Sets it
 * in the configuration meta tag as the page parses it, before the workbench reads it. (Rewriting the HTML in a
 * `page.route` instead breaks the workbench's websocket.) Harmless on 1.100, which reads the payload anyway.
 */
export async function allowDevelopmentPayload(page) {
  await page.addInitScript(() => {
    const patch = (meta) => {
      if (meta.dataset.groveDev) return;
      const settings = JSON.parse(meta.getAttribute('data-settings') || '{}');
      settings.developmentOptions = { ...settings.developmentOptions, enableSmokeTestDriver: true };
      meta.dataset.groveDev = '1';
      meta.setAttribute('data-settings', JSON.stringify(settings));
    };
    const find = () => document.getElementById('vscode-workbench-web-configuration');
    const observer = new MutationObserver(() => {
      const meta = find();
      if (meta) { patch(meta); observer.disconnect(); }
    });
    observer.observe(document, { childList: true, subtree: true });
  });
}
