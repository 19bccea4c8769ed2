// Benchmark helper (not a test): the "nothing lost" property of test/support/nothingLostFlows.ts at scale (issue
// 11): BENCH_NOTHING_LOST_SEQUENCES (default 1,000, at least 1,000 for the figure in docs/benchmarks.md) seeded
// sequences of BENCH_NOTHING_LOST_STEPS (default 8) steps through the core flows and the built CLI, 2 at a time.
// Bundled by test/bench/run.mjs into out/bench/nothingLostBench.js and run as
//   node out/bench/nothingLostBench.js <result.json> <cli.js>
// Prints progress on stderr and every loss found (seed, step, what) — there must be none — and writes the result.
import fs from 'node:fs';
import { runSequence, type SequenceResult } from '../support/nothingLostFlows';
import { TempRepos } from '../support/repo';

const [out, cli] = process.argv.slice(2);
if (!out || !cli || !fs.existsSync(cli)) throw new Error('usage: nothingLostBench.js <result.json> <cli.js>');
const SEQUENCES = Number(process.env.BENCH_NOTHING_LOST_SEQUENCES ?? 1000);
const STEPS = Number(process.env.BENCH_NOTHING_LOST_STEPS ?? 8);
const FIRST = Number(process.env.BENCH_NOTHING_LOST_FIRST_SEED ?? 1);
const PARALLEL = Math.max(1, Number(process.env.BENCH_NOTHING_LOST_PARALLEL ?? 2));
const log = (s: string) => process.stderr.write(`[nothing-lost-bench] ${s}\n`);

const started = Date.now();
const losses: Array<{ seed: number; step: number; what: string }> = [];
const stats: Record<string, number> = {};
let sequences = 0;
let steps = 0;
let next = FIRST;

async function worker(): Promise<void> {
  while (next < FIRST + SEQUENCES) {
    const seed = next++;
    const repos = new TempRepos();
    let r: SequenceResult;
    try {
      r = await runSequence({ seed, steps: STEPS, repos, cli });
    } catch (err) {
      losses.push({ seed, step: -1, what: `the sequence threw: ${(err as Error).stack ?? String(err)}` });
      await repos.cleanup();
      continue;
    }
    await repos.cleanup();
    sequences++;
    steps += r.steps;
    for (const [k, v] of Object.entries(r.stats)) stats[k] = (stats[k] ?? 0) + v;
    for (const c of r.checkpointsOverwritten) losses.push({ seed, step: c.step, what: `checkpoint: ${c.what}` });
    if (r.loss) {
      losses.push({ seed, ...r.loss });
      log(`LOSS seed ${seed} step ${r.loss.step}: ${r.loss.what}\n${r.log.join('\n')}`);
    }
    if (sequences % 25 === 0) log(`${sequences}/${SEQUENCES} sequences, ${steps} steps, ${losses.length} losses, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
}

async function main(): Promise<void> {
  await Promise.all(Array.from({ length: PARALLEL }, () => worker()));
  const result = { sequences, steps, stepsPerSequence: STEPS, losses, stats, seconds: (Date.now() - started) / 1000, at: new Date().toISOString().slice(0, 16).replace('T', ' ') };
  fs.writeFileSync(out, JSON.stringify(result, null, 2));
  log(`${sequences} sequences (${steps} steps) in ${result.seconds.toFixed(0)} s; losses found: ${losses.length}`);
  for (const l of losses) log(`  seed ${l.seed} step ${l.step}: ${l.what.split('\n')[0]}`);
  console.log(JSON.stringify({ sequences, steps, losses: losses.length }));
}

main().catch((err) => {
  log(String((err as Error).stack ?? err));
  process.exit(1);
});
