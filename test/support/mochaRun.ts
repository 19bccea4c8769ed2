// Runs one tier's mocha files and prints the closing line `<tier>: N passed, N failed`.
// Used as a CLI by the unit and UI tiers and as a function inside the extension host.
import fs from 'node:fs';
import path from 'node:path';
import Mocha from 'mocha';

export interface TierResult {
  tier: string;
  passed: number;
  failed: number;
}

export function findCompiledTests(dir: string): string[] {
  const out: string[] = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findCompiledTests(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

export function runMocha(tier: string, files: string[], timeoutMs: number): Promise<TierResult> {
  const mocha = new Mocha({ timeout: timeoutMs, color: false, reporter: 'spec' });
  const grep = process.env.GROVE_TEST_GREP;
  if (grep) mocha.grep(grep);
  for (const f of files) mocha.addFile(path.resolve(f));
  return new Promise((resolve) => {
    const runner = mocha.run();
    runner.on('end', () => {
      const stats = runner.stats ?? { passes: 0, failures: 0 };
      const result = { tier, passed: stats.passes, failed: stats.failures };
      const results = process.env.GROVE_TEST_RESULTS;
      if (results) fs.writeFileSync(results, JSON.stringify(result));
      console.log(`${tier}: ${result.passed} passed, ${result.failed} failed`);
      resolve(result);
    });
  });
}

if (require.main === module) {
  const [tier, dir, timeout] = process.argv.slice(2);
  const files = findCompiledTests(dir);
  runMocha(tier, files, Number(timeout ?? 60_000)).then((r) => {
    process.exitCode = r.failed > 0 || r.passed === 0 ? 1 : 0;
  });
}
