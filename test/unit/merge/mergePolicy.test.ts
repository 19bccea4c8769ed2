/** The merge rules as a pure function of literal facts: no git, no files. */
import assert from 'node:assert/strict';
import type { CheckoutFacts, MergeFacts, SyncFacts } from '../../../src/core/git/mergeFacts';
import { evaluate, evaluateSync, problem } from '../../../src/core/git/mergePolicy';
import { blockedError, type MergeProblem } from '../../../src/core/git/mergeTypes';

const WT = '/repo.worktrees/task';
const MAIN = '/repo';

function facts(over: Partial<MergeFacts> = {}): MergeFacts {
  return {
    branch: 'grove/task', baseRef: 'main',
    worktree: { path: WT, headBranch: 'grove/task', conflicts: [], dirty: [] },
    base: { ref: 'refs/heads/main', name: 'main', tip: 'b'.repeat(40) },
    tip: 't'.repeat(40), merged: false, baseMoved: false,
    prediction: { clean: true, conflicts: [], tree: 'e'.repeat(40) },
    checkouts: [],
    ...over,
  };
}

function checkout(over: Partial<CheckoutFacts> = {}): CheckoutFacts {
  return { path: MAIN, rebasing: false, conflicts: [], dirtyTouched: [], inTheWay: [], ...over };
}

const opts = { strategy: 'merge' as const, checkConfigured: false, running: false };
const codes = (ps: MergeProblem[]) => ps.map((p) => `${p.code}${p.blocking ? '' : '(info)'}`);

describe('merge: policy (pure)', () => {
  it('nothing wrong: no problems', () => {
    assert.deepEqual(evaluate(facts(), opts), []);
  });

  it('the worktree: running, not on the branch, uncommitted work — in that order; an operation in progress says only that', () => {
    const f = facts({ worktree: { path: WT, conflicts: [], dirty: ['a.txt', 'new.txt'] } });
    assert.deepEqual(codes(evaluate(f, { ...opts, running: true })), ['AgentRunning', 'NotOnBranch', 'UncommittedWork']);
    const busy = facts({ worktree: { path: WT, operation: 'rebase', conflicts: ['a.txt'], dirty: ['a.txt'] } });
    const ps = evaluate(busy, opts);
    assert.deepEqual(codes(ps), ['SyncInProgress']);
    assert.equal(ps[0]!.message, `A rebase is in progress in ${WT} with conflicts in a.txt: complete or abort it first.`);
  });

  it('a base that is not a local branch stops the evaluation; so does a branch already merged with nothing uncommitted', () => {
    assert.deepEqual(codes(evaluate(facts({ base: undefined, baseRef: 'origin/main' }), opts)), ['BaseNotABranch']);
    assert.deepEqual(codes(evaluate(facts({ merged: true, prediction: undefined }), opts)), ['NothingToMerge']);
    const dirty = facts({ merged: true, worktree: { path: WT, headBranch: 'grove/task', conflicts: [], dirty: ['x'] } });
    assert.deepEqual(codes(evaluate(dirty, opts)), ['UncommittedWork'], 'uncommitted work is something to merge once committed');
  });

  it('predicted conflicts: checkouts are not judged (the merge cannot happen anyway)', () => {
    const f = facts({ prediction: { clean: false, conflicts: ['a.txt'], tree: 'x' }, baseMoved: true, checkouts: [checkout({ dirtyTouched: ['a.txt'] })] });
    assert.deepEqual(codes(evaluate(f, opts)), ['Conflicts', 'BaseMoved(info)']);
  });

  it("the base's checkouts: busy, local changes in touched files, files in the way (ignored or untracked)", () => {
    const f = facts({
      checkouts: [
        checkout({ dirtyTouched: ['a.txt'], inTheWay: [{ path: 'config.local.json', ignored: true }] }),
        checkout({ path: '/elsewhere', rebasing: true, operation: 'rebase' }),
      ],
    });
    const ps = evaluate(f, opts);
    assert.deepEqual(codes(ps), ['UserCheckoutDirty', 'FilesInTheWay', 'UserCheckoutDirty']);
    assert.deepEqual([ps[1]!.files, ps[1]!.worktreePath], [['config.local.json'], MAIN]);
    assert.match(ps[1]!.message, /files git ignores in \/repo \(config\.local\.json\)/);
    const mixed = evaluate(facts({ checkouts: [checkout({ inTheWay: [{ path: 'a', ignored: true }, { path: 'b', ignored: false }] })] }), opts);
    assert.match(mixed[0]!.message, /not committed \(ignored or untracked\)/);
  });

  it("the agent's ignored files in the way of a rebase block the rebase strategy only", () => {
    const f = facts({ baseMoved: true, rebaseInTheWay: [{ path: 'debug.log', ignored: true }] });
    assert.deepEqual(codes(evaluate(f, { ...opts, strategy: 'rebase' })), ['FilesInTheWay', 'BaseMoved(info)']);
    assert.deepEqual(codes(evaluate(f, { ...opts, strategy: 'squash' })), ['BaseMoved(info)']);
  });

  it('a moved base blocks only when a check command is configured', () => {
    const f = facts({ baseMoved: true });
    assert.deepEqual(codes(evaluate(f, opts)), ['BaseMoved(info)']);
    assert.deepEqual(codes(evaluate(f, { ...opts, checkConfigured: true })), ['BaseMoved']);
  });

  it('sync: worktree problems first; files in the way not already reported as uncommitted', () => {
    const s = (over: Partial<SyncFacts>): SyncFacts => ({
      worktree: { path: WT, headBranch: 'grove/task', conflicts: [], dirty: [] }, branch: 'grove/task', baseRef: 'main', strategy: 'merge',
      head: 'h', baseTip: 'b', upToDate: false, inTheWay: [], ...over,
    });
    assert.deepEqual(evaluateSync(s({})), []);
    assert.deepEqual(codes(evaluateSync(s({ upToDate: true, worktree: { path: WT, headBranch: 'grove/task', conflicts: [], dirty: ['x'] } }))), ['UncommittedWork']);
    const ps = evaluateSync(s({ strategy: 'rebase', inTheWay: [{ path: 'debug.log', ignored: true }] }));
    assert.deepEqual(codes(ps), ['FilesInTheWay']);
    assert.match(ps[0]!.message, /^Rebasing grove\/task onto main would overwrite files git ignores in .*\(debug\.log\).*then sync again\.$/);
  });

  it('blockedError: only blocking problems, the error code of the first', () => {
    assert.equal(blockedError([problem.baseMoved('main', false)]), undefined);
    const err = blockedError([problem.baseMoved('main', false), problem.notOnBranch(WT, 'b', undefined), problem.uncommitted(WT, ['a'])])!;
    assert.equal(err.code, 'DetachedHead');
    assert.deepEqual(err.problems.map((p) => p.code), ['NotOnBranch', 'UncommittedWork']);
  });
});
