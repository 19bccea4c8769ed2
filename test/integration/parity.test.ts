// One control plane: each scenario runs through the extension (its public API or commands, in this extension host)
// and through the `grove` CLI (a child process on the same repository and registry), and must end the same way.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { mergeMessage } from '../../src/core/git/mergeService';
import type { GroveApi } from '../../src/extension';
import type { InstanceSnapshot } from '../../src/core/model';
import { bash, hang, text, write, type ScriptRule } from '../support/scriptedModel';
import { api, flatten, repoRoot, setConfig, until, untilInstance, useScriptedAgents, workspaceRepo } from './helpers';

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

/** Tasks say what the scripted model does: "Write <name>.txt", "Ask for Bash", "Hang", "Edit README". */
const rule: ScriptRule = (req) => {
  const task = req.firstUserText;
  if (/Hang/.test(task)) return hang();
  if (req.isToolResult) return text(`Finished: ${task.split('\n')[0]}`);
  if (/Ask for Bash/.test(task)) return bash(`node -e "require('fs').writeFileSync('bash.txt', 'parity')"`, 'write bash.txt'); // acceptEdits lets a plain echo redirect run unasked
  if (/Edit README/.test(task)) return write('README.md', '# changed by the agent\n');
  const name = /Write ([\w-]+)\.txt/.exec(req.lastUserText)?.[1] ?? 'unnamed';
  return write(`${name}.txt`, `${name}\n`);
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('one control plane: the same outcome through VS Code and through the grove CLI', function () {
  this.timeout(240_000);
  let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
  let a: GroveApi;
  let env: Record<string, string>;
  const repo = () => workspaceRepo();
  const children: ReturnType<typeof spawn>[] = [];

  const cli = (args: string[], extra: Record<string, string> = {}): Promise<Run> => new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot(), 'dist', 'cli.js'), ...args, '--repo', repo()], { env: { ...env, ...extra }, timeout: 180_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  const cliInBackground = (args: string[]) => {
    const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'cli.js'), ...args, '--repo', repo()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.resume();
    children.push(child);
    return { child, stderr: () => stderr, exited: new Promise<number | null>((r) => child.on('close', (c) => r(c))) };
  };
  const finished = (i: InstanceSnapshot) => i.state === 'done' || i.state === 'failed' || i.state === 'stopped';
  /** Dispatches through the API and waits until the agent is done. */
  const doneViaApi = async (title: string, prompt: string) => {
    const [q] = await a.dispatch([{ title, prompt }], { mode: 'background' });
    const i = await untilInstance(a, q.id, finished, `"${title}" to finish`);
    assert.equal(i.state, 'done', i.error);
    return i;
  };
  /** The reason and first problem code of an API refusal (the error object comes from the extension's bundle). */
  const apiRefusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      const e = err as { reason?: string; message: string; details?: unknown };
      const first = Array.isArray(e.details) ? (e.details[0] as { code?: string; files?: string[]; output?: string }) : undefined;
      return { reason: e.reason, message: e.message, code: first?.code, files: first?.files, output: first?.output };
    }
    throw new Error('the API call was not refused');
  };

  before(async () => {
    agents = await useScriptedAgents(rule);
    a = await api();
    const agentEnv = vscode.workspace.getConfiguration('grove').get<Record<string, string>>('agentEnv')!;
    env = { ...process.env as Record<string, string>, ...agentEnv, ELECTRON_RUN_AS_NODE: '1', GROVE_CLAUDE_PATH: path.join(repoRoot(), 'node_modules', '.bin', 'claude') };
    await setConfig({ maxConcurrent: 8 });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await setConfig({ maxConcurrent: undefined, checkCommand: undefined, mergeStrategy: undefined, cleanupAfterMerge: undefined });
    await agents?.dispose();
  });

  it('a task a lead agent dispatches over grove mcp shows under the lead in the Agents view', async () => {
    const lead = await doneViaApi('Leads the work', 'Write lead.txt');
    // The lead's tools run with its GROVE_INSTANCE_ID, as a Grove agent's `grove mcp` does.
    const leadEnv: Record<string, string> = { ...env, GROVE_INSTANCE_ID: lead.id };
    delete leadEnv.CLAUDE_CODE_SESSION_ID;
    const server = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'cli.js'), 'mcp', '--repo', repo()], { env: leadEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(server);
    const replies = new Map<number, unknown>();
    let buffer = '';
    server.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const msg = JSON.parse(line) as { id?: number; result?: unknown; error?: unknown };
        if (msg.id !== undefined) replies.set(msg.id, msg.result ?? msg.error);
      }
    });
    const send = (m: object) => server.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    const request = async (id: number, method: string, params: object) => {
      send({ id, method, params });
      return until(`the MCP reply to ${method}`, () => replies.get(id), 180_000) as Promise<{ content?: { text: string }[]; isError?: boolean }>;
    };
    try {
      await request(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'lead-test', version: '1' } });
      send({ method: 'notifications/initialized' });
      const dispatched = await request(2, 'tools/call', { name: 'grove_dispatch', arguments: { tasks: [{ title: 'Child of the lead', prompt: 'Write child.txt' }] } });
      assert.ok(!dispatched.isError, JSON.stringify(dispatched));
      const waited = await request(3, 'tools/call', { name: 'grove_wait', arguments: { timeoutSeconds: 150 } });
      assert.match(waited.content?.[0]?.text ?? '', /"state": "done"/, JSON.stringify(waited));
      const child = await until('the child in the fleet', () => a.instances().find((i) => i.title === 'Child of the lead' && i.state === 'done'));
      assert.equal(child.lead, lead.id);
      const leadRow = await until('the child under its lead', async () => {
        const row = flatten(await a.viewSnapshot()).find((n) => n.kind === 'instance' && n.id === lead.id);
        return row?.children.some((c) => c.kind === 'instance' && c.id === child.id) ? row : undefined;
      });
      assert.ok(!flatten(await a.viewSnapshot()).some((n) => n.kind === 'worktree' && n.children.some((c) => c.id === child.id)), 'the child shows once, under its lead');
      assert.ok(leadRow);
    } finally {
      server.kill();
    }
  });

  it('plan selection: a wrong-case title selects its task; an unknown title is refused, naming the plan\'s tasks', async () => {
    const plan = path.join(repo(), 'parity-plan.md');
    fs.writeFileSync(plan, '## Alpha Task\nWrite alpha.txt\n\n## Beta Task\nWrite beta.txt\n');
    const viaVsCode = await vscode.commands.executeCommand<InstanceSnapshot[]>('grove.dispatchPlan', vscode.Uri.file(plan), { select: ['alpha TASK'], throwErrors: true });
    const viaCli = await cli(['dispatch', '--plan', plan, '--select', 'ALPHA task', '--json']);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.deepEqual(viaVsCode.map((i) => i.title), ['Alpha Task']);
    assert.deepEqual((JSON.parse(viaCli.stdout) as { instances: InstanceSnapshot[] }).instances.map((i) => i.title), ['Alpha Task']);

    const refusedVsCode = await vscode.commands.executeCommand('grove.dispatchPlan', vscode.Uri.file(plan), { select: ['Gamma'], throwErrors: true }).then(() => '', (e: Error) => e.message);
    const refusedCli = await cli(['dispatch', '--plan', plan, '--select', 'Gamma']);
    assert.equal(refusedCli.code, 1);
    for (const m of [refusedVsCode, refusedCli.stderr]) assert.match(m, /The plan has no task titled "Gamma"\. Its tasks: "Alpha Task", "Beta Task"/);
  });

  it('merge: a failing check command blocks it with the check\'s output on both surfaces', async () => {
    const one = await doneViaApi('Checked one', 'Write checked-one.txt');
    const two = await doneViaApi('Checked two', 'Write checked-two.txt');
    const check = 'node -e "console.log(\'the check said no\'); process.exit(3)"';
    await setConfig({ checkCommand: check });
    const viaApi = await apiRefusal(a.merge(one.id, { strategy: 'merge', commit: true }));
    const viaCli = await cli(['merge', two.id, '--strategy', 'merge', '--commit'], { GROVE_CHECK_COMMAND: check });
    await setConfig({ checkCommand: undefined });
    assert.deepEqual([viaApi.reason, viaApi.code], ['Blocked', 'CheckFailed']);
    assert.match(viaApi.output ?? '', /the check said no/);
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.stderr, /the check said no/);
    assert.match(viaCli.stderr, /The check .* failed \(exit 3\)/);
    for (const id of [one.id, two.id]) assert.equal(a.instances().find((i) => i.id === id)!.merge, undefined, 'nothing was merged');
  });

  it('merge: a predicted conflict blocks it, naming the file, on both surfaces', async () => {
    const one = await doneViaApi('Conflicting one', 'Edit README');
    const two = await doneViaApi('Conflicting two', 'Edit README');
    fs.writeFileSync(path.join(repo(), 'README.md'), '# changed on main meanwhile\n');
    git(repo(), 'commit', '-qam', 'main changes the README');
    const viaApi = await apiRefusal(a.merge(one.id, { strategy: 'squash', commit: true }));
    const viaCli = await cli(['merge', two.id, '--strategy', 'squash', '--commit']);
    assert.deepEqual([viaApi.reason, viaApi.code, viaApi.files], ['Blocked', 'Conflicts', ['README.md']]);
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.stderr, /would conflict in README\.md/);
  });

  it('merge with each strategy writes the same commit message through either surface', async () => {
    const strategies = ['merge', 'squash', 'rebase'] as const;
    const made = await Promise.all(strategies.flatMap((s) => [doneViaApi(`Land by ${s} (API)`, `Write land-${s}-api.txt`), doneViaApi(`Land by ${s} (CLI)`, `Write land-${s}-cli.txt`)]));
    for (const [k, s] of strategies.entries()) {
      for (const [surface, inst] of [['api', made[2 * k]!], ['cli', made[2 * k + 1]!]] as const) {
        if (surface === 'api') await a.merge(inst.id, { strategy: s, commit: true, cleanup: 'never' });
        else {
          const r = await cli(['merge', inst.id, '--strategy', s, '--commit', '--keep']);
          assert.equal(r.code, 0, r.stderr);
        }
        const merged = await until('the merge record', () => a.instances().find((i) => i.id === inst.id && i.merge));
        const message = git(repo(), 'log', '-1', '--format=%B', 'main');
        const expected = s === 'rebase' ? git(inst.worktreePath, 'log', '-1', '--format=%B', 'HEAD') : mergeMessage(s, merged)!;
        assert.equal(message, expected.trim(), `${s} via ${surface}`);
        if (s !== 'rebase') assert.match(message, new RegExp(`^${s === 'merge' ? `Merge ${merged.branch.replace(/[/]/g, '\\/')}: ` : ''}Land by ${s} \\(${surface.toUpperCase()}\\)`));
      }
    }
  });

  it('remove with uncommitted work is refused without a confirmation on both surfaces, and nothing goes', async () => {
    const one = await doneViaApi('Unsaved one', 'Write unsaved-one.txt');
    const two = await doneViaApi('Unsaved two', 'Write unsaved-two.txt');
    const viaApi = await apiRefusal(a.remove(one.id));
    const viaCli = await cli(['remove', two.id]);
    assert.equal(viaApi.reason, 'WouldLoseWork');
    assert.match(viaApi.message, /Untracked files that would be deleted \(1\):\n {2}unsaved-one\.txt/);
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.stderr, /Untracked files that would be deleted \(1\):\n {2}unsaved-two\.txt/);
    for (const i of [one, two]) {
      assert.ok(fs.existsSync(path.join(i.worktreePath, `${i.title === 'Unsaved one' ? 'unsaved-one' : 'unsaved-two'}.txt`)));
      assert.ok(a.instances().some((x) => x.id === i.id));
    }
  });

  it('a follow-up while the agent waits for a permission answer is kept for its next turn, from either surface', async () => {
    const [q] = await a.dispatch([{ title: 'Asks first', prompt: 'Ask for Bash' }], { mode: 'background' });
    await untilInstance(a, q.id, (i) => i.state === 'waiting' && i.waitReason === 'permission', 'the permission request');
    const viaApi = await a.followUp(q.id, 'Then write after-api.txt');
    const viaCli = await cli(['follow-up', q.id, 'Then write after-cli.txt']);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(viaApi.outcome, 'queued');
    assert.match(viaCli.stdout, /driven by a VS Code window .*: it got the follow-up/);
    const kept = await untilInstance(a, q.id, (i) => i.pendingPrompts?.length === 2, 'both follow-ups kept');
    assert.deepEqual(kept.pendingPrompts, ['Then write after-api.txt', 'Then write after-cli.txt']);
    await a.stop(q.id);
  });

  it('a queued instance stopped from the other surface never starts (CLI stops the extension\'s, the extension the CLI\'s)', async () => {
    await setConfig({ maxConcurrent: 1 });
    try {
      // Extension-driven: one agent hangs in the only slot, the next waits; `grove stop` stops the waiting one.
      const [busy, waiting] = await a.dispatch([{ title: 'Hang in the slot', prompt: 'Hang' }, { title: 'Never started (VS Code)', prompt: 'Write never-vscode.txt' }], { mode: 'background' });
      await untilInstance(a, busy.id, (i) => i.state === 'running', 'the slot to be taken');
      const stopped = await cli(['stop', waiting.id]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stdout, /stopped/);
      await untilInstance(a, waiting.id, (i) => i.state === 'stopped', 'the queued instance stopped');
      await a.stop(busy.id);
      await new Promise((r) => setTimeout(r, 1500));
      const after = a.instances().find((i) => i.id === waiting.id)!;
      assert.deepEqual([after.state, after.worktreePath], ['stopped', ''], 'it never got a worktree');

      // CLI-driven: `grove dispatch --max 1` with two tasks; the extension stops the queued one through the API.
      const plan = path.join(repo(), 'parity-queue.md');
      fs.writeFileSync(plan, '## CLI hangs\nHang\n\n## Never started (CLI)\nWrite never-cli.txt\n');
      const run = cliInBackground(['dispatch', '--plan', plan, '--max', '1']);
      const queued = await until('the CLI\'s queued task', () => a.instances().find((i) => i.title === 'Never started (CLI)' && i.state === 'queued'));
      const hanging = await until('the CLI\'s running task', () => a.instances().find((i) => i.title === 'CLI hangs' && i.state === 'running'));
      const r = await a.stop(queued.id);
      assert.equal(r.instance.state, 'stopped');
      await a.stop(hanging.id);
      assert.equal(await run.exited, 1, run.stderr());
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(a.instances().find((i) => i.id === queued.id)!.worktreePath, '', 'it never got a worktree');
    } finally {
      await setConfig({ maxConcurrent: 8 });
    }
  });

  it('review shows a renamed file as a rename (R, old path) through either surface', async () => {
    const inst = await doneViaApi('Renames a file', 'Write beside.txt');
    git(inst.worktreePath, 'mv', 'README.md', 'READ-ME.md');
    const viaApi = await a.review(inst.id);
    const viaCli = await cli(['review', inst.id, '--json', '--stat']);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    const pick = (files: { path: string; oldPath?: string; status: string; untracked?: boolean }[]) => files.map((f) => `${f.status} ${f.oldPath ? `${f.oldPath} → ` : ''}${f.path}${f.untracked ? ' (untracked)' : ''}`);
    assert.deepEqual(pick(viaApi.files), ['R README.md → READ-ME.md', 'A beside.txt (untracked)']);
    assert.deepEqual(pick((JSON.parse(viaCli.stdout) as { files: typeof viaApi.files }).files), pick(viaApi.files));
    // Committed, it is still a rename; VS Code's commit of the agent's work keeps it one too.
    await vscode.commands.executeCommand('grove.commitAgentWork', { kind: 'instance', id: inst.id });
    assert.match(git(inst.worktreePath, 'show', '--stat', '-M', '--format=', 'HEAD'), /README\.md => READ-ME\.md/);
    assert.deepEqual(pick((await a.review(inst.id)).files), ['R README.md → READ-ME.md', 'A beside.txt']);
  });
});
