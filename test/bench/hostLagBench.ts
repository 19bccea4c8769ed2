// Benchmark module (not a test) loaded by VS Code's extension host as its tests module (extensionTestsPath): how
// long the extension host's event loop stalls while Grove dispatches and runs 20 background agents at once. Bundled
// by test/bench/hostLag.mjs into out/bench/hostLagBench.js; writes its numbers to $GROVE_BENCH_RESULT.
//
// A 100 ms interval timer runs in the extension host (where Grove and every other extension run); each tick records
// how late it fired. The agents are the real Claude Code CLI against the scripted model, which answers every request
// after BENCH_MODEL_DELAY_MS (so all of them are alive together, as with a real model). Meanwhile a `grove.refresh`
// command round-trip and a full render of the Agents view are timed once all agents run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { modelEnv } from '../support/claudeEnv';
import { ScriptedModel, text, write } from '../support/scriptedModel';
import { hostBench, quantile, until } from './hostBench';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 20);
const MODEL_DELAY_MS = Number(process.env.BENCH_MODEL_DELAY_MS ?? 1500);
const TICK_MS = 100;

export async function run(): Promise<void> {
  const { resultFile, repoRoot, ext } = hostBench();
  const api = await ext.activate();
  await api.ready();
  const model = await ScriptedModel.start({
    rule: (req) => {
      if (req.isToolResult) return text('Done with that.', { delayMs: MODEL_DELAY_MS });
      const m = /create (\S+)/i.exec(req.lastUserText);
      return m ? { ...write(m[1], `for: ${req.lastUserText}\n`), delayMs: MODEL_DELAY_MS } : text('Nothing to do.');
    },
  });
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-bench-claude-'));
  const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
  const cfg = vscode.workspace.getConfiguration('grove');
  const settings: Record<string, unknown> = {
    claudePath: path.join(repoRoot, 'node_modules', '.bin', 'claude'),
    agentEnv: modelEnv(model.url, state, 'bench-key', [fs.realpathSync(folder)]),
    notifications: 'off',
    maxConcurrent: AGENTS,
  };
  for (const [k, v] of Object.entries(settings)) await cfg.update(k, v, vscode.ConfigurationTarget.Global);

  const lags: number[] = [];
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - TICK_MS));
    last = now;
  }, TICK_MS);
  try {
    const started = performance.now();
    const queued = await api.dispatch(
      Array.from({ length: AGENTS }, (_, i) => ({ title: `Bench ${i + 1}`, prompt: `Please create bench-${i + 1}.txt` })),
      { mode: 'background' },
    );
    const ids = new Set(queued.map((q) => q.id));
    const mine = () => api.instances().filter((i) => ids.has(i.id));
    await until(`${AGENTS} agents running or done`, () => mine().every((i) => i.state === 'running' || i.state === 'done'), 300_000);
    const allStartedMs = performance.now() - started;
    const runningWhenMeasured = mine().filter((i) => i.state === 'running').length;
    let t = performance.now();
    await vscode.commands.executeCommand('grove.refresh');
    const refreshMs = performance.now() - t;
    t = performance.now();
    await api.viewSnapshot();
    const renderMs = performance.now() - t;
    await until(`all ${AGENTS} done`, () => mine().every((i) => i.state === 'done' || i.state === 'failed'), 300_000);
    const allDoneMs = performance.now() - started;
    const failed = mine().filter((i) => i.state === 'failed').map((i) => `${i.title}: ${i.error}`);
    fs.writeFileSync(resultFile, JSON.stringify({
      vscode: vscode.version, agents: AGENTS, modelDelayMs: MODEL_DELAY_MS, tickMs: TICK_MS,
      maxLagMs: Math.round(Math.max(0, ...lags)), p99LagMs: Math.round(quantile(lags, 0.99)), p95LagMs: Math.round(quantile(lags, 0.95)),
      ticks: lags.length, over500: lags.filter((l) => l > 500).length,
      allStartedMs: Math.round(allStartedMs), allDoneMs: Math.round(allDoneMs), runningWhenMeasured,
      refreshMs: Math.round(refreshMs), renderMs: Math.round(renderMs), failed,
      lockErrors: mine().filter((i) => /\.lock\b|index\.lock|Unable to create/.test(i.error ?? '')).length,
      cpus: os.cpus().length, loadavg: os.loadavg(),
    }));
  } finally {
    clearInterval(probe);
    for (const k of Object.keys(settings)) await cfg.update(k, undefined, vscode.ConfigurationTarget.Global);
    await model.close();
  }
}
