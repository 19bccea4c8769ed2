// `npm start`: builds Grove and opens a real VS Code (code-server on 127.0.0.1) with Grove loaded from this
// folder on a fresh demo repository. Agents use your own `claude` when it is installed and signed in;
// otherwise, or with `npm start -- --demo-model`, the real CLI from node_modules talks to a built-in scripted
// demo model on 127.0.0.1, and Grove labels itself "Demo model" in the UI.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCodeServer, cacheDir } from './codeServer.mjs';
import { workbenchUrl } from './browser.mjs';
import { makeDemoRepo } from './demoRepo.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const port = Number(args.find((a) => a.startsWith('--port='))?.slice(7) ?? 0) || undefined;

const build = spawnSync(process.execPath, [path.join(root, 'esbuild.mjs'), '--tests'], { stdio: 'inherit', cwd: root });
if (build.status !== 0) process.exit(build.status ?? 1);

function userClaude() {
  try {
    const bin = execFileSync(process.platform === 'win32' ? 'where' : 'which', ['claude'], { stdio: 'pipe' }).toString().split(/\r?\n/)[0].trim();
    if (!bin) return undefined;
    const home = os.homedir();
    const signedIn = !!process.env.ANTHROPIC_API_KEY || !!process.env.ANTHROPIC_AUTH_TOKEN
      || fs.existsSync(path.join(process.env.CLAUDE_CONFIG_DIR ?? path.join(home, '.claude'), '.credentials.json'))
      || /"oauthAccount"/.test(fs.readFileSync(path.join(home, '.claude.json'), 'utf8'));
    return signedIn ? bin : undefined;
  } catch {
    return undefined;
  }
}

const sessionDir = fs.mkdtempSync(path.join(cacheDir(), 'start-'));
const repo = makeDemoRepo(sessionDir);
const env = {};
const settings = {};
const demo = args.includes('--demo-model') || !userClaude();
let model;
if (demo) {
  const { startDemoModel } = await import(path.join(root, 'out/test/support/demoModel.js'));
  model = await startDemoModel();
  env.GROVE_DEMO_MODEL = '1';
  settings['grove.agentEnv'] = model.agentEnv(path.join(sessionDir, 'claude-state'), repo);
  settings['grove.claudePath'] = model.claudePath;
}

const server = await startCodeServer({ folder: repo, stateDir: path.join(sessionDir, 'code-server'), env, settings, port });
const url = await workbenchUrl(server.url, { folder: repo, extensionDevelopmentPath: root });
console.log('\nGrove is running in VS Code (code-server).');
console.log(`  demo repository: ${repo}`);
console.log(`  agents:          ${demo ? 'real Claude Code CLI against the built-in scripted DEMO MODEL (offline)' : 'your own claude'}`);
console.log(`\n  Open: ${url}\n`);
console.log('Press Ctrl+C to stop.');
const stop = () => {
  server.stop();
  model?.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
