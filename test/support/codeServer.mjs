// Finds or installs code-server (the real VS Code workbench + Node extension host) in a cache outside the
// clone, and starts it. Used by `npm start`, the extension-host tier and the UI tier. See README "Tests".
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

export const CODE_SERVER_VERSION = '4.100.3'; // = VS Code 1.100.3, the last release on Node 20

export function cacheDir() {
  return process.env.GROVE_CACHE_DIR || path.join(os.homedir(), '.cache', 'grove');
}

export function codeServerBin() {
  return path.join(cacheDir(), `code-server-${CODE_SERVER_VERSION}`, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

/** Private config/data folders so code-server never writes into $HOME (it writes a config even for --version). */
export function isolatedEnv(stateDir, extra = {}) {
  fs.mkdirSync(path.join(stateDir, 'config'), { recursive: true });
  fs.mkdirSync(path.join(stateDir, 'data'), { recursive: true });
  return {
    ...process.env,
    XDG_CONFIG_HOME: path.join(stateDir, 'config'),
    XDG_DATA_HOME: path.join(stateDir, 'data'),
    EXTENSIONS_GALLERY: '{"serviceUrl":""}',
    ...extra,
  };
}

export function ensureCodeServer({ quiet = false } = {}) {
  const bin = codeServerBin();
  if (fs.existsSync(bin)) return bin;
  const prefix = path.dirname(path.dirname(path.dirname(path.dirname(path.dirname(bin)))));
  const log = (m) => { if (!quiet) console.log(`[code-server] ${m}`); };
  log(`installing code-server ${CODE_SERVER_VERSION} into ${prefix} (about 80 s, once)`);
  fs.mkdirSync(prefix, { recursive: true });
  // @vscode/ripgrep would download rg; hand it Debian's rg as its "cached download" instead.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-cs-install-'));
  const rgCache = path.join(tmp, 'vscode-ripgrep-cache-1.15.11');
  fs.mkdirSync(path.join(rgCache, 'pkg'), { recursive: true });
  let rg;
  try { rg = execFileSync('which', ['rg']).toString().trim(); } catch { throw new Error('ripgrep is missing: apt-get install ripgrep'); }
  fs.copyFileSync(rg, path.join(rgCache, 'pkg', 'rg'));
  fs.chmodSync(path.join(rgCache, 'pkg', 'rg'), 0o755);
  execFileSync('tar', ['-czf', path.join(rgCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz'), '-C', path.join(rgCache, 'pkg'), 'rg']);
  const stage = `${prefix}.partial`;
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: 'grove-code-server-cache', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: stage,
    stdio: quiet ? 'ignore' : 'inherit',
    env: isolatedEnv(path.join(tmp, 'state'), {
      TMPDIR: tmp,
      npm_config_unsafe_perm: 'true',
      npm_config_yes: 'true',
      npm_config_foreground_scripts: 'false',
    }),
  });
  fs.rmSync(prefix, { recursive: true, force: true });
  fs.renameSync(stage, prefix);
  fs.rmSync(tmp, { recursive: true, force: true });
  if (!fs.existsSync(bin)) throw new Error(`code-server install finished but ${bin} is missing`);
  log('installed');
  return bin;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts code-server detached (own process group) on 127.0.0.1 and waits for /healthz.
 * Returns { url, port, stop() }; stop() ends the whole group, extension host included.
 */
export async function startCodeServer({ folder, stateDir, env = {}, extensionsDir, quiet = true, settings = {}, port: fixedPort }) {
  const bin = ensureCodeServer();
  const userDir = path.join(stateDir, 'user-data', 'User');
  fs.mkdirSync(userDir, { recursive: true });
  // Machine-scoped settings (such as grove.claudePath) of a remote window come from the remote's Machine settings,
  // not from User settings: write both, as a user of a remote host would set them.
  const machineDir = path.join(stateDir, 'user-data', 'Machine');
  fs.mkdirSync(machineDir, { recursive: true });
  fs.writeFileSync(path.join(machineDir, 'settings.json'), JSON.stringify(settings, null, 2));
  fs.writeFileSync(path.join(userDir, 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'git.openRepositoryInParentFolders': 'never',
    'security.workspace.trust.enabled': false,
    ...settings,
  }, null, 2));
  const port = fixedPort ?? await freePort();
  const args = [bin, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--user-data-dir', path.join(stateDir, 'user-data')];
  if (extensionsDir) args.push('--extensions-dir', extensionsDir);
  if (env.__trust === 'on') args.splice(args.indexOf('--disable-workspace-trust'), 1);
  delete env.__trust;
  if (folder) args.push(folder);
  const child = spawn(process.execPath, args, {
    detached: true,
    env: isolatedEnv(stateDir, env),
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  });
  let output = '';
  child.stdout?.on('data', (d) => { output += d; if (output.length > 200_000) output = output.slice(-100_000); });
  child.stderr?.on('data', (d) => { output += d; if (output.length > 200_000) output = output.slice(-100_000); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${output}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`code-server did not answer on ${url}:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = () => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 2000).unref();
  };
  return { url, port, child, stop, output: () => output };
}

/** Installs a .vsix into an extensions dir with code-server's own CLI: what users install is what is tested. */
export function installVsix(vsix, extensionsDir, stateDir) {
  const bin = ensureCodeServer();
  execFileSync(process.execPath, [bin, '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], {
    env: isolatedEnv(stateDir), stdio: 'pipe',
  });
}

if (process.argv[1]?.endsWith('codeServer.mjs')) {
  console.log(ensureCodeServer());
}
