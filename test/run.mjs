// `npm test`: builds, type-checks, then runs the three tiers and prints each tier's `N passed, N failed`
// and a total. Fails when any tier fails or a tier runs no test.
//   node test/run.mjs              every tier
//   node test/run.mjs unit ui      only those tiers
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const requested = process.argv.slice(2);
const tiers = requested.length ? requested : ['unit', 'integration', 'ui'];

function step(title, cmd, args, env = {}) {
  console.log(`\n=== ${title} ===`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

const results = [];
function readResult(tier, file, ok) {
  let r = { tier, passed: 0, failed: 0 };
  try { r = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { /* tier crashed before writing */ }
  if (!ok && r.failed === 0) r.failed = 1; // a crash counts as a failure
  results.push(r);
}

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
if (!step('build', process.execPath, ['esbuild.mjs', '--tests'])) process.exit(1);
if (!step('typecheck', npx, ['tsc', '-p', '.', '--noEmit'])) process.exit(1);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-results-'));
for (const tier of tiers) {
  const file = path.join(tmp, `${tier}.json`);
  let ok;
  if (tier === 'unit') {
    ok = step('unit tier (plain mocha, real git, real claude CLI)', process.execPath,
      ['out/test/support/mochaRun.js', 'unit', 'out/test/unit', '60000'], { GROVE_TEST_RESULTS: file });
  } else if (tier === 'integration') {
    ok = step('extension-host tier (mocha inside code-server)', process.execPath, ['test/support/runIntegration.mjs'],
      { GROVE_TEST_RESULTS: file });
  } else if (tier === 'ui') {
    if (!step('package .vsix', npx, ['vsce', 'package', '--no-dependencies', '--out', 'dist/grove.vsix'], {})) {
      readResult(tier, file, false);
      continue;
    }
    ok = step('UI tier (playwright-core + chromium on the workbench)', process.execPath,
      ['out/test/support/mochaRun.js', 'ui', 'out/test/ui', '180000'], { GROVE_TEST_RESULTS: file });
  } else {
    console.error(`unknown tier ${tier}`);
    process.exit(2);
  }
  readResult(tier, file, ok);
}

console.log('\n=== summary ===');
let passed = 0, failed = 0, empty = false;
for (const r of results) {
  console.log(`${r.tier}: ${r.passed} passed, ${r.failed} failed`);
  passed += r.passed;
  failed += r.failed;
  if (r.passed + r.failed === 0) {
    console.log(`${r.tier} ran no test`);
    empty = true;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || empty ? 1 : 0);
