import fs from 'node:fs';
import path from 'node:path';
import type { WorktreeManager } from '../git/worktreeManager';
import type { GroveSettings } from '../settings';
import type { ProvisionedWorktree, WorktreePort } from './ports';

export interface WorktreePortOptions {
  settings(repoRoot: string): GroveSettings;
  /** False in an untrusted workspace: then nothing is created (a setup command would run). */
  trusted(): boolean;
  /** Where an instance's log is: provisioning output (submodules, setup command) is appended there. */
  logPath(repoRoot: string, instanceId: string): Promise<string>;
  /** Every chunk of provisioning output, for a host's own log. */
  onOutput?(title: string, chunk: string): void;
  /** A worktree was created (the VS Code layer refreshes its view of the repository). */
  onCreated?(repoRoot: string): void;
  /** A task's worktree was made while `grove.worktreePool` is on (from a spare or not): the pool may need a refill. */
  onPoolUsed?(repoRoot: string, baseRef: string): void;
}

/**
 * Adapts the WorktreeManager to the dispatcher's WorktreePort, the same for every surface. A failed setup command
 * keeps the worktree (for inspection): the instance records it and fails with a message saying where it is.
 */
export function worktreePort(worktrees: WorktreeManager, options: WorktreePortOptions): WorktreePort {
  return {
    async create(req): Promise<ProvisionedWorktree> {
      if (!options.trusted()) throw new Error('Grove runs no setup commands or agents in an untrusted workspace.');
      const s = options.settings(req.repoRoot);
      const log = await options.logPath(req.repoRoot, req.instanceId);
      const created = await worktrees.create({
        repoRoot: req.repoRoot,
        title: req.title,
        baseRef: req.baseRef,
        branchPrefix: s.branchPrefix,
        worktreeRoot: s.worktreeRoot,
        copyFiles: s.copyFiles,
        setupCommand: s.setupCommand,
        fromPool: s.worktreePool > 0,
        signal: req.signal,
        onOutput: (chunk) => {
          appendSetupOutput(log, chunk);
          options.onOutput?.(req.title, chunk);
        },
      });
      options.onCreated?.(req.repoRoot);
      // A task started after another one is based on that task's branch: no pool for such a short-lived base.
      if (s.worktreePool > 0 && !created.baseRef.startsWith(`${s.branchPrefix}/`)) options.onPoolUsed?.(req.repoRoot, created.baseRef);
      return {
        path: created.path, branch: created.branch, baseRef: created.baseRef, baseCommit: created.baseCommit, port: created.port,
        copiedFiles: created.copiedFiles,
        ...(created.setupFailed ? { setupFailed: `the setup command failed (exit code ${created.setupExitCode}); the worktree is kept for inspection at ${created.path}` } : {}),
      };
    },
  };
}

/**
 * Appends provisioning output to the instance's log as `grove_setup` lines, so "Show Log" of an instance whose
 * setup failed shows why. The log is private to the user (mode 0600).
 */
export function appendSetupOutput(logPath: string, chunk: string): void {
  try {
    fs.mkdirSync(path.dirname(logPath), { recursive: true, mode: 0o700 });
    fs.appendFileSync(logPath, `${JSON.stringify({ type: 'grove_setup', text: chunk, ts: Date.now() })}\n`, { mode: 0o600 });
  } catch {
    // The log is a convenience; provisioning must not fail because of it.
  }
}
