// The `grove` command line, run as the BUILT dist/cli.js child process against real temp repositories and the
// real Claude Code CLI talking to the scripted model. Build first: node esbuild.mjs --tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Fleet } from '../../../src/core/fleet/fleet';
import { GitClient } from '../../../src/core/git/gitClient';
import { readSpares } from '../../../src/core/git/spares';
import { WorktreeManager } from '../../../src/core/git/worktreeManager';
import { currentProcess } from '../../../src/core/platform/processes';
import type { InstanceSnapshot } from '../../../src/core/model';
import { claudeBin, claudeEnv, repoRoot } from '../../support/claudeEnv';
import { git, gitTestEnv, useTempRepos } from '../../support/repo';
import { fingerprint } from '../../support/worktreeFingerprint';
import { bash, hang, ScriptedModel, text, write, type ScriptRule } from '../../support/scriptedModel';

const CLI = path.join(repoRoot(), 'dist', 'cli.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Files named in prompts ("Create alpha.txt") are written by the scripted model, then it says Done. */
const writeNamedFile: ScriptRule = (req) => {
  if (req.isToolResult) return text('Done.');
  const name = /Create (\w+)\.txt/.exec(req.lastUserText)?.[1] ?? 'unnamed';
  if (/Slow/.test(req.firstUserText)) return hang();
  return write(`${name}.txt`, `${name}\n`);
};

describe('grove CLI (real Claude CLI)', function () {
  this.timeout(60_000);
  const repos = useTempRepos();
  let model: ScriptedModel;
  let env: Record<string, string>;
  let repo: string;
  /** A test's own model behaviour instead of {@link writeNamedFile}. */
  let rule: ScriptRule | undefined;
  const children: ReturnType<typeof spawn>[] = [];

  before(function () {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run node esbuild.mjs --tests first`);
  });

  beforeEach(async () => {
    rule = undefined;
    model = await ScriptedModel.start({ rule: (req) => (rule ?? writeNamedFile)(req) });
    repo = repos.create({ files: { 'README.md': '# demo\n' } });
    env = { ...claudeEnv({ root: repos.dir('claude'), baseUrl: model.url }).env, ...gitTestEnv };
  });

  repos.closeFirst(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await model.close();
  });

  function start(args: string[]) {
    const child = spawn(process.execPath, [CLI, ...args, '--repo', repo, '--claude-path', claudeBin()], { env, cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
    return { child, done };
  }
  const grove = (...args: string[]) => start(args).done;
  const status = async (): Promise<InstanceSnapshot[]> => {
    const r = await grove('status', '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  it('GROVE_WORKTREE_POOL: grove status lists the spare, a dispatch runs its agent in it, and no half-made spare is left', async () => {
    const manager = new WorktreeManager(new GitClient({ env: gitTestEnv }));
    // The CLI's default grove.copyFiles: the spare is provisioned the way the CLI would provision it.
    const [spare] = (await manager.pool.reconcile({ repoRoot: repo, size: 1, copyFiles: ['.env', '.env.*'] })).created;
    env = { ...env, GROVE_WORKTREE_POOL: '1' };
    const table = await grove('status');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`1 spare worktree ready \\(grove\\.worktreePool\\): ${spare!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(from main\\)`));
    const d = await grove('dispatch', '--prompt', 'Create pooled.txt', '--title', 'Pooled', '--json');
    assert.equal(d.code, 0, d.stderr);
    const [inst] = (JSON.parse(d.stdout) as { instances: InstanceSnapshot[] }).instances;
    assert.deepEqual([inst!.state, inst!.worktreePath, inst!.branch], ['done', spare, 'grove/pooled']);
    assert.equal(fs.readFileSync(path.join(spare!, 'pooled.txt'), 'utf8'), 'pooled\n');
    const commonDir = git(repo, 'rev-parse', '--path-format=absolute', '--git-common-dir');
    assert.ok((await readSpares(commonDir)).every((s) => s.meta.spare.ready), 'a refill cut short by the exit was rolled back');
  });

  it('dispatches a plan of 3 tasks to done, lists, reviews, merges one, and refuses to remove unmerged work without --force', async () => {
    const plan = path.join(repos.dir('plans'), 'plan.md');
    fs.writeFileSync(plan, '# Letters\n\nKeep it short.\n\n## Alpha\nCreate alpha.txt\n\n## Beta\nCreate beta.txt\n\n## Gamma\nCreate gamma.txt\n');

    const d = await grove('dispatch', '--plan', plan, '--json');
    assert.equal(d.code, 0, d.stderr);
    const summary = JSON.parse(d.stdout) as { ok: boolean; instances: InstanceSnapshot[] };
    assert.equal(summary.ok, true);
    assert.deepEqual(summary.instances.map((i) => [i.title, i.state]), [['Alpha', 'done'], ['Beta', 'done'], ['Gamma', 'done']]);
    assert.equal(d.stderr, '', '--json keeps stderr quiet');
    assert.doesNotMatch(git(repo, 'worktree', 'list', '--porcelain'), /locked/, 'worktree locks are released before the CLI exits');

    const listed = await status();
    assert.deepEqual(listed.map((i) => i.title).sort(), ['Alpha', 'Beta', 'Gamma']);
    assert.ok(listed.every((i) => i.state === 'done' && i.branch.startsWith('grove/') && fs.existsSync(i.worktreePath)));
    const alpha = listed.find((i) => i.title === 'Alpha')!;
    const beta = listed.find((i) => i.title === 'Beta')!;
    assert.equal(fs.readFileSync(path.join(alpha.worktreePath, 'alpha.txt'), 'utf8'), 'alpha\n');

    const table = await grove('status');
    assert.match(table.stdout, /^ID\s+TITLE\s+STATE\s+BRANCH\s+COST\s+LAST ACTIVITY/);
    assert.match(table.stdout, new RegExp(`${alpha.id.slice(0, 8)}\\s+Alpha\\s+done\\s+grove/alpha`));

    // review by unique id prefix: stat and the patch of the untracked file
    const rev = await grove('review', alpha.id.slice(0, 6));
    assert.equal(rev.code, 0, rev.stderr);
    assert.match(rev.stdout, /A alpha\.txt\s+\+1 -0 \(untracked\)/);
    assert.match(rev.stdout, /\+\+\+ b\/alpha\.txt\n@@ -0,0 \+1 @@\n\+alpha/);

    // merge: refused while the work is uncommitted, then with --commit it lands on main (by title)
    const refused = await grove('merge', 'Alpha');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /has uncommitted work[\s\S]*--commit/);
    const merged = await grove('merge', 'Alpha', '--commit', '--strategy', 'squash');
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stdout, /Merged grove\/alpha into main \(squash\)/);
    assert.equal(git(repo, 'show', 'main:alpha.txt'), 'alpha');
    assert.equal(git(repo, 'log', '-1', '--format=%s', 'main'), 'Alpha');
    assert.equal(fs.readFileSync(path.join(repo, 'alpha.txt'), 'utf8'), 'alpha\n', 'the checkout of main was fast-forwarded');

    // remove: refuses listing what would be lost, removes with --force
    const no = await grove('remove', beta.id);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /would lose work:\nUntracked files that would be deleted \(1\):\n {2}beta\.txt\nNothing was removed/);
    assert.ok(fs.existsSync(beta.worktreePath));
    const yes = await grove('remove', beta.id, '--force', '--delete-branch');
    assert.equal(yes.code, 0, yes.stderr);
    assert.match(yes.stdout, /deleted branch grove\/beta; discarded 1 uncommitted\/untracked file/);
    assert.ok(!fs.existsSync(beta.worktreePath));
    assert.equal(git(repo, 'branch', '--list', 'grove/beta'), '');
    assert.deepEqual((await status()).map((i) => i.title).sort(), ['Alpha', 'Gamma']);

    // follow-up: one more turn in the same session, in the foreground
    const gamma = listed.find((i) => i.title === 'Gamma')!;
    const more = await grove('follow-up', 'Gamma', 'Create gamma2.txt');
    assert.equal(more.code, 0, more.stderr);
    assert.equal(more.stdout.trim(), 'Done.');
    assert.equal(fs.readFileSync(path.join(gamma.worktreePath, 'gamma2.txt'), 'utf8'), 'gamma2\n');
    const gammaAfter = (await status()).find((i) => i.title === 'Gamma')!;
    assert.equal(gammaAfter.sessionId, gamma.sessionId, 'the same session continued');
    assert.ok(gammaAfter.costUsd > gamma.costUsd);

    // log: the transcript of an instance, both prompts included
    const log = await grove('log', 'Gamma');
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /Create gamma\.txt[\s\S]*Create gamma2\.txt/);

    // What the CLI wrote is what the extension's tree reads: a fresh Fleet recovers it.
    const fleet = new Fleet({
      commonDir: async (root) => path.resolve(root, git(root, 'rev-parse', '--git-common-dir')),
      worktrees: { create: () => Promise.reject(new Error('unexpected worktree create')) },
      agents: { start: () => { throw new Error('unexpected agent start'); } },
    }, { self: { ...currentProcess(), kind: 'test' } });
    try {
      const recovered = await fleet.recover([repo]);
      assert.deepEqual(recovered.map((i) => [i.title, i.state]).sort(), [['Alpha', 'done'], ['Gamma', 'done']]);
      assert.ok(recovered.every((i) => i.sessionId && i.costUsd > 0));
      assert.deepEqual(recovered.find((i) => i.title === 'Alpha')!.merge?.strategy, 'squash');
    } finally {
      fleet.dispose();
    }
  });

  it('remove --force --delete-branch, then grove snapshots and grove restore <id>: the worktree and branch come back byte for byte', async () => {
    fs.writeFileSync(path.join(repo, '.gitignore'), '.env.local\n');
    git(repo, 'add', '.gitignore');
    git(repo, 'commit', '-qm', 'ignore .env.local');
    const d = await grove('dispatch', '--prompt', 'Create omega.txt', '--title', 'Omega', '--json');
    assert.equal(d.code, 0, d.stderr);
    const [omega] = (JSON.parse(d.stdout) as { instances: InstanceSnapshot[] }).instances;
    const wt = omega!.worktreePath;
    git(wt, 'add', 'omega.txt');
    git(wt, 'commit', '-qm', 'omega');
    fs.writeFileSync(path.join(wt, 'README.md'), '# demo\nedited, not committed\n');
    fs.writeFileSync(path.join(wt, 'scratch.md'), 'untracked notes\n');
    fs.writeFileSync(path.join(wt, '.env.local'), 'SECRET=1\n', { mode: 0o600 });
    const before = fingerprint(wt);
    const tip = git(wt, 'rev-parse', 'HEAD');

    const removed = await grove('remove', 'Omega', '--force', '--delete-branch');
    assert.equal(removed.code, 0, removed.stderr);
    const restorable = /Restorable: grove restore (\S+)/.exec(removed.stderr);
    assert.ok(restorable, removed.stderr);
    assert.ok(!fs.existsSync(wt));
    assert.equal(git(repo, 'branch', '--list', omega!.branch), '');

    const listed = await grove('snapshots', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const [snap] = JSON.parse(listed.stdout) as Array<{ id: string; reason: string; title: string; worktreePath: string }>;
    assert.deepEqual([snap!.id, snap!.reason, snap!.title, snap!.worktreePath], [restorable[1], 'remove --force, delete branch', 'Omega', wt]);
    const table = await grove('snapshots');
    assert.match(table.stdout, new RegExp(`^${snap!.id}\\s+Omega\\s+worktree\\s+remove --force, delete branch`, 'm'));

    const missing = await grove('restore', 'no-such-id');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /There is no snapshot no-such-id/);

    const r = await grove('restore', snap!.id);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Restored the worktree ${wt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on ${omega!.branch} from ${snap!.id}`));
    assert.equal(git(repo, 'rev-parse', omega!.branch), tip);
    assert.deepEqual(fingerprint(wt), before);
  });

  it('grove turns lists the checkpoint of each turn and what it changed; grove revert --before-turn goes back, after --yes, undoably', async () => {
    const d = await grove('dispatch', '--prompt', 'Create kappa.txt', '--title', 'Kappa', '--json');
    assert.equal(d.code, 0, d.stderr);
    const [kappa] = (JSON.parse(d.stdout) as { instances: InstanceSnapshot[] }).instances;
    const wt = kappa!.worktreePath;
    assert.equal(fs.readFileSync(path.join(wt, 'kappa.txt'), 'utf8'), 'kappa\n');
    const listed = await grove('turns', 'Kappa', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as Array<{ turn: number; files?: Array<{ path: string; status: string }> }>;
    assert.deepEqual(list.map((l) => l.turn), [0, 1], 'turn 0 before the prompt, turn 1 at its end: recorded before the CLI exited');
    assert.deepEqual(list[1]!.files!.map((f) => [f.status, f.path]), [['A', 'kappa.txt']]);
    assert.equal(git(wt, 'log', '--format=%s').split('\n').length, 1, 'no commit on the agent\'s branch');

    const ask = await grove('revert', 'Kappa', '--before-turn', '1');
    assert.equal(ask.code, 1);
    assert.match(ask.stderr, /undoes the changes of 1 file\(s\): kappa\.txt/);
    assert.ok(fs.existsSync(path.join(wt, 'kappa.txt')), 'not confirmed: nothing changed');
    const yes = await grove('revert', 'Kappa', '--before-turn', '1', '--yes');
    assert.equal(yes.code, 0, yes.stderr);
    assert.ok(!fs.existsSync(path.join(wt, 'kappa.txt')));
    const undo = /grove restore (\S+) undoes this/.exec(yes.stderr);
    assert.ok(undo, yes.stderr);
    const back = await grove('restore', undo[1]!);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(fs.readFileSync(path.join(wt, 'kappa.txt'), 'utf8'), 'kappa\n');
  });

  it('stops an agent driven by another grove process, which records it stopped', async () => {
    const dispatching = start(['dispatch', '--prompt', 'Slow: Create slow.txt', '--title', 'Slow']);
    let inst: InstanceSnapshot | undefined;
    for (let i = 0; i < 100 && !(inst?.state === 'running' && inst.agent !== undefined); i++) {
      await new Promise((r) => setTimeout(r, 150));
      [inst] = await status();
    }
    assert.equal(inst?.state, 'running', JSON.stringify(inst));
    await model.waitForRequests(1);
    const agentPid = inst!.agent!.pid;
    assert.equal(inst!.driver?.pid, dispatching.child.pid, 'the dispatching CLI is recorded as the driver, apart from its agent');

    const stopped = await grove('stop', inst!.id.slice(0, 8));
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /Slow: stopped/);
    const d = await dispatching.done;
    assert.equal(d.code, 1, 'the dispatch ends without the task done');
    assert.match(d.stderr, /Slow: stopped/);
    assert.throws(() => process.kill(agentPid, 0), 'the agent process is gone');
    const [after] = await status();
    assert.equal(after!.state, 'stopped');
    assert.equal(after!.error, undefined);
  });

  it('a rate-limited agent shows as paused with how to resume; grove resume has the driving process continue its session now', async () => {
    let limited = true;
    rule = (req) => {
      if (limited) return { error: { status: 429, message: 'Rate limited' }, headers: { 'retry-after': '0', 'anthropic-ratelimit-unified-status': 'rejected', 'anthropic-ratelimit-unified-reset': String(Math.ceil(Date.now() / 1000) + 3600) } };
      return writeNamedFile(req);
    };
    const dispatching = start(['dispatch', '--prompt', 'Create limited.txt', '--title', 'Limited']);
    let inst: InstanceSnapshot | undefined;
    for (let i = 0; i < 200 && inst?.state !== 'paused'; i++) {
      await new Promise((r) => setTimeout(r, 150));
      [inst] = await status();
    }
    assert.equal(inst?.state, 'paused', JSON.stringify(inst));
    assert.ok(inst!.pausedUntil! > Date.now(), 'it says when it resumes by itself');
    const table = await grove('status');
    assert.match(table.stdout, new RegExp(`Limited +paused .*paused until \\d\\d?:\\d\\d( [AP]M)? \\(grove resume ${inst!.id.slice(0, 8)}\\): `));

    limited = false;
    const resumed = await grove('resume', inst!.id.slice(0, 8));
    assert.equal(resumed.code, 0, resumed.stderr);
    const d = await dispatching.done;
    assert.equal(d.code, 0, d.stderr);
    const [done] = await status();
    assert.equal(done!.state, 'done');
    assert.equal(done!.sessionId, inst!.sessionId, 'the same session went on');
    assert.equal(fs.readFileSync(path.join(done!.worktreePath, 'limited.txt'), 'utf8'), 'limited\n');
  });

  it('an exhausted context says how to go on; grove continue carries the task on in a fresh session', async () => {
    rule = (req) => {
      if (/fresh session/.test(req.firstUserText)) return req.isToolResult ? text('Finished.') : write('part2.txt', 'two\n');
      if (!req.isToolResult) return write('part1.txt', 'one\n');
      return { error: { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } };
    };
    const d = await grove('dispatch', '--prompt', 'Write both parts', '--title', 'Long');
    assert.equal(d.code, 1);
    const [failed] = await status();
    assert.deepEqual([failed!.state, failed!.contextExhausted], ['failed', true]);
    assert.match((await grove('status')).stdout, new RegExp(`context exhausted \\(grove continue ${failed!.id.slice(0, 8)}\\): Prompt is too`));
    const c = await grove('continue', failed!.id.slice(0, 8));
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /Long: done/);
    const [done] = await status();
    assert.equal(done!.continuations, 1);
    assert.notEqual(done!.sessionId, failed!.sessionId);
    for (const f of ['part1.txt', 'part2.txt']) assert.ok(fs.existsSync(path.join(done!.worktreePath, f)), f);
  });

  it('src/cli never imports vscode (it is a plain Node program)', () => {
    const root = path.join(repoRoot(), 'src', 'cli');
    const files = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 5);
    const offenders = files.filter((f) => /from\s+['"](vscode|(\.\.\/)+vscode\/)|require\(\s*['"]vscode['"]/.test(fs.readFileSync(path.join(root, f), 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('grove land --all: two agents add the same file; the second is sent its conflict, the model resolves it, and both land', async () => {
    let resolving = false;
    rule = (req) => {
      if (/stopped on conflicts in:\n- shared\.txt/.test(req.lastUserText)) {
        resolving = true;
        return bash('printf "alpha\\nbeta\\n" > shared.txt && git add shared.txt && git commit -q --no-edit', 'Resolve the conflict');
      }
      if (req.isToolResult) return text(resolving ? 'Resolved.' : 'Done.');
      const name = /Create (\w+) in shared/.exec(req.lastUserText)?.[1] ?? 'x';
      return write('shared.txt', `${name}\n`);
    };
    const plan = path.join(repos.dir('plans'), 'plan.md');
    fs.writeFileSync(plan, '## Alpha\nCreate alpha in shared.txt\n\n## Beta\nCreate beta in shared.txt\n');
    const d = await grove('dispatch', '--plan', plan, '--json');
    assert.equal(d.code, 0, d.stderr);

    const r = await grove('land', '--all', '--commit', '--strategy', 'merge', '--cleanup', '--on-permission', 'allow');
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
    assert.match(r.stdout, /^Landed 2 of 2 \(merge\)\.\n  ✓ \w+ Alpha → main \w+; removed its worktree and branch grove\/alpha\n  ✓ \w+ Beta → main \w+ \(attempt 2\); removed/);
    assert.equal(git(repo, 'show', 'main:shared.txt'), 'alpha\nbeta');
    assert.match(r.stderr, /Landing 1\/2: Alpha — syncing/);
    assert.match(r.stderr, /sent back \w+ Beta: syncing main stopped on conflicts in shared\.txt/);
    assert.match(r.stderr, /Waiting for 1 agent sent back to fix their work/);
    const after = await status();
    assert.deepEqual(after.map((s) => [s.title, s.merge?.into, s.archived]), [['Alpha', 'main', true], ['Beta', 'main', true]]);
    assert.equal(git(repo, 'worktree', 'list').split('\n').length, 1, 'both worktrees were cleaned up');
  });

  it('usage errors exit 2; terminal mode is refused with a reason', async () => {
    const none = await grove('dispatch');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exactly one of --plan/);
    const term = await grove('dispatch', '--prompt', 'x', '--mode', 'terminal');
    assert.equal(term.code, 1, 'a refusal, not a usage error: the value is valid, only not here');
    assert.match(term.stderr, /needs a terminal \(terminal mode\), which only VS Code has/);
    const unknown = await grove('review', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No instance "nope"/);
  });
});
