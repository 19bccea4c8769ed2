import type * as vscode from 'vscode';
import type { Fleet } from '../core/fleet/fleet';
import type { GitClient } from '../core/git/gitClient';
import type { WorktreeManager } from '../core/git/worktreeManager';
import type { Grove } from '../core/grove';
import type { Logger } from '../core/util/logger';
import type { WorkspaceRepositories } from './repositories';

/** The services activate() builds, grouped in one typed object handed to each feature. */
export interface Services {
  readonly context: vscode.ExtensionContext;
  readonly log: Logger;
  readonly channel: vscode.LogOutputChannel;
  /** Grove's core: every user operation runs through it (core/flows). */
  readonly grove: Grove;
  readonly git: GitClient;
  readonly worktrees: WorktreeManager;
  readonly repos: WorkspaceRepositories;
  readonly fleet: Fleet;
  /** True when the agents talk to the built-in scripted demo model (npm start). */
  readonly demoModel: boolean;
}
