/**
 * Pure parser for markdown plans: one plan → N task specs.
 *
 * Format:
 * - Each `## heading` section is a task: the heading is its title, the section body its prompt
 *   (deeper headings `###…` belong to the body; headings inside fenced code blocks are ignored).
 * - Without any `##` heading, a checklist works: each `- [ ] item` (or `* [ ]`) is a task whose title and prompt
 *   are the item's text plus its indented continuation lines. Checked items (`- [x]`) are done and skipped.
 * - Per-task option lines, removed from the prompt, anywhere in the task body outside code fences, one per line,
 *   key case-insensitive: `base: <ref>`, `mode: terminal|background`, `model: <name>`, `profile: <name>`,
 *   `after: <title of another task>` (matched case-insensitively; one dependency per task).
 * - Shared context: a `# Title` line and any text before the first task. By default it is **prepended to every
 *   prompt** (each agent runs alone in its worktree and would not otherwise see it), followed by a blank line and
 *   `Task: <title>`. Pass `{ prependContext: false }` to get bare prompts; `plan.context` always holds it.
 *
 * Validation errors carry 1-based line numbers and are reported together in one {@link PlanError}: duplicate
 * titles (case-insensitive), unknown `after:` targets, dependency cycles, bad `mode:`, repeated or empty options,
 * empty titles, a plan with no tasks.
 */
import type { AgentMode } from '../model';

export interface PlanTask {
  title: string;
  /** The prompt sent to the agent (with the shared context prepended unless disabled). */
  prompt: string;
  /** The task's own body without option lines and without the shared context. */
  body: string;
  /** 1-based line of the heading or checklist item. */
  line: number;
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
  profile?: string;
  /** Title of the task this one starts after, exactly as written in the plan's heading. */
  after?: string;
}

export interface Plan {
  /** Text of the `# Title` line, if any. */
  title?: string;
  /** Title line and text before the first task, trimmed ('' if none). */
  context: string;
  tasks: PlanTask[];
}

export interface PlanIssue {
  line: number;
  message: string;
}

export class PlanError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(`Invalid plan:\n${issues.map((i) => `  line ${i.line}: ${i.message}`).join('\n')}`);
    this.name = 'PlanError';
  }
}

export interface ParsePlanOptions {
  /** Prepend the shared context to every prompt (default true). */
  prependContext?: boolean;
}

type OptionKey = 'base' | 'mode' | 'model' | 'profile' | 'after';
const OPTION_LINE = /^\s*(base|mode|model|profile|after)\s*:(.*)$/i;
const TASK_HEADING = /^ {0,3}##(?!#)(?:[ \t]+(.*?))?[ \t]*$/;
const TITLE_HEADING = /^ {0,3}#(?!#)(?:[ \t]+(.*?))?[ \t]*$/;
const CHECKLIST_ITEM = /^([-*+])[ \t]+\[([ xX])\][ \t]+(.*)$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

interface RawTask {
  title: string;
  line: number;
  bodyLines: { text: string; line: number; inFence: boolean }[];
}

/** Parses `markdown` into tasks. @throws PlanError listing every problem found. */
export function parsePlan(markdown: string, options: ParsePlanOptions = {}): Plan {
  const lines = markdown.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const fenced = fenceMask(lines);
  const issues: PlanIssue[] = [];
  const hasHeadings = lines.some((l, i) => !fenced[i] && TASK_HEADING.test(l));
  const { title, contextLines, raw } = hasHeadings ? splitByHeadings(lines, fenced) : splitByChecklist(lines, fenced);

  const context = contextLines.join('\n').trim();
  const prependContext = options.prependContext ?? true;
  const tasks: PlanTask[] = [];
  for (const r of raw) {
    if (!r.title) {
      issues.push({ line: r.line, message: 'task has an empty title' });
      continue;
    }
    const task: PlanTask = { title: r.title, prompt: '', body: '', line: r.line };
    const seen = new Set<OptionKey>();
    const kept: string[] = [];
    for (const b of r.bodyLines) {
      const m = b.inFence ? undefined : OPTION_LINE.exec(b.text);
      if (!m) {
        kept.push(b.text);
        continue;
      }
      const key = m[1].toLowerCase() as OptionKey;
      const value = m[2].trim();
      if (seen.has(key)) issues.push({ line: b.line, message: `"${key}:" given twice for task "${r.title}"` });
      seen.add(key);
      if (!value) {
        issues.push({ line: b.line, message: `"${key}:" has no value` });
        continue;
      }
      switch (key) {
        case 'base':
          task.baseRef = value;
          break;
        case 'mode':
          if (value !== 'terminal' && value !== 'background') {
            issues.push({ line: b.line, message: `mode must be "terminal" or "background", not "${value}"` });
          } else {
            task.mode = value;
          }
          break;
        case 'model':
          task.model = value;
          break;
        case 'profile':
          task.profile = value;
          break;
        case 'after':
          task.after = value;
          break;
      }
    }
    task.body = kept.join('\n').trim() || r.title;
    task.prompt = prependContext && context ? `${context}\n\nTask: ${r.title}\n\n${task.body}` : task.body;
    tasks.push(task);
  }

  if (tasks.length === 0 && issues.length === 0) {
    issues.push({ line: 1, message: 'the plan has no tasks: use "## Title" sections or a "- [ ] task" checklist' });
  }
  issues.push(...validateGraph(tasks, raw));
  if (issues.length) throw new PlanError(issues.sort((a, b) => a.line - b.line));
  return { ...(title !== undefined ? { title } : {}), context, tasks };
}

function splitByHeadings(lines: string[], fenced: boolean[]) {
  let title: string | undefined;
  const contextLines: string[] = [];
  const raw: RawTask[] = [];
  let current: RawTask | undefined;
  lines.forEach((text, i) => {
    const heading = fenced[i] ? null : TASK_HEADING.exec(text);
    if (heading) {
      current = { title: stripClosingHashes(heading[1] ?? ''), line: i + 1, bodyLines: [] };
      raw.push(current);
      return;
    }
    if (current) {
      current.bodyLines.push({ text, line: i + 1, inFence: fenced[i] });
      return;
    }
    const t = fenced[i] ? null : TITLE_HEADING.exec(text);
    if (t && title === undefined) title = stripClosingHashes(t[1] ?? '');
    contextLines.push(text);
  });
  return { title, contextLines, raw };
}

function splitByChecklist(lines: string[], fenced: boolean[]) {
  let title: string | undefined;
  const contextLines: string[] = [];
  const raw: RawTask[] = [];
  let current: RawTask | undefined;
  let sawItem = false;
  lines.forEach((text, i) => {
    const item = fenced[i] ? null : CHECKLIST_ITEM.exec(text);
    if (item) {
      sawItem = true;
      const checked = item[2] !== ' ';
      current = checked ? undefined : { title: item[3].trim(), line: i + 1, bodyLines: [] };
      if (current) raw.push(current);
      return;
    }
    // Continuation lines of an item are indented (or blank between indented lines); anything else ends it.
    if (sawItem) {
      if (/^\s+\S/.test(text) || text.trim() === '') {
        current?.bodyLines.push({ text: text.replace(/^\s{1,4}/, ''), line: i + 1, inFence: fenced[i] });
      } else {
        current = undefined;
      }
      return;
    }
    const t = fenced[i] ? null : TITLE_HEADING.exec(text);
    if (t && title === undefined) title = stripClosingHashes(t[1] ?? '');
    contextLines.push(text);
  });
  return { title, contextLines, raw };
}

function validateGraph(tasks: PlanTask[], raw: RawTask[]): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const byKey = new Map<string, PlanTask>();
  for (const t of tasks) {
    const key = t.title.toLowerCase();
    const first = byKey.get(key);
    if (first) issues.push({ line: t.line, message: `duplicate task title "${t.title}" (first at line ${first.line})` });
    else byKey.set(key, t);
  }
  for (const t of tasks) {
    if (t.after === undefined) continue;
    const dep = byKey.get(t.after.toLowerCase());
    if (!dep) issues.push({ line: optionLine(t, raw), message: `"after: ${t.after}" names no task of this plan` });
    else t.after = dep.title;
  }
  // Each task has at most one dependency, so a cycle is found by walking the chain from every task.
  const reported = new Set<PlanTask>();
  for (const start of tasks) {
    const chain: PlanTask[] = [];
    let t: PlanTask | undefined = start;
    while (t && !chain.includes(t)) {
      chain.push(t);
      t = t.after !== undefined ? byKey.get(t.after.toLowerCase()) : undefined;
    }
    if (!t || reported.has(t)) continue;
    const cycle = chain.slice(chain.indexOf(t));
    cycle.forEach((c) => reported.add(c));
    const path = [...cycle, t].map((c) => `"${c.title}" (line ${c.line})`).join(' → ');
    issues.push({ line: t.line, message: `dependency cycle: ${path}` });
  }
  return issues;
}

function optionLine(task: PlanTask, raw: RawTask[]): number {
  const r = raw.find((x) => x.line === task.line);
  const l = r?.bodyLines.find((b) => !b.inFence && /^\s*after\s*:/i.test(b.text));
  return l?.line ?? task.line;
}

function stripClosingHashes(s: string): string {
  return s.replace(/[ \t]+#+[ \t]*$/, '').replace(/^#+$/, '').trim();
}

function fenceMask(lines: string[]): boolean[] {
  const mask: boolean[] = [];
  let open: string | undefined;
  for (const l of lines) {
    const m = FENCE.exec(l);
    if (open) {
      mask.push(true);
      if (m && m[1][0] === open[0] && m[1].length >= open.length && l.trim() === m[1]) open = undefined;
    } else if (m) {
      mask.push(true);
      open = m[1];
    } else {
      mask.push(false);
    }
  }
  return mask;
}
