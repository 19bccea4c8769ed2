// The ownership protocol between the extension and `grove` processes on one repository: a killed CLI driver leaves
// nothing running and no slot taken; a read (`grove status`) never changes what the extension drives.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { InstanceSnapshot, InstanceState } from '../../src/core/model';
import { hang, text, write, type ScriptRule } from '../support/scriptedModel';
import { api, repoRoot, setConfig, until, untilInstance, useScriptedAgents, workspaceRepo } from './helpers';

const rule: ScriptRule = (req) => {
  if (/Hang/.test(req.firstUserText)) return hang();
  if (req.isToolResult) return text('Done.');
  const name = /Write ([\w-]+)\.txt/.exec(req.lastUserText)?.[1] ?? 'unnamed';
  return write(`${name}.txt`, `${name}\n`);
};

describe('ownership between the extension and grove processes', function () {
  this.timeout(240_000);
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
  let env: Record<string, string>;
  const cliPath = () => path.join(repoRoot(), 'dist', 'cli.js');

  before(async () => {
    agents = await useScriptedAgents(rule);
    const agentEnv = vscode.workspace.getConfiguration('grove').get<Record<string, string>>('agentEnv')!;
    env = { ...process.env as Record<string, string>, ...agentEnv, ELECTRON_RUN_AS_NODE: '1', GROVE_CLAUDE_PATH: path.join(repoRoot(), 'node_modules', '.bin', 'claude') };
  });

  after(async () => {
    await setConfig({ maxConcurrent: undefined });
    await agents?.dispose();
  });

  it('a CLI driver killed with SIGKILL: within 10 s its instances are interrupted and the extension\'s queued work takes the freed slots', async () => {
    const a = await api();
    await setConfig({ maxConcurrent: 2 });
    const plan = path.join(workspaceRepo(), 'killed-plan.md');
    fs.writeFileSync(plan, '## Killed one\nHang\n\n## Killed two\nHang\n');
    const child = spawn(process.execPath, [cliPath(), 'dispatch', '--plan', plan, '--max', '2', '--repo', workspaceRepo()], { env, stdio: 'ignore' });
    const theirs = await until('both CLI agents running', () => {
      const list = a.instances().filter((i) => i.title.startsWith('Killed ') && i.state === 'running' && i.agent);
      return list.length === 2 ? list : undefined;
    });
    assert.ok(theirs.every((i) => i.driver?.pid === child.pid && i.driver?.kind === 'cli'), 'the CLI is recorded as their driver');
    const [mine] = await a.dispatch([{ title: 'Takes a freed slot', prompt: 'Write freed.txt' }], { mode: 'background' });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(a.instances().find((i) => i.id === mine.id)!.state, 'queued', 'both slots of the repository are held by the CLI\'s agents');

    const killedAt = Date.now();
    child.kill('SIGKILL');
    for (const t of theirs) await untilInstance(a, t.id, (i) => i.state === 'interrupted', `"${t.title}" interrupted`, 10_000);
    assert.ok(Date.now() - killedAt < 10_000);
    const interrupted = a.instances().filter((i) => theirs.some((t) => t.id === i.id));
    assert.ok(interrupted.every((i) => /grove CLI \(pid \d+.*\) ended/.test(i.error ?? '')), JSON.stringify(interrupted.map((i) => i.error)));
    const done = await untilInstance(a, mine.id, (i) => i.state === 'done', 'the queued task to run in a freed slot', 60_000);
    assert.ok(fs.existsSync(path.join(done.worktreePath, 'freed.txt')));
    for (const t of theirs) {
      const pid = t.agent!.pid;
      await until(`the orphaned agent ${pid} ended`, () => {
        try {
          process.kill(pid, 0);
          return undefined;
        } catch {
          return true;
        }
      }, 15_000);
    }
    await setConfig({ maxConcurrent: undefined });
  });

  it('`grove status` run over and over while 20 extension agents start, run and finish changes no instance', async () => {
    const a = await api();
    await setConfig({ maxConcurrent: 20 });
    const seen = new Map<string, InstanceState[]>();
    const sub = a.onDidChangeInstances((all) => {
      for (const i of all) {
        const states = seen.get(i.id) ?? [];
        if (states[states.length - 1] !== i.state) states.push(i.state);
        seen.set(i.id, states);
      }
    });
    let reads = 0;
    let stop = false;
    const statusLoop = (async () => {
      while (!stop) {
        await new Promise<void>((resolve, reject) => execFile(process.execPath, [cliPath(), 'status', '--json', '--repo', workspaceRepo()], { env, timeout: 60_000 },
          (err, stdout) => (err ? reject(err) : (JSON.parse(stdout) as InstanceSnapshot[], reads++, resolve()))));
      }
    })();
    try {
      const tasks = Array.from({ length: 20 }, (_, k) => ({ title: `Status load ${k + 1}`, prompt: `Write status-${k + 1}.txt` }));
      const created = await a.dispatch(tasks, { mode: 'background' });
      for (const c of created) await untilInstance(a, c.id, (i) => i.state === 'done' || i.state === 'failed', `"${c.title}" to finish`, 180_000);
      stop = true;
      await statusLoop;
      assert.ok(reads >= 3, `only ${reads} status reads ran meanwhile`);
      const final = a.instances().filter((i) => created.some((c) => c.id === i.id));
      assert.deepEqual(final.map((i) => i.state), created.map(() => 'done'));
      for (const c of created) {
        const states = seen.get(c.id) ?? [];
        assert.ok(!states.includes('interrupted'), `"${c.title}" went ${states.join(' → ')}`);
        assert.deepEqual(states.filter((s) => s === 'done').length, 1, `"${c.title}" went ${states.join(' → ')}`);
      }
      // What a reload would find: the registry on disk says done too (its writes are coalesced, so wait a moment).
      const onDisk = () => (JSON.parse(fs.readFileSync(path.join(workspaceRepo(), '.git', 'grove', 'instances.json'), 'utf8')) as { instances: Record<string, InstanceSnapshot> })
        .instances;
      await until('the registry on disk to say done', () => created.every((c) => onDisk()[c.id]?.state === 'done') || undefined, 10_000).catch(() => undefined);
      assert.deepEqual(created.map((c) => onDisk()[c.id]?.state), created.map(() => 'done'));
    } finally {
      stop = true;
      sub.dispose();
      await setConfig({ maxConcurrent: undefined });
    }
  });
});
