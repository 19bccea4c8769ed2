// Benchmark helper (not a test): the conflict radar (src/core/git/radar.ts) on a generated 5,000-file repository with
// 20 agent worktrees, each with 5 changed files (committed, uncommitted or untracked), overlapping on purpose: 10 pairs
// edit the same lines (conflicts), 40 pairs the same file at other lines (overlaps), and the base moved under 5 agents.
// Bundled by test/bench/run.mjs into out/bench/radarBench.js and run as `node out/bench/radarBench.js <result.json>`;
// also runnable alone. Prints progress on stderr.
//   RADAR_REPS=7 (default, at least 5) scans per measure.
//
// Measures (median of RADAR_REPS scans each):
//   cold  — a new ConflictRadar (no cache, empty private object dir) scanning all 20 agents;
//   warm  — the same radar again, nothing changed;
//   turn  — the same radar after one agent changed one file (a different agent each time), i.e. "after each turn";
//   turn, idle agents marked — the same, with `unchanged: true` on the 19 agents that did not run (the fleet knows).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GitClient } from '../../src/core/git/gitClient';
import { ConflictRadar, type RadarAgent, type RadarResult } from '../../src/core/git/radar';
import type { Logger } from '../../src/core/util/logger';
import { generateRepo, git } from './benchRepo';

const AGENTS = 20;
const FILES = 5000;
const CHANGED = 5;
const REPS = Math.max(Number(process.env.RADAR_MIN_REPS ?? 5), Math.min(25, Number(process.env.RADAR_REPS ?? 7)));
const log = (s: string) => process.stderr.write(`[radar-bench] ${s}\n`);
const now = () => performance.now();
/** Counts the git processes of a scan (GitClient logs each one as `> git <command> …`). */
class GitCounter implements Logger {
  n = 0;
  trace() {}
  warn() {}
  error() {}
  lines: string[] | undefined = process.env.RADAR_TRACE ? [] : undefined;
  info(m: string) {
    if (m.startsWith('> git ')) this.n++;
    this.lines?.push(`${now().toFixed(0)} ${m}`);
  }
}

const lines = (n: number, edit: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => `${edit[i] ?? `export const l${i} = ${i};`}\n`).join('');

/** 5,000 small files in 10 × 10 × 50 folders; 4 longer files that many agents edit at different lines. */
const makeRepo = (root: string): string =>
  generateRepo(root, { files: FILES, content: (n, a, b, c) => (a === 8 && b === 8 && c < 4 ? lines(48) : `// file ${n}\nexport const v${n} = ${n};\n`) }).repo;

/**
 * Agent i changes 5 files: 3 of its own (one of them a new, untracked file for every 5th agent), the line 1 of a
 * file it shares with its twin (i ^ 1: the same line, so a conflict), and the line 2·i of one of 4 long files it
 * shares with 4 other agents (other lines: an overlap). Even agents commit their work; odd ones leave it uncommitted.
 */
function agentWork(wt: string, i: number): void {
  const own = `pkg${i % 10}/mod${Math.floor(i / 10)}`;
  const write = (rel: string, content: string) => fs.writeFileSync(path.join(wt, rel), content);
  for (let k = 0; k < 3; k++) {
    if (k === 2 && i % 5 === 0) write(`${own}/new-by-agent-${i}.ts`, `export const agent${i} = true;\n`);
    else write(`${own}/file${10 + k}.ts`, `// changed by agent ${i}\n`);
  }
  write(`pkg9/mod9/file${40 + (i >> 1)}.ts`, `// file\nexport const twin = ${i};\n`);
  const shared = `pkg8/mod8/file${i % 4}.ts`;
  write(shared, lines(48, { [2 * i + 1]: `export const byAgent${i} = ${i};` }));
  if (i % 2 === 0) {
    git(wt, 'add', '-A');
    git(wt, 'commit', '-q', '-m', `agent ${i}`);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const out = process.argv[2];
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-radar-bench-')));
  try {
    let t = now();
    const repo = makeRepo(root);
    const agents: RadarAgent[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const wt = path.join(root, 'wt', `agent-${i}`);
      git(repo, 'worktree', 'add', '-q', '-b', `grove/agent-${i}`, wt, 'main');
      agentWork(wt, i);
      agents.push({ id: `agent-${String(i).padStart(2, '0')}`, worktreePath: wt, branch: `grove/agent-${i}`, baseRef: 'main' });
    }
    // The base moves under the 5 agents that share the long file 0 (at a line none of them edits).
    fs.writeFileSync(path.join(repo, 'pkg8/mod8/file0.ts'), lines(48, { 47: 'export const base = 1;' }));
    git(repo, 'commit', '-q', '-am', 'base moves');
    const setupMs = now() - t;
    log(`repository, ${AGENTS} worktrees and their work ready in ${(setupMs / 1000).toFixed(1)} s`);

    const counter = new GitCounter();
    const client = new GitClient({ logger: counter });
    const timed = async (radar: ConflictRadar) => {
      counter.n = 0;
      const t0 = now();
      const result = await radar.scan(repo, agents);
      return { ms: now() - t0, git: counter.n, result };
    };
    const cold: number[] = [];
    const coldGit: number[] = [];
    let result: RadarResult | undefined;
    for (let r = 0; r < REPS; r++) {
      const radar = new ConflictRadar(client);
      const s = await timed(radar);
      cold.push(s.ms);
      coldGit.push(s.git);
      result = s.result;
      await radar.dispose();
      log(`cold ${r + 1}/${REPS}: ${s.ms.toFixed(0)} ms, ${s.git} git processes`);
    }
    const radar = new ConflictRadar(client);
    await radar.scan(repo, agents);
    const warm: number[] = [];
    const warmGit: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const s = await timed(radar);
      warm.push(s.ms);
      warmGit.push(s.git);
    }
    log(`warm (nothing changed): median ${median(warm).toFixed(0)} ms`);
    if (counter.lines) {
      counter.lines.length = 0;
      const t1 = now();
      await radar.scan(repo, agents);
      log(`traced warm scan (start ${t1.toFixed(0)}, ${(now() - t1).toFixed(0)} ms):\n${counter.lines.join('\n')}`);
    }
    const turn: number[] = [];
    const turnGit: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const i = (r * 7) % AGENTS;
      fs.appendFileSync(path.join(agents[i]!.worktreePath, `pkg${i % 10}/mod${Math.floor(i / 10)}/file10.ts`), `// turn ${r}\n`);
      const s = await timed(radar);
      turn.push(s.ms);
      turnGit.push(s.git);
    }
    log(`turn (one agent changed a file): median ${median(turn).toFixed(0)} ms`);
    // The same, with the caller saying which agents were idle (the fleet knows whose turn just ended).
    const hinted: number[] = [];
    const hintedGit: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const i = (r * 7 + 3) % AGENTS;
      fs.appendFileSync(path.join(agents[i]!.worktreePath, `pkg${i % 10}/mod${Math.floor(i / 10)}/file11.ts`), `// turn ${r}\n`);
      counter.n = 0;
      const t0 = now();
      await radar.scan(repo, agents.map((a, k) => ({ ...a, unchanged: k !== i })));
      hinted.push(now() - t0);
      hintedGit.push(counter.n);
    }
    log(`turn with idle agents marked unchanged: median ${median(hinted).toFixed(0)} ms`);
    await radar.dispose();

    const r = result!;
    const summary = {
      agents: AGENTS, files: FILES, changedPerAgent: CHANGED, reps: REPS, setupMs,
      pairs: r.pairs.length, conflictPairs: r.pairs.filter((p) => p.conflict).length,
      againstBaseOverlaps: r.againstBase.filter((b) => b.files.length).length, errors: r.errors.length,
      cold, warm, turn, hinted, coldGit: median(coldGit), warmGit: median(warmGit), turnGit: median(turnGit), hintedGit: median(hintedGit),
      coldMs: median(cold), warmMs: median(warm), turnMs: median(turn), hintedMs: median(hinted), load: os.loadavg(),
      gitVersion: git(root, '--version').trim(), cpus: os.cpus().length,
    };
    if (summary.pairs !== 50 || summary.conflictPairs !== 10 || summary.againstBaseOverlaps !== 5 || summary.errors) {
      throw new Error(`unexpected radar result: ${JSON.stringify({ ...summary, cold: undefined, warm: undefined, turn: undefined })}`);
    }
    const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')} ms`;
    const row = `| ${AGENTS} agents × ${CHANGED} changed files, ${FILES.toLocaleString('en-US')}-file repository | ${ms(summary.coldMs)} (${summary.coldGit} git) | **${ms(summary.warmMs)}** (${summary.warmGit} git) | **${ms(summary.turnMs)}** (${summary.turnGit} git) | ${ms(summary.hintedMs)} (${summary.hintedGit} git) |`;
    const markdown = [
      `## Conflict radar: ${AGENTS} agents × ${CHANGED} changed files on a ${FILES.toLocaleString('en-US')}-file repository`,
      '',
      `\`ConflictRadar.scan\` (src/core/git/radar.ts, test/bench/radarBench.ts) over ${AGENTS} worktrees of a generated ${FILES.toLocaleString('en-US')}-file repository, each agent with ${CHANGED} changed files (half committed, half uncommitted, some untracked): ${summary.pairs} overlapping pairs of which ${summary.conflictPairs} conflict, and the base moved under ${summary.againstBaseOverlaps} agents. Median of ${REPS} scans each; in parentheses, the git processes of one scan. Goal: ≤ 1 s per scan after a turn.`,
      '',
      '| scan | cold (new radar, empty caches) | warm (nothing changed) | after a turn (one agent changed a file) | after a turn, idle agents marked `unchanged` |',
      '|---|---|---|---|---|',
      row,
      '',
      `Load average during the run: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')} (${os.cpus().length} cores). Every scan reads each worktree with one \`git add -A\` into a private index (the stat cache copied from the worktree's own index); an unchanged worktree costs nothing more, and an unchanged pair nothing at all. A cold scan also builds every snapshot (\`write-tree\`, \`commit-tree\`), the merge-bases and name lists, and runs \`git merge-tree\` for every overlapping pair (git ${summary.gitVersion.replace(/^git version /, '')} has no batch mode for it).`,
      '',
    ].join('\n');
    console.log(row);
    if (out) fs.writeFileSync(out, JSON.stringify({ ...summary, row, markdown }, null, 2));
  } finally {
    for (const wt of fs.existsSync(path.join(root, 'wt')) ? fs.readdirSync(path.join(root, 'wt')) : []) fs.rmSync(path.join(root, 'wt', wt), { recursive: true, force: true });
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`[radar-bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
