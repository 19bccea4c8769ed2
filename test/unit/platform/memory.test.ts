import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { treeRssMb } from '../../../src/core/platform/memory';
import type { InstanceSnapshot } from '../../../src/core/model';
import { AgentMemory } from '../../../src/vscode/tree/agentMemory';

/** A node process that starts a child holding `mb` MB of touched memory, and prints "ready" once it does. */
function holder(mb: number): Promise<ChildProcess> {
  const child = `const b = Buffer.alloc(${mb} * 1024 * 1024, 1); process.stdout.write('ready'); setInterval(() => b[0]++, 1000);`;
  const parent = `const c = require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(child)}], { stdio: ['ignore', 'pipe', 'inherit'] });
c.stdout.on('data', () => process.stdout.write('ready')); process.on('SIGTERM', () => { c.kill(); process.exit(0); });`;
  const p = spawn(process.execPath, ['-e', parent], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', () => resolve(p));
    p.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
}

const snapshot = (id: string, pid: number, host = os.hostname()): InstanceSnapshot =>
  ({ id, title: id, state: 'running', agent: { pid, host } } as unknown as InstanceSnapshot);

describe('agent memory', function () {
  this.timeout(30_000);
  const procs: ChildProcess[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) p.kill('SIGTERM');
  });

  it('reads the resident memory of each agent with its child processes, in one pass', async () => {
    const [a, b] = await Promise.all([holder(80), holder(10)]);
    procs.push(a, b);
    const mb = await treeRssMb([a.pid!, b.pid!, 999_999_999]);
    if (process.platform === 'win32') return assert.equal(mb.size, 0, 'Windows has no cheap reading: none is shown');
    assert.ok(mb.get(a.pid!)! >= 80, `the 80 MB child counts: ${mb.get(a.pid!)}`);
    assert.ok(mb.get(b.pid!)! < mb.get(a.pid!)! - 50, `each tree is its own: ${[...mb]}`);
    assert.equal(mb.has(999_999_999), false, 'a process that does not exist has no reading');
  });

  it('samples only while the view is visible and an agent on this machine is live', async () => {
    const p = await holder(40);
    procs.push(p);
    let instances: InstanceSnapshot[] = [snapshot('live', p.pid!), snapshot('elsewhere', p.pid!, 'another-host')];
    const memory = new AgentMemory(() => instances, 50);
    let changes = 0;
    memory.onDidChange(() => changes++);
    try {
      memory.instancesChanged();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(memory.rssMb('live'), undefined, 'nothing is read while the view is hidden');
      assert.equal(changes, 0);

      memory.setVisible(true);
      if (process.platform === 'win32') return;
      for (let i = 0; i < 100 && memory.rssMb('live') === undefined; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(memory.rssMb('live')! >= 40, `${memory.rssMb('live')}`);
      assert.equal(memory.rssMb('elsewhere'), undefined, 'an agent of another machine has no local reading');
      const seen = changes;
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(changes - seen <= 1, `a steady reading does not refresh the view (${changes - seen} changes)`);

      instances = [{ ...instances[0]!, state: 'done', agent: undefined } as InstanceSnapshot];
      memory.instancesChanged();
      assert.equal(memory.rssMb('live'), undefined, 'the reading goes with the agent');
    } finally {
      memory.dispose();
    }
  });
});
