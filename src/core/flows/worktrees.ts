/** Worktrees without an agent (New Worktree, Prune) and an instance's transcript: the same for every surface. */
import fs from 'node:fs';
import { renderTranscript } from '../agents/transcript';
import { GroveError } from '../errors';
import type { CreatedWorktree } from '../git/worktreeManager';
import type { Grove } from '../grove';
import type { InstanceSnapshot } from '../model';
import { requireInstance } from './instances';

export interface NewWorktreeRequest {
  repoRoot: string;
  title: string;
  baseRef?: string;
  signal?: AbortSignal;
  onOutput?(chunk: string): void;
}

/** A worktree on a fresh branch, provisioned like an agent's; the setup command runs only in a trusted workspace. */
export async function createWorktree(g: Grove, req: NewWorktreeRequest): Promise<CreatedWorktree & { setupSkipped: boolean }> {
  if (!req.title.trim()) throw new GroveError('InvalidInput', 'The worktree needs a name.');
  const s = g.settings(req.repoRoot);
  const trusted = g.trusted();
  const created = await g.worktrees.create({
    repoRoot: req.repoRoot, title: req.title, baseRef: req.baseRef,
    branchPrefix: s.branchPrefix, worktreeRoot: s.worktreeRoot, copyFiles: s.copyFiles,
    setupCommand: trusted ? s.setupCommand : undefined,
    signal: req.signal, onOutput: req.onOutput,
  });
  return { ...created, setupSkipped: !trusted && !!s.setupCommand };
}

/** Drops the records of worktrees whose folder was deleted by hand. */
export function pruneWorktrees(g: Grove, repoRoot: string): Promise<string[]> {
  return g.worktrees.prune(repoRoot);
}

/** The instance's transcript (rendered, or the raw stream-json log). */
export async function transcript(g: Grove, id: string, options: { raw?: boolean; tailLines?: number } = {}): Promise<{ instance: InstanceSnapshot; text: string }> {
  const inst = requireInstance(g, id);
  const file = await g.logPath(inst);
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    throw new GroveError('NotFound', `"${inst.title}" has no log yet${inst.mode === 'terminal' ? ' (terminal agents are logged by Claude Code itself)' : ''}.`);
  }
  let text = options.raw ? raw : renderTranscript(raw);
  if (options.tailLines && options.tailLines > 0) text = text.split('\n').slice(-Math.floor(options.tailLines)).join('\n');
  return { instance: inst, text };
}
