/** The conflict radar on real repositories: pairs of agents and each agent against its base, nothing touched. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConflictRadar, indexFingerprint, overlapsOf, sharedPaths, type RadarAgent } from '../../../src/core/git/radar';
import { instanceRepo, wholeState } from '../../support/mergeFixtures';
import { commit, git, useTempRepos, writeFiles } from '../../support/repo';

const lines = (n: number, edit: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => `${edit[i] ?? `line ${i}`}\n`).join('');

function objectCount(repoRoot: string): string {
  return git(repoRoot, 'count-objects', '-v').split('\n').filter((l) => /^(count|in-pack):/.test(l)).join(' ');
}

describe('merge: conflict radar', function () {
  this.timeout(60_000);
  const repos = useTempRepos();

  async function fleet() {
    const f = await instanceRepo(repos, { 'a.txt': lines(10), 'b.txt': 'b\n', 'c.txt': 'c\n' }, 'agent a');
    const more = [];
    for (const title of ['agent b', 'agent c', 'agent d']) more.push(await f.manager.create({ repoRoot: f.repoRoot, title }));
    const agents: RadarAgent[] = [
      { id: 'a', worktreePath: f.worktreePath, branch: f.branch, baseRef: 'main' },
      ...more.map((w, i) => ({ id: 'bcd'[i]!, worktreePath: w.path, branch: w.branch, baseRef: 'main' })),
    ];
    const wt = Object.fromEntries(agents.map((a) => [a.id, a.worktreePath]));
    return { f, agents, wt };
  }

  it('same lines: a conflict pair; same file, other lines: an overlap; uncommitted and untracked work included; nothing touched', async () => {
    const { f, agents, wt } = await fleet();
    writeFiles(wt.a!, { 'a.txt': lines(10, { 1: 'a changed line 1' }) }); // uncommitted
    commit(wt.b!, 'b', { 'a.txt': lines(10, { 1: 'b changed line 1' }) }); // committed
    writeFiles(wt.c!, { 'a.txt': lines(10, { 8: 'c changed line 8' }), 'notes.md': 'c notes\n' }); // + untracked
    writeFiles(wt.d!, { 'notes.md': 'd notes\n', 'd.txt': 'd\n' });
    fs.writeFileSync(path.join(wt.d!, '.git-ignored-probe'), ''); // no .gitignore: an untracked file like any other
    fs.rmSync(path.join(wt.d!, '.git-ignored-probe'));
    const before = [wholeState(f.repoRoot, ...Object.values(wt)), objectCount(f.repoRoot)];
    const indexes = Object.values(wt).map((w) => fs.statSync(path.join(git(w, 'rev-parse', '--absolute-git-dir'), 'index')).mtimeMs);

    const radar = new ConflictRadar(f.client, { logger: f.logger });
    const r = await radar.scan(f.repoRoot, agents);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.pairs, [
      { a: 'a', b: 'b', files: ['a.txt'], conflict: true, conflictFiles: ['a.txt'] },
      { a: 'a', b: 'c', files: ['a.txt'], conflict: false, conflictFiles: [] },
      { a: 'b', b: 'c', files: ['a.txt'], conflict: false, conflictFiles: [] },
      { a: 'c', b: 'd', files: ['notes.md'], conflict: true, conflictFiles: ['notes.md'] },
    ]);
    assert.deepEqual(r.againstBase.map((x) => [x.id, x.files, x.conflict]), [['a', [], false], ['b', [], false], ['c', [], false], ['d', [], false]]);
    assert.deepEqual(overlapsOf(r, 'c'), [
      { id: 'a', files: ['a.txt'], conflict: false, conflictFiles: [] },
      { id: 'b', files: ['a.txt'], conflict: false, conflictFiles: [] },
      { id: 'd', files: ['notes.md'], conflict: true, conflictFiles: ['notes.md'] },
    ]);

    assert.deepEqual([wholeState(f.repoRoot, ...Object.values(wt)), objectCount(f.repoRoot)], before, 'no checkout, index, ref or object of the repository changed');
    assert.deepEqual(Object.values(wt).map((w) => fs.statSync(path.join(git(w, 'rev-parse', '--absolute-git-dir'), 'index')).mtimeMs), indexes);
    await radar.dispose();
  });

  it('an unchanged pair costs nothing on the next scan; a change is seen; the radar updates when the base moves', async () => {
    const { f, agents, wt } = await fleet();
    writeFiles(wt.a!, { 'a.txt': lines(10, { 1: 'a changed line 1' }) });
    commit(wt.b!, 'b', { 'a.txt': lines(10, { 5: 'b changed line 5' }) });
    const radar = new ConflictRadar(f.client, { logger: f.logger });
    const first = await radar.scan(f.repoRoot, agents);
    assert.deepEqual(first.pairs.map((p) => [p.a, p.b, p.conflict]), [['a', 'b', false]]);

    const mark = f.logger.lines.length;
    assert.deepEqual(await radar.scan(f.repoRoot, agents), first);
    const warm = f.logger.lines.slice(mark).filter((l) => l.startsWith('info > git '));
    assert.deepEqual(warm.filter((l) => /> git (merge-tree|commit-tree|write-tree|diff|merge-base)/.test(l)), [], warm.join('\n'));
    assert.equal(warm.filter((l) => /> git add -A/.test(l)).length, agents.length);

    // The agent edits again: now the same line as b.
    writeFiles(wt.a!, { 'a.txt': lines(10, { 5: 'a changed line 5 too' }) });
    const second = await radar.scan(f.repoRoot, agents);
    assert.deepEqual(second.pairs, [{ a: 'a', b: 'b', files: ['a.txt'], conflict: true, conflictFiles: ['a.txt'] }]);

    // The base moves: the user changes line 1 and c.txt.
    commit(f.repoRoot, 'user', { 'a.txt': lines(10, { 1: 'user changed line 1' }), 'c.txt': 'user c\n' });
    writeFiles(wt.c!, { 'c.txt': 'agent c\n' });
    const third = await radar.scan(f.repoRoot, agents);
    assert.deepEqual(third.againstBase, [
      { id: 'a', files: ['a.txt'], conflict: false, conflictFiles: [] },
      { id: 'b', files: ['a.txt'], conflict: false, conflictFiles: [] },
      { id: 'c', files: ['c.txt'], conflict: true, conflictFiles: ['c.txt'] },
      { id: 'd', files: [], conflict: false, conflictFiles: [] },
    ]);
    writeFiles(wt.a!, { 'a.txt': lines(10, { 1: 'a changed line 1 again', 5: 'a changed line 5 too' }) });
    assert.equal((await radar.scan(f.repoRoot, agents)).againstBase[0]!.conflict, true);
    await radar.dispose();
  });

  it('unchanged: the previous snapshot is reused without reading the worktree, unless its HEAD moved', async () => {
    const { f, agents, wt } = await fleet();
    commit(wt.b!, 'b', { 'b.txt': 'from b\n' });
    const radar = new ConflictRadar(f.client, { logger: f.logger });
    assert.deepEqual((await radar.scan(f.repoRoot, agents)).pairs, []);
    writeFiles(wt.a!, { 'b.txt': 'from a\n' });
    const idle = agents.map((a) => ({ ...a, unchanged: true }));
    const mark = f.logger.lines.length;
    assert.deepEqual((await radar.scan(f.repoRoot, idle)).pairs, [], 'a is said to be unchanged: not read');
    assert.equal(f.logger.lines.slice(mark).filter((l) => /> git add -A/.test(l)).length, 0);
    git(wt.a!, 'commit', '-q', '-am', 'a');
    assert.deepEqual((await radar.scan(f.repoRoot, idle)).pairs.map((p) => [p.a, p.b, p.conflict]), [['a', 'b', true]], 'HEAD moved: read again');
    await radar.dispose();
  });

  it('an agent that cannot be scanned is reported; the others are; dispose removes the private objects', async () => {
    const { f, agents, wt } = await fleet();
    commit(wt.a!, 'a', { 'b.txt': 'from a\n' });
    commit(wt.b!, 'b', { 'b.txt': 'from b\n' });
    const tmp = repos.dir('radar-tmp');
    const radar = new ConflictRadar(f.client, { tmpDir: tmp });
    const r = await radar.scan(f.repoRoot, [...agents, { id: 'gone', worktreePath: path.join(f.repoRoot, '..', 'nope'), branch: 'x', baseRef: 'main' }, { id: 'e', worktreePath: wt.c!, branch: 'x', baseRef: 'no-such-base' }]);
    assert.deepEqual(r.errors.map((e) => e.id).sort(), ['e', 'gone']);
    assert.deepEqual(r.pairs.map((p) => [p.a, p.b, p.conflict]), [['a', 'b', true]]);
    assert.equal(fs.readdirSync(tmp).length, 1);
    await radar.dispose();
    assert.deepEqual(fs.readdirSync(tmp), []);
  });

  it('indexFingerprint: the same for a re-stamped index, different for other content; v4 falls back to the bytes', () => {
    const root = repos.create({ files: { 'a.txt': 'a\n', 'dir/long name ñ.txt': 'x\n' } });
    const index = path.join(root, '.git', 'index');
    const first = fs.readFileSync(index);
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(root, 'a.txt'), past, past);
    git(root, 'update-index', '--refresh');
    const restamped = fs.readFileSync(index);
    assert.notDeepEqual(restamped, first);
    assert.equal(indexFingerprint(restamped), indexFingerprint(first));
    writeFiles(root, { 'a.txt': 'changed\n' });
    git(root, 'add', 'a.txt');
    assert.notEqual(indexFingerprint(fs.readFileSync(index)), indexFingerprint(first));
    git(root, 'update-index', '--index-version', '4');
    const v4 = fs.readFileSync(index);
    assert.equal(v4.readUInt32BE(4), 4);
    assert.equal(indexFingerprint(v4).length, 40);
  });

  it('sharedPaths: equal paths and a file against a folder', () => {
    assert.deepEqual(sharedPaths(['a/b.txt', 'c', 'x'], ['a', 'c', 'y/z']), ['a', 'c']);
    assert.deepEqual(sharedPaths([], ['a']), []);
  });
});
