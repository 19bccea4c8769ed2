import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  linuxProcessTable, parseLinuxStat, parsePsTable, parseWindowsTable, planTreeKill, ProcessTree, type ProcessRow, type TreeIo,
} from '../../../src/core/platform/processTree';

const SELF = 50;

describe('process trees: planners per platform (injected tables)', () => {
  // Grove (50) started the agent 100 as a group leader. 101 is a tool in its group; 102 a `setsid` tool (its own
  // session and group) with a child 103; 200 an orphan that was re-parented to init but carries the marker; 300 and
  // 301 belong to nobody we know; 51 is another child of Grove in Grove's own group.
  const table: ProcessRow[] = [
    { pid: 1, ppid: 0, pgid: 1 },
    { pid: SELF, ppid: 1, pgid: SELF },
    { pid: 51, ppid: SELF, pgid: SELF },
    { pid: 100, ppid: SELF, pgid: 100, startTime: '1000' },
    { pid: 101, ppid: 100, pgid: 100 },
    { pid: 102, ppid: 101, pgid: 102 },
    { pid: 103, ppid: 102, pgid: 102 },
    { pid: 200, ppid: 1, pgid: 200, marked: true },
    { pid: 201, ppid: 200, pgid: 200 },
    { pid: 300, ppid: 1, pgid: 300 },
    { pid: 301, ppid: 300, pgid: 300 },
  ];

  for (const platform of ['linux', 'darwin'] as const) {
    it(`${platform}: the root's group, every group a member leads, then members outside them; never Grove or strangers`, () => {
      const plan = planTreeKill(platform, table, 100, { self: SELF });
      assert.deepEqual(plan.members.map((m) => m.pid).sort((a, b) => a - b), [100, 101, 102, 103, 200, 201]);
      assert.equal(plan.members[0].pid, 100, 'the root comes first');
      assert.deepEqual(plan.actions, [
        { kind: 'group', pgid: 100 },
        { kind: 'group', pgid: 200 },
        { kind: 'group', pgid: 102 },
      ]);
    });
  }

  it('posix: after the root died, a re-parented member seen in an earlier snapshot is still one; a reused pid is not', () => {
    const later: ProcessRow[] = [
      { pid: SELF, ppid: 1, pgid: SELF },
      { pid: 102, ppid: 1, pgid: 102, startTime: '1200' },
      { pid: 103, ppid: 102, pgid: 102 },
      // 101 died and its pid was reused by a stranger.
      { pid: 101, ppid: 1, pgid: 101, startTime: '9999' },
      { pid: 104, ppid: 1, pgid: 1 },
    ];
    const known = new Map<number, string | undefined>([[100, '1000'], [101, '1100'], [102, '1200'], [104, undefined]]);
    const plan = planTreeKill('linux', later, 100, { self: SELF, known });
    assert.deepEqual(plan.members.map((m) => m.pid), [102, 104, 103]);
    // 104 sits in init's group: signalled alone, never as a group.
    assert.deepEqual(plan.actions, [{ kind: 'group', pgid: 102 }, { kind: 'pid', pid: 104 }]);
  });

  it('posix: a new process that got the root pid (another start time) is not the root, nor is the group it leads', () => {
    const t: ProcessRow[] = [
      { pid: SELF, ppid: 1, pgid: SELF },
      { pid: 100, ppid: 1, pgid: 100, startTime: '5000' },
      { pid: 105, ppid: 100, pgid: 100, startTime: '5001' },
      { pid: 102, ppid: 1, pgid: 102, startTime: '1200', marked: true },
    ];
    const plan = planTreeKill('linux', t, 100, { self: SELF, known: new Map([[100, '1000']]) });
    assert.deepEqual(plan.members.map((m) => m.pid), [102]);
    assert.deepEqual(plan.actions, [{ kind: 'group', pgid: 102 }]);
  });

  it("posix: a root that is not a group leader (in Grove's own group) is signalled by pid, never Grove's group", () => {
    const t: ProcessRow[] = [
      { pid: SELF, ppid: 1, pgid: SELF },
      { pid: 60, ppid: SELF, pgid: SELF },
      { pid: 61, ppid: 60, pgid: SELF },
    ];
    assert.deepEqual(planTreeKill('linux', t, 60, { self: SELF }).actions, [{ kind: 'pid', pid: 60 }, { kind: 'pid', pid: 61 }]);
  });

  const win: ProcessRow[] = [
    { pid: 4, ppid: 0 },
    { pid: SELF, ppid: 1, startTime: '100' },
    { pid: 10, ppid: SELF, startTime: '1000' },
    { pid: 11, ppid: 10, startTime: '1100' },
    { pid: 12, ppid: 11, startTime: '1200' },
    // A process whose dead parent had pid 10 before the agent: older than the root, not its child.
    { pid: 13, ppid: 10, startTime: '500' },
    { pid: 14, ppid: 99, startTime: '1300' },
  ];

  it('win32: taskkill of the root (it still knows its children), then of every member, parents first', () => {
    const plan = planTreeKill('win32', win, 10, { self: SELF });
    assert.deepEqual(plan.actions, [{ kind: 'taskkill', pid: 10 }, { kind: 'taskkill', pid: 11 }, { kind: 'taskkill', pid: 12 }]);
  });

  it('win32: once the root exited, its children are those created while it ran (pids are reused)', () => {
    const t: ProcessRow[] = [
      ...win.filter((r) => r.pid !== 10),
      // Created after the root exited, by a new process that got pid 10: not ours.
      { pid: 15, ppid: 10, startTime: '2500' },
    ];
    const plan = planTreeKill('win32', t, 10, { self: SELF, known: new Map([[10, '1000']]), rootExitedAt: '2000' });
    assert.deepEqual(plan.actions, [{ kind: 'taskkill', pid: 11 }, { kind: 'taskkill', pid: 12 }]);
    // A new process with the root's pid is not the root.
    const reused = planTreeKill('win32', [...t, { pid: 10, ppid: 1, startTime: '2400' }], 10, { known: new Map([[10, '1000']]), rootExitedAt: '2000' });
    assert.ok(!reused.members.some((m) => m.pid === 10 || m.pid === 15), JSON.stringify(reused.members));
  });

  it('win32: a root that exited unseen takes only children created after it was spawned, none without that bound', () => {
    const t: ProcessRow[] = [
      { pid: SELF, ppid: 1, startTime: '100' },
      // An old process whose long-dead parent had the pid the root got later.
      { pid: 20, ppid: 10, startTime: '400' },
      { pid: 21, ppid: 10, startTime: '1100' },
      { pid: 22, ppid: 21, startTime: '1150' },
    ];
    assert.deepEqual(planTreeKill('win32', t, 10, { self: SELF, rootExitedAt: '2000' }).members, [], 'without a bound nothing is taken');
    const plan = planTreeKill('win32', t, 10, { self: SELF, rootExitedAt: '2000', rootStartedAfter: '1000' });
    assert.deepEqual(plan.actions, [{ kind: 'taskkill', pid: 21 }, { kind: 'taskkill', pid: 22 }]);
  });

  it('win32: a child whose parent dies between the snapshot and the taskkill is still ended', () => {
    // An emulated Windows: taskkill /T ends a process and, at that moment, the processes whose parent id is it.
    const procs = new Map<number, ProcessRow>(win.filter((r) => r.pid !== 13).map((r) => [r.pid, { ...r }]));
    const calls: number[] = [];
    const io: TreeIo = {
      platform: 'win32',
      table: () => [...procs.values()].map((r) => ({ ...r })),
      kill: () => assert.fail('no POSIX signal on Windows'),
      taskkill: (pid) => {
        calls.push(pid);
        const end = (p: number) => {
          procs.delete(p);
          for (const c of [...procs.values()]) if (c.ppid === p) end(c.pid);
        };
        end(pid);
      },
      isAlive: (pid) => procs.has(pid),
      startTime: () => undefined,
      now: () => '2000',
      self: SELF,
    };
    const tree = new ProcessTree(10, undefined, io);
    tree.snapshot();
    procs.delete(11); // the tool exits by itself: 12 is an orphan that taskkill /T of 10 no longer reaches
    tree.signal('SIGKILL');
    assert.deepEqual(calls, [10, 12]);
    assert.deepEqual([...procs.keys()].sort((a, b) => a - b), [4, 14, SELF]);
  });
});

describe('process trees: a host that exits', () => {
  for (const platform of ['win32', 'linux'] as const) {
    it(`${platform}: ends the root and the remembered members without reading the table again`, () => {
      let tables = 0;
      const calls: string[] = [];
      const rows: ProcessRow[] = [{ pid: SELF, ppid: 1, pgid: SELF }, { pid: 10, ppid: SELF, pgid: 10 }, { pid: 11, ppid: 10, pgid: 11 }];
      const io: TreeIo = {
        platform,
        table: () => (tables++, rows),
        kill: (t, sig) => (calls.push(`kill ${t} ${sig}`), true),
        taskkill: (pid) => void calls.push(`taskkill ${pid}`),
        isAlive: () => true,
        startTime: () => undefined,
        now: () => undefined,
        self: SELF,
      };
      const tree = new ProcessTree(10, undefined, io);
      tree.snapshot();
      tree.signalKnown('SIGKILL');
      assert.equal(tables, 1, 'only the snapshot read the table');
      assert.deepEqual(calls, platform === 'win32' ? ['taskkill 10', 'taskkill 11'] : ['kill -10 SIGKILL', 'kill 10 SIGKILL', 'kill 11 SIGKILL']);
    });
  }
});

describe('process trees: reading the table', () => {
  it('parses /proc/<pid>/stat with spaces and parentheses in the command name, and leaves zombies out', () => {
    const fields = (state: string) => `${state} 4242 4243 4243 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100`;
    assert.deepEqual(parseLinuxStat(`4244 (we ird) (x) ${fields('S')}`), { pid: 4244, ppid: 4242, pgid: 4243, startTime: '987654' });
    assert.equal(parseLinuxStat(`4244 (z) ${fields('Z')}`), undefined);
  });

  it('parses `ps -A -E -o pid=,ppid=,pgid=,command=` (macOS) with the marker found in the environment part', () => {
    const token = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    const out = [
      '    1     0     1 /sbin/launchd',
      `  500     1   500 /bin/zsh -c sleep 100 HOME=/Users/a GROVE_AGENT_PROCESS=${token} PATH=/usr/bin`,
      `  501   500   500 sleep 100 GROVE_AGENT_PROCESS=${token}`,
      `  502     1   502 echo GROVE_AGENT_PROCESS=${token}x`,
      '  503   501   500 (sleep) <defunct>',
      '',
    ].join('\n');
    assert.deepEqual(parsePsTable(out, { name: 'GROVE_AGENT_PROCESS', token }), [
      { pid: 1, ppid: 0, pgid: 1, marked: false },
      { pid: 500, ppid: 1, pgid: 500, marked: true },
      { pid: 501, ppid: 500, pgid: 500, marked: true },
      { pid: 502, ppid: 1, pgid: 502, marked: false },
    ]);
    assert.deepEqual(parseWindowsTable('0 0 \r\n4 0\r\n7788 4 133512345678901234\r\n'), [
      { pid: 0, ppid: 0 }, { pid: 4, ppid: 0 }, { pid: 7788, ppid: 4, startTime: '133512345678901234' },
    ]);
  });

  it('linux: the real table shows a child with its parent, group, start time and marker', async function () {
    if (process.platform !== 'linux') this.skip();
    const token = randomUUID();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { env: { ...process.env, GROVE_AGENT_PROCESS: token }, detached: true, stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const rows = linuxProcessTable({ name: 'GROVE_AGENT_PROCESS', token });
      const row = rows.find((r) => r.pid === child.pid)!;
      assert.ok(row, 'the child is in the table');
      assert.equal(row.ppid, process.pid);
      assert.equal(row.pgid, child.pid, 'detached: leads its own group');
      assert.match(row.startTime ?? '', /^\d+$/);
      assert.equal(row.marked, true);
      assert.equal(rows.find((r) => r.pid === process.pid)?.marked, false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
