import type * as vscode from 'vscode';
import type { GitClient } from '../core/git/gitClient';
import type { WorktreeManager } from '../core/git/worktreeManager';
import type { Fleet } from '../core/fleet/fleet';
import type { Logger } from '../core/util/logger';
import type { WorkspaceRepositories } from './repositories';

/** The services activate() builds, grouped in one typed object handed to each feature. */
export interface Services {
  readonly context: vscode.ExtensionContext;
  readonly log: Logger;
  readonly channel: vscode.LogOutputChannel;
  readonly git: GitClient;
  readonly worktrees: WorktreeManager;
  readonly repos: WorkspaceRepositories;
  readonly fleet: Fleet;
  /** True when the agents talk to the built-in scripted demo model (npm start). */
  readonly demoModel: boolean;
}
