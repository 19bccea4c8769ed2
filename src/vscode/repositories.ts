import * as vscode from 'vscode';
import { isGitError } from '../core/git/gitError';
import type { DiffStat } from '../core/git/diffStat';
import type { GitClient } from '../core/git/gitClient';
import type { RepositoryInfo, WorktreeManager } from '../core/git/worktreeManager';
import { WorktreeTracker, type RepositoriesChange, type RepositoryState, type WatchPort } from '../core/git/worktreeTracker';
import { Disposable } from '../core/util/disposable';
import type { Event } from '../core/util/event';
import type { Logger } from '../core/util/logger';

export type { RepositoriesChange, RepositoryState } from '../core/git/worktreeTracker';

/** VS Code's file watchers (they run where the files are, also in a remote window). */
const vscodeWatchers: WatchPort = {
  watch(base, pattern, onEvent) {
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(base), pattern));
    const on = (uri: vscode.Uri) => onEvent(uri.fsPath);
    return vscode.Disposable.from(w, w.onDidChange(on), w.onDidCreate(on), w.onDidDelete(on));
  },
};

/**
 * The git repositories of the workspace folders (multi-root) and their worktrees: discovery here, the rest in the
 * core's {@link WorktreeTracker} (a file event refreshes only the worktree it belongs to).
 */
export class WorkspaceRepositories extends Disposable {
  private readonly tracker: WorktreeTracker;
  readonly onDidChange: Event<RepositoriesChange>;
  private discovered = false;
  private discovering?: Promise<void>;

  constructor(
    private readonly worktrees: WorktreeManager,
    git: GitClient,
    private readonly log: Logger,
  ) {
    super();
    this.tracker = this._register(new WorktreeTracker(worktrees, git, vscodeWatchers, log));
    this.onDidChange = this.tracker.onDidChange;
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.discover()));
  }

  /** Repositories found so far (discovery runs once on first use and on workspace-folder changes). */
  async repositories(): Promise<RepositoryState[]> {
    if (!this.discovered) await this.discover();
    return this.tracker.repositories();
  }

  /** The repositories found so far, without discovering (empty before the first discovery). */
  repositoriesNow(): RepositoryState[] {
    return this.tracker.repositories();
  }

  /** Lines added/removed since the worktree's merge-base with its base, as of the last refresh. */
  diffStat(worktreePath: string): DiffStat | undefined {
    return this.tracker.diffStat(worktreePath);
  }

  get(root: string): RepositoryState | undefined {
    return this.tracker.get(root);
  }

  /** The repository a path belongs to (a workspace folder, a worktree, or a file inside one). */
  find(fsPath: string): RepositoryState | undefined {
    return this.tracker.find(fsPath);
  }

  /** Re-reads one repository's worktrees now; without a root, discovers the workspace's repositories again. */
  refresh(root?: string): Promise<void> {
    return root ? this.tracker.refresh(root) : this.discover();
  }

  discover(): Promise<void> {
    this.discovering ??= this.doDiscover().finally(() => (this.discovering = undefined));
    return this.discovering;
  }

  private async doDiscover(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const found: RepositoryInfo[] = [];
    for (const f of folders) {
      if (f.uri.scheme !== 'file') continue;
      try {
        const info = await this.worktrees.resolveRepository(f.uri.fsPath);
        if (!info.isBare) found.push(info);
      } catch (err) {
        if (!isGitError(err, 'NotAGitRepository') && !isGitError(err, 'NotFound')) this.log.warn(`discover ${f.uri.fsPath}: ${String(err)}`);
      }
    }
    this.discovered = true;
    await vscode.commands.executeCommand('setContext', 'grove.noRepository', folders.length > 0 && found.length === 0);
    await this.tracker.track(found);
  }
}
