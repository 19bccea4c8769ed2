// "Nothing is ever lost" through the core flows and the built `grove` CLI (issue 11): 100 seeded random sequences
// of 6 steps by default (GROVE_SEEDS=1,2,3 or GROVE_SEEDS=100 for the first N; GROVE_STEPS=6). The invariant and
// the steps are in test/support/nothingLostFlows.ts; test/bench/nothingLostBench.ts runs ≥ 1,000 of them.
// Build first (the CLI steps run dist/cli.js): node esbuild.mjs --tests.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runSequence } from '../../support/nothingLostFlows';
import { useTempRepos } from '../../support/repo';

const CLI = path.resolve(__dirname, '..', '..', '..', '..', 'dist', 'cli.js');
const env = process.env.GROVE_SEEDS;
const seeds = !env ? Array.from({ length: 100 }, (_, i) => i + 1) : env.includes(',') ? env.split(',').map(Number) : Array.from({ length: Number(env) }, (_, i) => i + 1);
const steps = Number(process.env.GROVE_STEPS ?? 6);

describe('core/flows and the grove CLI: nothing is ever lost (seeded random sequences)', function () {
  this.timeout(120_000);
  const repos = useTempRepos();
  const stats: Record<string, number> = {};

  before(function () {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run node esbuild.mjs --tests first`);
  });

  // Two sequences at a time (each mostly waits for git): the file stays within ~3 minutes on 2 cores.
  for (let k = 0; k < seeds.length; k += 2) {
    const pair = seeds.slice(k, k + 2);
    it(`seed${pair.length > 1 ? 's' : ''} ${pair.join(' and ')}: ${steps} steps each`, async () => {
      const results = await Promise.all(pair.map((seed) => runSequence({ seed, steps, repos, cli: CLI })));
      for (const r of results) {
        const seed = r.seed;
        for (const [k2, v] of Object.entries(r.stats)) stats[k2] = (stats[k2] ?? 0) + v;
        if (process.env.GROVE_MERGE_LOG) console.log(`seed ${seed}:\n${r.log.join('\n')}`);
        assert.equal(r.loss, undefined, `seed ${seed}, step ${r.loss?.step}: ${r.loss?.what}\n${r.log.join('\n')}`);
        // A real loss found by this test (not fixed here): a turn's checkpoint overwritten by the next turn's.
        assert.deepEqual(r.checkpointsOverwritten, [], `seed ${seed}: LOSS — a turn checkpoint was overwritten (Grove.checkpointTurn numbers the turn outside the snapshot lock; SnapshotEngine.checkpoint overwrites): ${JSON.stringify(r.checkpointsOverwritten)}\n${r.log.join('\n')}`);
      }
    });
  }

  // The loss this test found: seed 3 with 8 steps, at step 7 — a follow-up's turn ended before the previous turn's
  // checkpoint was written, both got turn number 1 and the first turn's checkpoint was replaced. Fixed by recording
  // one instance's checkpoints one after another (Grove.checkpointInOrder); the seed stays as a regression test.
  if (!env) {
    it('seed 3, 8 steps: a turn that ends before the previous turn\'s checkpoint is written does not overwrite it', async () => {
      const r = await runSequence({ seed: 3, steps: 8, repos, cli: CLI });
      assert.equal(r.loss, undefined, `seed 3, step ${r.loss?.step}: ${r.loss?.what}\n${r.log.join('\n')}`);
      assert.deepEqual(r.checkpointsOverwritten, [], `seed 3: LOSS — a turn checkpoint was overwritten: ${JSON.stringify(r.checkpointsOverwritten)}\n${r.log.join('\n')}`);
    });
  }

  it('the sequences exercised the CLI, every merge strategy, conflicting syncs, forced removes and refusals', function () {
    if (seeds.length < 50) this.skip();
    console.log(`      ${JSON.stringify(stats)}`);
    for (const k of ['merged merge', 'merged squash', 'merged rebase', 'sync conflicted', 'refused', 'cli merge', 'cli remove', 'removed forced + branch']) {
      assert.ok((stats[k] ?? 0) > 0, `${k}: ${JSON.stringify(stats)}`);
    }
  });
});
