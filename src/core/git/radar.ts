/**
 * The conflict radar: for every pair of agents of a repository, and for each agent against its base's current
 * tip, which files both changed and whether their changes conflict — the agents' uncommitted and untracked
 * work included, without touching any checkout, index, ref or the repository's object store.
 *
 * How, per scan:
 * 1. One `git worktree list` gives every worktree's HEAD; one `rev-parse` the tips of the bases.
 * 2. Each agent's worktree state becomes a tree: a private copy of its index (`GIT_INDEX_FILE`, re-copied when
 *    the real index changes, so git's stat cache stays valid) gets `git add -A` and `git write-tree`; the tree
 *    is then wrapped in a commit whose parent is the worktree's HEAD (`commit-tree`, no ref), which is what
 *    `git merge-tree` needs to find the right merge base. Every object goes to the radar's own object
 *    directory (`GIT_OBJECT_DIRECTORY`, the repository's objects as an alternate), removed by {@link dispose}.
 * 3. Each agent's own changes are `diff --name-only <merge-base with the base tip> <tree>`.
 * 4. Only pairs whose changes touch a common path (or a file where the other has a folder) run
 *    `git merge-tree --write-tree`.
 * Everything is cached by content: the tree by the private index's bytes, the commit by (tree, HEAD), merge
 * bases, name lists and merge results by their object ids — an agent whose worktree did not change costs one
 * `git add -A`, and an unchanged pair costs nothing.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { nullLogger } from '../util/logger';
import { parseNulList } from './changes';
import type { GitClient } from './gitClient';
import { mergeTree } from './gitQueries';
import { readAdminDirs } from './provisioner';
import { pathKey } from '../util/fsPaths';
import { parseWorktreeList } from './worktreeParser';

export interface RadarAgent {
  id: string;
  worktreePath: string;
  branch: string;
  /** The base it merges into (a branch or any commit-ish); its current tip is used. */
  baseRef: string;
  /**
   * The caller knows the worktree's files did not change since the previous scan (its agent was idle and still
   * is): the previous snapshot is reused, without reading the worktree, as long as its HEAD is the same.
   * Default false: the worktree is read (one `git add -A` into the private index) on every scan.
   */
  unchanged?: boolean;
}

export interface RadarPair {
  /** Agent ids, `a` < `b`. */
  a: string;
  b: string;
  /** Paths both changed (or where one has a file and the other a folder), sorted. */
  files: string[];
  /** Merging their work (committed or not) would conflict. */
  conflict: boolean;
  /** What `git merge-tree` reports as conflicted. */
  conflictFiles: string[];
}

export interface RadarBaseResult {
  id: string;
  /** Paths the agent changed that the base also changed since their merge-base. */
  files: string[];
  conflict: boolean;
  conflictFiles: string[];
}

export interface RadarResult {
  /** Pairs that share at least one path (pairs with nothing in common are left out). */
  pairs: RadarPair[];
  /** One entry per agent that could be scanned, in the order given. */
  againstBase: RadarBaseResult[];
  /** Agents that could not be scanned (a missing worktree, an unknown base…). */
  errors: Array<{ id: string; message: string }>;
}

export interface RadarOptions {
  logger?: Logger;
  /** Where the private object directories and indexes live (default: the OS temp dir). */
  tmpDir?: string;
  /** Scans after which a repository's private objects are dropped and the caches start over (default 500). */
  resetAfterScans?: number;
}

/** An agent's overlaps from the agent's side, for `grove status --json` (`overlaps: [{ id, files, conflict }]`). Pure. */
export function overlapsOf(result: RadarResult, id: string): Array<{ id: string; files: string[]; conflict: boolean; conflictFiles: string[] }> {
  return result.pairs
    .filter((p) => p.a === id || p.b === id)
    .map((p) => ({ id: p.a === id ? p.b : p.a, files: p.files, conflict: p.conflict, conflictFiles: p.conflictFiles }));
}

/** Shared paths of two change lists: equal paths, and a path of one that is a folder of the other's. Pure. */
export function sharedPaths(a: readonly string[], b: readonly string[]): string[] {
  if (!a.length || !b.length) return [];
  const out = new Set<string>();
  const check = (xs: readonly string[], ys: readonly string[]) => {
    const set = new Set(ys);
    for (const x of xs) {
      if (set.has(x)) out.add(x);
      const parts = x.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (set.has(dir)) out.add(dir);
      }
    }
  };
  check(a, b);
  check(b, a);
  return [...out].sort();
}

/**
 * What an index says about content: each entry's mode, object id, flags and path — not its stat data, which
 * git rewrites on its own (a "racily clean" entry is re-stamped on the next refresh) although nothing changed.
 * Index versions 2 and 3 (git's default); any other version, or anything unexpected, hashes the whole file.
 * `oidLength`: 20 (SHA-1) or 32 (SHA-256) bytes. Pure.
 */
export function indexFingerprint(index: Buffer, oidLength = 20): string {
  const hash = createHash('sha1');
  const whole = () => createHash('sha1').update(index).digest('hex');
  if (index.length < 12 || index.toString('latin1', 0, 4) !== 'DIRC') return whole();
  const version = index.readUInt32BE(4);
  const count = index.readUInt32BE(8);
  if (version !== 2 && version !== 3) return whole();
  let at = 12;
  for (let i = 0; i < count; i++) {
    const fixed = 40 + oidLength + 2;
    if (at + fixed > index.length) return whole();
    const flags = index.readUInt16BE(at + 40 + oidLength);
    const extended = version === 3 && (flags & 0x4000) !== 0;
    const nameStart = at + fixed + (extended ? 2 : 0);
    const nameEnd = index.indexOf(0, nameStart);
    if (nameEnd < 0) return whole();
    hash.update(index.subarray(at + 24, at + 28)); // mode
    hash.update(index.subarray(at + 40, nameEnd)); // id, flags, extended flags, path
    hash.update('\0');
    const length = nameStart - at + (nameEnd - nameStart);
    at += (length + 8) & ~7;
  }
  return hash.digest('hex');
}

interface WorktreeCache {
  index: string;
  seed?: string;
  indexHash?: string;
  tree?: string;
  /** HEAD when `tree` was read. */
  head?: string;
}

interface RepoState {
  dir: string;
  env: Record<string, string>;
  messageFile: string;
  scans: number;
  worktrees: Map<string, WorktreeCache>;
  memo: Map<string, Promise<unknown>>;
}

interface Snapshot {
  agent: RadarAgent;
  head: string;
  baseTip: string;
  state: string;
  own: string[];
  baseChanges: string[];
}

const SNAPSHOT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Grove radar', GIT_AUTHOR_EMAIL: 'radar@grove.invalid', GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_NAME: 'Grove radar', GIT_COMMITTER_EMAIL: 'radar@grove.invalid', GIT_COMMITTER_DATE: '1700000000 +0000',
};

export class ConflictRadar {
  private readonly logger: Logger;
  private readonly repos = new Map<string, Promise<RepoState>>();
  private readonly queue = new Map<string, Promise<void>>();

  constructor(
    private readonly git: GitClient,
    private readonly options: RadarOptions = {},
  ) {
    this.logger = options.logger ?? nullLogger;
  }

  /**
   * Predicts overlaps and conflicts between the agents of one repository and against their bases. Reads only.
   * Scans of the same repository run one after the other (the second one is then mostly cache hits).
   */
  scan(repoRoot: string, agents: readonly RadarAgent[], signal?: AbortSignal): Promise<RadarResult> {
    const key = pathKey(repoRoot);
    const previous = this.queue.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.scanNow(repoRoot, agents, signal));
    const tail = run.then(() => undefined, () => undefined);
    this.queue.set(key, tail);
    void tail.then(() => {
      if (this.queue.get(key) === tail) this.queue.delete(key);
    });
    return run;
  }

  private async scanNow(repoRoot: string, agents: readonly RadarAgent[], signal?: AbortSignal): Promise<RadarResult> {
    const started = Date.now();
    const repo = await this.repoState(repoRoot, signal);
    const errors: RadarResult['errors'] = [];
    const [heads, tips] = await Promise.all([this.heads(repoRoot, signal), this.baseTips(repoRoot, agents, signal)]);
    const commonDir = await this.git.commonDir(repoRoot, signal);
    const adminDirs = await readAdminDirs(commonDir);
    const snapshots = (await Promise.all(agents.map(async (agent): Promise<Snapshot | undefined> => {
      try {
        const key = pathKey(agent.worktreePath);
        const head = heads.get(key);
        if (!head) throw new Error(`${agent.worktreePath} is not a worktree of ${repoRoot}.`);
        const baseTip = tips.get(agent.baseRef);
        if (!baseTip) throw new Error(`The base '${agent.baseRef}' does not exist.`);
        const realIndex = path.join(adminDirs.get(key) ?? commonDir, 'index');
        const cached = repo.worktrees.get(key);
        const tree = agent.unchanged && cached?.tree && cached.head === head
          ? cached.tree
          : await this.worktreeTree(repo, agent.worktreePath, realIndex, head, signal);
        const state = await this.memo(repo, `commit ${tree} ${head}`, () => this.commitTree(repo, repoRoot, tree, head, signal));
        const mergeBase = await this.memo(repo, `mb ${head} ${baseTip}`, () => this.mergeBase(repoRoot, head, baseTip, signal));
        const [own, baseChanges] = await Promise.all([
          this.memo(repo, `names ${mergeBase} ${tree}`, () => this.names(repo, repoRoot, mergeBase, tree, signal)),
          this.memo(repo, `names ${mergeBase} ${baseTip}`, () => this.names(repo, repoRoot, mergeBase, baseTip, signal)),
        ]);
        return { agent, head, baseTip, state, own, baseChanges };
      } catch (err) {
        if (signal?.aborted) throw err;
        errors.push({ id: agent.id, message: err instanceof Error ? err.message : String(err) });
        return undefined;
      }
    }))).filter((s): s is Snapshot => !!s);

    const merge = (ours: string, theirs: string) =>
      this.memo(repo, `merge ${ours} ${theirs}`, () => mergeTree(this.git, repoRoot, ours, theirs, signal, repo.env));
    const againstBase = await Promise.all(snapshots.map(async (s): Promise<RadarBaseResult> => {
      const files = sharedPaths(s.own, s.baseChanges);
      if (!files.length) return { id: s.agent.id, files, conflict: false, conflictFiles: [] };
      const m = await merge(s.baseTip, s.state);
      return { id: s.agent.id, files, conflict: !m.clean, conflictFiles: m.conflicts };
    }));
    const candidates: Array<{ a: Snapshot; b: Snapshot; files: string[] }> = [];
    for (let i = 0; i < snapshots.length; i++) {
      for (let j = i + 1; j < snapshots.length; j++) {
        const [a, b] = snapshots[i]!.agent.id < snapshots[j]!.agent.id ? [snapshots[i]!, snapshots[j]!] : [snapshots[j]!, snapshots[i]!];
        const files = sharedPaths(a.own, b.own);
        if (files.length) candidates.push({ a, b, files });
      }
    }
    const pairs = await Promise.all(candidates.map(async ({ a, b, files }): Promise<RadarPair> => {
      const m = await merge(a.state, b.state);
      return { a: a.agent.id, b: b.agent.id, files, conflict: !m.clean, conflictFiles: m.conflicts };
    }));
    pairs.sort((x, y) => (x.a === y.a ? (x.b < y.b ? -1 : 1) : x.a < y.a ? -1 : 1));
    this.logger.info(`radar: ${snapshots.length} agents, ${candidates.length} overlapping pairs, ${pairs.filter((p) => p.conflict).length} conflicting, ${Date.now() - started}ms`);
    await this.afterScan(repoRoot, repo);
    return { pairs, againstBase, errors };
  }

  /** Removes the radar's private object directories and indexes. */
  async dispose(): Promise<void> {
    const states = await Promise.allSettled([...this.repos.values()]);
    this.repos.clear();
    await Promise.all(states.map((s) => (s.status === 'fulfilled' ? fs.promises.rm(s.value.dir, { recursive: true, force: true }) : undefined)));
  }

  // ------------------------------------------------------------------------------------------------ steps

  /** The worktree's current content (tracked changes, untracked files; not ignored ones) as a tree id. */
  private async worktreeTree(repo: RepoState, worktreePath: string, realIndex: string, head: string, signal?: AbortSignal): Promise<string> {
    const key = pathKey(worktreePath);
    let cache = repo.worktrees.get(key);
    if (!cache) {
      cache = { index: path.join(repo.dir, `index-${repo.worktrees.size}`) };
      repo.worktrees.set(key, cache);
    }
    const st = await fs.promises.stat(realIndex).catch(() => undefined);
    const seed = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'none';
    if (seed !== cache.seed) {
      // A fresh copy carries git's stat cache, so `add -A` only hashes files that really changed.
      if (st) await fs.promises.copyFile(realIndex, cache.index);
      else await fs.promises.rm(cache.index, { force: true });
      cache.seed = seed;
    }
    const env = { ...repo.env, GIT_INDEX_FILE: cache.index };
    await this.git.read(worktreePath, ['add', '-A', '--ignore-errors'], { signal, env });
    const hash = indexFingerprint(await fs.promises.readFile(cache.index), head.length / 2);
    cache.head = head;
    if (hash === cache.indexHash && cache.tree) return cache.tree;
    cache.tree = undefined;
    const tree = (await this.git.read(worktreePath, ['write-tree'], { signal, env })).stdout.trim();
    cache.indexHash = hash;
    cache.tree = tree;
    return tree;
  }

  private async commitTree(repo: RepoState, cwd: string, tree: string, head: string, signal?: AbortSignal): Promise<string> {
    const env = { ...repo.env, ...SNAPSHOT_IDENTITY };
    return (await this.git.read(cwd, ['commit-tree', tree, '-p', head, '-F', repo.messageFile], { signal, env })).stdout.trim();
  }

  private async mergeBase(cwd: string, a: string, b: string, signal?: AbortSignal): Promise<string> {
    const r = await this.git.read(cwd, ['merge-base', a, b], { signal, okExitCodes: [1] });
    if (r.exitCode !== 0) throw new Error(`No common history between ${a.slice(0, 8)} and the base.`);
    return r.stdout.trim();
  }

  private async names(repo: RepoState, cwd: string, from: string, to: string, signal?: AbortSignal): Promise<string[]> {
    const { stdout } = await this.git.read(cwd, ['diff', '--name-only', '--no-renames', '-z', from, to, '--'], { signal, env: repo.env });
    return parseNulList(stdout);
  }

  /** Every worktree's HEAD, by normalized path. */
  private async heads(repoRoot: string, signal?: AbortSignal): Promise<Map<string, string>> {
    const { stdout } = await this.git.read(repoRoot, ['worktree', 'list', '--porcelain', '-z'], { signal });
    const out = new Map<string, string>();
    for (const e of parseWorktreeList(stdout)) if (e.head && !e.bare) out.set(pathKey(e.path), e.head);
    return out;
  }

  private async baseTips(repoRoot: string, agents: readonly RadarAgent[], signal?: AbortSignal): Promise<Map<string, string>> {
    const refs = [...new Set(agents.map((a) => a.baseRef))].filter((r) => r && !r.startsWith('-'));
    const out = new Map<string, string>();
    await Promise.all(refs.map(async (ref) => {
      const r = await this.git.read(repoRoot, ['rev-parse', '--verify', '-q', `${ref}^{commit}`], { signal, okExitCodes: [1] });
      if (r.exitCode === 0) out.set(ref, r.stdout.trim());
    }));
    return out;
  }

  // ------------------------------------------------------------------------------------------------ state

  private memo<T>(repo: RepoState, key: string, fn: () => Promise<T>): Promise<T> {
    let p = repo.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      repo.memo.set(key, p);
      p.catch(() => repo.memo.delete(key));
    }
    return p;
  }

  private repoState(repoRoot: string, signal?: AbortSignal): Promise<RepoState> {
    const key = pathKey(repoRoot);
    let state = this.repos.get(key);
    if (!state) {
      state = this.createState(repoRoot, signal);
      this.repos.set(key, state);
      state.catch(() => this.repos.delete(key));
    }
    return state;
  }

  private async createState(repoRoot: string, signal?: AbortSignal): Promise<RepoState> {
    const commonDir = await this.git.commonDir(repoRoot, signal);
    const dir = await fs.promises.mkdtemp(path.join(this.options.tmpDir ?? os.tmpdir(), 'grove-radar-'));
    const objects = path.join(dir, 'objects');
    await fs.promises.mkdir(path.join(objects, 'info'), { recursive: true });
    await fs.promises.mkdir(path.join(objects, 'pack'), { recursive: true });
    const messageFile = path.join(dir, 'MESSAGE');
    await fs.promises.writeFile(messageFile, 'grove radar: worktree snapshot\n');
    const env = { GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(commonDir, 'objects') };
    return { dir, env, messageFile, scans: 0, worktrees: new Map(), memo: new Map() };
  }

  /** Bounds the private objects and the caches: after `resetAfterScans` scans, start over. */
  private async afterScan(repoRoot: string, repo: RepoState): Promise<void> {
    repo.scans++;
    if (repo.scans < (this.options.resetAfterScans ?? 500)) return;
    this.repos.delete(pathKey(repoRoot));
    await fs.promises.rm(repo.dir, { recursive: true, force: true });
  }
}
