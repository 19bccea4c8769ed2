import * as path from 'node:path';
import * as vscode from 'vscode';
import { isGitError } from '../core/git/gitError';
import { diffStat, type DiffStat } from '../core/git/diffStat';
import type { GitClient } from '../core/git/gitClient';
import type { RepositoryInfo, WorktreeInfo, WorktreeManager } from '../core/git/worktreeManager';
import { Disposable } from '../core/util/disposable';
import { Emitter } from '../core/util/event';
import type { Logger } from '../core/util/logger';
import { isSameOrInside, pathKey } from '../core/util/fsPaths';

export interface RepositoryState {
  info: RepositoryInfo;
  name: string;
  /** Every worktree but the main one, as git lists them. */
  worktrees: WorktreeInfo[];
  error?: string;
}

const REFRESH_DEBOUNCE_MS = 750;

/**
 * The git repositories of the workspace (multi-root) and their worktrees. Refreshes are driven by file-system
 * events — the repository's admin files and each worktree's folder — and debounced; there is no polling loop.
 */
export class WorkspaceRepositories extends Disposable {
  private readonly _onDidChange = this._register(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;

  private states = new Map<string, RepositoryState>();
  private readonly watchers = new Map<string, vscode.Disposable>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly stats = new Map<string, DiffStat>();
  private readonly refreshing = new Map<string, { again: boolean; done: Promise<void> }>();
  private discovered = false;
  private discovering?: Promise<void>;

  constructor(
    private readonly worktrees: WorktreeManager,
    private readonly git: GitClient,
    private readonly log: Logger,
  ) {
    super();
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.discover()));
    this._register({ dispose: () => { for (const w of this.watchers.values()) w.dispose(); for (const t of this.timers.values()) clearTimeout(t); } });
  }

  /** Repositories found so far (discovery runs once on first use and on workspace-folder changes). */
  async repositories(): Promise<RepositoryState[]> {
    if (!this.discovered) await this.discover();
    return [...this.states.values()];
  }

  /** Lines added/removed since the worktree's base, as of the last refresh. */
  diffStat(worktreePath: string): DiffStat | undefined {
    return this.stats.get(pathKey(worktreePath));
  }

  get(root: string): RepositoryState | undefined {
    return this.states.get(root);
  }

  /** The repository a path belongs to (a workspace folder, a worktree, or a file inside one). */
  find(fsPath: string): RepositoryState | undefined {
    const norm = path.resolve(fsPath);
    for (const s of this.states.values()) {
      if (isSameOrInside(s.info.root, norm) || isSameOrInside(s.info.mainWorktree, norm)) return s;
      if (s.worktrees.some((w) => isSameOrInside(w.path, norm))) return s;
    }
    return undefined;
  }

  discover(): Promise<void> {
    this.discovering ??= this.doDiscover().finally(() => (this.discovering = undefined));
    return this.discovering;
  }

  private async doDiscover(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const next = new Map<string, RepositoryState>();
    for (const f of folders) {
      if (f.uri.scheme !== 'file') continue;
      try {
        const info = await this.worktrees.resolveRepository(f.uri.fsPath);
        if (info.isBare || next.has(info.mainWorktree)) continue;
        next.set(info.mainWorktree, { info, name: path.basename(info.mainWorktree), worktrees: [] });
      } catch (err) {
        if (!isGitError(err, 'NotAGitRepository') && !isGitError(err, 'NotFound')) this.log.warn(`discover ${f.uri.fsPath}: ${String(err)}`);
      }
    }
    for (const [root, w] of this.watchers) {
      if (!next.has(root)) {
        w.dispose();
        this.watchers.delete(root);
      }
    }
    this.states = next;
    this.discovered = true;
    await vscode.commands.executeCommand('setContext', 'grove.noRepository', folders.length > 0 && next.size === 0);
    await Promise.all([...next.keys()].map((root) => this.refresh(root)));
    this._onDidChange.fire();
  }

  /** Re-reads one repository's worktrees now. */
  refresh(root?: string): Promise<void> {
    if (!root) return this.discover();
    // One refresh of a repository at a time; calls during one get a single follow-up run.
    const running = this.refreshing.get(root);
    if (running) {
      running.again = true;
      return running.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      do {
        entry.again = false;
        await this.refreshNow(root);
      } while (entry.again);
    })().finally(() => this.refreshing.delete(root));
    this.refreshing.set(root, entry);
    return entry.done;
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
      await Promise.all(state.worktrees.map(async (w) => {
        if (w.stale || !w.baseCommit) return this.stats.delete(pathKey(w.path));
        try {
          this.stats.set(pathKey(w.path), await diffStat(this.git, w.path, { baseRef: w.baseRef, baseCommit: w.baseCommit }));
        } catch {
          this.stats.delete(pathKey(w.path));
        }
      }));
    } catch (err) {
      state.error = err instanceof Error ? err.message : String(err);
      this.log.warn(`refresh ${root}: ${state.error}`);
    }
    this.watch(state);
    this._onDidChange.fire();
  }

  /**
   * Coalesces file events into at most one refresh per {@link REFRESH_DEBOUNCE_MS}: the first event of a burst arms
   * the timer and later ones ride along, so 20 agents writing continuously still see the view update (a trailing
   * debounce would starve) without a git status per write.
   */
  scheduleRefresh(root: string): void {
    if (this.timers.has(root)) return;
    this.timers.set(root, setTimeout(() => {
      this.timers.delete(root);
      void this.refresh(root);
    }, REFRESH_DEBOUNCE_MS));
  }

  private watch(state: RepositoryState): void {
    const root = state.info.mainWorktree;
    const key = [state.info.commonDir, ...state.worktrees.filter((w) => !w.stale).map((w) => w.path)].join('\n');
    const existing = this.watchers.get(root) as (vscode.Disposable & { key?: string }) | undefined;
    if (existing?.key === key) return;
    existing?.dispose();
    const subs: vscode.Disposable[] = [];
    const commonDir = state.info.commonDir;
    const onEvent = (admin: boolean) => (uri: vscode.Uri) => {
      // Lock files come and go with every git command. Work-tree watchers ignore everything under a `.git`
      // (our own `git status` refreshes the index; the registry lives in the common dir): the admin watcher
      // below covers refs, HEADs and worktree add/remove/lock.
      if (uri.path.endsWith('.lock')) return;
      if (!admin && (/\/\.git(\/|$)/.test(uri.path) || uri.fsPath.startsWith(commonDir))) return;
      this.scheduleRefresh(root);
    };
    const add = (base: string, pattern: string, admin = false) => {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(base), pattern));
      const on = onEvent(admin);
      subs.push(w, w.onDidChange(on), w.onDidCreate(on), w.onDidDelete(on));
    };
    add(commonDir, '{HEAD,packed-refs,refs/heads/**,worktrees,worktrees/*,worktrees/*/{HEAD,locked}}', true);
    add(state.info.mainWorktree, '**');
    for (const w of state.worktrees) if (!w.stale) add(w.path, '**');
    const disposable = vscode.Disposable.from(...subs) as vscode.Disposable & { key?: string };
    disposable.key = key;
    this.watchers.set(root, disposable);
  }
}

