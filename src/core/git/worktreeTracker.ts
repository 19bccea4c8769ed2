/**
 * The repositories a surface shows and their worktrees, kept current by file events (no polling loop). A file event
 * in a worktree re-reads that worktree alone — its status, and its diff stat from the merge-base (kept until a ref
 * changes) only when a tracked file changed: one git process, or two; an event in the repository's admin files
 * (refs, HEADs, worktrees added, removed or locked) re-reads the repository. Events are coalesced: at most one
 * refresh per `debounceMs` per repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { isSameOrInside, pathKey } from '../util/fsPaths';
import { nullLogger, type Logger } from '../util/logger';
import { diffStatBase, diffStatFrom, type DiffStat } from './diffStat';
import type { GitClient } from './gitClient';
import type { WorktreeManager } from './worktreeManager';
import { uncommittedPaths } from './worktreeState';
import type { RepositoryInfo, WorktreeInfo } from './worktreeTypes';

export interface RepositoryState {
  info: RepositoryInfo;
  name: string;
  /** Every worktree but the main one, as git lists them. */
  worktrees: WorktreeInfo[];
  error?: string;
}

/** What changed: a repository's structure (`worktrees` undefined: worktrees may have come or gone), or only these worktrees' facts. */
export interface RepositoriesChange {
  root?: string;
  worktrees?: readonly string[];
}

/** File-system watching, from the host (VS Code's watchers, which also work in remote windows). */
export interface WatchPort {
  /** Calls `onEvent` with the path of every file created, changed or deleted under `base` that matches `pattern`. */
  watch(base: string, pattern: string, onEvent: (fsPath: string) => void): { dispose(): unknown };
}

export class WorktreeTracker extends Disposable {
  private readonly _onDidChange = this._register(new Emitter<RepositoriesChange>());
  readonly onDidChange = this._onDidChange.event;
  private states = new Map<string, RepositoryState>();
  private readonly watchers = new Map<string, { key: string; dispose(): void }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Second reads of worktrees that came since the last listing (see watch()). */
  private readonly lateReads = new Set<NodeJS.Timeout>();
  private readonly stats = new Map<string, DiffStat>();
  /** Per worktree (path key): the commit its diff stat counts from, until a ref changes. */
  private readonly statBases = new Map<string, string>();
  /** Per worktree: what its diff stat was counted from (see {@link trackedState}). */
  private readonly statKeys = new Map<string, string>();
  /** Per repository: what the next refresh reads — everything, or these worktrees. */
  private readonly pending = new Map<string, 'all' | Set<string>>();
  private readonly refreshing = new Map<string, Promise<void>>();

  constructor(
    private readonly worktrees: WorktreeManager,
    private readonly git: GitClient,
    private readonly port: WatchPort,
    private readonly log: Logger = nullLogger,
    private readonly debounceMs = 750,
  ) {
    super();
    this._register({ dispose: () => { for (const w of this.watchers.values()) w.dispose(); for (const t of this.timers.values()) clearTimeout(t); for (const t of this.lateReads) clearTimeout(t); } });
  }

  /** Shows these repositories (by main worktree) from now on and reads each; others are forgotten. */
  async track(infos: readonly RepositoryInfo[]): Promise<void> {
    const next = new Map<string, RepositoryState>();
    for (const info of infos) if (!next.has(info.mainWorktree)) next.set(info.mainWorktree, this.states.get(info.mainWorktree) ?? { info, name: path.basename(info.mainWorktree), worktrees: [] });
    for (const [root, w] of this.watchers) if (!next.has(root)) (w.dispose(), this.watchers.delete(root));
    this.states = next;
    await Promise.all([...next.keys()].map((root) => this.refresh(root)));
    this._onDidChange.fire({});
  }

  repositories(): RepositoryState[] {
    return [...this.states.values()];
  }

  /** Lines added/removed since the worktree's merge-base with its base, as of the last refresh. */
  diffStat(worktreePath: string): DiffStat | undefined {
    return this.stats.get(pathKey(worktreePath));
  }

  get(root: string): RepositoryState | undefined {
    return this.states.get(root);
  }

  /** The repository a path belongs to (its folder, a worktree, or a file inside one). */
  find(fsPath: string): RepositoryState | undefined {
    const norm = path.resolve(fsPath);
    for (const s of this.states.values()) {
      if (isSameOrInside(s.info.root, norm) || isSameOrInside(s.info.mainWorktree, norm)) return s;
      if (s.worktrees.some((w) => isSameOrInside(w.path, norm))) return s;
    }
    return undefined;
  }

  /** Re-reads one repository's worktrees now (all of them: after Grove itself changed them). */
  refresh(root: string): Promise<void> {
    this.pending.set(root, 'all');
    return this.drain(root);
  }

  /** Runs what is pending for a repository, one refresh at a time; what arrives meanwhile runs right after. */
  private drain(root: string): Promise<void> {
    const running = this.refreshing.get(root);
    if (running) return running.then(() => (this.pending.has(root) ? this.drain(root) : undefined));
    const done = (async () => {
      for (let work = this.pending.get(root); work; work = this.pending.get(root)) {
        this.pending.delete(root);
        if (work === 'all') await this.refreshNow(root);
        else await this.refreshWorktrees(root, [...work]);
      }
    })().finally(() => this.refreshing.delete(root));
    this.refreshing.set(root, done);
    return done;
  }

  private async refreshNow(root: string): Promise<void> {
    const state = this.states.get(root);
    if (!state) return;
    try {
      const info = await this.worktrees.resolveRepository(root);
      const list = await this.worktrees.list(root);
      state.info = info;
      state.worktrees = list.filter((w) => !w.isMain && !w.bare);
      state.error = undefined;
      const keep = new Set([...this.states.values()].flatMap((r) => r.worktrees.map((w) => pathKey(w.path))));
      for (const k of [...this.stats.keys()]) if (!keep.has(k)) (this.stats.delete(k), this.statBases.delete(k), this.statKeys.delete(k));
      await Promise.all(state.worktrees.map(async (w) => {
        const key = pathKey(w.path);
        this.statBases.delete(key);
        this.statKeys.delete(key);
        if (w.stale || !w.baseCommit) return this.stats.delete(key);
        try {
          const from = await diffStatBase(this.git, w.path, { baseRef: w.baseRef, baseCommit: w.baseCommit });
          this.statBases.set(key, from);
          this.stats.set(key, await diffStatFrom(this.git, w.path, from));
        } catch {
          this.stats.delete(key);
        }
      }));
    } catch (err) {
      state.error = err instanceof Error ? err.message : String(err);
      this.log.warn(`refresh ${root}: ${state.error}`);
    }
    this.watch(state);
    this._onDidChange.fire({ root });
  }

  /** Files changed in these worktrees (no ref moved): their status and diff stat, nothing else. */
  private async refreshWorktrees(root: string, paths: string[]): Promise<void> {
    const state = this.states.get(root);
    if (!state) return;
    const changed: string[] = [];
    await Promise.all(paths.map(async (p) => {
      const w = state.worktrees.find((x) => pathKey(x.path) === pathKey(p));
      if (!w || w.stale) return;
      const key = pathKey(w.path);
      try {
        const from = this.statBases.get(key);
        const status = await uncommittedPaths(this.git, w.path);
        w.changedFiles = status.changed.length + status.untracked.length;
        if (from) {
          // The stat counts tracked files only: new untracked files (most writes of an agent at work) leave it as is.
          const tracked = await trackedState(w.path, status.changed);
          if (tracked !== this.statKeys.get(key) || !this.stats.has(key)) {
            this.stats.set(key, await diffStatFrom(this.git, w.path, from));
            this.statKeys.set(key, tracked);
          }
        }
        changed.push(w.path);
      } catch (err) {
        this.log.trace(`refresh ${w.path}: ${(err as Error).message}`);
      }
    }));
    if (changed.length) this._onDidChange.fire({ root, worktrees: changed });
  }

  /**
   * Coalesces file events into at most one refresh per `debounceMs`: the first event of a burst arms
   * the timer and later ones ride along, so 20 agents writing continuously still see the view update (a trailing
   * debounce would starve) without a git status per write.
   */
  scheduleRefresh(root: string, worktreePath?: string): void {
    const work = this.pending.get(root);
    if (work !== 'all') {
      if (!worktreePath) this.pending.set(root, 'all');
      else this.pending.set(root, (work ?? new Set<string>()).add(worktreePath));
    }
    if (this.timers.has(root)) return;
    this.timers.set(root, setTimeout(() => {
      this.timers.delete(root);
      void this.drain(root);
    }, this.debounceMs));
  }

  private watch(state: RepositoryState): void {
    const root = state.info.mainWorktree;
    const key = [state.info.commonDir, ...state.worktrees.filter((w) => !w.stale).map((w) => w.path)].join('\n');
    const existing = this.watchers.get(root);
    if (existing?.key === key) return;
    existing?.dispose();
    const subs: Array<{ dispose(): unknown }> = [];
    const commonDir = state.info.commonDir;
    const onEvent = (worktreePath: string | undefined) => (fsPath: string) => {
      // Lock files come and go with every git command. Work-tree watchers ignore everything under a `.git`
      // (our own `git status` refreshes the index; the registry lives in the common dir): the admin watcher
      // covers refs, HEADs and worktree add/remove/lock.
      if (fsPath.endsWith('.lock')) return;
      if (worktreePath && (/[\\/]\.git([\\/]|$)/.test(fsPath) || isSameOrInside(commonDir, fsPath))) return;
      this.scheduleRefresh(root, worktreePath);
    };
    subs.push(this.port.watch(commonDir, '{HEAD,packed-refs,refs/heads/**,worktrees,worktrees/*,worktrees/*/{HEAD,locked}}', onEvent(undefined)));
    // The main checkout's own files are not shown: only the worktrees' are watched.
    for (const w of state.worktrees) if (!w.stale) subs.push(this.port.watch(w.path, '**', onEvent(w.path)));
    this.watchers.set(root, { key, dispose: () => { for (const s of subs) s.dispose(); } });
    // A worktree that came since the last listing was read before its watcher existed (and a host's watcher starts
    // asynchronously): a file written in that gap has no event. Read it once more after the debounce.
    if (existing) {
      const before = new Set(existing.key.split('\n').map((p) => pathKey(p)));
      const fresh = state.worktrees.filter((w) => !w.stale && !before.has(pathKey(w.path))).map((w) => w.path);
      if (fresh.length) {
        // Not through `pending` now: the refresh under way would take it at once, before the watcher listens.
        const timer = setTimeout(() => {
          this.lateReads.delete(timer);
          for (const p of fresh) this.scheduleRefresh(root, p);
        }, this.debounceMs);
        this.lateReads.add(timer);
      }
    }
  }
}

/**
 * The tracked files a worktree's diff stat can differ in, as text: each path git status lists as changed (against
 * HEAD) with its size and mtime (or `-` when gone). `git diff --shortstat <from>` compares the working tree with a
 * fixed commit, so it can change only when a tracked file's content does — which adds or removes the file from this
 * list or changes its size or mtime. Untracked files do not count in the stat.
 */
async function trackedState(worktreePath: string, changed: readonly string[]): Promise<string> {
  const parts = await Promise.all([...changed].sort().map(async (rel) => {
    try {
      const st = await fs.promises.lstat(path.join(worktreePath, rel));
      return `${rel}\0${st.size}\0${st.mtimeMs}`;
    } catch {
      return `${rel}\0-`;
    }
  }));
  return parts.join('\n');
}
