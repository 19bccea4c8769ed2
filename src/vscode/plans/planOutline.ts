/**
 * Where things are in a plan file, for the editor features (CodeLens, diagnostics, completion): the task headings
 * or checklist items with their positions, and each task's `after:` line. Pure (no `vscode`), and tolerant: it
 * outlines a plan that is still being typed, where `parsePlan` (src/core/fleet/plan.ts, the one authority on what
 * a plan means) would throw. The patterns mirror plan.ts; test/unit/plans/planOutline.test.ts checks that both
 * find the same tasks on the same lines.
 */

const TASK_HEADING = /^ {0,3}##(?!#)(?:[ \t]+(.*?))?[ \t]*$/;
const CHECKLIST_ITEM = /^([-*+][ \t]+\[([ xX])\][ \t]+)(.*?)[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const AFTER_LINE = /^(\s*after\s*:[ \t]*)(.*?)[ \t]*$/i;

export interface OutlineAfter {
  /** 0-based line of the `after:` option. */
  line: number;
  /** The named title as written (may be empty while typing). */
  value: string;
  /** Columns of the value on its line (`valueStart === valueEnd` when empty). */
  valueStart: number;
  valueEnd: number;
}

export interface OutlineTask {
  title: string;
  /** 0-based line of the heading or checklist item. */
  line: number;
  titleStart: number;
  titleEnd: number;
  /** 0-based lines of the task's body (outside code fences), where its option lines may be. */
  bodyLines: number[];
  /** The first `after:` line of the task (plan.ts reports a second one as an error). */
  after?: OutlineAfter;
}

export interface PlanOutline {
  format: 'headings' | 'checklist';
  tasks: OutlineTask[];
}

export function outlinePlan(text: string): PlanOutline {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const fenced = fenceMask(lines);
  const hasHeadings = lines.some((l, i) => !fenced[i] && TASK_HEADING.test(l));
  const tasks = hasHeadings ? byHeadings(lines, fenced) : byChecklist(lines, fenced);
  for (const t of tasks) {
    for (const n of t.bodyLines) {
      const m = AFTER_LINE.exec(lines[n]);
      if (!m) continue;
      t.after = { line: n, value: m[2], valueStart: m[1].length, valueEnd: m[1].length + m[2].length };
      break;
    }
  }
  return { format: hasHeadings ? 'headings' : 'checklist', tasks };
}

function byHeadings(lines: string[], fenced: boolean[]): OutlineTask[] {
  const tasks: OutlineTask[] = [];
  let current: OutlineTask | undefined;
  lines.forEach((text, i) => {
    const m = fenced[i] ? null : TASK_HEADING.exec(text);
    if (m) {
      const title = stripClosingHashes(m[1] ?? '');
      const start = m[1] ? /^ {0,3}##[ \t]+/.exec(text)![0].length : text.length;
      current = { title, line: i, titleStart: start, titleEnd: start + title.length, bodyLines: [] };
      tasks.push(current);
      return;
    }
    if (current && !fenced[i]) current.bodyLines.push(i);
  });
  return tasks;
}

function byChecklist(lines: string[], fenced: boolean[]): OutlineTask[] {
  const tasks: OutlineTask[] = [];
  let current: OutlineTask | undefined;
  let sawItem = false;
  lines.forEach((text, i) => {
    const m = fenced[i] ? null : CHECKLIST_ITEM.exec(text);
    if (m) {
      sawItem = true;
      const checked = m[2] !== ' ';
      current = checked ? undefined : { title: m[3].trim(), line: i, titleStart: m[1].length, titleEnd: m[1].length + m[3].trim().length, bodyLines: [] };
      if (current) tasks.push(current);
      return;
    }
    // As in plan.ts: an item's continuation lines are indented (or blank); anything else ends the item.
    if (!sawItem) return;
    if (/^\s+\S/.test(text) || text.trim() === '') {
      if (!fenced[i]) current?.bodyLines.push(i);
    } else {
      current = undefined;
    }
  });
  return tasks;
}

/** The task whose heading or body holds `line` (0-based). */
export function taskAt(outline: PlanOutline, line: number): OutlineTask | undefined {
  return outline.tasks.find((t) => t.line === line || t.bodyLines.includes(line));
}

export function findTask(outline: PlanOutline, title: string): OutlineTask | undefined {
  const key = title.trim().toLowerCase();
  return outline.tasks.find((t) => t.title.toLowerCase() === key);
}

/**
 * The tasks `task` waits for, the first one first (its `after:`, that task's `after:`, …). Stops at a cycle or a
 * name that is no task, so it always ends.
 */
export function prerequisites(outline: PlanOutline, task: OutlineTask): OutlineTask[] {
  const chain: OutlineTask[] = [];
  let t: OutlineTask | undefined = task;
  while (t?.after?.value) {
    const dep = findTask(outline, t.after.value);
    if (!dep || dep === task || chain.includes(dep)) break;
    chain.unshift(dep);
    t = dep;
  }
  return chain;
}

/** Tasks that (directly or through others) wait for `task`: naming one of them in `task`'s `after:` makes a cycle. */
export function dependents(outline: PlanOutline, task: OutlineTask): Set<OutlineTask> {
  const out = new Set<OutlineTask>();
  for (const t of outline.tasks) {
    if (t !== task && prerequisites(outline, t).includes(task)) out.add(t);
  }
  return out;
}

/**
 * Whether a markdown file is a plan, so that a README or notes file never gets CodeLens or diagnostics: it has at
 * least one task and either a file name with the word "plan" (`plan.md`, `PLAN.md`, `release-plan.md`,
 * `plans.md`, `q3.plan.md`; not `planning.md` or `explanation.md`), a folder named `plans` in its path, or a
 * `<!-- grove` comment in its text (as in the draft Grove: Dispatch Task opens). Untitled files count by the
 * marker only.
 */
export function isPlanFile(path: string, text: string, outline: PlanOutline = outlinePlan(text)): boolean {
  if (outline.tasks.length === 0) return false;
  if (/<!--\s*grove\b/i.test(text)) return true;
  const parts = path.split(/[\\/]/);
  const base = parts[parts.length - 1] ?? '';
  if (/(^|[-_. ])plans?([-_. ][^/\\]*)?\.(md|markdown)$/i.test(base)) return true;
  return parts.slice(0, -1).some((p) => p.toLowerCase() === 'plans');
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
