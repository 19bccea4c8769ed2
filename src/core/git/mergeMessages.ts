/** Commit messages and file lists for the merge flows. Pure. */
import type { MergeStrategy } from './mergeTypes';

export interface MergeMessageInput {
  /** The task title. */
  title: string;
  branch: string;
  /** The base branch (`main` or `refs/heads/main`). */
  baseRef: string;
  /** The agent's final summary, used as the body. */
  resultText?: string;
}

/**
 * The one commit message of a merge into the base, for every flow (CLI, VS Code, MCP):
 * - `squash`: {@link squashMessage} (the title as subject, the agent's summary as body);
 * - `merge`: `Merge <branch>: <title>` (or git's `Merge branch '<branch>' into <base>` without a title), the
 *   whole title when it did not fit the subject, then the summary;
 * - `rebase`: `''` — a rebase lands the agent's own commits and writes no commit of its own.
 */
export function mergeMessage(strategy: MergeStrategy, input: MergeMessageInput): string {
  if (strategy === 'rebase') return '';
  if (strategy === 'squash') return squashMessage(input.title, input.resultText);
  const whole = tidy(input.title);
  const base = input.baseRef.replace(/^refs\/heads\//, '');
  const subject = whole ? truncate(`Merge ${input.branch}: ${firstLine(whole)}`, 72) : `Merge branch '${input.branch}' into ${base}`;
  const parts = [subject];
  if (whole && !subject.endsWith(whole)) parts.push(whole);
  const body = tidy(input.resultText ?? '');
  if (body) parts.push(truncate(body, 10_000));
  return parts.join('\n\n');
}

/**
 * The message of a squash commit: the task title as the subject and the agent's final summary as the body.
 * A title too long for a subject line is shortened there and kept whole in the body.
 */
export function squashMessage(title: string, summary?: string): string {
  const whole = tidy(title);
  const subject = truncate(firstLine(whole) || 'Squashed changes', 72);
  const parts = [subject];
  if (whole && subject !== whole) parts.push(whole);
  const body = tidy(summary ?? '');
  if (body) parts.push(truncate(body, 10_000));
  return parts.join('\n\n');
}

/** A commit message for the agent's uncommitted work: the task title and the files it touched. */
export function suggestCommitMessage(title: string, changedFiles: readonly string[]): string {
  const subject = truncate(firstLine(tidy(title)) || 'Agent work', 72);
  if (!changedFiles.length) return subject;
  const shown = changedFiles.slice(0, 20).map((f) => `- ${f}`);
  if (changedFiles.length > 20) shown.push(`- … and ${changedFiles.length - 20} more`);
  return `${subject}\n\n${shown.join('\n')}`;
}

/** At most 8 file names, then how many more. */
export function describeFiles(files: readonly string[]): string {
  const shown = files.slice(0, 8).join(', ');
  return files.length > 8 ? `${shown}, … (${files.length - 8} more)` : shown;
}

function firstLine(text: string): string {
  return (text.split(/\r?\n/).find((l) => l.trim()) ?? '').trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

function tidy(text: string): string {
  return text.split(/\r?\n/).map((l) => l.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').trim();
}
