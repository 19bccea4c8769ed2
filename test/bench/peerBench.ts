// Benchmark (not a test): Grove's CLI against Claude Code's own worktrees (`claude -w <name>`), tried as a user
// would, on the same N tasks ("Create the file tK.txt containing the text K.") in a generated repository, run to done:
//   - Grove: a markdown plan of the N tasks, then `node <cli.js> dispatch --plan plan.md --max N --permission-mode
//     acceptEdits --claude-path <claude>` with cwd = the repository (foreground until every task is done);
//   - claude -w: N × `claude -w tK -p "<prompt>" --permission-mode acceptEdits` started at once, cwd = the repository,
//     until the last one exits.
// Both sides use the same Claude Code binary (node_modules/.bin/claude) and the same scripted model server, which
// answers each turn after MODEL_DELAY_MS so the agents overlap like real ones. One unmeasured warm-up of each side,
// one unmeasured diagnostic run of each side (git counted through a shim first on PATH, Grove with --verbose), then
// RUNS measured runs alternating which side goes first. Every run checks the exit codes and that each task's file is
// in its own worktree with its content; the repository is reset between runs.
//
// Build: npx esbuild test/bench/peerBench.ts --bundle --platform=node --format=cjs --target=node20 \
//          --outfile=out/bench/peerBench.js --external:vscode
// Run:   node out/bench/peerBench.js <result.json> <cli.js>      (progress on stderr)
//        BENCH_PEER_RUNS (5), BENCH_PEER_TASKS (8), BENCH_PEER_FILES (5000) for quick trials.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { claudeBin, claudeEnv } from '../support/claudeEnv';
import { ScriptedModel, text, write, type RecordedRequest, type ScriptReply } from '../support/scriptedModel';
import { generateRepo, git, gitEnv } from './benchRepo';

const RUNS = Math.max(1, Math.floor(Number(process.env.BENCH_PEER_RUNS ?? 5)));
const TASKS = Math.max(1, Math.floor(Number(process.env.BENCH_PEER_TASKS ?? 8)));
const FILES = Math.max(100, Math.floor(Number(process.env.BENCH_PEER_FILES ?? 5000)));
const MODEL_DELAY_MS = 1500;
const TIMEOUT_MS = 300_000;
const HEADING = "## Grove against Claude Code's own worktrees (claude -w)";

const log = (s: string) => process.stderr.write(`[peer-bench] ${s}\n`);
const now = () => performance.now();
const prompt = (k: number) => `Create the file t${k}.txt containing the text ${k}.`;
const PROMPT_RE = /Create the file t(\d+)\.txt containing the text (\d+)\./;
const sec = (ms: number) => (ms / 1000).toFixed(2);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ---- processes ------------------------------------------------------------------------------------------------

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Each stderr line with the ms since spawn at which it arrived. */
  lines: Array<{ ms: number; line: string }>;
  pid: number | undefined;
  ms: number;
  /** Wall-clock time of the spawn (the registry's times are wall-clock). */
  startedAt: number;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const startedAt = Date.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const lines: Exit['lines'] = [];
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => {
      const s = d.toString('utf8');
      stderr += s;
      partial += s;
      let i: number;
      while ((i = partial.indexOf('\n')) >= 0) {
        lines.push({ ms: now() - t0, line: partial.slice(0, i) });
        partial = partial.slice(i + 1);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, lines, pid: child.pid, ms: now() - t0, startedAt });
    });
  });
}

const tail = (s: string) => s.trim().split('\n').slice(-15).join('\n');

// ---- the repository -------------------------------------------------------------------------------------------

function worktrees(repo: string): string[] {
  return git(repo, 'worktree', 'list', '--porcelain')
    .split('\n')
    .filter((l) => l.startsWith('worktree '))
    .map((l) => l.slice('worktree '.length))
    .filter((p) => path.resolve(p) !== path.resolve(repo));
}

/** Every linked worktree and its folder, every branch but main, Grove's registry and `.claude/worktrees` removed. */
function resetRepo(repo: string): void {
  for (const p of worktrees(repo)) {
    try { git(repo, 'worktree', 'unlock', p); } catch { /* not locked */ }
    try { git(repo, 'worktree', 'remove', '--force', '--force', p); } catch { /* removed below */ }
    fs.rmSync(p, { recursive: true, force: true });
  }
  git(repo, 'worktree', 'prune');
  const branches = git(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').filter((b) => b && b !== 'main');
  if (branches.length) git(repo, 'branch', '-D', '-q', ...branches);
  // Grove's own refs (checkpoints, snapshots), if a run left any.
  for (const r of git(repo, 'for-each-ref', '--format=%(refname)', 'refs/grove').split('\n').filter(Boolean)) git(repo, 'update-ref', '-d', r);
  fs.rmSync(path.join(repo, '.git', 'grove'), { recursive: true, force: true });
  fs.rmSync(path.join(repo, '.claude', 'worktrees'), { recursive: true, force: true });
  const status = git(repo, 'status', '--porcelain', '--untracked-files=all').trim();
  const left = status.split('\n').filter((l) => l && !/^\?\? \.claude\//.test(l));
  if (left.length) throw new Error(`reset: the main checkout is not clean: ${left.slice(0, 5).join('; ')}`);
  if (worktrees(repo).length) throw new Error('reset: linked worktrees are left');
}

/** Each task's file in `dirs` (task → worktree), or the problems found. */
function verify(side: string, dirs: Map<number, string>, repo: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (let k = 1; k <= TASKS; k++) {
    const dir = dirs.get(k);
    if (!dir) { problems.push(`${side}: task ${k} has no worktree`); continue; }
    if (path.resolve(dir) === path.resolve(repo)) problems.push(`${side}: task ${k} ran in the main checkout`);
    if (seen.has(dir)) problems.push(`${side}: task ${k} shares its worktree ${dir}`);
    seen.add(dir);
    const file = path.join(dir, `t${k}.txt`);
    const content = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (content?.trim() !== String(k)) problems.push(`${side}: ${file} is ${content === undefined ? 'missing' : JSON.stringify(content)}`);
  }
  if (fs.existsSync(path.join(repo, 't1.txt'))) problems.push(`${side}: a task wrote into the main checkout`);
  return problems;
}

// ---- the sides ------------------------------------------------------------------------------------------------

interface SideResult {
  ms: number;
  ok: boolean;
  problems: string[];
  /** Model requests during the side's run (all agents). */
  requests: number;
  detail: Record<string, unknown>;
}

interface Setup {
  repo: string;
  cli: string;
  plan: string;
  env: NodeJS.ProcessEnv;
  model: ScriptedModel;
}

async function groveSide(s: Setup, opts: { verbose?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<SideResult & { exit: Exit }> {
  const before = s.model.requests.length;
  const args = [s.cli, 'dispatch', '--plan', s.plan, '--max', String(TASKS), '--permission-mode', 'acceptEdits', '--claude-path', claudeBin()];
  if (opts.verbose) args.push('--verbose');
  const exit = await run(process.execPath, args, s.repo, opts.env ?? s.env);
  const problems: string[] = [];
  if (exit.code !== 0) problems.push(`grove dispatch exited ${exit.code ?? exit.signal}: ${tail(exit.stderr)}`);
  // Where each task ran, from Grove itself (not timed).
  const status = await run(process.execPath, [s.cli, 'status', '--json'], s.repo, s.env);
  let instances: Array<{ title: string; state: string; worktreePath: string; createdAt: number; startedAt?: number; endedAt?: number }> = [];
  try {
    instances = JSON.parse(status.stdout);
  } catch {
    problems.push(`grove status --json exited ${status.code}: ${tail(status.stderr)}`);
  }
  const dirs = new Map<number, string>();
  for (const i of instances) {
    const k = Number(/^Task (\d+)$/.exec(i.title)?.[1]);
    if (k) dirs.set(k, i.worktreePath);
    if (i.state !== 'done') problems.push(`grove: "${i.title}" is ${i.state}`);
  }
  if (instances.length && instances.length !== TASKS) problems.push(`grove: ${instances.length} instances for ${TASKS} tasks`);
  problems.push(...verify('grove', dirs, s.repo));
  return { ms: exit.ms, ok: problems.length === 0, problems, requests: s.model.requests.length - before, detail: { instances }, exit };
}

async function peerSide(s: Setup, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<SideResult & { exits: Exit[] }> {
  const before = s.model.requests.length;
  const t0 = now();
  const exits = await Promise.all(
    Array.from({ length: TASKS }, (_, i) => run(claudeBin(), ['-w', `t${i + 1}`, '-p', prompt(i + 1), '--permission-mode', 'acceptEdits'], s.repo, opts.env ?? s.env)),
  );
  const ms = now() - t0;
  const problems: string[] = [];
  exits.forEach((e, i) => {
    if (e.code !== 0) problems.push(`claude -w t${i + 1} exited ${e.code ?? e.signal}: ${tail(e.stderr || e.stdout)}`);
  });
  // Where `claude -w` put each worktree: the one `git worktree list` shows whose folder is named tK.
  const dirs = new Map<number, string>();
  const listed = worktrees(s.repo);
  for (const wt of listed) {
    const k = Number(/^t(\d+)$/.exec(path.basename(wt))?.[1]);
    if (k) dirs.set(k, wt);
  }
  problems.push(...verify('claude -w', dirs, s.repo));
  const branches = git(s.repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').filter((b) => b && b !== 'main');
  return {
    ms, ok: problems.length === 0, problems, requests: s.model.requests.length - before, exits,
    detail: { worktrees: listed.map((p) => path.relative(s.repo, p)), branches, exitMs: exits.map((e) => Math.round(e.ms)) },
  };
}

// ---- diagnostics: git processes and Grove's timeline ----------------------------------------------------------

/** A `git` first on PATH that appends "<ppid> <args>" to $BENCH_GIT_LOG and execs the real git. */
function gitShim(root: string): { dir: string; logFile: string; realGit: string } {
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const dir = path.join(root, 'shim');
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(root, 'git-calls.log');
  fs.writeFileSync(path.join(dir, 'git'), `#!/bin/sh\nprintf '%s %s\\n' "$PPID" "$*" >> "$BENCH_GIT_LOG"\nexec ${realGit} "$@"\n`, { mode: 0o755 });
  return { dir, logFile, realGit };
}

function readGitCalls(file: string): Array<{ ppid: number; args: string }> {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const i = l.indexOf(' ');
    return { ppid: Number(l.slice(0, i)), args: l.slice(i + 1) };
  });
}

/** "worktree add", "status", "rev-parse --git-common-dir"… as a histogram, biggest first. */
function histogram(calls: Array<{ args: string }>): Record<string, number> {
  const h: Record<string, number> = {};
  for (const c of calls) {
    const words = c.args.replace(/^(-c \S+ |-C \S+ |--no-optional-locks |--no-pager |--git-dir=\S+ |--work-tree=\S+ )+/, '').split(' ');
    const sub = words[0] ?? '?';
    const key = ['worktree', 'config', 'rev-parse', 'for-each-ref'].includes(sub) && words[1] ? `${sub} ${words[1]}` : sub;
    h[key] = (h[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(h).sort((a, b) => b[1] - a[1]));
}

/** Where Grove's time went, from its --verbose stderr (each line stamped on arrival) and its registry times. */
function groveTimeline(exit: Exit, instances: Array<{ title: string; createdAt: number; startedAt?: number; endedAt?: number }>, spawnedAt: number) {
  const gitLines = exit.lines.filter((l) => /\] > git /.test(l.line));
  const gitMs = (re: RegExp) => gitLines.filter((l) => re.test(l.line)).map((l) => Number(/\[(\d+)ms\]/.exec(l.line)?.[1] ?? 0));
  const adds = exit.lines.filter((l) => /\] > git worktree add /.test(l.line));
  const agents = exit.lines.filter((l) => /\] > \S*claude\S* /.test(l.line) || /\] > .*--input-format stream-json/.test(l.line));
  const rel = (t?: number) => (t === undefined ? undefined : Math.round(t - spawnedAt));
  return {
    gitCommandsLogged: gitLines.length,
    gitLoggedMsTotal: gitMs(/./).reduce((a, b) => a + b, 0),
    worktreeAddMs: gitMs(/> git worktree add /),
    worktreeAddDoneAtMs: adds.map((l) => Math.round(l.ms)),
    agentSpawnedAtMs: agents.map((l) => Math.round(l.ms)),
    firstStderrLineAtMs: exit.lines[0] ? Math.round(exit.lines[0].ms) : undefined,
    exitAtMs: Math.round(exit.ms),
    registry: instances.map((i) => ({ title: i.title, createdAtMs: rel(i.createdAt), startedAtMs: rel(i.startedAt), endedAtMs: rel(i.endedAt) })),
  };
}

// ---- main -----------------------------------------------------------------------------------------------------

interface RunRow {
  run: number;
  side: 'grove' | 'claude -w';
  order: 1 | 2;
  wallMs: number;
  ok: boolean;
  requests: number;
  problems?: string[];
}

async function main(): Promise<void> {
  const [out, cliArg] = process.argv.slice(2);
  const cli = cliArg ? path.resolve(cliArg) : '';
  if (!out || !cli || !fs.existsSync(cli)) throw new Error('usage: node out/bench/peerBench.js <result.json> <cli.js>');
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-peer-bench-')));
  const extra: Record<string, number> = {};
  const model = await ScriptedModel.start({
    rule: (req: RecordedRequest): ScriptReply => {
      // A turn of a task: the session's tools include Write and its first message is one of the prompts. Anything
      // else the CLI asks (a title, a summary, a classifier) gets a short text at once, and is counted.
      const hasWrite = Array.isArray(req.body?.tools) && req.body.tools.some((t: any) => t?.name === 'Write');
      const m = PROMPT_RE.exec(req.firstUserText);
      if (!hasWrite || !m) {
        const key = hasWrite ? 'other prompt' : `no tools (${String(req.body?.model ?? '?')})`;
        extra[key] = (extra[key] ?? 0) + 1;
        return text('Task');
      }
      if (req.isToolResult) return text(`Created t${m[1]}.txt.`, { delayMs: MODEL_DELAY_MS });
      return { ...write(`t${m[1]}.txt`, `${m[2]}\n`), delayMs: MODEL_DELAY_MS };
    },
  });
  try {
    const claudeVersion = execFileSync(claudeBin(), ['--version'], { encoding: 'utf8' }).trim();
    const t = now();
    const { repo } = generateRepo(root, { files: FILES, gitignore: '.env\n' });
    log(`generated ${FILES} files in ${sec(now() - t)} s at ${repo}; ${claudeVersion}; ${TASKS} tasks, ${RUNS} runs`);
    // One env for both sides: the process env minus the user's Claude setup, state kept in <root>/claude, the scripted
    // model, and a committer identity. Grove's agents inherit its environment.
    const env = { ...claudeEnv({ root: path.join(root, 'claude'), baseUrl: model.url }).env, ...gitEnv } as NodeJS.ProcessEnv;
    const plan = path.join(root, 'plan.md');
    // No "# Title" and no text before the first task: each task's prompt is its body alone, the same as claude -w's.
    fs.writeFileSync(plan, Array.from({ length: TASKS }, (_, i) => `## Task ${i + 1}\n\n${prompt(i + 1)}\n`).join('\n'));
    const s: Setup = { repo, cli, plan, env, model };
    const must = (side: string, r: SideResult) => {
      if (!r.ok) throw new Error(`${side}: ${r.problems.join('\n')}`);
    };

    // Warm-up (not measured): page cache for the binaries and the repository, the CLI's config dir.
    let w: SideResult = await groveSide(s);
    log(`warm-up: Grove ${sec(w.ms)} s`); must('warm-up grove', w); resetRepo(repo);
    w = await peerSide(s);
    log(`warm-up: claude -w ${sec(w.ms)} s`); must('warm-up claude -w', w);
    const peerLeft = { worktrees: worktrees(repo).map((p) => path.relative(repo, p)), dotClaude: fs.existsSync(path.join(repo, '.claude', 'worktrees')) ? fs.readdirSync(path.join(repo, '.claude', 'worktrees')) : [] };
    resetRepo(repo);

    // Diagnostic run (not measured): every git process counted by a shim first on PATH; Grove with --verbose.
    const shim = gitShim(root);
    const shimEnv = { ...env, PATH: `${shim.dir}${path.delimiter}${env.PATH ?? ''}`, BENCH_GIT_LOG: shim.logFile };
    fs.rmSync(shim.logFile, { force: true });
    const gd = await groveSide(s, { verbose: true, env: shimEnv });
    must('diagnostic grove', gd);
    const groveCalls = readGitCalls(shim.logFile);
    const own = groveCalls.filter((c) => c.ppid === gd.exit.pid);
    const instances = (gd.detail.instances as Array<{ title: string; createdAt: number; startedAt?: number; endedAt?: number }>) ?? [];
    resetRepo(repo);
    fs.rmSync(shim.logFile, { force: true });
    const pd = await peerSide(s, { env: shimEnv });
    must('diagnostic claude -w', pd);
    const peerCalls = readGitCalls(shim.logFile);
    resetRepo(repo);
    const gitLog = `${out}.git-calls.log`;
    fs.writeFileSync(gitLog, [
      `# grove dispatch (pid ${gd.exit.pid}): <parent pid> <git arguments>`, ...groveCalls.map((c) => `${c.ppid} ${c.args}`),
      '# claude -w ×' + TASKS, ...peerCalls.map((c) => `${c.ppid} ${c.args}`),
    ].join('\n') + '\n');
    const verboseLog = `${out}.grove-verbose.log`;
    fs.writeFileSync(verboseLog, gd.exit.lines.map((l) => `${String(Math.round(l.ms)).padStart(6)} ms  ${l.line}`).join('\n') + '\n');
    const diagnostics = {
      note: 'An extra unmeasured run of each side with a git shim first on PATH (and Grove with --verbose); the measured runs use the plain PATH, so the shim does not distort them.',
      grove: {
        wallMs: Math.round(gd.ms),
        gitProcesses: groveCalls.length,
        gitByGroveItself: own.length,
        gitByItsAgents: groveCalls.length - own.length,
        groveItself: histogram(own),
        agents: histogram(groveCalls.filter((c) => c.ppid !== gd.exit.pid)),
        timeline: groveTimeline(gd.exit, instances, gd.exit.startedAt),
        verboseLog,
      },
      gitLog,
      peer: { wallMs: Math.round(pd.ms), gitProcesses: peerCalls.length, byCommand: histogram(peerCalls) },
      extraModelRequests: extra,
      peerLeavesWorktrees: peerLeft,
    };
    log(`diagnostic: Grove ${sec(gd.ms)} s, ${groveCalls.length} git processes (${own.length} by Grove itself); claude -w ${sec(pd.ms)} s, ${peerCalls.length} git processes`);

    const rows: RunRow[] = [];
    const groveMs: number[] = [];
    const peerMs: number[] = [];
    for (let r = 1; r <= RUNS; r++) {
      const groveFirst = r % 2 === 1;
      const one = async (side: 'grove' | 'claude -w', order: 1 | 2) => {
        const res = side === 'grove' ? await groveSide(s) : await peerSide(s);
        resetRepo(repo);
        rows.push({ run: r, side, order, wallMs: Math.round(res.ms), ok: res.ok, requests: res.requests, ...(res.ok ? {} : { problems: res.problems }) });
        if (!res.ok) log(`run ${r} ${side} FAILED: ${res.problems.join(' | ')}`);
        return res.ms;
      };
      let g: number, p: number;
      if (groveFirst) { g = await one('grove', 1); p = await one('claude -w', 2); }
      else { p = await one('claude -w', 1); g = await one('grove', 2); }
      groveMs.push(Math.round(g));
      peerMs.push(Math.round(p));
      log(`run ${r} (${groveFirst ? 'Grove' : 'claude -w'} first): Grove ${sec(g)} s, claude -w ${sec(p)} s, ratio ${(g / p).toFixed(2)}; load ${os.loadavg()[0]!.toFixed(2)}`);
    }

    const ratios = groveMs.map((g, i) => Number((g / peerMs[i]!).toFixed(3)));
    const medianRatio = Number((median(groveMs) / median(peerMs)).toFixed(3));
    const groveSpread = Number((Math.max(...groveMs) / Math.min(...groveMs)).toFixed(3));
    const allOk = rows.every((r) => r.ok);
    const loadAverage = os.loadavg().map((x) => Number(x.toFixed(2)));
    const at = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
    const markdown = renderMarkdown({ groveMs, peerMs, ratios, medianRatio, groveSpread, allOk, loadAverage, at, claudeVersion, diagnostics });
    const result = {
      tasks: TASKS, files: FILES, modelDelayMs: MODEL_DELAY_MS, cpus: os.cpus().length,
      runs: rows, groveMs, peerMs, ratios, medianRatio, groveSpread, allOk, at, loadAverage, claudeVersion, diagnostics, markdown,
    };
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    log(`median ratio ${medianRatio} (Grove ${sec(median(groveMs))} s, claude -w ${sec(median(peerMs))} s); Grove spread ${groveSpread}; wrote ${out}`);
    if (!allOk) process.exitCode = 1;
  } finally {
    await model.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function renderMarkdown(r: {
  groveMs: number[]; peerMs: number[]; ratios: number[]; medianRatio: number; groveSpread: number; allOk: boolean;
  loadAverage: number[]; at: string; claudeVersion: string; diagnostics: { grove: { gitProcesses: number; gitByGroveItself: number } };
}): string {
  const fasterGoal = r.medianRatio <= 0.8;
  const stableGoal = r.groveSpread <= 1.2;
  const gMed = median(r.groveMs);
  const pMed = median(r.peerMs);
  const lines = [
    HEADING,
    '',
    `${TASKS} tasks ("Create the file tK.txt containing the text K.") on a generated ${FILES.toLocaleString('en-US')}-file git repository, each run to done, ` +
      `${r.groveMs.length} runs alternating which side goes first, after one unmeasured warm-up of each side. ` +
      `**Grove**: a markdown plan of the ${TASKS} tasks (\`## Task K\` sections), then \`grove dispatch --plan plan.md --max ${TASKS} --permission-mode acceptEdits --claude-path <claude>\` ` +
      `(the built CLI, cwd = the repository, in the foreground until every task is done), timed from spawn to exit. ` +
      `**claude -w**: ${TASKS} × \`claude -w tK -p "<prompt>" --permission-mode acceptEdits\` started at once (cwd = the repository; each makes its worktree in \`.claude/worktrees/tK\`), ` +
      `timed from the first spawn until the last exit. Both sides run the same Claude Code binary (${r.claudeVersion}) against the same local scripted model, ` +
      `which answers each turn (a Write of tK.txt, then a short text) after ${MODEL_DELAY_MS.toLocaleString('en-US')} ms so the agents overlap like real ones. ` +
      `Each run checks the exit codes and each task's file in its own worktree${r.allOk ? ' (all passed)' : ' (**some failed**, see the JSON)'}; between runs every linked worktree, every branch but main, ` +
      `\`.git/grove\` and \`.claude/worktrees\` are removed. Machine: ${os.cpus().length} cores, load average ${r.loadAverage.join(' / ')} (1 / 5 / 15 min) at the end, ${r.at}. ` +
      `In an extra unmeasured run Grove started ${r.diagnostics.grove.gitProcesses} git processes, ${r.diagnostics.grove.gitByGroveItself} of them itself and the rest by its agents (counted by a git shim on PATH).`,
    '',
    '| Run | First | Grove s | claude -w s | Grove / claude -w |',
    '| --- | --- | ---: | ---: | ---: |',
    ...r.groveMs.map((g, i) => `| ${i + 1} | ${i % 2 === 0 ? 'Grove' : 'claude -w'} | ${sec(g)} | ${sec(r.peerMs[i]!)} | ${r.ratios[i]!.toFixed(2)} |`),
    `| **median** | | **${sec(gMed)}** | **${sec(pMed)}** | **${r.medianRatio.toFixed(2)}** |`,
    '',
    `- Goal "Grove's median ≤ 0.8 × claude -w's median": ${fasterGoal ? '**met**' : '**not met**'} (${sec(gMed)} s against ${sec(pMed)} s: ${r.medianRatio.toFixed(2)} ×).`,
    `- Goal "Grove's slowest run within 20 % of its fastest": ${stableGoal ? '**met**' : '**not met**'} (slowest ${sec(Math.max(...r.groveMs))} s, fastest ${sec(Math.min(...r.groveMs))} s: ${r.groveSpread.toFixed(2)} ×).`,
    '',
  ];
  return lines.join('\n');
}

main().catch((err) => {
  log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
