/**
 * Land All — a merge train, the one implementation behind VS Code's Land All, `grove land` and MCP `grove_land`.
 *
 * The done agents are ordered (plan `after:` first, then fewest predicted conflicts, then the order they were
 * dispatched in), and each in turn: its uncommitted work is committed (when the person agreed), the base's current
 * tip is synced into its branch (in its own worktree), the check command runs there, and it is merged with the
 * strategy and cleaned up (see {@link merge}) — so the next one syncs onto a base that includes the previous one.
 * A sync that stops on conflicts or a check that fails does not stop the train: the agent gets a follow-up with the
 * conflicted files or the check's last 200 lines, and rejoins the end of the train when that turn ends done, up to
 * `landRetries` times; then it is left for the person with the reason.
 *
 * Cancel ({@link LandRequest.signal}) never interrupts a git step: it waits for the step under way, then undoes the
 * current agent's sync exactly (its branch and worktree as before the train touched them), kills a running check,
 * and stops. Merges already made stay; agents sent back keep working on their follow-up.
 */
import { GroveError } from '../errors';
import { isOwned } from '../fleet/instance';
import { MergeBlockedError, suggestCommitMessage, type MergeProblem, type MergeStrategy } from '../git/mergeService';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { commitAgentWork, uncommittedFiles } from './commit';
import { followUp, requireInstance } from './instances';
import { landingTarget, merge } from './merge';
import { landOrder, lastLines, type LandLanded, type LandLeft, type LandSentBack, type LandSummary } from './landTypes';
import { requireWorktree } from './review';
import { resolvePrompt } from './sync';

export * from './landTypes';

export interface LandRequest {
  /** The instances to land; default: every done agent of {@link repoRoot}. */
  ids?: readonly string[];
  repoRoot?: string;
  /** Given by the caller; otherwise the setting, or {@link LandAsk.chooseStrategy} (once for the train). */
  strategy?: MergeStrategy;
  /** The person agreed to commit the agents' uncommitted work (CLI `--commit`). */
  commit?: boolean;
  /** Overrides `cleanupAfterMerge`. */
  cleanup?: 'always' | 'never';
  /** Overrides `landRetries`. */
  retries?: number;
  /**
   * Default true: the train waits for the agents it sent back and lands them when their turn ends done. False: it
   * ends once every other agent had its turn; those sent back are in {@link LandSummary.sentBack} (MCP, which
   * should not hold a tool call open while agents work).
   */
  wait?: boolean;
  signal?: AbortSignal;
}

export type LandStep = 'sync' | 'check' | 'merge' | 'waiting';

export interface LandProgress {
  /** "Landing 3/7": agents landed or left so far + 1, of all in the train. */
  position: number;
  total: number;
  /** The agent being landed; undefined while the train waits for agents that were sent back. */
  instance?: InstanceSnapshot;
  step: LandStep;
  /** Agents sent back whose turn has not ended yet. */
  out: number;
}

export interface LandAsk {
  /** `mergeStrategy` is `ask`: the strategy of the whole train (undefined cancels before anything). Absent: merge. */
  chooseStrategy?(instances: InstanceSnapshot[]): Promise<MergeStrategy | undefined>;
  /** An agent has uncommitted work: true to commit it (with `message`). Absent: it is left for the person. */
  confirmCommit?(inst: InstanceSnapshot, files: string[], message: string): Promise<boolean>;
  /** `cleanupAfterMerge` is `ask`: true to remove a landed agent's worktree and branch. Absent: keep them. */
  confirmCleanup?(inst: InstanceSnapshot): Promise<boolean>;
  onProgress?(p: LandProgress): void;
  onCheckOutput?(inst: InstanceSnapshot, chunk: string): void;
  /** An agent was sent back with a follow-up (or left, after its last attempt). */
  onSentBack?(entry: LandSentBack): void;
}

type Attempt =
  | { kind: 'landed'; entry: Omit<LandLanded, 'attempts'> }
  | { kind: 'fix'; reason: 'conflict' | 'check'; files?: string[]; output?: string; prompt: string; message: string }
  | { kind: 'again'; message: string }
  | { kind: 'left'; reason: string }
  | { kind: 'cancelled' };

/** Lands the agents one after the other; see the file's comment. Resolves undefined when the person cancelled the strategy pick. */
export async function land(g: Grove, req: LandRequest, ask: LandAsk = {}): Promise<LandSummary | undefined> {
  const signal = req.signal;
  const { eligible, left } = candidates(g, req);
  if (!eligible.length) {
    if (left.length) return { strategy: req.strategy ?? 'merge', landed: [], sentBack: [], left, baseCommits: [], cancelled: false };
    throw new GroveError('InvalidInput', `No done agent to land${req.repoRoot ? ` in ${req.repoRoot}` : ''}.`);
  }
  const settings = g.settings(eligible[0]!.repoRoot);
  let strategy = req.strategy ?? (settings.mergeStrategy !== 'ask' ? settings.mergeStrategy : undefined);
  if (!strategy) {
    strategy = ask.chooseStrategy ? await ask.chooseStrategy(eligible) : 'merge';
    if (!strategy) return undefined;
  }
  const retries = req.retries ?? settings.landRetries;
  const starts = await baseTips(g, eligible);
  const queue = (await ordered(g, eligible)).map((s) => s.id);
  const first = new Map(eligible.map((s) => [s.id, s]));
  const total = queue.length;
  const landed: LandLanded[] = [];
  const attempts = new Map<string, number>();
  const sentBacks = new Map<string, number>();
  const out = new Map<string, { entry: LandSentBack; endedAt?: number }>();
  const progress = (step: LandStep, instance?: InstanceSnapshot) =>
    ask.onProgress?.({ position: Math.min(total, landed.length + left.length + 1), total, step, out: out.size, ...(instance ? { instance } : {}) });

  while (!signal?.aborted) {
    const id = queue.shift();
    if (!id) {
      if (!out.size || req.wait === false) break;
      progress('waiting');
      const back = await nextBack(g, out, signal);
      if (!back) break;
      const { entry } = out.get(back)!;
      out.delete(back);
      const s = g.fleet.get(back);
      if (!s) left.push({ instance: entry.instance, reason: 'it was removed while it fixed its work', attempts: entry.attempts });
      else if (s.state !== 'done') left.push({ instance: s, reason: `it was sent back (${entry.message}) and its turn ended ${s.state}${s.error ? `: ${s.error}` : ''}`, attempts: entry.attempts });
      else queue.push(back);
      continue;
    }
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    let r: Attempt;
    try {
      r = await attempt(g, id, { strategy, req, ask, progress });
    } catch (err) {
      // Each step leaves the worktree as it was or says how to finish; the train goes on with the next agent.
      r = signal?.aborted ? { kind: 'cancelled' } : { kind: 'left', reason: (err as Error).message };
    }
    const inst = g.fleet.get(id) ?? first.get(id)!;
    if (r.kind === 'cancelled') {
      left.push({ instance: inst, reason: 'Land All was cancelled during its turn; its branch and worktree are as they were', attempts: n });
      break;
    }
    if (r.kind === 'landed') landed.push({ ...r.entry, attempts: n });
    else if (r.kind === 'left') left.push({ instance: inst, reason: r.reason, attempts: n });
    else if (r.kind === 'again') {
      if (n > retries) left.push({ instance: inst, reason: r.message, attempts: n });
      else queue.push(id);
    } else {
      const entry: LandSentBack = { instance: inst, reason: r.reason, ...(r.files ? { files: r.files } : {}), ...(r.output !== undefined ? { output: r.output } : {}), attempts: n, message: r.message };
      const times = sentBacks.get(id) ?? 0;
      if (times >= retries) {
        // Left for the person: a sync stopped on conflicts is undone, its branch and worktree as before this attempt.
        const undone = r.reason === 'conflict' ? await abortStoppedSync(g, inst) : '';
        left.push({ instance: inst, reason: `${r.message} (sent back ${times} time${times === 1 ? '' : 's'} already; grove.landRetries is ${retries})${undone}`, attempts: n });
        continue;
      }
      try {
        const endedAt = inst.endedAt;
        await followUp(g, id, r.prompt);
        sentBacks.set(id, times + 1);
        out.set(id, { entry: { ...entry, instance: g.fleet.get(id) ?? inst }, endedAt });
        ask.onSentBack?.(entry);
      } catch (err) {
        left.push({ instance: inst, reason: `${r.message}; it could not be sent back: ${(err as Error).message}`, attempts: n });
      }
    }
  }
  for (const id of queue) {
    left.push({ instance: g.fleet.get(id) ?? first.get(id)!, reason: 'Land All was cancelled before its turn', attempts: attempts.get(id) ?? 0 });
  }
  return {
    strategy, landed, left, cancelled: !!signal?.aborted,
    sentBack: [...out.values()].map((o) => ({ ...o.entry, instance: g.fleet.get(o.entry.instance.id) ?? o.entry.instance })),
    baseCommits: await newCommits(g, starts),
  };
}

interface AttemptContext {
  strategy: MergeStrategy;
  req: LandRequest;
  ask: LandAsk;
  progress(step: LandStep, instance?: InstanceSnapshot): void;
}

/** One agent's turn in the train: commit (if agreed), sync, check and merge, or why not. */
async function attempt(g: Grove, id: string, c: AttemptContext): Promise<Attempt> {
  const { req, ask } = c;
  const signal = req.signal;
  let inst = g.fleet.get(id);
  if (!inst) return { kind: 'left', reason: 'it was removed' };
  if (isOwned(inst.state)) return { kind: 'left', reason: `it is ${inst.state}` };
  // A task that started after another lands where that one landed (its own base branch is merged already).
  const into = landingTarget(g, inst);
  inst = { ...inst, baseRef: into };
  const wt = requireWorktree(inst);
  c.progress('sync', inst);
  // A sync the agent was asked to resolve: complete it (refused while conflicts or markers remain).
  const state = await g.merges.syncState(wt);
  if (state.operation) {
    try {
      const done = await g.merges.completeSync(wt);
      if (done.status === 'conflicted') return fix(inst, state.operation, done.conflicts ?? []);
    } catch (err) {
      if (err instanceof MergeBlockedError) return fix(inst, state.operation, err.problems.flatMap((p) => p.files ?? []));
      return { kind: 'left', reason: `its ${state.operation} in progress could not be completed: ${(err as Error).message}` };
    }
  }
  const files = await uncommittedFiles(g, inst);
  let preCommit: string | undefined;
  if (files.length) {
    const message = suggestCommitMessage(inst.title, files);
    if (signal?.aborted) return { kind: 'cancelled' };
    const agreed = req.commit || (ask.confirmCommit ? await ask.confirmCommit(inst, files, message) : false);
    if (!agreed) return { kind: 'left', reason: `it has uncommitted work (${list(files)}); commit it, or land with --commit` };
    if (signal?.aborted) return { kind: 'cancelled' };
    preCommit = await head(g, wt);
    await commitAgentWork(g, id);
  }
  // No signal for git steps: a step under way always finishes, then is undone (see undoSync).
  const before = await head(g, wt);
  let synced = false;
  const undo = async (): Promise<Attempt> => {
    if (synced) await undoSync(g, wt, before);
    // The commit of its uncommitted work too: its files are uncommitted again, with the same content.
    if (preCommit && (await head(g, wt)) === before) await g.git.mutate(wt, ['reset', '-q', '--mixed', preCommit]);
    return { kind: 'cancelled' };
  };
  if (signal?.aborted) return undo();
  try {
    const r = await g.merges.syncFromBase({ worktreePath: wt, branch: inst.branch, baseRef: inst.baseRef, strategy: g.settings(inst.repoRoot).syncStrategy, exclude: inst.copiedFiles ?? [] });
    if (r.status === 'conflicted') {
      if (signal?.aborted) {
        await g.merges.abortSync(wt);
        return undo();
      }
      return fix(inst, g.settings(inst.repoRoot).syncStrategy, r.conflicts ?? []);
    }
    synced = r.status === 'synced';
  } catch (err) {
    if (err instanceof MergeBlockedError) return { kind: 'left', reason: err.problems.map((p) => p.message).join(' ') };
    return { kind: 'left', reason: `syncing ${inst.baseRef} into it failed (its worktree is as it was): ${(err as Error).message}` };
  }
  if (signal?.aborted) return undo();
  const checkCommand = g.trusted() ? g.settings(inst.repoRoot).checkCommand : undefined;
  c.progress(checkCommand ? 'check' : 'merge', inst);
  inst = { ...requireInstance(g, id), baseRef: into };
  try {
    const current = inst;
    const r = await merge(g, { id, strategy: c.strategy, commit: false, into, ...(req.cleanup ? { cleanup: req.cleanup } : {}), checkSignal: signal }, {
      onCheckOutput: ask.onCheckOutput ? (chunk) => ask.onCheckOutput!(current, chunk) : undefined,
      confirmCleanup: ask.confirmCleanup ? (i) => ask.confirmCleanup!(i) : undefined,
    });
    if (!r) return { kind: 'left', reason: 'it was not merged' };
    const cleanup = !r.cleanup ? undefined : 'kept' in r.cleanup ? `kept: ${r.cleanup.kept}` : `removed its worktree${r.cleanup.branchDeleted ? ` and branch ${r.cleanup.branch}` : ''}`;
    return { kind: 'landed', entry: { instance: r.instance, strategy: r.strategy, into: r.into, mergedCommit: r.mergedCommit, ...(cleanup ? { cleanup } : {}) } };
  } catch (err) {
    if (signal?.aborted) return undo();
    const problems = GroveError.is(err, 'Blocked') ? ((err.details as MergeProblem[] | undefined) ?? []) : [];
    const failed = problems.find((p) => p.code === 'CheckFailed');
    if (failed) return checkFailed(inst, checkCommand ?? 'the check', failed.output ?? '');
    if (problems.some((p) => p.code === 'Conflicts')) return { kind: 'again', message: `${inst.baseRef} moved while it was landed and now conflicts with it` };
    return { kind: 'left', reason: (err as Error).message };
  }
}

function fix(inst: InstanceSnapshot, operation: string, files: string[]): Attempt {
  const prompt = `${resolvePrompt(inst, { operation: operation === 'rebase' ? 'rebase' : 'merge', conflicts: files })}\n\nLand All merges your branch into \`${inst.baseRef}\` once your turn ends with this done.`;
  return { kind: 'fix', reason: 'conflict', files, prompt, message: `syncing ${inst.baseRef} stopped on conflicts in ${list(files)}` };
}

function checkFailed(inst: InstanceSnapshot, command: string, output: string): Attempt {
  const tail = lastLines(output, 200);
  const prompt = [
    `Land All brought \`${inst.baseRef}\` into your branch \`${inst.branch}\`, then ran the check \`${command}\` in your worktree; it failed. Its last lines:`,
    '',
    '```text',
    tail,
    '```',
    '',
    `Fix the cause (your change, or how it works with what \`${inst.baseRef}\` now contains), run the check again, and commit your fix. Land All merges your branch once your turn ends with the check passing.`,
  ].join('\n');
  return { kind: 'fix', reason: 'check', output: tail, prompt, message: `the check \`${command}\` failed` };
}

async function abortStoppedSync(g: Grove, inst: InstanceSnapshot): Promise<string> {
  try {
    const wt = requireWorktree(inst);
    if (!(await g.merges.syncState(wt)).operation) return '';
    await g.merges.abortSync(wt);
    return `; the sync was undone, its branch is as it was (Sync from Base shows the conflicts again)`;
  } catch (err) {
    return `; its sync is still stopped on the conflicts (${(err as Error).message}): resolve them and Complete Sync, or Abort Sync`;
  }
}

/** The sync this train made is undone exactly: the branch back where it was, files as before (untracked ones kept). */
async function undoSync(g: Grove, wt: string, before: string): Promise<void> {
  await g.git.mutate(wt, ['reset', '--keep', before]);
}

async function head(g: Grove, wt: string): Promise<string> {
  return (await g.git.read(wt, ['rev-parse', 'HEAD'])).stdout.trim();
}

/** Resolves with the first of `out` whose turn ended (undefined when cancelled). */
function nextBack(g: Grove, out: ReadonlyMap<string, { endedAt?: number }>, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    const check = () => {
      for (const [id, o] of out) {
        const s = g.fleet.get(id);
        if (!s || (!isOwned(s.state) && s.endedAt !== o.endedAt)) return finish(id);
      }
      if (signal?.aborted) finish(undefined);
    };
    const sub = g.fleet.onDidChangeInstances(check);
    const onAbort = () => finish(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    function finish(id: string | undefined) {
      sub.dispose();
      signal?.removeEventListener('abort', onAbort);
      resolve(id);
    }
    check();
  });
}

/** The agents that can land now, and why the others named cannot. */
function candidates(g: Grove, req: LandRequest): { eligible: InstanceSnapshot[]; left: LandLeft[] } {
  const all = req.ids ? req.ids.map((id) => requireInstance(g, id)) : g.fleet.instances().filter((s) => (!req.repoRoot || s.repoRoot === req.repoRoot) && s.state === 'done' && !s.merge && !s.archived && !!s.worktreePath);
  const eligible: InstanceSnapshot[] = [];
  const left: LandLeft[] = [];
  for (const s of all) {
    const why = !s.worktreePath || s.archived ? 'it has no worktree' : s.merge ? `it is already merged into ${s.merge.into}` : s.state !== 'done' ? `it is ${s.state}, not done` : undefined;
    if (why) left.push({ instance: s, reason: why, attempts: 0 });
    else eligible.push(s);
  }
  return { eligible, left };
}

async function ordered(g: Grove, list: InstanceSnapshot[]): Promise<InstanceSnapshot[]> {
  const ids = new Set(list.map((s) => s.id));
  for (const root of new Set(list.map((s) => s.repoRoot))) await g.radar.refresh(root);
  return landOrder(list, (id) => {
    const r = g.radar.of(id);
    return (r?.base?.conflict ? 1 : 0) + (r?.overlaps.filter((o) => o.conflict && ids.has(o.id)).length ?? 0);
  });
}

async function baseTips(g: Grove, list: InstanceSnapshot[]): Promise<Map<string, { repoRoot: string; baseRef: string; tip: string }>> {
  const out = new Map<string, { repoRoot: string; baseRef: string; tip: string }>();
  for (const s of list) {
    const key = `${s.repoRoot}\0${s.baseRef}`;
    if (out.has(key)) continue;
    const r = await g.git.read(s.repoRoot, ['rev-parse', '--verify', '-q', `${s.baseRef}^{commit}`], { okExitCodes: [1] });
    if (r.exitCode === 0) out.set(key, { repoRoot: s.repoRoot, baseRef: s.baseRef, tip: r.stdout.trim() });
  }
  return out;
}

async function newCommits(g: Grove, starts: Map<string, { repoRoot: string; baseRef: string; tip: string }>): Promise<LandSummary['baseCommits']> {
  const out: LandSummary['baseCommits'] = [];
  for (const { repoRoot, baseRef, tip } of starts.values()) {
    const r = await g.git.read(repoRoot, ['log', '--format=%h %s', `${tip}..${baseRef}`, '--']).catch(() => undefined);
    const commits = r ? r.stdout.split('\n').filter(Boolean) : [];
    if (commits.length) out.push({ repoRoot, baseRef, commits });
  }
  return out;
}

function list(files: readonly string[]): string {
  return `${files.slice(0, 8).join(', ')}${files.length > 8 ? `, … (${files.length} files)` : ''}`;
}
