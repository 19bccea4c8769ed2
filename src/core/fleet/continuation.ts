/**
 * Carrying a task on in a fresh session after its context was exhausted: the first prompt of the new session holds
 * the original task, a bounded summary of what the previous session did, and the worktree's changes so far.
 */
import { summarizeForContinuation } from '../agents/transcript';
import type { GitClient } from '../git/gitClient';
import type { InstanceSnapshot } from '../model';

/** The summary and the diff stat together stay within a few KB, whatever the transcript's length. */
const SUMMARY_CHARS = 4000;
const STAT_CHARS = 2000;

export async function continuationPrompt(git: GitClient, inst: InstanceSnapshot, log: string): Promise<string> {
  let stat = '';
  try {
    const base = inst.baseRef || inst.baseCommit;
    const mb = (await git.read(inst.worktreePath, ['merge-base', base, 'HEAD'], { okExitCodes: [1] })).stdout.trim() || inst.baseCommit;
    stat = (await git.read(inst.worktreePath, ['diff', '--stat', '--no-color', mb, '--'])).stdout.trim();
    const untracked = (await git.read(inst.worktreePath, ['ls-files', '--others', '--exclude-standard'])).stdout.trim().split('\n').filter(Boolean);
    if (untracked.length) stat += `${stat ? '\n' : ''} ${untracked.length} new file(s) not added yet: ${untracked.slice(0, 10).join(', ')}${untracked.length > 10 ? ', …' : ''}`;
  } catch {
    stat = '(the changes could not be listed)';
  }
  if (stat.length > STAT_CHARS) stat = `${stat.slice(0, STAT_CHARS)}\n…`;
  const summary = summarizeForContinuation(log, SUMMARY_CHARS);
  return [
    inst.prompt,
    '',
    '---',
    'You are continuing this task in a fresh session: the previous session ran out of context.',
    '',
    'What the previous session did (the end of its transcript, condensed):',
    summary || '(nothing recorded)',
    '',
    `The worktree's changes against ${inst.baseRef || 'the base'} so far (git diff --stat):`,
    stat || '(none yet)',
    '',
    'Continue from there: look at the current state of the files before you change them, then finish the task.',
  ].join('\n');
}
