// Benchmark helper (not a test): the stream-json parser's throughput and memory (issue 17). Writes a transcript of
// BENCH_STREAM_MB (default 100) MB to a temporary file — the message mix of a real `claude -p --output-format
// stream-json --verbose` run: assistant text, tool_use (Edit, Write, Bash), user tool_result (file reads, test
// output), result lines, some noise, and one 8 MB line (a large Write) — then reads it back BENCH_STREAM_REPS
// (default 5) times in 64 KiB chunks, as an agent's stdout arrives, through
//   a) ClaudeStreamParser (Grove's parser: lines, JSON, events), and
//   b) the baseline: Node's readline over the same stream with JSON.parse per line (no events).
// Peak RSS above the level before each run is sampled on every chunk. Bundled by test/bench/run.mjs into
// out/bench/streamBench.js and run as `node --expose-gc out/bench/streamBench.js <result.json>`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ClaudeStreamParser } from '../../src/core/agents/claudeStream';

const [out] = process.argv.slice(2);
if (!out) throw new Error('usage: streamBench.js <result.json>');
const MB = Number(process.env.BENCH_STREAM_MB ?? 100);
const REPS = Math.max(1, Number(process.env.BENCH_STREAM_REPS ?? 5));
const log = (s: string) => process.stderr.write(`[stream-bench] ${s}\n`);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

const session = '9c1f7d2e-0b7a-4f5e-9a51-3c2b8d1e6f40';
const words = 'the parser reads each line of the agent stdout and turns it into events for the tree while twenty agents run'.split(' ');
const prose = (n: number, seed: number) => Array.from({ length: n }, (_, i) => words[(i * 7 + seed) % words.length]).join(' ');
const code = (lines: number, seed: number) => Array.from({ length: lines }, (_, i) => `export function f${seed}_${i}(x: number): number {\n  return x * ${i} + ${seed}; // ${prose(6, i)}\n}`).join('\n');

let n = 0;
function line(): string {
  const k = n++;
  switch (k % 10) {
    case 0:
    case 1:
      return JSON.stringify({ type: 'assistant', message: { id: `msg_${k}`, role: 'assistant', model: 'claude-opus-5-5', content: [{ type: 'text', text: prose(40 + (k % 200), k) }], usage: { input_tokens: 1200 + k % 900, cache_read_input_tokens: 30000, output_tokens: 80 } }, session_id: session });
    case 2:
      return JSON.stringify({ type: 'assistant', message: { id: `msg_${k}`, role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${k}`, name: 'Edit', input: { file_path: `/work/app.worktrees/task/src/module${k % 50}.ts`, old_string: code(3, k), new_string: code(5, k) } }] }, session_id: session });
    case 3:
      return JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${k - 1}`, content: `The file src/module${k % 50}.ts has been updated.` }] }, session_id: session });
    case 4:
      return JSON.stringify({ type: 'assistant', message: { id: `msg_${k}`, role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${k}`, name: 'Read', input: { file_path: `/work/app.worktrees/task/src/module${k % 50}.ts` } }] }, session_id: session });
    case 5:
      return JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${k - 1}`, content: code(60 + (k % 120), k) }] }, session_id: session });
    case 6:
      return JSON.stringify({ type: 'assistant', message: { id: `msg_${k}`, role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${k}`, name: 'Bash', input: { command: 'npm test -- --reporter dot', description: 'Run the tests' } }] }, session_id: session });
    case 7:
      return JSON.stringify({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${k - 1}`, content: Array.from({ length: 40 + (k % 60) }, (_, i) => `  ✔ case ${i} ${prose(8, i + k)} (${i % 17} ms)`).join('\n') }] }, session_id: session });
    case 8:
      return k % 40 === 8 ? 'npm warn config production Use `--omit=dev` instead.' : JSON.stringify({ type: 'system', subtype: 'status', status: 'compacting', session_id: session });
    default:
      return JSON.stringify({ type: 'result', subtype: 'success', is_error: false, duration_ms: 12000 + k, num_turns: 3, result: prose(30, k), total_cost_usd: 0.0123, usage: { input_tokens: 100, cache_read_input_tokens: 50, output_tokens: 20 }, session_id: session });
  }
}

async function writeTranscript(file: string): Promise<{ bytes: number; lines: number; longest: number }> {
  const ws = fs.createWriteStream(file);
  let bytes = 0;
  let lines = 0;
  let longest = 0;
  const put = (s: string) => new Promise<void>((resolve) => {
    const b = Buffer.byteLength(s) + 1;
    bytes += b;
    lines++;
    longest = Math.max(longest, b);
    if (ws.write(`${s}\n`)) resolve();
    else ws.once('drain', resolve);
  });
  const target = MB * 1024 * 1024;
  let bigDone = false;
  while (bytes < target) {
    if (!bigDone && bytes > target / 2) {
      bigDone = true;
      await put(JSON.stringify({ type: 'assistant', message: { id: 'msg_big', role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_big', name: 'Write', input: { file_path: '/work/app.worktrees/task/fixtures/large.json', content: code(60_000, 7).slice(0, 8 * 1024 * 1024) } }] }, session_id: session }));
      continue;
    }
    await put(line());
  }
  await new Promise<void>((resolve, reject) => ws.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { bytes, lines, longest };
}

interface Run { seconds: number; mbPerSecond: number; peakRssAboveMb: number; events: number }

async function timed(file: string, bytes: number, consume: (stream: fs.ReadStream, sample: () => void) => Promise<number>): Promise<Run> {
  gc();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sample = () => {
    const r = process.memoryUsage().rss;
    if (r > peak) peak = r;
  };
  const stream = fs.createReadStream(file, { highWaterMark: 64 * 1024 });
  const t = process.hrtime.bigint();
  const events = await consume(stream, sample);
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  return { seconds, mbPerSecond: bytes / 1024 / 1024 / seconds, peakRssAboveMb: (peak - base) / 1024 / 1024, events };
}

const grove = (stream: fs.ReadStream, sample: () => void) => new Promise<number>((resolve, reject) => {
  const p = new ClaudeStreamParser({ cwd: '/work/app.worktrees/task' });
  let events = 0;
  stream.on('data', (chunk) => {
    events += p.push(chunk as Buffer).events.length;
    sample();
  });
  stream.on('error', reject);
  stream.on('end', () => resolve(events + p.end().events.length));
});

const baseline = async (stream: fs.ReadStream, sample: () => void) => {
  let parsed = 0;
  stream.on('data', sample);
  for await (const l of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
    if (!l.startsWith('{')) continue;
    try {
      JSON.parse(l);
      parsed++;
    } catch {
      // noise
    }
  }
  return parsed;
};

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-stream-'));
  const file = path.join(dir, 'transcript.jsonl');
  try {
    log(`writing a ${MB} MB transcript`);
    const t = await writeTranscript(file);
    const runs: { grove: Run[]; baseline: Run[] } = { grove: [], baseline: [] };
    for (let i = 0; i < REPS; i++) {
      // Alternate which side goes first, so neither always gets the warm page cache.
      const order = i % 2 ? (['baseline', 'grove'] as const) : (['grove', 'baseline'] as const);
      for (const side of order) {
        const r = await timed(file, t.bytes, side === 'grove' ? grove : baseline);
        runs[side].push(r);
        log(`run ${i + 1} ${side}: ${r.mbPerSecond.toFixed(1)} MB/s, peak RSS +${r.peakRssAboveMb.toFixed(1)} MB, ${r.events} ${side === 'grove' ? 'events' : 'lines parsed'}`);
      }
    }
    fs.writeFileSync(out, JSON.stringify({ mb: t.bytes / 1024 / 1024, lines: t.lines, longestLineMb: t.longest / 1024 / 1024, runs, at: new Date().toISOString().slice(0, 16).replace('T', ' '), load: os.loadavg() }, null, 2));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
