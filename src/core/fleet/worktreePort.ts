import fs from 'node:fs';
import path from 'node:path';
import type { WorktreeManager } from '../git/worktreeManager';
import type { ProvisionedWorktree, WorktreePort, WorktreeRequest } from './dispatcher';

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
  hooks: { onOutput?(title: string, chunk: string, request: WorktreeRequest): void; onCreated?(repoRoot: string): void } = {},
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
        onOutput: (chunk) => hooks.onOutput?.(req.title, chunk, req),
      });
      hooks.onCreated?.(req.repoRoot);
      if (created.setupFailed) {
        throw new Error(`the setup command failed (exit code ${created.setupExitCode}); the worktree is kept for inspection at ${created.path}`);
      }
      return { path: created.path, branch: created.branch, baseRef: created.baseRef, baseCommit: created.baseCommit };
    },
  };
}

/**
 * Appends provisioning output (submodules, the setup command) to the instance's log as `grove_setup` lines, so
 * "Show Log" of an instance whose setup failed shows why.
 */
export function appendSetupOutput(logPath: string, chunk: string): void {
  try {
    fs.mkdirSync(path.dirname(logPath), { recursive: true });
    fs.appendFileSync(logPath, `${JSON.stringify({ type: 'grove_setup', text: chunk, ts: Date.now() })}\n`);
  } catch {
    // The log is a convenience; provisioning must not fail because of it.
  }
}
