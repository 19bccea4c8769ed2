// `npm test`: builds, type-checks, then runs the tiers and prints each one's `N passed, N failed` and a total.
// The unit tier runs once; the extension-host and UI tiers run on every VS Code version of CODE_SERVERS
// (test/support/codeServer.mjs): the minimum Grove supports and the newest. Fails when any tier fails on any
// version, or runs no test.
//   node test/run.mjs                        every tier, every version
//   node test/run.mjs unit ui                only those tiers
//   GROVE_VSCODE_VERSIONS=newest npm test    only some versions: `minimum`, `newest`, or versions (1.139, 4.100.3)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODE_SERVERS, ensureCodeServer, vscodeVersion } from './support/codeServer.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const requested = process.argv.slice(2);
const tiers = requested.length ? requested : ['unit', 'integration', 'ui'];
for (const t of tiers) {
  if (!['unit', 'integration', 'ui'].includes(t)) {
    console.error(`unknown tier ${t}`);
    process.exit(2);
  }
}

/** The code-server releases to run on: every entry of CODE_SERVERS, or those GROVE_VSCODE_VERSIONS names. */
function selectedVersions() {
  const all = [...new Set(Object.values(CODE_SERVERS))];
  const wanted = (process.env.GROVE_VSCODE_VERSIONS ?? '').split(/[\s,]+/).filter(Boolean);
  if (!wanted.length) return all;
  const picked = all.filter((cs) => wanted.some((w) => CODE_SERVERS[w] === cs || cs.startsWith(w) || vscodeVersion(cs).startsWith(w)));
  if (!picked.length) {
    console.error(`GROVE_VSCODE_VERSIONS=${process.env.GROVE_VSCODE_VERSIONS} names none of ${all.map((cs) => `${vscodeVersion(cs)} (code-server ${cs})`).join(', ')}`);
    process.exit(2);
  }
  return picked;
}

function step(title, cmd, args, env = {}) {
  console.log(`\n=== ${title} ===`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

const results = [];
function readResult(label, file, ok, started) {
  let r = { passed: 0, failed: 0 };
  try { r = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { /* tier crashed before writing */ }
  if (!ok && r.failed === 0) r.failed = 1; // a crash counts as a failure
  results.push({ label, passed: r.passed, failed: r.failed, seconds: Math.round((Date.now() - started) / 1000) });
}

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
if (!step('build', process.execPath, ['esbuild.mjs', '--tests'])) process.exit(1);
if (!step('typecheck', npx, ['tsc', '-p', '.', '--noEmit'])) process.exit(1);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-results-'));
const runs = [];
if (tiers.includes('unit')) runs.push({ tier: 'unit' });
const versions = tiers.some((t) => t !== 'unit') ? selectedVersions() : [];
for (const cs of versions) {
  for (const tier of ['integration', 'ui']) if (tiers.includes(tier)) runs.push({ tier, cs });
}

let packaged;
for (const { tier, cs } of runs) {
  const started = Date.now();
  let label = tier;
  const env = {};
  if (cs) {
    ensureCodeServer({ version: cs });
    label = `${tier} (${vscodeVersion(cs)})`;
    env.GROVE_CODE_SERVER = cs;
  }
  const file = path.join(tmp, `${label.replace(/\W+/g, '-')}.json`);
  Object.assign(env, { GROVE_TEST_RESULTS: file, GROVE_TIER_LABEL: label });
  let ok;
  if (tier === 'unit') {
    ok = step('unit tier (plain mocha, real git, real claude CLI)', process.execPath,
      ['out/test/support/mochaRun.js', label, 'out/test/unit', '60000'], env);
  } else if (tier === 'integration') {
    ok = step(`extension-host tier on VS Code ${vscodeVersion(cs)} (mocha inside code-server ${cs})`, process.execPath,
      ['test/support/runIntegration.mjs'], env);
  } else {
    packaged ??= step('package .vsix', npx, ['vsce', 'package', '--no-dependencies', '--out', 'dist/grove.vsix'], {});
    ok = packaged && step(`UI tier on VS Code ${vscodeVersion(cs)} (playwright-core + chromium on code-server ${cs})`,
      process.execPath, ['out/test/support/mochaRun.js', label, 'out/test/ui', '180000'], env);
  }
  readResult(label, file, ok, started);
}

console.log('\n=== summary ===');
let passed = 0, failed = 0, empty = false;
for (const r of results) {
  console.log(`${r.label}: ${r.passed} passed, ${r.failed} failed (${r.seconds} s)`);
  passed += r.passed;
  failed += r.failed;
  if (r.passed + r.failed === 0) {
    console.log(`${r.label} ran no test`);
    empty = true;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || empty ? 1 : 0);
