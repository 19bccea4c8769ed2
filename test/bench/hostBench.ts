// What the benchmark modules run inside VS Code's extension host (hostLagBench.ts, fleetBench.ts) share: the result
// file and repository root test/bench/hostLag.mjs passes, Grove's extension, waiting and quantiles.
import * as vscode from 'vscode';
import type { GroveApi } from '../../src/extension';

export function hostBench(): { resultFile: string; repoRoot: string; ext: vscode.Extension<GroveApi> } {
  const resultFile = process.env.GROVE_BENCH_RESULT;
  const repoRoot = process.env.GROVE_REPO_ROOT;
  if (!resultFile || !repoRoot) throw new Error('GROVE_BENCH_RESULT and GROVE_REPO_ROOT must be set');
  const ext = vscode.extensions.getExtension<GroveApi>('grove-dev.grove');
  if (!ext) throw new Error('Grove is not installed in this extension host');
  return { resultFile, repoRoot, ext };
}

/** Resolves with the first value of `check` that is neither undefined nor false, asked every `everyMs`. */
export async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0;
};
