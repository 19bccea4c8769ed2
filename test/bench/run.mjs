// `npm run bench`: every benchmark of Grove, each writing its own section of docs/benchmarks.md (test/bench/doc.mjs):
// dispatch against raw `git worktree add` (and with a warm pool), Grove against Claude Code's own `claude -w`, the
// conflict radar, snapshots, the nothing-lost property at scale, the stream-json parser, the extension host with 20
// and with 50 agents, status latency and a busy and an idle fleet inside a real VS Code, activation and the bundle.
// A benchmark, not a test: nothing here runs in `npm test`.
//   BENCH_ONLY=dispatch,peer,radar,snapshot,nothingLost,stream,host,host50,fleet,activation,bundle runs only those
//   sections and replaces only them in docs/benchmarks.md (the machine line is rewritten each time);
//   BENCH_REPS=5 (default) repetitions of the dispatch benchmark; BENCH_ACTIVATIONS=7 fresh processes for activation;
//   BENCH_HOST_REPS=3 windows per VS Code version for the extension-host benchmarks; BENCH_PEER_RUNS=5 (and
//   BENCH_PEER_RESULT=<file> writes the `peer` section from a result file of test/bench/claudeWorktreesBench.ts run alone).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { fleetSection, hostLagSection } from './hostLag.mjs';
import { spliceSection, wrap } from './doc.mjs';
import { cliBuild, extensionBuilds } from '../../esbuild.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
process.chdir(root);
const outDir = path.join(root, 'out', 'bench');
fs.mkdirSync(outDir, { recursive: true });
const activations = Math.max(3, Number(process.env.BENCH_ACTIVATIONS ?? 7));
const only = (process.env.BENCH_ONLY ?? '').split(/[\s,]+/).filter(Boolean);
const log = (s) => process.stderr.write(`[bench] ${s}\n`);
const started = Date.now();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => `${Math.round(x).toLocaleString('en-US')} ms`;
const sec = (x) => `${(x / 1000).toFixed(2)} s`;
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
const ratio = (a, b) => (a / b).toFixed(2);

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const cp = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
    let out = '';
    cp.stdout?.on('data', (d) => (out += d));
    cp.on('error', reject);
    cp.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

/** Bundles test/bench/<name>.ts into out/bench/<name>.js, runs it with a result file, and returns the result. */
async function benchHelper(name, what, nodeArgs = [], extraArgs = []) {
  log(`bundling test/bench/${name}.ts`);
  await esbuild.build({
    entryPoints: [`test/bench/${name}.ts`],
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: path.join(outDir, `${name}.js`), external: ['vscode', 'playwright-core'], logLevel: 'warning',
  });
  const json = path.join(outDir, `${name}.json`);
  log(what);
  await run(process.execPath, [...nodeArgs, path.join(outDir, `${name}.js`), json, ...extraArgs], { stdio: ['ignore', 'inherit', 'inherit'] });
  return JSON.parse(fs.readFileSync(json, 'utf8'));
}


// ---- the sections, in the order of docs/benchmarks.md --------------------------------------------------------------
// Each measures, then returns the markdown lines of its section.
const sections = [
  ['dispatch', 'Dispatching', dispatchSection],
  ['peer', "## Grove against Claude Code's own worktrees", peerSection],
  ['radar', '## Conflict radar', radarSection],
  ['snapshot', '## Snapshots of a', snapshotSection],
  ['nothingLost', '## Nothing lost', nothingLostSection],
  ['stream', '## Parsing stream-json', streamSectionRun],
  ['host', '## Extension host with 20 background agents', () => hostLagSection()],
  ['host50', '## Extension host with 50 background agents', () => hostLagSection({ agents: 50, reps: 1 })],
  ['fleet', '## Status latency, a busy fleet and an idle fleet', () => fleetSection()],
  ['activation', '## Extension activation', activationSection],
  ['bundle', '## Bundle size', bundleSection],
];
const unknown = only.filter((k) => !sections.some(([key]) => key === k));
if (unknown.length) throw new Error(`BENCH_ONLY names unknown sections: ${unknown.join(', ')} (known: ${sections.map(([k]) => k).join(', ')})`);
const chosen = only.length ? sections.filter(([key]) => only.includes(key)) : sections;
const docFile = path.join('docs', 'benchmarks.md');
fs.mkdirSync('docs', { recursive: true });
// A full run starts the file again; each section is written as soon as it is measured, so a failing one loses no other.
if (!only.length) fs.writeFileSync(docFile, [...headerLines(), ''].join('\n'));
else {
  spliceSection(docFile, 'machine', machineLines(), { legacyHeading: 'Machine: ' });
  spliceSection(docFile, 'intro', introLines(), { legacyHeading: 'Written by `npm run bench` (test/bench/run.mjs)' });
}
const legacy = (heading) => (heading.startsWith('##') ? heading : `## ${heading}`);
const failed = [];
for (const [key, heading, measure] of chosen) {
  const t = Date.now();
  let lines;
  try {
    lines = await measure();
  } catch (err) {
    log(`${key} failed: ${err?.stack ?? err}`);
    failed.push(key);
    continue;
  }
  if (lines.at(-1) !== '') lines.push('');
  // Sections are rewritten one by one, on whatever machine runs the bench that day: each names its own.
  lines.push(`Measured on ${machineName()}, written ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`, '');
  const after = sections.slice(sections.findIndex(([k]) => k === key) + 1).map(([k, h]) => [k, legacy(h)]);
  spliceSection(docFile, key, lines, { legacyHeading: legacy(heading), before: after });
  log(`${key}: ${((Date.now() - t) / 1000).toFixed(0)} s, written to docs/benchmarks.md`);
}
spliceSection(docFile, 'machine', machineLines());
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`);
if (failed.length) process.exitCode = 1;

function machineName() {
  const cpu = os.cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}`;
}

function machineLines() {
  const gitVersion = execFileSync('git', ['--version'], { encoding: 'utf8' }).trim();
  const claudeVersion = execFileSync(path.join('node_modules', '.bin', 'claude'), ['--version'], { encoding: 'utf8' }).trim();
  return [
    `Machine of the last run: ${machineName()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, ${gitVersion}, Claude Code ${claudeVersion}. Load average when last written (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC): ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}.`,
    'Each section names the machine it was measured on (machines differ from day to day; compare ratios, which are measured side by side, rather than times across sections). The machine is shared with other engineers running test suites, so single numbers are noisy: read the medians, and the ratios more than the absolute times.',
    '',
  ];
}

function introLines() {
  return [`Written by \`npm run bench\` (test/bench/run.mjs); a full run overwrites this file, \`BENCH_ONLY=<section>,…\` replaces only those sections, so each section says when it ran.`, ''];
}

function headerLines() {
  return ['# Benchmarks', '', ...wrap('intro', introLines()), ...wrap('machine', machineLines())];
}

// ---- dispatch: Grove vs raw git worktree add, and with a warm pool ------------------------------------------------
async function dispatchSection() {
  const t = Date.now();
  const dispatch = await benchHelper('dispatchBench', `dispatch benchmark (8 tasks, 5,000-file repository, ${process.env.BENCH_REPS ?? 5} repetitions)…`);
  const dispatchSeconds = (Date.now() - t) / 1000;
  const reps = dispatch.reps;
  const col = (f) => reps.map(f);
  const aG = col((r) => r.a.grove), aR = col((r) => r.a.raw);
  const bGr = col((r) => r.b.grove.runningMs), bGi = col((r) => r.b.grove.initMs), bRi = col((r) => r.b.raw.initMs);
  const bGw = col((r) => r.b.grove.worktreesMs), bRw = col((r) => r.b.raw.worktreesMs);
  const lines = [];
  const L = (s = '') => lines.push(s);
  L(`## Dispatching ${dispatch.tasks} tasks on a ${dispatch.files.toLocaleString('en-US')}-file repository`);
  L();
  L(`A generated repository (${dispatch.files.toLocaleString('en-US')} small files in 10 × 10 nested folders, one commit, plus an untracked \`.env\`), ${reps.length} repetition(s), alternating which side goes first. Between runs every worktree and branch is removed. The CLI is the real \`node_modules/.bin/claude\` against the scripted model on 127.0.0.1, which answers each request after ${dispatch.modelDelayMs} ms (so all ${dispatch.tasks} agents are alive together, as with a real model).`);
  L();
  L('What each side does:');
  L();
  L(`- **Grove (worktrees only)**: \`worktreePort(new WorktreeManager(new GitClient()), …).create()\` ×${dispatch.tasks}, all started at once — Grove's per-repository mutation queue serialises the \`git worktree add\`s; each also resolves the repository and base, allocates a port, writes its metadata and copies \`.env\` (\`grove.copyFiles\` default).`);
  L(`- **Raw (worktrees only)**: \`bash -c 'for i in $(seq 1 ${dispatch.tasks}); do git worktree add -q -b <branch> <path> main; done'\`.`);
  L(`- **Grove (end to end)**: the core \`Fleet\` (registry in \`.git/grove\`) with the real \`WorktreeManager\` through \`worktreePort\` and the real \`BackgroundAgents\`, \`maxConcurrent\` ${dispatch.tasks}: from the \`fleet.dispatch(${dispatch.tasks} tasks)\` call until every instance is \`running\` (Grove's state once the CLI process is spawned) and until every CLI printed its \`system/init\` line (the same stop condition as the raw side). Each agent starts as soon as its own worktree is ready.`);
  L(`- **Raw (end to end)**: the same bash loop, printing a line after each \`git worktree add\`; on each line the bench spawns \`claude\` in that worktree with exactly Grove's arguments (\`-p --input-format stream-json --output-format stream-json --verbose --permission-prompt-tool stdio --permission-mode acceptEdits --session-id <uuid>\`, own process group) and writes the same stream-json prompt; until every CLI printed \`system/init\`. No queue, no registry, no metadata, no \`.env\` copy, no worktree lock.`);
  L();
  L('| measure | Grove (median) | raw (median) | Grove / raw (median of per-run ratios) | per run: Grove / raw |');
  L('|---|---|---|---|---|');
  const perRun = (g2, r2) => g2.map((x, i) => `${sec(x)} / ${sec(r2[i])}`).join('; ');
  const ratios = (g2, r2) => median(g2.map((x, i) => x / r2[i])).toFixed(2);
  L(`| (a) ${dispatch.tasks} worktrees created | ${sec(median(aG))} | ${sec(median(aR))} | **${ratios(aG, aR)}** | ${perRun(aG, aR)} |`);
  L(`| (b) dispatch → all ${dispatch.tasks} agents \`system/init\` | ${sec(median(bGi))} | ${sec(median(bRi))} | **${ratios(bGi, bRi)}** | ${perRun(bGi, bRi)} |`);
  L(`| (b) dispatch → all ${dispatch.tasks} instances \`running\` (Grove) | ${sec(median(bGr))} | — | — | ${bGr.map(sec).join('; ')} |`);
  L(`| (b) of which: all ${dispatch.tasks} worktrees ready | ${sec(median(bGw))} | ${sec(median(bRw))} | ${ratios(bGw, bRw)} | ${perRun(bGw, bRw)} |`);
  const hist = (h) => Object.entries(h ?? {}).sort((x, y) => y[1] - x[1]).map(([k, v]) => `\`${k}\` ×${v}`).join(', ');
  const pool = dispatch.pool ?? [];
  if (pool.length) {
    const pR = pool.map((p) => p.pooled.runningMs), fR = pool.map((p) => p.fresh.runningMs);
    const pI = pool.map((p) => p.pooled.initMs), fI = pool.map((p) => p.fresh.initMs);
    L(`| (c) dispatch with a warm pool: dispatch → agent process started (1 task, \`running\`), ${pool.length} runs | **${sec(median(pR))}** | without the pool: ${sec(median(fR))} | pool / no pool: **${ratios(pR, fR)}** | ${perRun(pR, fR)} |`);
    L(`| (c) dispatch with a warm pool: dispatch → \`system/init\` (1 task) | ${sec(median(pI))} | without the pool: ${sec(median(fI))} | ${ratios(pI, fI)} | ${perRun(pI, fI)} |`);
  }
  L();
  const r1 = reps[0];
  L(`In run 1 alone the ratios were ${ratio(r1.a.grove, r1.a.raw)} (worktrees) and ${ratio(r1.b.grove.initMs, r1.b.raw.initMs)} (end to end); medians above. ` +
    `Generating the repository took ${sec(dispatch.generateMs)}. ` +
    'The end-to-end times are dominated by checking out 5,000 files per worktree while up to 8 CLIs start on 2 cores; that is why the worktree rows inside (b) are usually slower than (a) on both sides.');
  L();
  if (pool.length) {
    L(`(c) With the warm pool (\`grove.worktreePool\` 1): the spare is made before the clock starts (the pool fills while nothing is dispatched); then \`fleet.dispatch(1 task)\` until the instance is \`running\` (its CLI process spawned), against the same single dispatch creating its worktree, alternating which goes first. Goal ≤ 0.5 s. Git processes of a pooled dispatch in run 1: ${hist(pool[0].pooled.gitCommands)}; without the pool: ${hist(pool[0].fresh.gitCommands)}.`);
    L();
  }
  const gitTotal = (h) => Object.values(h ?? {}).reduce((x, y) => x + y, 0);
  if (r1.a.groveGit) {
    const perWt = (h) => gitTotal(h) / dispatch.tasks;
    L(`Git processes: to create ${dispatch.tasks} worktrees (a) Grove ran ${gitTotal(r1.a.groveGit)} (${perWt(r1.a.groveGit).toFixed(1)} per worktree: ${hist(r1.a.groveGit)}) against ${dispatch.tasks} for the raw loop; from dispatch to all agents started (b), ${gitTotal(r1.b.grove.gitCommands)} (${perWt(r1.b.grove.gitCommands).toFixed(1)} per worktree: ${hist(r1.b.grove.gitCommands)}), the \`worktree lock\` of each started agent included (run 1). ` +
      `Goal ≤ 4 per worktree: ${perWt(r1.b.grove.gitCommands) <= 4 ? 'met' : '**not met**'}. Goal dispatch → all agents started ≤ 1.1 × the raw loop: ${Number(ratios(bGi, bRi)) <= 1.1 ? 'met' : '**not met**'} (median of per-run ratios ${ratios(bGi, bRi)}; worktrees only ${ratios(aG, aR)}).`);
    L();
  }
  L(`Run ${new Date(Date.now() - dispatchSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC, ${dispatchSeconds.toFixed(0)} s; load average at the end ${dispatch.loadAvg.map((x) => x.toFixed(2)).join(', ')}.`);
  L();
  return lines;
}

// ---- Grove's CLI against Claude Code's own worktrees (claude -w), to done -----------------------------------------
async function peerSection() {
  // BENCH_PEER_RESULT=<file>: write the section from the result file of a run made alone (`node out/bench/claudeWorktreesBench.js <file> <cli.js>`).
  if (process.env.BENCH_PEER_RESULT) return peerLines(JSON.parse(fs.readFileSync(process.env.BENCH_PEER_RESULT, 'utf8')));
  const cli = await cliBundle();
  const peer = await benchHelper('claudeWorktreesBench', `Grove against claude -w (${process.env.BENCH_PEER_RUNS ?? 5} runs)…`, [], [cli]);
  return peerLines(peer);
}

/** The section of test/bench/claudeWorktreesBench.ts's result. */
function peerLines(p) {
  const g = p.runs.map((r) => r.groveMs), c = p.runs.map((r) => r.peerMs);
  const pooled = p.runs.every((r) => r.pooledMs !== undefined) ? p.runs.map((r) => r.pooledMs) : undefined;
  const ratios = p.runs.map((r) => r.groveMs / r.peerMs);
  const poolRatios = pooled && p.runs.map((r) => r.pooledMs / r.peerMs);
  const spread = Math.max(...g) / Math.min(...g);
  const med = median(g) / median(c);
  const poolMed = pooled && median(pooled) / median(c);
  const clean = p.runs.filter((r) => r.peerReruns === 0);
  const cell = (ms, cpu) => `${sec(ms)}${cpu === undefined ? '' : ` (CPU ${sec(cpu)})`}`;
  const steal = p.runs.reduce((a, r) => a + (r.groveStealMs ?? 0) + (r.peerStealMs ?? 0) + (r.pooledStealMs ?? 0), 0);
  const busy = p.runs.reduce((a, r) => a + (r.groveCpuMs ?? 0) + (r.peerCpuMs ?? 0) + (r.pooledCpuMs ?? 0), 0);
  const range = (key, ms) => {
    const u = p.runs.filter((r) => r[key] !== undefined).map((r) => (100 * r[key]) / (p.cpus * r[ms]));
    return u.length ? `${Math.round(Math.min(...u))}–${Math.round(Math.max(...u))} %` : undefined;
  };
  const use = [['Grove', range('groveCpuMs', 'groveMs')], ['warm pool', range('pooledCpuMs', 'pooledMs')], ['`claude -w`', range('peerCpuMs', 'peerMs')]].filter(([, u]) => u).map(([n, u]) => `${n} ${u}`);
  return [
    "## Grove against Claude Code's own worktrees (`claude -w`)",
    '',
    `test/bench/claudeWorktreesBench.ts, run ${p.at} UTC: ${p.tasks} tasks ("Create the file tK.txt containing the text K.") on a generated ${p.files.toLocaleString('en-US')}-file repository, run to done, as a user would try each: ` +
      `**Grove** — \`grove dispatch --plan plan.md --max ${p.tasks}\` (the built CLI in the foreground until every task is done: ${p.tasks} worktrees on new branches, the agents, a checkpoint per turn, the radar, the registry); ` +
      (pooled ? `**Grove with a warm pool** — the same with \`GROVE_WORKTREE_POOL=${p.tasks}\`, its ${p.tasks} spares made before the clock starts (as the extension makes them while no agent works; the bench checks every task ran in a spare); ` : '') +
      `**Claude Code** — ${p.tasks} × \`claude -w tK -p "<prompt>" --permission-mode acceptEdits\` started at once, until all exit. ` +
      `Both run the real CLI against the scripted model, which answers each request after ${p.modelDelayMs} ms; each run checks that every task's file is in its own worktree with its content; one warm-up of each side first, then ${p.runs.length} runs alternating which goes first. ` +
      `In parentheses, the CPU time of every process the side started (user + system, both cores). Load average at the end: ${p.loadAverage} on ${p.cpus} cores.`,
    '',
    `| run | order | Grove | ${pooled ? 'Grove, warm pool | ' : ''}\`claude -w\` | of which reruns of a failed \`claude -w\` | Grove / \`claude -w\` |${pooled ? ' warm pool / `claude -w` |' : ''}`,
    `|---|---|---|---|---|---|${pooled ? '---|---|' : ''}`,
    ...p.runs.map((r, i) => `| ${r.run} | ${r.order} | ${cell(r.groveMs, r.groveCpuMs)} | ${pooled ? `${cell(r.pooledMs, r.pooledCpuMs)} | ` : ''}${cell(r.peerMs, r.peerCpuMs)} | ${r.peerReruns} | ${ratios[i].toFixed(2)} |${pooled ? ` ${poolRatios[i].toFixed(2)} |` : ''}`),
    `| median | | **${sec(median(g))}** | ${pooled ? `**${sec(median(pooled))}** | ` : ''}**${sec(median(c))}** | | **${med.toFixed(2)}** (median of per-run ratios ${median(ratios).toFixed(2)}) |${pooled ? ` **${poolMed.toFixed(2)}** (${median(poolRatios).toFixed(2)}) |` : ''}`,
    '',
    `Started at once, a \`claude -w\` sometimes fails before it starts: "Error creating worktree: Could not read the repository git config to neutralize filter drivers" (the sessions race on the repository's config). The bench reruns the ones that failed, as a user would, and counts the reruns in Claude Code's time (${p.runs.reduce((a, r) => a + r.peerReruns, 0)} reruns over ${p.runs.length} runs of ${p.tasks}). Grove's dispatch never failed a task.` +
      (clean.length && clean.length < p.runs.length ? ` Over the ${clean.length} runs in which no \`claude -w\` failed, the median of per-run ratios is ${median(clean.map((r) => r.groveMs / r.peerMs)).toFixed(2)}${pooled ? ` (warm pool ${median(clean.map((r) => r.pooledMs / r.peerMs)).toFixed(2)})` : ''}.` : ''),
    ...(busy ? ['', `Every side keeps the ${p.cpus} cores busy (CPU time / (${p.cpus} × wall time): ${use.join(', ')}): most of the CPU is the ${p.tasks} Claude Code processes themselves, the same on every side, then the \`worktree add\` of ${p.files.toLocaleString('en-US')} files ×${p.tasks}, which Grove and \`claude -w\` both run in the clock (the warm pool made them before). ${steal ? `The hypervisor took ${sec(steal)} of CPU from this machine over the measured runs (steal time, against ${sec(busy)} the sides used): steal does not explain the spread between runs.` : ''}`] : []),
    '',
    `Goals: Grove's median ≤ 0.8 × \`claude -w\`'s — ${med <= 0.8 ? 'met' : '**not met**'} (${med.toFixed(2)} ×${pooled ? `; with a warm pool ${poolMed.toFixed(2)} ×, ${poolMed <= 0.8 ? 'met' : '**not met**'}` : ''}); Grove's slowest run within 20 % of its fastest — ${spread <= 1.2 ? 'met' : '**not met**'} (${sec(Math.max(...g))} / ${sec(Math.min(...g))} = ${spread.toFixed(2)}).`,
    '',
  ];
}

/** The CLI as `node esbuild.mjs` builds it (its own options), into the bench's folder. */
async function cliBundle() {
  await esbuild.build(cliBuild({ outdir: outDir }));
  return path.join(outDir, 'cli.js');
}

// ---- conflict radar (test/bench/radarBench.ts writes its own section) ---------------------------------------------
async function radarSection() {
  const radar = await benchHelper('radarBench', 'conflict radar benchmark (20 agents × 5 changed files, 5,000-file repository)…');
  return radar.markdown.split('\n');
}

// ---- snapshots (issue 13): recording and restoring a 5,000-file worktree ------------------------------------------
async function snapshotSection() {
  const snap = await benchHelper('snapshotBench', 'snapshot benchmark (5,000-file worktree)…');
  const lines = [];
  const L = (s = '') => lines.push(s);
  const m = snap.medians;
  const per = (k, f) => snap.runs.map((r) => f(r[k])).join('; ');
  L(`## Snapshots of a ${snap.files.toLocaleString('en-US')}-file worktree (issue 13)`);
  L();
  L(`test/bench/snapshotBench.ts: a generated repository (${snap.files.toLocaleString('en-US')} small files in 10 × 10 folders, one commit, packed), a linked worktree with ${snap.changed} changed files, ${snap.untracked} untracked files and an edited ignored \`.env\`; ${snap.reps} repetitions, each with new content in the changed files. Growth is the bytes of the object files a snapshot adds to \`.git/objects\` (loose, zlib-compressed; \`git gc\` packs them smaller). Restore runs right after \`git worktree remove --force\` and alternates with a raw \`git worktree add\` of the same commit, each right after a worktree at its path was removed and \`sync\` ran: both write the ${snap.files.toLocaleString('en-US')} files, which dominates on this shared disk. Run ${snap.at} UTC, load average at the end ${snap.loadAverage}.`);
  L();
  L('| measure | median | per run |');
  L('|---|---|---|');
  L(`| \`snapshotWorktree\` (ignored = \`listIgnoredWork\`) | **${ms(m.snapshotMs)}** | ${per('snapshotMs', ms)} |`);
  L(`| repository growth per snapshot | **${kib(m.growthBytes)}** (${m.growthObjects} objects) | ${per('growthBytes', kib)} |`);
  L(`| \`listIgnoredWork\` | ${ms(m.listIgnoredMs)} | ${per('listIgnoredMs', ms)} |`);
  L(`| for scale: \`git status --porcelain=v2 --untracked-files=all\` | ${ms(m.statusMs)} | ${per('statusMs', ms)} |`);
  L(`| \`restore\` of the removed worktree (branch, index, files, \`.env\`) | **${ms(m.restoreMs)}** | ${per('restoreMs', ms)} |`);
  L(`| of which everything but the checkout of the ${snap.files.toLocaleString('en-US')} files | ${ms(m.restoreOtherMs)} | ${per('restoreOtherMs', ms)} |`);
  L(`| for scale: raw \`git worktree add\` of the same commit | ${ms(m.rawAddMs)} | ${per('rawAddMs', ms)} |`);
  L(`| \`checkpoint\` right after (nothing changed since the snapshot: only its metadata is new) | ${ms(m.checkpointMs)}, ${kib(m.checkpointGrowthBytes)} | ${per('checkpointMs', ms)} |`);
  L(`| \`revertTo\` that checkpoint after ${snap.changed} files changed (records the undo first) | ${ms(m.revertMs)} | ${per('revertMs', ms)} |`);
  L();
  return lines;
}

// ---- nothing lost: ≥ 1,000 random sequences through core and the CLI (issue 11) -----------------------------------
async function nothingLostSection() {
  const cli = await cliBundle();
  const lost = await benchHelper('nothingLostBench', `nothing-lost benchmark (${process.env.BENCH_NOTHING_LOST_SEQUENCES ?? 1000} sequences)…`, [], [cli]);
  const lines = [];
  const L = (s = '') => lines.push(s);
  L('## Nothing lost: random sequences through core and the CLI (issue 11)');
  L();
  L(`test/bench/nothingLostBench.ts runs the property of test/unit/flows/nothingLostFlows.test.ts (test/support/nothingLostFlows.ts) at scale: seeded sequences of ${lost.stepsPerSequence} steps — dispatch, agent and user edits of every kind (modified, staged, untracked, ignored, detached-HEAD commits) in worktrees and the main checkout, the base advancing, follow-up, stop, sync (some conflicting) and abort, merge with every strategy with and without --commit, remove with and without --force and --delete-branch, \`grove status\` — about a third of them through the built CLI. After every step every commit reachable before (snapshot, checkpoint and backup refs included) must still be reachable, every file content on disk or staged must still be on disk, staged or in a reachable commit, and a refusal must change nothing. Run ${lost.at} UTC.`);
  L();
  L('| sequences | steps | losses found | time |');
  L('|---|---|---|---|');
  L(`| ${lost.sequences.toLocaleString('en-US')} | ${lost.steps.toLocaleString('en-US')} | **${lost.losses.length}** | ${sec(lost.seconds * 1000)} |`);
  L();
  for (const l of lost.losses.slice(0, 20)) L(`- seed ${l.seed}, step ${l.step}: ${l.what.split('\n')[0]}`);
  return lines;
}

// ---- stream-json parsing (issue 17): MB/s over a 100 MB transcript, and peak memory -------------------------------
async function streamSectionRun() {
  const stream = await benchHelper('streamBench', 'stream-json benchmark…', ['--expose-gc']);
  return ['## Parsing stream-json (issue 17)', '', ...streamSection(stream).split('\n'), ''];
}

// ---- bundle size: the production build of `node esbuild.mjs --production` (its own build options) -----------------
// Built into out/bench/prod/ rather than dist/, so a bench never replaces the dev build other work relies on.
async function productionBundle() {
  log('production bundle');
  const prodDir = path.join(outDir, 'prod');
  const [grove, ...rest] = extensionBuilds({ production: true, outdir: prodDir });
  const prod = await esbuild.build(grove);
  await Promise.all(rest.map((b) => esbuild.build(b)));
  return { prod, prodFile: path.join(prodDir, 'grove.js'), entryFile: path.join(prodDir, 'extension.js') };
}

// ---- activation in plain Node with a fake vscode ------------------------------------------------------------------
async function activationSection() {
  const { prodFile, entryFile } = await productionBundle();
  log(`activation ×${activations}`);
  const actRoot = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-bench-act-')));
  const actRepo = path.join(actRoot, 'repo');
  fs.mkdirSync(actRepo);
  fs.writeFileSync(path.join(actRepo, 'README.md'), '# bench\n');
  const g = (...args) => execFileSync('git', args, { cwd: actRepo, stdio: 'pipe' });
  g('init', '-q', '-b', 'main');
  g('add', '-A');
  g('-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', 'commit', '-q', '-m', 'init');
  for (let i = 1; i <= 3; i++) g('worktree', 'add', '-q', '-b', `grove/t${i}`, path.join(actRoot, 'wt', `t${i}`));
  const act = [];
  try {
    for (let i = 0; i < activations; i++) {
      act.push(JSON.parse(await run(process.execPath, [path.join('test', 'bench', 'activation.cjs'), entryFile, actRepo])));
    }
  } finally {
    fs.rmSync(actRoot, { recursive: true, force: true });
  }
  const lines = [];
  const L = (s = '') => lines.push(s);
  L('## Extension activation');
  L();
  L(`Grove's own activation code, timed in ${activations} fresh plain-Node processes one after another (test/bench/activation.cjs): the production build's entry (dist/extension.js, the loader of src/boot.ts) is \`require\`d with \`vscode\` replaced by a minimal fake (test/bench/fakeVscode.cjs: no-op UI, one workspace folder holding a git repository with 3 linked worktrees), and \`activate()\` loads Grove (dist/grove.js) from the V8 code cache in the extension's global storage. The first process finds no cache (a new install or update: Grove is compiled, and the cache written after activation); the others use it, as every later window does. **This is not VS Code's activation time**: the extension host's own work (loading the extension, the \`vscode\` API object, rendering the view) is not included. Grove has \`"activationEvents": []\`, so VS Code activates it when its view or a command is first used.`);
  L();
  const [cold, ...warm] = act;
  const cell = (xs) => `${ms(median(xs))} | ${ms(Math.min(...xs))} | ${ms(Math.max(...xs))}`;
  L(`| step | first activation (no cache) | later activations: median | min | max |`);
  L('|---|---|---|---|---|');
  for (const [k, label] of [['loadMs', '`require()` of the entry (the loader)'], ['activateMs', '`activate()` until its promise resolves: Grove loaded (compiled, or from the cache) and activated'], ['readyMs', '`api.ready()` after that: repository discovery + registry recovery (async, the view shows before it)']]) {
    L(`| ${label} | ${ms(cold[k])} | ${cell(warm.map((a) => a[k]))} |`);
  }
  L();
  const sum = (a) => a.loadMs + a.activateMs;
  const loadPlusActivate = median(warm.map(sum));
  L(`Goal: \`require()\` + \`activate()\` ≤ 40 ms — ${loadPlusActivate <= 40 ? 'met' : '**not met**'} (${ms(loadPlusActivate)}, median of the sums of the activations with a cache; ${ms(sum(cold))} for the first, which compiles Grove's ${kib(fs.statSync(prodFile).size)}).${loadPlusActivate <= 40 ? '' : ' What limits it: module evaluation of the bundle (its top-level code, the libraries\' included) and `activate()` itself; compiling is what the cache takes away.'}`);
  L();
  L(`\`activate()\` registered ${act[0].commands} commands and made these API calls: ${Object.entries(act[0].calls).map(([k, v]) => `\`${k}\` ×${v}`).join(', ')}.${act[0].unknown.length ? ` APIs the fake does not implement (answered with a no-op): ${act[0].unknown.map((u) => `\`${u}\``).join(', ')}.` : ''} RSS of the whole Node process after activation: ${median(act.map((a) => a.rssMb)).toFixed(0)} MB (median).`);
  return lines;
}

async function bundleSection() {
  const { prod, prodFile, entryFile } = await productionBundle();
  const prodBytes = fs.statSync(prodFile).size;
  const prodGzip = zlib.gzipSync(fs.readFileSync(prodFile), { level: 9 }).length;
  const devBytes = fs.existsSync('dist/grove.js') ? fs.statSync('dist/grove.js').size : undefined;
  const output = Object.values(prod.metafile.outputs).find((o) => o.entryPoint);
  const groups = new Map();
  for (const [file, info] of Object.entries(output.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? m[1] : file.startsWith('src/') ? file.split('/').slice(0, file.startsWith('src/core/') ? 3 : 2).join('/') + '/' : file;
    groups.set(key, (groups.get(key) ?? 0) + info.bytesInOutput);
  }
  const top = [...groups.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const lines = [];
  const L = (s = '') => lines.push(s);
  L('## Bundle size');
  L();
  L(`Production build of the extension (the options of \`node esbuild.mjs --production\`: bundled, minified, \`vscode\` external, no source map), built into \`out/bench/prod/\` so the bench never replaces \`dist/\`.`);
  L();
  L('| file | size |');
  L('|---|---|');
  L(`| grove.js (production, minified) | **${kib(prodBytes)}** (${kib(prodGzip)} gzip -9) |`);
  L(`| extension.js, its loader (production, minified) | ${kib(fs.statSync(entryFile).size)} |`);
  if (devBytes) L(`| dist/grove.js as found (development build, not minified) | ${kib(devBytes)} |`);
  L();
  L('Top contributors to the production bundle (esbuild metafile, bytes in output; `src/` grouped by folder):');
  L();
  L('| input | bytes in output | share |');
  L('|---|---|---|');
  const total = [...groups.values()].reduce((a, b) => a + b, 0);
  for (const [k, v] of top) L(`| ${k} | ${kib(v)} | ${((v / total) * 100).toFixed(1)} % |`);
  L();
  const own = [...groups.entries()].filter(([k]) => k.startsWith('src/')).reduce((a, [, v]) => a + v, 0);
  const deps = total - own;
  const goal = 400 * 1024;
  L(prodBytes <= goal
    ? `Goal ≤ 400 KiB minified: met (${kib(prodBytes)}).`
    : `Goal ≤ 400 KiB minified: **not met** (${kib(prodBytes)}). What limits it: Grove's own code is ${kib(own)} of it (${Object.keys(output.inputs).filter((f) => f.startsWith('src/')).length} modules; the review, landing, snapshot, radar and turn features each add their core flow and their VS Code surface) and the libraries ${kib(deps)} (execa with its dependencies and simple-git with its own, the design's two process libraries). Without the libraries Grove's code alone would be over the goal. What the size costs a user is the time to load it, measured under "Extension activation" against its own goal.`);
  L();
  return lines;
}

/** The stream-json section: Grove's parser against readline + JSON.parse over the same transcript. */
function streamSection(st) {
  const g = st.runs.grove, b = st.runs.baseline;
  const mb = (x) => `${x.toFixed(0)} MB/s`;
  const ratios = g.map((r, i) => r.mbPerSecond / b[i].mbPerSecond);
  return [
    `test/bench/streamBench.ts writes a ${st.mb.toFixed(0)} MB transcript (${st.lines.toLocaleString('en-US')} lines) with the message mix of a real \`claude -p --output-format stream-json --verbose\` run — assistant text, Edit/Read/Bash tool uses, tool results holding file reads and test output, results, noise lines — and one ${st.longestLineMb.toFixed(1)} MB line (a large Write), then reads it ${g.length} times in 64 KiB chunks, as an agent's stdout arrives, through Grove's \`ClaudeStreamParser\` (lines, JSON, events) and through the baseline, Node's \`readline\` with \`JSON.parse\` per line (no events), alternating which goes first. Peak RSS is sampled on every chunk, above the level before the run. Run ${st.at} UTC, load average ${st.load.map((x) => x.toFixed(2)).join(', ')} on 2 cores.`,
    '',
    '| | median | per run | peak RSS above the start (median) |',
    '|---|---|---|---|',
    `| Grove's parser | **${mb(median(g.map((r) => r.mbPerSecond)))}** | ${g.map((r) => mb(r.mbPerSecond)).join('; ')} | ${median(g.map((r) => r.peakRssAboveMb)).toFixed(1)} MB |`,
    `| readline + JSON.parse | ${mb(median(b.map((r) => r.mbPerSecond)))} | ${b.map((r) => mb(r.mbPerSecond)).join('; ')} | ${median(b.map((r) => r.peakRssAboveMb)).toFixed(1)} MB |`,
    `| ratio Grove / baseline (median of per-run ratios) | **${median(ratios).toFixed(2)} ×** | ${ratios.map((r) => r.toFixed(2)).join('; ')} | |`,
    '',
    `Goal: ≥ 100 MB/s, memory bounded by the longest line (here ${st.longestLineMb.toFixed(1)} MB of a ${st.mb.toFixed(0)} MB transcript), not by the transcript.`,
  ].join('\n');
}
