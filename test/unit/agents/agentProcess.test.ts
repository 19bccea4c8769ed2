import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { AgentProcess, MARKER_VAR } from '../../../src/core/agents/agentProcess';
import { killAgentGroup } from '../../../src/core/agents/processControl';
import { linuxProcessTable, localTreeIo, type TreeIo } from '../../../src/core/platform/processTree';
import { pidAlive, processesMatching, sleep } from '../../support/agentFixtures';

const NODE = process.execPath;
const SETSID = ['/usr/bin/setsid', '/bin/setsid'].find((p) => fs.existsSync(p));

/**
 * An agent (a shell) that ignores SIGINT and SIGTERM, as a CLI stuck in a tool call may, with a child in its group
 * (a `sleep`, which inherits that), and a grandchild in a session of its own with an EMPTY environment: neither the
 * agent's group nor the environment marker reaches it; only a snapshot of the tree taken before the first signal
 * does. The processes are told apart by their unique sleep times, put together by the shell so that the agent's own
 * command line holds only their common prefix `mark`.
 */
function agent(mark: string): { command: string; args: string[] } {
  const script = `trap '' INT TERM; A=${mark}; env -i ${SETSID} /bin/sleep \${A}1 & /bin/sleep \${A}2 & wait; wait`;
  return { command: '/bin/sh', args: ['-c', script] };
}
const grandchild = (mark: string) => `sleep ${mark}1`;
const child = (mark: string) => `sleep ${mark}2`;

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('agent process trees (real processes)', function () {
  this.timeout(30_000);
  let mark: string;
  beforeEach(function () {
    if (process.platform !== 'linux' || !SETSID) this.skip();
    mark = `7${Math.floor(Math.random() * 9e6) + 1e6}`;
  });
  afterEach(() => {
    // Never leave a stray process behind, whatever the outcome.
    for (const line of mark ? processesMatching(mark) : []) {
      try {
        process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });

  it('stop ends a setsid grandchild without the marker: the tree is read before the group is signalled', async () => {
    const proc = new AgentProcess({ ...agent(mark), cwd: process.cwd(), env: process.env, stopTimeouts: { interruptMs: 300, terminateMs: 300 } });
    try {
      await until('the grandchild', () => processesMatching(grandchild(mark)).length > 0);
      await until('the child', () => processesMatching(child(mark)).length > 0);
      const exit = await proc.stop();
      assert.equal(exit.stoppedByUser, true);
      assert.equal(exit.signal, 'SIGKILL', 'it ignored SIGINT and SIGTERM');
      await sleep(200);
      assert.deepEqual(processesMatching(mark), [], 'a process of the tree survived the stop');
    } finally {
      proc.dispose();
    }
  });

  it('a stop of a foreign agent (CLI, another window) ends its whole tree too', async () => {
    const { command, args } = agent(mark);
    const root = spawn(command, args, { detached: true, stdio: 'ignore', env: { ...process.env, [MARKER_VAR]: randomUUID() } });
    await until('the grandchild', () => processesMatching(grandchild(mark)).length > 0);
    await until('the child', () => processesMatching(child(mark)).length > 0);
    await killAgentGroup(root.pid!, 300);
    await sleep(200);
    assert.equal(pidAlive(root.pid!), false);
    assert.deepEqual(processesMatching(mark), [], 'a process of the tree survived');
  });

  it('the snapshot is taken before the first signal, and each step reads the table again', async () => {
    const calls: string[] = [];
    const io: TreeIo = {
      ...localTreeIo,
      table: (m) => (calls.push('table'), linuxProcessTable(m)),
      tableAsync: async (m) => (calls.push('table'), linuxProcessTable(m)),
      kill: (target, sig) => (calls.push(`${sig}`), localTreeIo.kill(target, sig)),
    };
    const proc = new AgentProcess({ ...agent(mark), cwd: process.cwd(), env: process.env, stopTimeouts: { interruptMs: 200, terminateMs: 200 }, treeIo: io });
    try {
      await until('the grandchild', () => processesMatching(grandchild(mark)).length > 0);
      await proc.stop();
      const first = calls.findIndex((c) => c.startsWith('SIG'));
      assert.ok(first > 0 && calls.slice(0, first).includes('table'), calls.join(' '));
      assert.deepEqual([...new Set(calls.filter((c) => c.startsWith('SIG')))], ['SIGINT', 'SIGTERM', 'SIGKILL']);
    } finally {
      proc.dispose();
    }
  });

  it('ELECTRON_RUN_AS_NODE of the host never reaches the agent', async () => {
    const proc = new AgentProcess({ command: NODE, args: ['-e', 'process.stdout.write(String(process.env.ELECTRON_RUN_AS_NODE) + " " + process.env.GROVE_KEPT)'], cwd: process.cwd(), env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', GROVE_KEPT: 'yes' } });
    let out = '';
    proc.onDidOutput((o) => (out += o.data.toString()));
    await proc.exited;
    assert.equal(out, 'undefined yes');
  });
});
