// `grove dispatch --detach`: the BUILT dist/cli.js hands the tasks to a background driver process and exits at once;
// the driver runs the real Claude Code CLI against the scripted model, is reused by the next dispatch, is seen by
// `grove status` as the instances' driver, and exits when nothing is left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { InstanceSnapshot } from '../../../src/core/model';
import { claudeBin, claudeEnv, repoRoot } from '../../support/claudeEnv';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { ScriptedModel, text, write } from '../../support/scriptedModel';

const CLI = path.join(repoRoot(), 'dist', 'cli.js');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('grove dispatch --detach (background driver, real Claude CLI)', function () {
  this.timeout(90_000);
  const repos = useTempRepos();
  let model: ScriptedModel;
  let driverPid: number | undefined;

  repos.closeFirst(async () => {
    if (driverPid && alive(driverPid)) process.kill(driverPid, 'SIGKILL');
    await model?.close();
  });

  it('returns the ids at once and exits; the driver (reused by a second dispatch) runs the agents to done, then exits', async () => {
    // Alpha's agent takes 2.5 s to answer: the second dispatch arrives while the driver is busy.
    model = await ScriptedModel.start({
      rule: (req) => (req.isToolResult ? text('Done.') : /alpha/.test(req.lastUserText) ? { ...write('alpha.txt', 'alpha\n'), delayMs: 2500 } : write('beta.txt', 'beta\n')),
    });
    const repo = repos.create({ files: { 'README.md': '# demo\n' } });
    const env = { ...claudeEnv({ root: repos.dir('claude'), baseUrl: model.url }).env, ...gitTestEnv };
    let lastPid = 0;
    const grove = (...args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
      const t0 = Date.now();
      // Each command leads its own process group, like a job of a shell: what a closed terminal hangs up.
      const child = spawn(process.execPath, [CLI, ...args, '--repo', repo, '--claude-path', claudeBin()], { env, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      lastPid = child.pid!;
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
    });
    const status = async (): Promise<InstanceSnapshot[]> => JSON.parse((await grove('status', '--json')).stdout);

    const first = await grove('dispatch', '--prompt', 'Create alpha.txt', '--title', 'Alpha', '--detach', '--json');
    assert.equal(first.code, 0, first.stderr);
    const a = JSON.parse(first.stdout);
    driverPid = a.driver?.pid; // killed after the test if an assertion fails before it exits by itself
    assert.equal(a.ok, true);
    assert.equal(a.detached, true);
    assert.equal(a.driver.started, true);
    assert.deepEqual(a.instances.map((i: InstanceSnapshot) => i.title), ['Alpha']);
    assert.match(a.instances[0].state, /^(queued|provisioning)$/, 'queued (the driver may already be creating its worktree)');
    assert.ok(first.ms < 5000, `dispatch --detach took ${first.ms} ms`);
    assert.equal(typeof driverPid, 'number');
    assert.notEqual(driverPid, process.pid);
    assert.ok(alive(driverPid!), 'the driver runs after the dispatching process exited');
    if (process.platform !== 'win32') {
      // A terminal that closes hangs up its jobs' process groups: the dispatch's group has nobody left in it.
      assert.throws(() => process.kill(-lastPid, 'SIGHUP'), (e: NodeJS.ErrnoException) => e.code === 'ESRCH', 'the driver is not in the dispatching process group');
    }

    const second = await grove('dispatch', '--prompt', 'Create beta.txt', '--title', 'Beta', '--detach');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`^Handed to the background driver \\(pid ${driverPid}; log .*driver\\.log\\): 1 task\\(s\\) queued`));
    assert.match(second.stdout, /^[0-9a-f]{8} {2}(queued|provisioning) {2}Beta\n$/);
    assert.ok(second.ms < 5000, `the second dispatch --detach took ${second.ms} ms`);

    let running: InstanceSnapshot | undefined;
    let now: InstanceSnapshot[] = [];
    for (let i = 0; i < 300; i++) {
      now = await status();
      running ??= now.find((s) => s.title === 'Alpha' && s.state === 'running');
      if (now.length === 2 && now.every((s) => s.state === 'done')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(running, 'grove status saw Alpha running');
    assert.deepEqual([running.driver?.kind, running.driver?.pid], ['daemon', driverPid], 'grove status names the background driver as its driver');
    assert.deepEqual(now.map((s) => [s.title, s.state]).sort(), [['Alpha', 'done'], ['Beta', 'done']]);
    assert.equal(fs.readFileSync(path.join(now.find((s) => s.title === 'Beta')!.worktreePath, 'beta.txt'), 'utf8'), 'beta\n');

    const dir = path.join(git(repo, 'rev-parse', '--path-format=absolute', '--git-common-dir'), 'grove', 'driver');
    for (let i = 0; i < 100 && alive(driverPid!); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(driverPid!), false, `the driver exits once nothing is left; its log:\n${fs.readFileSync(path.join(dir, 'driver.log'), 'utf8')}`);
    assert.equal(fs.existsSync(path.join(dir, 'driver.json')), false, 'it released its registration');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'inbox')), [], 'the inbox is empty');
    const log = fs.readFileSync(path.join(dir, 'driver.log'), 'utf8');
    assert.match(log, /background driver \d+ for /);
    assert.match(log, /idle: nothing left to drive; exiting/);
    driverPid = undefined;
  });
});
