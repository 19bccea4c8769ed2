/**
 * Commit the agent's work: every uncommitted and untracked change of its worktree, except the files Grove copied
 * in (`.env`…), which are never staged. The message comes from the task title and the files.
 */
import { GroveError } from '../errors';
import { parseNulList } from '../git/changes';
import { isGitError } from '../git/gitError';
import { suggestCommitMessage } from '../git/mergeService';
import { isActive } from '../fleet/instance';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { requireInstance } from './instances';
import { requireWorktree } from './review';

/** Paths of `git status --porcelain=v1 -z` (a rename gives its new path; its old path follows it and is skipped). Pure. */
export function parseStatusPaths(stdout: string): string[] {
  const fields = parseNulList(stdout);
  const out: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    if (entry.length < 4) continue;
    out.push(entry.slice(3));
    if (entry[0] === 'R' || entry[0] === 'C') i++;
  }
  return out;
}

/** What is uncommitted in a worktree (tracked changes and untracked files), minus the files Grove copied in. */
export async function uncommittedFiles(g: Grove, inst: InstanceSnapshot): Promise<string[]> {
  const wt = requireWorktree(inst);
  const { stdout } = await g.git.read(wt, ['-c', 'core.quotepath=false', 'status', '--porcelain=v1', '-z', '--untracked-files=all']);
  const copied = new Set(inst.copiedFiles ?? []);
  return parseStatusPaths(stdout).filter((p) => !copied.has(p) && ![...copied].some((c) => c.endsWith('/') && p.startsWith(c)));
}

export interface CommitResult {
  /** The new commit, or undefined when there was nothing to commit. */
  sha?: string;
  files: string[];
  message: string;
}

export async function commitAgentWork(g: Grove, id: string): Promise<CommitResult> {
  const inst = requireInstance(g, id);
  if (isActive(inst.state) || inst.state === 'queued') throw new GroveError('Busy', `"${inst.title}" is still ${inst.state}: wait for it to finish or stop it before committing its work.`);
  const worktreePath = requireWorktree(inst);
  const files = await uncommittedFiles(g, inst);
  const message = suggestCommitMessage(inst.title, files);
  if (!files.length) return { files, message };
  try {
    const sha = await g.merges.commitWork({ worktreePath, message, exclude: inst.copiedFiles ?? [] });
    return { sha, files, message };
  } catch (err) {
    if (isGitError(err)) throw new GroveError('Failed', `Committing the work of "${inst.title}" failed: ${err.message}`, undefined, { cause: err });
    throw err;
  }
}
