// The extension-host tier through @vscode/test-electron's standard runTests API; vscodeExecutablePath points
// at our launcher (code-server + chromium), since desktop VS Code cannot be downloaded offline.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';
import { makeDemoRepo } from './demoRepo.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const workspace = makeDemoRepo(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-')));
try {
  await runTests({
    vscodeExecutablePath: path.join(root, 'test/support/codeLauncher.mjs'),
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out/test/integration/index.js'),
    launchArgs: [workspace],
    extensionTestsEnv: { GROVE_TEST_WORKSPACE: workspace, GROVE_REPO_ROOT: root, GROVE_LOG_TO_CONSOLE: '1' },
  });
} catch (err) {
  console.error(`integration: ${err.message ?? err}`);
  process.exitCode = 1;
}
