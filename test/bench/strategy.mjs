// `npm run bench:strategy`: measures five ways of driving Claude Code (test/bench/strategyBench.ts) and writes
// docs/strategy.md (prose + the measured tables; overwritten on each run). A benchmark, not a test.
//   STRATEGY_RUNS=5 (default) runs per mode, interleaved; STRATEGY_MODES=a,b,… to run a subset.
// The Agent SDK is NOT a dependency of Grove: it is installed on demand into ~/.cache/grove/agent-sdk/<version>
// (or $GROVE_BENCH_CACHE/agent-sdk/<version>) with `npm install --prefix`, outside the repository.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** The Agent SDK release that ships the same Claude Code build as the pinned CLI (2.1.332). */
const SDK_VERSION = '0.3.332';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
process.chdir(root);
const outDir = path.join(root, 'out', 'bench');
fs.mkdirSync(outDir, { recursive: true });
const log = (s) => process.stderr.write(`[strategy] ${s}\n`);
const started = Date.now();

function duBytes(p) {
  return Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);
}
const mb = (b) => `${(b / 2 ** 20).toFixed(0)} MB`;

// ---- the Agent SDK, on demand, outside the repository ------------------------------------------------------------
const cacheBase = process.env.GROVE_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'grove');
const sdkDir = path.join(cacheBase, 'agent-sdk', SDK_VERSION);
const sdkPkg = path.join(sdkDir, 'node_modules', '@anthropic-ai', 'claude-agent-sdk');
let sdkInstall = { cached: true, ms: 0 };
if (!fs.existsSync(path.join(sdkPkg, 'package.json'))) {
  log(`installing @anthropic-ai/claude-agent-sdk@${SDK_VERSION} into ${sdkDir}`);
  fs.mkdirSync(sdkDir, { recursive: true });
  fs.writeFileSync(path.join(sdkDir, 'package.json'), JSON.stringify({ name: 'grove-bench-agent-sdk', private: true }, null, 2));
  const t = Date.now();
  execFileSync('npm', ['install', '--prefix', sdkDir, '--no-audit', '--no-fund', `@anthropic-ai/claude-agent-sdk@${SDK_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  sdkInstall = { cached: false, ms: Date.now() - t };
}
const sdkEntry = path.join(sdkPkg, 'sdk.mjs');
const sdkBytes = duBytes(path.join(sdkDir, 'node_modules'));
const sdkPackages = execFileSync('npm', ['ls', '--all', '--parseable', '--prefix', sdkDir], { encoding: 'utf8' }).split('\n').filter(Boolean).length - 1;
const sdkBinaryBytes = fs.existsSync(path.join(sdkDir, 'node_modules', '@anthropic-ai', 'claude-agent-sdk-linux-x64')) ? duBytes(path.join(sdkDir, 'node_modules', '@anthropic-ai', 'claude-agent-sdk-linux-x64')) : 0;
const sdkBundle = await esbuild.build({
  stdin: { contents: "export { query } from '@anthropic-ai/claude-agent-sdk';", resolveDir: sdkDir, loader: 'js' },
  bundle: true, platform: 'node', format: 'esm', target: 'node20', minify: true, write: false, logLevel: 'silent',
});
const sdkBundleBytes = sdkBundle.outputFiles[0].contents.length;
const groveRunner = await esbuild.build({
  entryPoints: ['src/core/agents/backgroundAgents.ts'], bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: true, write: false, logLevel: 'silent',
});
const groveRunnerBytes = groveRunner.outputFiles[0].contents.length;
const groveOwn = await esbuild.build({
  entryPoints: ['src/core/agents/backgroundAgents.ts'], bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: true, write: false, metafile: true, logLevel: 'silent',
});
const groveOwnBytes = Object.entries(Object.values(groveOwn.metafile.outputs)[0].inputs).filter(([f]) => !f.includes('node_modules')).reduce((a, [, i]) => a + i.bytesInOutput, 0);
// Start-up time of the node process each hook event spawns (Grove's hook script), to read hook timestamps against.
const nodeStarts = [];
for (let i = 0; i < 5; i++) {
  const t = Date.now();
  execFileSync(process.execPath, ['-e', '0']);
  nodeStarts.push(Date.now() - t);
}
const cliBytes = duBytes(path.join('node_modules', '@anthropic-ai', 'claude-code'));

// ---- run the measurements ----------------------------------------------------------------------------------------
await esbuild.build({
  entryPoints: ['test/bench/strategyBench.ts'], bundle: true, platform: 'node', format: 'cjs', target: 'node20',
  outfile: path.join(outDir, 'strategyBench.js'), external: ['vscode', 'playwright-core'], logLevel: 'warning',
});
const resultFile = path.join(outDir, 'strategy.json');
log('measuring (a) per-turn -p, (b) long-lived stream-json, (c) Agent SDK, (d) TUI + hooks, (e) --bg sessions…');
const tb = Date.now();
await new Promise((resolve, reject) => {
  const cp = spawn(process.execPath, [path.join(outDir, 'strategyBench.js'), resultFile, sdkEntry], { stdio: 'inherit' });
  cp.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`strategyBench exited ${code}`))));
});
const benchSeconds = (Date.now() - tb) / 1000;
const R = JSON.parse(fs.readFileSync(resultFile, 'utf8'));

// ---- docs/strategy.md --------------------------------------------------------------------------------------------
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, unit = ' ms') => (x === undefined ? '—' : `${Math.round(x).toLocaleString('en-US')}${unit}`);
const runsOf = (k) => R.results[k]?.runs ?? [];
const med = (k, f) => median(runsOf(k).map((r) => r[f]));
const nOf = (k) => `${runsOf(k).length}${R.results[k]?.errors?.length ? ` (+${R.results[k].errors.length} failed)` : ''}`;
const wrote = (k) => (runsOf(k).length ? `${runsOf(k).filter((r) => r.wroteFile).length}/${runsOf(k).length}` : '—');
const cpu = os.cpus();
const bg = R.bg ?? {};

const MODES = {
  a: '(a) `claude -p` per turn, `--resume` (Grove background)',
  b: '(b) one long-lived `--input-format stream-json` process',
  c: '(c) Agent SDK `query()` → same CLI binary',
  d: '(d) interactive TUI in tmux + hooks (Grove terminal)',
  e: '(e) `claude --bg` session (default settings)',
  e2: '(e′) `claude --bg` with `worktree.bgIsolation: "none"`',
  e3: '(e″) `claude --bg` started in a linked worktree (default settings)',
};
const L = [];
const w = (s = '') => L.push(s);

w('# Strategy: how Grove drives many Claude Code instances');
w();
w(`Measured by \`npm run bench:strategy\` (test/bench/strategy.mjs + test/bench/strategyBench.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with ${R.claudeVersion} and \`@anthropic-ai/claude-agent-sdk@${SDK_VERSION}\`; every run rewrites this file, prose included. Machine: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}, ${os.type()} ${os.release()} — **shared with other engineers running test suites, so numbers are noisy**: the tables give medians of ${R.runs} runs per mode, modes interleaved run by run so that load drifts hit all of them alike.`);
w();
w('## Method');
w();
w(`Every mode runs the same scripted task with the real CLI against the scripted Messages-API server (test/support/scriptedModel.ts) on 127.0.0.1: turn 1 "Create result.txt…" → the model calls \`Write(result.txt)\` → "Done"; then a follow-up turn answered with text. Each run has its own temp folder: a one-commit git repository as the cwd, and \`CLAUDE_CONFIG_DIR\` / \`CLAUDE_CODE_TMPDIR\` inside it (test/support/claudeEnv.ts); \`~/.claude\` is never used. One unmeasured warm-up run loads the CLI's ${mb(fs.statSync(path.join('node_modules', '@anthropic-ai', 'claude-code', 'bin', 'claude.exe')).size)} native binary into the page cache first.`);
w();
w('- **start**: spawn (or the `query()` call, or `tmux new-session`, or `claude --bg`) → `system/init` on stdout; for (d)/(e), which have no stdout protocol, → the `SessionStart` hook event.');
w('- **first model output**: → the first `assistant` message; for (d)/(e) the `PreToolUse` hook of the scripted Write.');
w('- **turn 1**: → `result` (a–c) or the `Stop` hook (d, e). **follow-up**: sending the follow-up → its `result`/`Stop`: for (a) and (c) that includes spawning a new CLI with `--resume`; for (b) it is a line on the live process\'s stdin; for (d) keystrokes into the live TUI (`tmux send-keys`).');
w('- **memory**: RSS summed over the process tree (`/proc/<pid>/status` VmRSS, sampled every 100 ms; shared pages count once per process, so sums overstate a little). "peak" is during turn 1; "idle" is 1 s after turn 1 ended, i.e. what an instance that waits for the user costs. For (c) the tree is the SDK host\'s child processes (the host itself excluded); for (e) it is the whole `claude daemon` tree.');
w(`- Hook timestamps (d, e) come from Grove's own hook script (src/core/agents/hookSettings.ts: one \`node\` process per hook event), so they include that script\'s start: \`node -e 0\` took ${fmt(median(nodeStarts))} here (median of 5).`);
w();
w('## Measured');
w();
w('| mode | runs | start | first model output | turn 1 | follow-up | peak RSS | idle RSS (waiting for the user) | processes | Write executed |');
w('|---|---|---|---|---|---|---|---|---|---|');
for (const k of Object.keys(MODES)) {
  if (!R.results[k]) continue;
  const procs = median(runsOf(k).map((r) => r.processes));
  w(`| ${MODES[k]} | ${nOf(k)} | ${fmt(med(k, 'startMs'))} | ${fmt(med(k, 'firstAssistantMs'))} | ${fmt(med(k, 'turnMs'))} | ${fmt(med(k, 'followUpMs'))} | ${fmt(med(k, 'peakRssMb'), ' MB')} | ${k === 'a' || k === 'c' ? '0 (no process)' : fmt(med(k, 'idleRssMb'), ' MB')} | ${procs ?? '—'} | ${wrote(k)} |`);
}
w();
const aExit = med('a', 'exitMs');
w(`Per-turn process exit (a): ${fmt(aExit)} after spawn (median). In (a)–(c) the first stdout line *is* \`system/init\`, so "time to first event" equals "start". ${R.sdkImport ? `Importing the SDK module in the host: ${fmt(R.sdkImport.ms)}, +${R.sdkImport.rssDeltaMb.toFixed(0)} MB RSS in the host process.` : ''}`);
w('Follow-up of (e) is not measured: the session process stays alive after its turn, `claude --bg --resume <id>` starts a *copy* of a session that is still running, and typing into it needs `claude attach <id>` on a TTY.');
const errs = Object.entries(R.results).flatMap(([k, v]) => v.errors.map((e) => `${k}: ${e}`));
if (errs.length) w(`Failed runs: ${errs.join('; ')}.`);
const notes = Object.entries(R.results).flatMap(([k, v]) => v.runs.filter((r) => r.note && k.startsWith('e')).map((r) => r.note)).slice(0, 2);
w(`\`claude --bg\` itself returned (id printed, session starting in the daemon) after ${fmt(median(['e', 'e2', 'e3'].flatMap((k) => runsOf(k).map((r) => r.bgReturnMs))))} (median over all (e) runs).${notes.length ? ` Problems seen: ${notes.join('; ')}.` : ''}`);
w();
w('### Dependency weight and bundle size');
w();
w('| | size on disk | packages | added to Grove\'s bundle |');
w('|---|---|---|---|');
w(`| Claude Code CLI (\`@anthropic-ai/claude-code@2.1.332\`, the user's own install; a devDependency here for tests) | ${mb(cliBytes)} | 1 (+1 platform binary package) | 0 — spawned, never bundled |`);
w(`| Grove's own driver (src/core/agents/backgroundAgents.ts + runner + parser + process supervisor, minified) | — | 0 new (uses execa, already a dependency) | ${(groveOwnBytes / 1024).toFixed(1)} KiB own code (${(groveRunnerBytes / 1024).toFixed(0)} KiB with execa and its dependencies), already in the bundle |`);
w(`| Agent SDK \`@anthropic-ai/claude-agent-sdk@${SDK_VERSION}\` | ${mb(sdkBytes)} (of which the platform binary ${mb(sdkBinaryBytes)}) | ${sdkPackages} | ${(sdkBundleBytes / 1024).toFixed(0)} KiB minified for \`query\` alone, plus its own ~${mb(sdkBinaryBytes)} CLI copy unless \`pathToClaudeCodeExecutable\` is set |`);
w();
w(`SDK install: ${sdkInstall.cached ? `already in the cache at \`${sdkDir.replace(os.homedir(), '~')}\`` : `${(sdkInstall.ms / 1000).toFixed(0)} s from the npm cache into \`${sdkDir.replace(os.homedir(), '~')}\``}. It is ESM-only (\`"type": "module"\`, \`sdk.mjs\`): Grove's CommonJS extension bundle could only load it with a dynamic \`import()\`.`);
w();
w('## `claude --bg` and `claude agents --json` (mode e), as observed offline');
w();
w('- **Works offline** against the scripted server with `ANTHROPIC_API_KEY` (no login needed): `claude --bg "<prompt>"` prints an id and returns at once; it starts (on demand) a transient supervisor `claude daemon run`, which keeps *two pre-spawned spare sessions* in pty hosts and hands one to the new session. The daemon honours `CLAUDE_CONFIG_DIR` (`daemon.json`, `daemon.log`, `jobs/<id>/state.json`, `timeline.jsonl`), but its sockets live in `/tmp/cc-daemon-<uid>/<hash>/`, not under `CLAUDE_CODE_TMPDIR`.');
if (bg.untrusted) w(`- **Trust**: in a folder whose trust was never accepted, \`claude --bg\` answered (exit ${bg.untrusted.exitCode}): "${bg.untrusted.output.replace(/\s+/g, ' ').slice(0, 300)}". Seeding \`projects[<cwd>].hasTrustDialogAccepted\` in \`$CLAUDE_CONFIG_DIR/.claude.json\` (as for the TUI) is enough.`);
w(`- **\`--settings\` is honoured**: Grove's hook settings passed to \`claude --bg\` fired ${(bg.hookEvents ?? []).map((e) => `\`${e}\``).join(', ') || 'no hook'} in the background session (first run), so Grove could track such a session with the same hook machinery as terminal mode.`);
if (bg.toolError) w(`- **It refuses edits in the shared checkout by default**: the scripted \`Write\` failed with: "${bg.toolError.replace(/\\"/g, '"').replace(/\s+/g, ' ').trim()}…". So a \`--bg\` session wants to create and enter *its own* worktree (the \`EnterWorktree\` tool); in a worktree Grove made, run with \`worktree.bgIsolation: "none"\` (row e′) — or, per the message, a path inside a linked worktree is accepted.`);
if (R.results.e3) w(`- **Started inside a linked worktree** (row e″, cwd = a worktree made with \`git worktree add -b\`, as Grove makes them), with default settings the Write ${runsOf('e3').some((r) => r.wroteFile) ? 'succeeded' : 'was refused as well'}${bg.linkedWorktreeToolError ? `: "${bg.linkedWorktreeToolError.replace(/\\"/g, '"').replace(/\s+/g, ' ').trim()}…"` : ''}.`);
w(`- **Cost**: the supervisor, a pty host per session and spare sessions: the whole daemon tree is the largest of all modes (table), and stays resident while any session lives.`);
w(`- **\`claude agents --json\`** works offline and without a terminal; it took ${fmt(bg.agentsJsonMs)} here and lists *active* sessions (interactive and background; \`--all\` adds completed background ones). What it returned in the first run:`);
w();
w('```json');
w(JSON.stringify(bg.agentsJson ?? null, null, 2));
w('```');
w();
w('Note `"status": "idle"` with `"state": "working"` after the turn had ended: the fields describe the session process, not the task, so they are no substitute for hooks or the `result` event. The list has `cwd`, `sessionId`, `pid`, `name` (the prompt\'s start) and `startedAt` — enough for Grove to show these sessions read-only under the worktree whose path matches `cwd` (and to offer `claude attach <id>` in a terminal). The lead decides whether that is worth one `claude agents --json` spawn (a full CLI start, timed above) per refresh; a cheaper source is `$CLAUDE_CONFIG_DIR/jobs/*/state.json`, which is an undocumented format.');
w();
w('## Comparison');
w();
w('| | (a) `-p` per turn + `--resume` | (b) long-lived stream-json | (c) Agent SDK `query()` | (d) TUI + hooks | (e) `claude --bg` + `claude agents` |');
w('|---|---|---|---|---|---|');
w('| API surface | argv + stream-json on stdio (documented flags; `--permission-prompt-tool stdio` is hidden) | same, one process for many turns; `control_request` interrupt | typed async iterator over the same stream-json; hooks/permissions/MCP as JS callbacks | keystrokes in, hooks out (JSON on the hook\'s stdin) | argv; ids; `agents --json`, `logs`, `attach`, `stop`, `rm` |');
w('| session persistence / resume | transcript per session in `$CLAUDE_CONFIG_DIR/projects/…`; `--resume <id>` from the same cwd; nothing to re-attach to after a reload | same transcript, but the live process dies with its host (reload = resume anyway) | same as (a) (`resume` option); streaming input mode = (b) | the terminal may survive a window reload; `--session-id` known up front; resume with `--resume` | the daemon keeps sessions alive beyond the host; `--bg --resume <id>` continues one |');
w('| tool-use parity | full CLI toolset | full | full (same binary) | full | full in a linked worktree; in the main checkout edits are refused until the session enters a worktree (or `bgIsolation: "none"`) |');
w('| permission handling | `can_use_tool` control requests answered by Grove (notification) | same | `canUseTool` callback (same protocol underneath) | the TUI\'s own dialog; Grove sees `PermissionRequest` / `Notification` hooks | TUI dialog inside the session; visible only via `attach` |');
w('| context control | `--append-system-prompt`, `--settings`, `--mcp-config`, `--model`, `--max-turns`, `--max-budget-usd` | same | same, as options (`systemPrompt`, `settingSources` — all sources by default, `[]` isolates —, `mcpServers` incl. in-process ones) | same flags at launch; nothing mid-session except typing | `--settings`, `--permission-mode`, `--model`; `claude agents` flags for dispatched sessions |');
w('| cost reporting | `total_cost_usd`, `usage`, `modelUsage` per `result` | same, cumulative per process | same fields | none on the hook channel (transcript only) | per-session token count in `jobs/<id>/state.json`; no cost in `agents --json` |');
w('| interactive take-over | stop, then `claude --resume <id>` in a terminal (Grove "Take Over") | must end the process first (it owns the session) | as (a) | native | `claude attach <id>` |');
w('| failure modes | API errors as `is_error` + exit 1; CLIs that linger after `result` (ended by Grove); start failures visible at once | one crash loses the in-flight turn; an idle process holds memory; stdin back-pressure | as (a), plus SDK/CLI version coupling (some SDK options need a CLI at least as new as the SDK\'s bundled one) | blocked dialogs (trust, API key, bypass) if the config is not seeded; screen cannot be read by an extension | daemon lifecycle, spare processes left over, trust refusal, edit guard; undocumented on-disk formats |');
w();
w('## Decision');
w();
const aStart = med('a', 'startMs'), bFollow = med('b', 'followUpMs'), aFollow = med('a', 'followUpMs'), bIdle = med('b', 'idleRssMb'), dIdle = med('d', 'idleRssMb');
const cStart = med('c', 'startMs');
w(`- **Background mode: (a), unchanged** — \`claude -p --input-format stream-json --output-format stream-json --verbose --permission-prompt-tool stdio\`, one process per turn, \`--session-id\` then \`--resume\`. Start ${fmt(aStart)}; a follow-up costs ${fmt(aFollow)} instead of ${fmt(bFollow)} with (b), but an instance waiting for the user costs 0 MB instead of ${fmt(bIdle, ' MB')} — 20 finished instances would pin ~${bIdle ? ((20 * bIdle) / 1024).toFixed(1) : '?'} GB with (b). The extra latency disappears next to a real model turn (seconds to minutes), "finished" means "no process", and a window reload loses nothing but a session id that is already on disk. Stdin stays open during the turn because the stdio permission protocol needs it.`);
w(`- **Not the Agent SDK (c)** — it speaks the same stream-json to the same binary (start ${fmt(cStart)} vs ${fmt(aStart)}, the same memory, the same tool set), so it adds no capability Grove lacks, while it would add ${mb(sdkBytes)} / ${sdkPackages} packages (or ${(sdkBundleBytes / 1024).toFixed(0)} KiB of bundled JS plus a ${mb(sdkBinaryBytes)} binary to ship or to point away from), ESM-only loading, and version coupling between the SDK and the user's CLI. Grove's own driver is ${(groveOwnBytes / 1024).toFixed(1)} KiB of its own code. Revisit if the stream-json protocol stops being stable for non-SDK hosts.`);
w(`- **Terminal mode: (d), unchanged** — the real TUI in a VS Code terminal with Grove's hook settings (\`--settings\`), the config seeded so nothing blocks, trust carried to the worktree. Start → \`SessionStart\` ${fmt(med('d', 'startMs'))}; status comes from hooks, never from the screen; it idles at ~${fmt(dIdle, ' MB')} per session, which the user chose by wanting a live terminal.`);
w(`- **Long-lived stream-json (b)**: not used as the default; its only gain is the follow-up latency. It remains the right tool for a short burst of quick follow-ups, if Grove ever needs that.`);
w(`- **Claude Code's own \`--bg\` / \`claude agents\` (e)**: not a driver for Grove. Started in a worktree Grove made it edits normally (row e″) and Grove's hooks work through \`--settings\`, so it *could* be one; but it brings a supervisor daemon with pre-spawned spare sessions (a ${fmt(med('e', 'peakRssMb'), ' MB')} tree for one session, vs ${fmt(med('a', 'peakRssMb'), ' MB')} for (a) while it runs and 0 after), ${fmt(med('e', 'startMs'))} to \`SessionStart\` vs ${fmt(med('a', 'startMs'))} to \`system/init\`, no \`result\`/cost stream, permission prompts only visible through \`claude attach\`, sockets outside \`CLAUDE_CODE_TMPDIR\`, and undocumented state files — for nothing (a) lacks. Worth showing read-only: \`claude agents --json\` works offline and gives \`cwd\` + \`sessionId\`, so Grove can list the user's own background sessions under the matching worktree (with "Attach in Terminal" = \`claude attach <id>\`). Left to the lead: whether to poll it (a CLI start per refresh) or only on demand.`);
w();
w(`Reproduce: \`npm run bench:strategy\` (took ${((Date.now() - started) / 1000).toFixed(0)} s here, ${benchSeconds.toFixed(0)} s of it measuring). Raw numbers of the last run: \`out/bench/strategy.json\`.`);
w();
fs.mkdirSync('docs', { recursive: true });
fs.writeFileSync('docs/strategy.md', L.join('\n'));
log(`wrote docs/strategy.md in ${((Date.now() - started) / 1000).toFixed(0)} s`);
