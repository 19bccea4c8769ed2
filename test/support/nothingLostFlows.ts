/**
 * "Nothing is ever lost", through the CORE FLOWS and the built `grove` CLI (issue 11): seeded random sequences of
 * dispatch, agent and user edits of every kind (modified, staged, untracked, ignored, detached-HEAD commits) in the
 * worktrees and in the main checkout, the base advancing, follow-up, stop, sync (some conflicting) and abort,
 * commit of the agent's work, merge with every strategy (with and without --commit, cleanup or keep), remove with
 * and without force and delete-branch, `grove status`. After every step:
 * - every commit reachable before from any ref (refs/grove/snapshots|checkpoints|backup included, and every
 *   worktree's HEAD) is still reachable;
 * - every file content that was on disk or staged in any worktree is still on disk, staged, or a blob of some
 *   reachable commit (`git rev-list --all --objects`, which includes the snapshot refs) — only a file the step
 *   itself overwrote on purpose (the agent or the user writing it again) may go;
 * - a refusal (a GroveError, a non-zero CLI exit) changed nothing: refs, worktrees, HEADs, indexes and files.
 * Shared by test/unit/flows/nothingLostFlows.test.ts (≥ 100 sequences) and test/bench/nothingLostBench.ts (≥ 1,000).
 */
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GroveError } from '../../src/core/errors';
import { commitAgentWork } from '../../src/core/flows/commit';
import { dispatch } from '../../src/core/flows/dispatch';
import { followUp, stop } from '../../src/core/flows/instances';
import { merge } from '../../src/core/flows/merge';
import { remove } from '../../src/core/flows/remove';
import { listSnapshots } from '../../src/core/flows/restore';
import { abortSync, sync } from '../../src/core/flows/sync';
import { isGitError } from '../../src/core/git/gitError';
import { Grove } from '../../src/core/grove';
import { isOwned } from '../../src/core/fleet/instance';
import type { InstanceSnapshot } from '../../src/core/model';
import { defaultSettings, type GroveSettings } from '../../src/core/settings';
import { waitForEvent } from '../../src/core/util/event';
import { FakeAgents } from '../unit/fleet/fakes';
import { prng } from './mergeFixtures';
import { git, gitTestEnv, type TempRepos } from './repo';

export const FILES = ['a.txt', 'b.txt', 'd/e.txt', 'f g.txt'];
/** Ignored by the repository's .gitignore: local config and logs. */
export const IGNORED = ['config.local', 'd/debug.local'];

export interface SequenceResult {
  seed: number;
  steps: number;
  /** The first loss found (undefined: none), with the step and the log up to it. */
  loss?: { step: number; what: string };
  /**
   * Turn checkpoints overwritten by a later one with the same turn number (refs/grove/checkpoints/<id>/<n>: the turn
   * number is chosen outside the snapshot lock, and the capture overwrites), found while the sequence went on.
   */
  checkpointsOverwritten: Array<{ step: number; what: string }>;
  log: string[];
  stats: Record<string, number>;
}

export interface SequenceOptions {
  seed: number;
  steps: number;
  repos: TempRepos;
  /** dist/cli.js; without it every step goes through core. */
  cli?: string;
  /** Share of the steps that go through the CLI when it can (default 0.3). */
  cliShare?: number;
}

const FINISHED = ['done', 'failed', 'stopped', 'interrupted'];

const blobOid = (content: Buffer): string =>
  crypto.createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');

/** Every worktree of the repository as git knows it (not as Grove does): path and HEAD. */
function worktrees(repoRoot: string): string[] {
  return git(repoRoot, 'worktree', 'list', '--porcelain')
    .split('\n')
    .filter((l) => l.startsWith('worktree '))
    .map((l) => l.slice('worktree '.length))
    .filter((p) => fs.existsSync(p));
}

function walk(root: string, out: string[] = [], dir = root): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === '.git') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(root, out, p);
    else if (e.isFile()) out.push(path.relative(root, p));
  }
  return out;
}

/** Content that exists now and must keep existing: `<tree>\0<file>\0disk|index` → blob oid. */
function owed(repoRoot: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const wt of worktrees(repoRoot)) {
    const status = execFileSync('git', ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored', '--no-renames'], { cwd: wt, env: { ...process.env, ...gitTestEnv }, encoding: 'utf8' });
    for (const rec of status.split('\0')) {
      if (rec.length < 4) continue;
      const [x, file] = [rec[0]!, rec.slice(3)];
      const p = path.join(wt, file);
      if (fs.existsSync(p) && fs.statSync(p).isFile()) out.set(`${wt}\0${file}\0disk`, blobOid(fs.readFileSync(p)));
      if (x !== ' ' && x !== '?' && x !== '!' && x !== 'D') {
        for (const line of git(wt, 'ls-files', '-s', '-z', '--', file).split('\0').filter(Boolean)) {
          out.set(`${wt}\0${file}\0index${line.split(' ')[2]!.split('\t')[0]}`, line.split(' ')[1]!);
        }
      }
    }
  }
  return out;
}

/** Every blob that is kept: on disk or in an index of a worktree, or under any ref (snapshots included). */
function kept(repoRoot: string): Set<string> {
  const out = new Set<string>();
  for (const line of git(repoRoot, 'rev-list', '--all', '--objects').split('\n')) if (line) out.add(line.slice(0, 40));
  for (const wt of worktrees(repoRoot)) {
    for (const f of walk(wt)) out.add(blobOid(fs.readFileSync(path.join(wt, f))));
    for (const line of git(wt, 'ls-files', '-s', '-z').split('\0')) if (line) out.add(line.split(' ')[1]!);
  }
  return out;
}

const commits = (repoRoot: string) => new Set(git(repoRoot, 'rev-list', '--all').split('\n').filter(Boolean));

/** What a refusal must leave equal: refs, worktrees, config, and each worktree's HEAD, index and files. */
function whole(repoRoot: string, committedIn?: { worktree: string; branch: string }): string {
  // Turn checkpoints are recorded in the background after a turn ends, so they may land during any step.
  const refs = git(repoRoot, 'for-each-ref', '--format=%(refname) %(objectname)').split('\n').filter((l) => !l.startsWith('refs/grove/checkpoints/'));
  const wts = git(repoRoot, 'worktree', 'list', '--porcelain').split('\n');
  const parts = committedIn
    ? [...refs.filter((l) => !l.startsWith(`refs/heads/${committedIn.branch} `)), ...wts.filter((l) => !l.startsWith('HEAD '))]
    : [...refs, ...wts];
  for (const wt of worktrees(repoRoot)) {
    if (committedIn?.worktree === wt) parts.push(wt);
    else parts.push(wt, git(wt, 'rev-parse', 'HEAD'), git(wt, 'ls-files', '-s'));
    for (const f of walk(wt).sort()) parts.push(`${f} ${blobOid(fs.readFileSync(path.join(wt, f)))}`);
  }
  return parts.join('\n');
}

function runCli(cli: string, args: string[], repo: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args, '--repo', repo], { env: { ...process.env, ...gitTestEnv }, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

class Refusal extends Error {}

export async function runSequence(o: SequenceOptions): Promise<SequenceResult> {
  const rand = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const stats: Record<string, number> = {};
  const count = (k: string) => (stats[k] = (stats[k] ?? 0) + 1);
  const log: string[] = [];
  const repo = o.repos.create({ files: { ...Object.fromEntries(FILES.map((f) => [f, `${f} v0\n`])), '.gitignore': '*.local\n' } });
  for (const f of IGNORED) write(repo, f, `${f}: the user's own\n`);
  const settings: GroveSettings = { ...defaultSettings(), worktreeRoot: path.join(path.dirname(repo), 'wt'), maxConcurrent: 4 };
  const agents = new FakeAgents(15);
  const open = async () => {
    const g = new Grove({
      kind: 'test', settings: () => settings, trusted: () => true, gitEnv: gitTestEnv, capabilities: { terminal: false },
      agents: () => ({ start: (inst, onEvent, opts) => agents.start(inst, onEvent, opts) }),
    });
    await g.recover([repo]);
    return g;
  };
  let grove = await open();
  let counter = 0;
  const checkpointsOverwritten: SequenceResult['checkpointsOverwritten'] = [];
  const discarded = new Set<string>();
  /** The agent's turn staged everything for its commit (its own \`git add -A\`, over what was staged before). */
  let agentCommitted = false;
  const settle = async (id: string) => {
    const done = () => !grove.fleet.get(id) || FINISHED.includes(grove.fleet.get(id)!.state) || grove.fleet.get(id)!.state === 'waiting';
    if (!done()) await waitForEvent(grove.fleet.onDidChangeInstances, done, 20_000);
  };
  /** Writes a file, first marking its current content (disk and index) as overwritten on purpose by this step. */
  const edit = (tree: string, file: string, content: string | undefined) => {
    discarded.add(`${tree}\0${file}\0disk`);
    discarded.add(`${tree}\0${file}\0index0`);
    if (content === undefined) fs.rmSync(path.join(tree, file), { force: true });
    else write(tree, file, content);
  };
  const inOperation = (wt: string) => ['MERGE_HEAD', 'rebase-merge', 'rebase-apply', 'CHERRY_PICK_HEAD'].some((f) => fs.existsSync(path.join(git(wt, 'rev-parse', '--absolute-git-dir'), f)));
  /** Edits of every kind in a tree: modified, staged (then maybe changed again), untracked, ignored, deleted. */
  const edits = (tree: string, who: string, step: number) => {
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
      const r = rand();
      const file = r < 0.2 ? pick(IGNORED) : r < 0.35 ? `new-${Math.floor(rand() * 3)}.txt` : pick(FILES);
      if (rand() < 0.1) edit(tree, file, undefined);
      else edit(tree, file, `${file} by ${who} at step ${step} #${counter++}\n`);
      if (rand() < 0.35 && !IGNORED.includes(file) && !inOperation(tree)) {
        gitOk(tree, 'add', '-A', '--', file);
        if (rand() < 0.4) edit(tree, file, `${file} changed again after staging by ${who} at ${step} #${counter++}\n`);
      }
    }
  };
  agents.work.clear();
  const agentWork = (inst: InstanceSnapshot, prompt: string) => {
    const step = Number(/step (\d+)/.exec(prompt)?.[1] ?? -1);
    edits(inst.worktreePath, `agent ${inst.title}`, step);
    if (rand() < 0.5 && !inOperation(inst.worktreePath)) {
      git(inst.worktreePath, 'add', '-A');
      agentCommitted = true;
      if (git(inst.worktreePath, 'status', '--porcelain', '--untracked-files=no')) git(inst.worktreePath, 'commit', '-q', '-m', `agent ${inst.title} step ${step}`);
    }
  };
  const live = () => grove.fleet.instances().filter((i) => i.repoRoot === repo && !i.archived && i.worktreePath && fs.existsSync(i.worktreePath));
  const known = () => grove.fleet.instances().filter((i) => i.repoRoot === repo);
  const cli = async (args: string[]): Promise<string> => {
    // The CLI is another process on the same registry: this "window" closes for it and opens again after.
    await grove.close();
    const r = await runCli(o.cli!, args, repo);
    grove = await open();
    count(`cli ${args[0]}${r.code ? ' refused' : ''}`);
    if (r.code === 0) return r.stdout;
    if (r.code === 1) throw new Refusal(`grove ${args.join(' ')} exited 1: ${r.stderr.trim().split('\n')[0]}`);
    throw new Error(`grove ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  };

  try {
    for (let step = 0; step < o.steps; step++) {
      discarded.clear();
      agentCommitted = false;
      const beforeCommits = commits(repo);
      const beforeOwed = owed(repo);
      const beforeWhole = whole(repo);
      const beforeRefs = git(repo, 'for-each-ref', '--format=%(objectname) %(refname)').split('\n').filter(Boolean);
      const insts = live();
      const inst = insts.length ? pick(insts) : undefined;
      const beforeMasked = new Map<string, string>();
      const anyOwned = known().some((i) => isOwned(i.state));
      const viaCli = !!o.cli && !anyOwned && rand() < (o.cliShare ?? 0.3);
      const r = rand();
      const t0 = Date.now();
      let action = '';
      /** The step commits the working tree's content over what was staged (Commit Agent's Work, merge --commit). */
      let commitsOverIndex = false;
      let refused: string | undefined;
      try {
        if (!inst || (r < 0.1 && insts.length < 3)) {
          action = 'dispatch';
          const title = `Task ${step}`;
          agents.work.set(title, agentWork);
          if (rand() < 0.25) agents.waitTitles.add(title);
          const { instances } = await dispatch(grove, { repoRoot: repo, tasks: [{ title, prompt: `Do ${title} at step ${step}` }] });
          for (const i of instances) await settle(i.id);
        } else if (r < 0.22) {
          action = `agent/user edits in ${inst.title}`;
          edits(inst.worktreePath, 'user', step);
        } else if (r < 0.27) {
          action = `detached commit in ${inst.title}`;
          if (inOperation(inst.worktreePath)) throw new Refusal('sync in progress: the test does not detach');
          git(inst.worktreePath, 'checkout', '-q', '--detach');
          commitsOverIndex = true;
          edit(inst.worktreePath, `detached-${step}.txt`, `detached at step ${step}\n`);
          git(inst.worktreePath, 'add', '-A');
          git(inst.worktreePath, 'commit', '-q', '-m', `detached ${step}`);
        } else if (r < 0.34) {
          action = 'edits in the main checkout';
          edits(repo, 'user (main)', step);
        } else if (r < 0.42) {
          action = 'base advances';
          const file = pick([...FILES, `base-${step}.txt`]);
          edit(repo, file, `${file} on main at step ${step}\n`);
          git(repo, 'add', '--', file);
          git(repo, 'commit', '-q', '-m', `main ${step}`);
        } else if (r < 0.5) {
          action = `follow-up ${inst.title}`;
          const res = await followUp(grove, inst.id, `More at step ${step}`);
          action += ` → ${res.outcome}`;
          await settle(inst.id);
        } else if (r < 0.55) {
          action = `stop ${inst.title}${viaCli ? ' (cli)' : ''}`;
          if (viaCli) await cli(['stop', inst.id]);
          else await stop(grove, inst.id);
        } else if (r < 0.64) {
          const strategy = rand() < 0.5 ? 'merge' : 'rebase';
          action = `sync ${strategy} ${inst.title}`;
          const [out] = await sync(grove, [inst.id], { strategy });
          action += ` → ${out!.status}`;
          count(`sync ${out!.status}`);
          if (out!.status === 'skipped') refused = out!.message;
        } else if (r < 0.69) {
          action = `abort sync ${inst.title}`;
          await abortSync(grove, inst.id);
          count('abort');
        } else if (r < 0.74) {
          action = `commit agent work ${inst.title}`;
          commitsOverIndex = true;
          await commitAgentWork(grove, inst.id);
        } else if (r < 0.88) {
          const strategy = pick(['merge', 'squash', 'rebase'] as const);
          const commit = rand() < 0.6;
          const cleanup = rand() < 0.5 ? 'always' : 'never';
          commitsOverIndex = commit;
          if (commit) beforeMasked.set(inst.id, whole(repo, { worktree: inst.worktreePath, branch: inst.branch }));
          action = `merge ${strategy}${commit ? ' --commit' : ''} ${cleanup === 'always' ? '--cleanup' : '--keep'} ${inst.title}${viaCli ? ' (cli)' : ''}`;
          if (viaCli) await cli(['merge', inst.id, '--strategy', strategy, ...(commit ? ['--commit'] : []), cleanup === 'always' ? '--cleanup' : '--keep']);
          else if (!(await merge(grove, { id: inst.id, strategy, commit, cleanup }))) throw new Refusal('merge cancelled');
          count(`merged ${strategy}`);
        } else if (r < 0.96) {
          const force = rand() < 0.5;
          const deleteBranch = rand() < 0.4;
          action = `remove${force ? ' --force' : ''}${deleteBranch ? ' --delete-branch' : ''} ${inst.title}${viaCli ? ' (cli)' : ''}`;
          if (viaCli) await cli(['remove', inst.id, ...(force ? ['--force'] : []), ...(deleteBranch ? ['--delete-branch'] : [])]);
          else await remove(grove, { id: inst.id, force, deleteBranch });
          count(`removed${force ? ' forced' : ''}${deleteBranch ? ' + branch' : ''}`);
        } else {
          action = `status${viaCli ? ' (cli)' : ''}`;
          if (viaCli) JSON.parse(await cli(['status', '--json']));
          else await listSnapshots(grove, [repo]);
          refused = 'a read';
        }
      } catch (err) {
        if (err instanceof Refusal) refused = err.message;
        else if (GroveError.is(err) || isGitError(err)) refused = `${(err as Error).name}: ${(err as Error).message.split('\n')[0]}`;
        else throw err;
      }
      if (refused) count('refused');
      /** merge --commit committed the agent's work (confirmed), then the preflight refused: only that commit is new. */
      const refusedAfterCommitting = (i: InstanceSnapshot) => {
        const same = whole(repo, { worktree: i.worktreePath, branch: i.branch }) === whole0(i);
        if (same) count('refused after committing the agent\'s work');
        return same;
      };
      const whole0 = (i: InstanceSnapshot) => beforeMasked.get(i.id);
      log.push(`${step}: ${action}${refused ? ` → refused (${refused})` : ''} [${Date.now() - t0} ms]`);

      // The invariant.
      const afterCommits = commits(repo);
      let lostCommits = [...beforeCommits].filter((c) => !afterCommits.has(c));
      const overwritten = lostCommits.filter((c) => {
        const refs = beforeRefs.filter((l) => l.startsWith(c));
        return refs.length > 0 && refs.every((l) => l.split(' ')[1]!.startsWith('refs/grove/checkpoints/') && gitOk(repo, 'rev-parse', '--verify', '-q', l.split(' ')[1]!))
          && git(repo, 'log', '-1', '--format=%s', c).startsWith('grove checkpoint');
      });
      if (overwritten.length) {
        const refs = beforeRefs.filter((l) => overwritten.some((c) => l.startsWith(c))).map((l) => l.split(' ')[1]);
        checkpointsOverwritten.push({ step, what: `${refs.join(', ')} overwritten by a later checkpoint of the same turn number` });
        count('checkpoint overwritten');
        // Whatever only such a checkpoint reached is checked below like any other commit.
        const still = commits(repo);
        lostCommits = lostCommits.filter((c) => !overwritten.includes(c) && !still.has(c));
        const parentsLost = lostCommits.filter((c) => !overwritten.some((o) => gitOk(repo, 'merge-base', '--is-ancestor', c, o)));
        lostCommits = parentsLost;
      }
      if (lostCommits.length) {
        const describe = (c: string) => {
          const from = beforeRefs.filter((l) => gitOk(repo, 'merge-base', '--is-ancestor', c, l.split(' ')[0]!)).map((l) => l.split(' ')[1]).join(', ');
          const now = (ref: string) => { try { return git(repo, 'rev-parse', '--verify', '-q', ref).slice(0, 8); } catch { return 'deleted'; } };
          return `${c.slice(0, 8)} "${git(repo, 'log', '-1', '--format=%s', c)}" (reachable before from ${from.split(', ').map((f) => `${f} (now ${now(f!)})`).join(', ') || 'a worktree HEAD only'})`;
        };
        return { seed: o.seed, steps: step + 1, log, stats, checkpointsOverwritten, loss: { step, what: `commits no longer reachable: ${lostCommits.map(describe).join('; ')}` } };
      }
      const keep = kept(repo);
      for (const [key, oid] of beforeOwed) {
        const [tree, file, where] = key.split('\0');
        if (discarded.has(key) || (where!.startsWith('index') && discarded.has(`${tree}\0${file}\0index0`))) continue;
        // A staged version the working tree changed again is replaced by the working tree's when the work is
        // committed (as \`git commit -a\` does); the working tree's content is then checked like any other.
        if (where!.startsWith('index') && (commitsOverIndex || agentCommitted) && beforeOwed.has(`${tree}\0${file}\0disk`)) continue;
        if (!keep.has(oid)) return { seed: o.seed, steps: step + 1, log, stats, checkpointsOverwritten, loss: { step, what: `${where} content ${oid.slice(0, 8)} of ${file} in ${tree} is gone` } };
      }
      if (refused && whole(repo) !== beforeWhole && !(commitsOverIndex && inst && refusedAfterCommitting(inst))) {
        const a = new Set(beforeWhole.split('\n'));
        const b = new Set(whole(repo).split('\n'));
        const diff = [...[...a].filter((l) => !b.has(l)).map((l) => `- ${l}`), ...[...b].filter((l) => !a.has(l)).map((l) => `+ ${l}`)];
        return { seed: o.seed, steps: step + 1, log, stats, checkpointsOverwritten, loss: { step, what: `a refusal changed something: ${action}\n${diff.join('\n')}` } };
      }
    }
    return { seed: o.seed, steps: o.steps, log, stats, checkpointsOverwritten };
  } finally {
    await grove.close();
  }
}

function gitOk(cwd: string, ...args: string[]): boolean {
  try {
    git(cwd, ...args);
    return true;
  } catch {
    return false;
  }
}

function write(root: string, rel: string, content: string): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}
