/** Repository facts the snapshot modules read: where a worktree's files are, refs, branches, worktrees, metadata. */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { GitError } from './gitError';
import { normalizePath } from './provisioner';
import { CHECKPOINT_REF_PREFIX, EMPTY_TREE_SHA1, EMPTY_TREE_SHA256, GROVE_METADATA, SNAPSHOT_REF_PREFIX, STATE_DIRS, STATE_FILES, type BranchConflict, type Run, type SnapshotMeta, type SyncState } from './snapshotTypes';
import { lstatOrUndefined, objectId, readText, writeObjects, type ObjectFormat } from './snapshotUtil';

export interface Location {
  top: string;
  gitDir: string;
  commonDir: string;
  indexFile: string;
  /** The main worktree's top (what `repoRoot` means elsewhere in Grove). */
  repoRoot: string;
  objectFormat: ObjectFormat;
}

export interface LocationAtHead extends Location {
  /** HEAD's commit; none on an unborn branch. */
  head?: string;
  /** The ref HEAD points at (`refs/heads/<branch>`); none when detached. */
  headRef?: string;
}

const LOCATE = ['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-dir', '--git-common-dir', '--git-path', 'index', '--show-object-format'];

/**
 * Where a worktree's files, git dir, common dir and index are. `mainWorktrees` (common dir → main worktree) keeps
 * what `worktree list` said: a repository's main worktree never moves.
 */
export async function locate(run: Run, cwd: string, signal?: AbortSignal, mainWorktrees?: Map<string, string>): Promise<Location> {
  return located(run, cwd, (await run(cwd, LOCATE, { signal })).stdout.split(/\r?\n/), signal, mainWorktrees);
}

/**
 * {@link locate} and HEAD in one process. git refuses the HEAD part (128) on an unborn branch, or when a file named
 * HEAD makes the name ambiguous: then the questions are asked one by one.
 */
export async function locateAtHead(run: Run, cwd: string, signal?: AbortSignal, mainWorktrees?: Map<string, string>): Promise<LocationAtHead> {
  const r = await run(cwd, [...LOCATE, 'HEAD^{commit}', '--symbolic-full-name', 'HEAD'], { signal, okExitCodes: [128] });
  const lines = r.stdout.split(/\r?\n/);
  if (r.exitCode === 0 && /^[0-9a-f]{40,64}$/.test(lines[5] ?? '') && lines[6]) {
    const where = await located(run, cwd, lines, signal, mainWorktrees);
    return { ...where, head: lines[5]!, ...(lines[6] !== 'HEAD' ? { headRef: lines[6] } : {}) };
  }
  const where = await locate(run, cwd, signal, mainWorktrees);
  const [head, symbolic] = await Promise.all([
    revParse(run, where.top, 'HEAD', signal),
    run(where.top, ['symbolic-ref', '-q', 'HEAD'], { signal, okExitCodes: [1] }),
  ]);
  return { ...where, ...(head ? { head } : {}), ...(symbolic.exitCode === 0 ? { headRef: symbolic.stdout.trim() } : {}) };
}

async function located(run: Run, cwd: string, lines: string[], signal: AbortSignal | undefined, mainWorktrees: Map<string, string> | undefined): Promise<Location> {
  const [top, gitDir, commonDir, indexFile, format] = lines;
  if (!top || !gitDir || !commonDir || !indexFile) throw new GitError(`${cwd} is not inside a git worktree.`, { code: 'NotAGitRepository' });
  const real = (p: string) => {
    try {
      return fs.realpathSync.native(p);
    } catch {
      return p;
    }
  };
  const common = real(commonDir);
  let repoRoot = mainWorktrees?.get(common);
  if (repoRoot === undefined) {
    const list = (await run(cwd, ['worktree', 'list', '--porcelain'], { signal })).stdout;
    repoRoot = /^worktree (.*)$/m.exec(list)?.[1] ?? real(top);
    mainWorktrees?.set(common, repoRoot);
  }
  return { top: real(top), gitDir: real(gitDir), commonDir: common, indexFile, repoRoot, objectFormat: format === 'sha256' ? 'sha256' : 'sha1' };
}

export async function revParse(run: Run, cwd: string, rev: string, signal?: AbortSignal): Promise<string | undefined> {
  if (rev.startsWith('-')) return undefined;
  const r = await run(cwd, ['rev-parse', '-q', '--verify', `${rev}^{commit}`], { signal, okExitCodes: [1, 128] });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function emptyTree(run: Run, cwd: string, signal?: AbortSignal): Promise<string> {
  const format = await run(cwd, ['rev-parse', '--show-object-format'], { signal, okExitCodes: [128, 129] });
  return format.stdout.trim() === 'sha256' ? EMPTY_TREE_SHA256 : EMPTY_TREE_SHA1;
}

export async function checkBranchName(run: Run, cwd: string, branch: string, signal?: AbortSignal): Promise<void> {
  const r = branch.startsWith('-') ? { exitCode: 1 } : await run(cwd, ['check-ref-format', '--branch', branch], { signal, okExitCodes: [1, 128] });
  if (r.exitCode !== 0) throw new GitError(`'${branch}' is not a valid branch name.`, { code: 'InvalidBranchName' });
}

/** The worktree that has `branch` checked out (or is rebasing it), if any. */
export async function checkedOutIn(run: Run, cwd: string, branch: string, signal?: AbortSignal): Promise<string | undefined> {
  const list = (await run(cwd, ['worktree', 'list', '--porcelain'], { signal })).stdout;
  let current: string | undefined;
  for (const line of list.split('\n')) {
    if (line.startsWith('worktree ')) current = line.slice(9);
    else if (line === `branch refs/heads/${branch}`) return current;
  }
  return undefined;
}

export async function findWorktree(run: Run, cwd: string, wtPath: string, signal?: AbortSignal): Promise<{ path: string; missing: boolean; locked: boolean; branch?: string } | undefined> {
  const list = (await run(cwd, ['worktree', 'list', '--porcelain'], { signal })).stdout;
  const wanted = normalizePath(wtPath);
  for (const block of list.split(/\n\n+/)) {
    const p = /^worktree (.*)$/m.exec(block)?.[1];
    if (!p || normalizePath(p) !== wanted) continue;
    if (/^bare$/m.test(block)) return undefined;
    const branch = /^branch refs\/heads\/(.*)$/m.exec(block)?.[1];
    return { path: p, missing: !fs.existsSync(p), locked: /^locked/m.test(block), ...(branch ? { branch } : {}) };
  }
  return undefined;
}

/** The branch a rebase in progress in the worktree `wt` will update. */
export async function rebasingIn(run: Run, wt: string, signal?: AbortSignal): Promise<string | undefined> {
  const gitDir = (await run(wt, ['rev-parse', '--path-format=absolute', '--git-dir'], { signal })).stdout.trim();
  for (const dir of ['rebase-merge', 'rebase-apply']) {
    const headName = (await readText(path.join(gitDir, dir, 'head-name')))?.trim();
    if (headName?.startsWith('refs/heads/')) return headName.slice('refs/heads/'.length);
  }
  return undefined;
}

export function branchConflict(c: BranchConflict): GitError {
  const where = c.checkedOutAt ? ` and is checked out in ${c.checkedOutAt}` : '';
  const at = c.current && c.current !== c.recorded ? ` is at ${c.current.slice(0, 12)} (the snapshot recorded ${c.recorded.slice(0, 12)})` : ' exists';
  return new GitError(`Branch ${c.branch}${at}${where}. Restore under another branch name or detached; Grove never moves it.`, { code: 'BranchExists', details: c });
}

export function freePath(wanted: string): string {
  const free = (p: string) => {
    try {
      const stat = fs.lstatSync(p);
      return stat.isDirectory() && fs.readdirSync(p).length === 0;
    } catch {
      return true;
    }
  };
  if (free(wanted)) return wanted;
  for (let i = 1; ; i++) {
    const candidate = `${wanted}-restored${i === 1 ? '' : `-${i}`}`;
    if (free(candidate)) return candidate;
  }
}

/** An entry of a tree {@link writeTree} writes: a blob (or gitlink) at a `/`-separated path, or a whole tree. */
export type TreeEntry = { path: string; id: string; mode: string };

/**
 * Writes the tree holding `entries` (blobs at nested paths, trees at the top level; empty trees left out) and
 * every tree on their paths, with one `hash-object -t tree` (see {@link writeObjects}). git's tree format is
 * `<octal mode> <name>\0<binary id>` per entry, sorted by name with folders compared as `name/`.
 */
export async function writeTree(run: Run, cwd: string, tmp: string, format: ObjectFormat, entries: TreeEntry[], signal?: AbortSignal): Promise<string> {
  type Dir = Map<string, { mode: string; id: string } | Dir>;
  const root: Dir = new Map();
  const empty = new Set([EMPTY_TREE_SHA1, EMPTY_TREE_SHA256]);
  for (const e of entries) {
    if (e.mode === '40000' && empty.has(e.id)) continue;
    const names = e.path.split('/');
    let dir = root;
    for (const name of names.slice(0, -1)) {
      let sub = dir.get(name);
      if (!sub) dir.set(name, (sub = new Map()));
      if (!(sub instanceof Map)) throw new GitError(`${e.path}: ${name} is both a file and a folder`, { code: 'Unknown' });
      dir = sub;
    }
    const leaf = names[names.length - 1]!;
    if (dir.has(leaf)) throw new GitError(`${e.path} is listed twice`, { code: 'Unknown' });
    dir.set(leaf, { mode: e.mode, id: e.id });
  }
  const objects: Array<{ file: string; id: string }> = [];
  const write = async (dir: Dir): Promise<string> => {
    const items: Array<{ name: string; mode: string; id: string; tree: boolean }> = [];
    for (const [name, v] of dir) {
      if (v instanceof Map) items.push({ name, mode: '40000', id: await write(v), tree: true });
      else items.push({ name, mode: v.mode.replace(/^0+/, ''), id: v.id, tree: v.mode.replace(/^0+/, '') === '40000' });
    }
    const key = (e: { name: string; tree: boolean }) => Buffer.from(e.tree ? `${e.name}/` : e.name, 'utf8');
    items.sort((x, y) => Buffer.compare(key(x), key(y)));
    const body = Buffer.concat(items.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`, 'utf8'), Buffer.from(e.id, 'hex')]));
    const id = objectId(format, 'tree', body);
    const file = path.join(tmp, `tree-${objects.length}`);
    await fs.promises.writeFile(file, body);
    objects.push({ file, id });
    return id;
  };
  const id = await write(root);
  await writeObjects(run, cwd, 'tree', objects, signal);
  return id;
}

export function detectSyncState(stateFiles: string[]): SyncState | undefined {
  const has = (p: string) => stateFiles.some((f) => f === p || f.startsWith(`${p}/`));
  if (has('rebase-merge')) return 'rebase';
  if (has('rebase-apply')) return has('rebase-apply/applying') ? 'am' : 'rebase';
  if (has('MERGE_HEAD')) return 'merge';
  if (has('CHERRY_PICK_HEAD')) return 'cherry-pick';
  if (has('REVERT_HEAD')) return 'revert';
  if (has('sequencer')) return 'cherry-pick';
  return undefined;
}

export async function listStateFiles(gitDir: string, linked: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const name of [...STATE_FILES, ...(linked ? [GROVE_METADATA] : [])]) {
    const stat = await lstatOrUndefined(path.join(gitDir, name));
    if (stat?.isFile()) out.push(name);
  }
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(gitDir, ...rel.split('/'));
    const stat = await lstatOrUndefined(abs);
    if (!stat) return;
    if (stat.isDirectory()) for (const child of (await fs.promises.readdir(abs)).sort()) await walk(`${rel}/${child}`);
    else if (stat.isFile()) out.push(rel);
  };
  for (const dir of STATE_DIRS) await walk(dir);
  return out;
}

export async function branchConfig(run: Run, cwd: string, branches: string[], signal?: AbortSignal): Promise<Array<[string, string]>> {
  if (!branches.length) return [];
  const r = await run(cwd, ['config', '--local', '-z', '--list'], { signal, okExitCodes: [1] });
  const out: Array<[string, string]> = [];
  for (const rec of r.stdout.split('\0')) {
    const nl = rec.indexOf('\n');
    const key = nl < 0 ? rec : rec.slice(0, nl);
    const value = nl < 0 ? '' : rec.slice(nl + 1);
    if (branches.some((b) => key.startsWith(`branch.${b}.`) && !key.slice(`branch.${b}.`.length).includes('.'))) out.push([key, value]);
  }
  return out;
}

export async function setBranchConfig(run: Run, cwd: string, config: Array<[string, string]>, from: string, to: string, signal?: AbortSignal): Promise<string[]> {
  const notes: string[] = [];
  for (const [key, value] of config) {
    if (!key.startsWith(`branch.${from}.`)) continue;
    const name = `branch.${to}.${key.slice(`branch.${from}.`.length)}`;
    try {
      await run(cwd, ['config', '--local', '--add', name, value], { signal });
    } catch (err) {
      notes.push(`Could not restore ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return notes;
}

export async function readMetas(logger: Logger, run: Run, cwd: string, prefix: string, signal?: AbortSignal): Promise<SnapshotMeta[]> {
  const args = ['for-each-ref', '--format=%(refname)%00%(objectname)%00%(contents:body)%00', prefix];
  const { stdout } = await run(cwd, args, { signal });
  const fields = stdout.split('\0');
  const out: SnapshotMeta[] = [];
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const ref = fields[i]!.trim();
    const commit = fields[i + 1]!.trim();
    try {
      const meta = JSON.parse(fields[i + 2]!.trim()) as SnapshotMeta;
      if (meta.version !== 1) continue;
      out.push({ ...meta, ref, commit, id: ref.startsWith(SNAPSHOT_REF_PREFIX) ? ref.slice(SNAPSHOT_REF_PREFIX.length) : ref.slice(CHECKPOINT_REF_PREFIX.length) });
    } catch {
      logger.warn(`snapshots: ${ref} has no readable metadata; ignored`);
    }
  }
  return out;
}
