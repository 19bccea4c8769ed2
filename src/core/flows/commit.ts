/**
 * Commit the agent's work: every uncommitted and untracked change of its worktree, except the files Grove copied
 * in (`.env`…), which are never staged. The message comes from the task title and the files.
 */
import { GroveError } from '../errors';
import { worktreeStatus } from '../git/changes';
import { isGitError } from '../git/gitError';
import { suggestCommitMessage } from '../git/mergeService';
import { isOwned } from '../fleet/instance';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { requireInstance } from './instances';
import { requireWorktree } from './review';

/** What is uncommitted in a worktree (tracked changes and untracked files, renames once), minus the files Grove copied in. */
export async function uncommittedFiles(g: Grove, inst: InstanceSnapshot): Promise<string[]> {
  return (await worktreeStatus(g.git, requireWorktree(inst), { exclude: inst.copiedFiles ?? [] })).paths;
}

export interface CommitResult {
  /** The new commit, or undefined when there was nothing to commit. */
  sha?: string;
  files: string[];
  message: string;
}

export async function commitAgentWork(g: Grove, id: string): Promise<CommitResult> {
  const inst = requireInstance(g, id);
  if (isOwned(inst.state)) throw new GroveError('Busy', `"${inst.title}" is still ${inst.state}: wait for it to finish or stop it before committing its work.`);
  const worktreePath = requireWorktree(inst);
  const files = await uncommittedFiles(g, inst);
  let message = suggestCommitMessage(inst.title, files);
  if (!files.length) return { files, message };
  try {
    // The message lists exactly what was committed (never the copied files).
    const sha = await g.merges.commitWork({ worktreePath, exclude: inst.copiedFiles ?? [], message: (committed) => (message = suggestCommitMessage(inst.title, committed)) });
    return { sha, files, message };
  } catch (err) {
    if (isGitError(err)) throw new GroveError('Failed', `Committing the work of "${inst.title}" failed: ${err.message}`, undefined, { cause: err });
    throw err;
  }
}
