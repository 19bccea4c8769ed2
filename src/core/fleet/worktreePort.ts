import type { WorktreeManager } from '../git/worktreeManager';
import type { ProvisionedWorktree, WorktreePort } from './dispatcher';

export interface ProvisionSettings {
  branchPrefix?: string;
  worktreeRoot?: string;
  copyFiles?: readonly string[];
  setupCommand?: string;
}

/**
 * Adapts the WorktreeManager to the dispatcher's WorktreePort. A failed setup command keeps the worktree (for
 * inspection) and fails the instance with a message saying where it is.
 */
export function worktreePort(
  worktrees: WorktreeManager,
  settings: (repoRoot: string) => ProvisionSettings,
  hooks: { onOutput?(title: string, chunk: string): void; onCreated?(repoRoot: string): void } = {},
): WorktreePort {
  return {
    async create(req): Promise<ProvisionedWorktree> {
      const s = settings(req.repoRoot);
      const created = await worktrees.create({
        repoRoot: req.repoRoot,
        title: req.title,
        baseRef: req.baseRef,
        branchPrefix: s.branchPrefix,
        worktreeRoot: s.worktreeRoot,
        copyFiles: s.copyFiles,
        setupCommand: s.setupCommand,
        signal: req.signal,
        onOutput: (chunk) => hooks.onOutput?.(req.title, chunk),
      });
      hooks.onCreated?.(req.repoRoot);
      if (created.setupFailed) {
        throw new Error(`the setup command failed (exit code ${created.setupExitCode}); the worktree is kept for inspection at ${created.path}`);
      }
      return { path: created.path, branch: created.branch, baseRef: created.baseRef, baseCommit: created.baseCommit };
    },
  };
}
