import assert from 'node:assert/strict';
import { parsePlan } from '../../../src/core/fleet/plan';
import { dependents, findTask, isPlanFile, outlinePlan, prerequisites, taskAt } from '../../../src/vscode/plans/planOutline';

const HEADINGS = [
  '# Release', // 0
  'Shared context.', // 1
  '', // 2
  '## Add login ##', // 3
  'Implement it.', // 4
  '### Details', // 5
  'after: not here', // 6 (still the body of "Add login": ### belongs to the task)
  '', // 7
  '## Tests for login', // 8
  'after:   add LOGIN  ', // 9
  '```', // 10
  '## not a task', // 11
  'after: Tests for login', // 12
  '```', // 13
  '## Docs', // 14
  'after: Tests for login', // 15
].join('\n');

const CHECKLIST = [
  '# Chores', // 0
  '- [ ] Bump deps', // 1
  '  after: Fix lint', // 2
  '- [x] Done already', // 3
  '* [ ] Fix lint', // 4
  'after: Bump deps', // 5 (not indented: ends the item, not an option)
].join('\n');

describe('plans/planOutline', () => {
  it('finds the same tasks on the same lines as parsePlan (headings)', () => {
    const outline = outlinePlan(HEADINGS.replace('after: not here', 'base: main'));
    const plan = parsePlan(HEADINGS.replace('after: not here', 'base: main'));
    assert.deepEqual(outline.tasks.map((t) => [t.title, t.line + 1]), plan.tasks.map((t) => [t.title, t.line]));
    assert.equal(outline.format, 'headings');
  });

  it('finds the same tasks on the same lines as parsePlan (checklist)', () => {
    const valid = CHECKLIST.replace('  after: Fix lint', '  more text');
    assert.deepEqual(outlinePlan(valid).tasks.map((t) => [t.title, t.line + 1]), parsePlan(valid).tasks.map((t) => [t.title, t.line]));
    assert.equal(outlinePlan(valid).format, 'checklist');
  });

  it('records title columns and the first after: line with its value columns, outside fences', () => {
    const o = outlinePlan(HEADINGS);
    const [login, tests, docs] = o.tasks;
    assert.deepEqual([login.titleStart, login.titleEnd], [3, 3 + 'Add login'.length]);
    assert.deepEqual(login.after, { line: 6, value: 'not here', valueStart: 7, valueEnd: 15 });
    assert.deepEqual(tests.after, { line: 9, value: 'add LOGIN', valueStart: 9, valueEnd: 18 });
    assert.equal(docs.after?.line, 15);
    assert.ok(!tests.bodyLines.includes(12), 'a line inside a code fence is no option line');
    assert.equal(o.tasks.length, 3, 'a heading inside a fence is no task');
  });

  it('keeps an item\'s indented after: line and ignores one that ends the item', () => {
    const o = outlinePlan(CHECKLIST);
    assert.deepEqual(o.tasks.map((t) => t.title), ['Bump deps', 'Fix lint']);
    assert.equal(o.tasks[0].after?.value, 'Fix lint');
    assert.equal(o.tasks[1].after, undefined);
  });

  it('outlines a plan that parsePlan rejects (an empty after: while typing)', () => {
    const o = outlinePlan('## A\nafter: \n## B\n');
    assert.deepEqual(o.tasks[0].after, { line: 1, value: '', valueStart: 7, valueEnd: 7 });
    assert.equal(taskAt(o, 1), o.tasks[0]);
    assert.equal(taskAt(o, 2), o.tasks[1]);
  });

  it('walks prerequisites first-first, case-insensitively, and stops at cycles and unknown names', () => {
    const o = outlinePlan('## A\n## B\nafter: a\n## C\nafter: B\n## D\nafter: nobody\n## E\nafter: F\n## F\nafter: E\n');
    const t = (title: string) => findTask(o, title)!;
    assert.deepEqual(prerequisites(o, t('C')).map((x) => x.title), ['A', 'B']);
    assert.deepEqual(prerequisites(o, t('A')), []);
    assert.deepEqual(prerequisites(o, t('D')), []);
    assert.deepEqual(prerequisites(o, t('E')).map((x) => x.title), ['F']);
    assert.deepEqual([...dependents(o, t('A'))].map((x) => x.title), ['B', 'C']);
  });

  it('calls plan.md, PLAN.md, release-plan.md, plans/x.md and marked files plans, not README.md or planning.md', () => {
    const text = '## A task\nDo it.\n';
    for (const p of ['/r/plan.md', '/r/PLAN.md', '/r/release-plan.md', '/r/plans.md', '/r/q3.plan.md', '/r/my_plan.markdown', '/r/plans/refactor.md', 'C:\\r\\Plans\\x.md']) {
      assert.equal(isPlanFile(p, text), true, p);
    }
    for (const p of ['/r/README.md', '/r/planning.md', '/r/explanation.md', '/r/airplane.md', '/r/docs/notes.md', 'Untitled-1']) {
      assert.equal(isPlanFile(p, text), false, p);
    }
    assert.equal(isPlanFile('Untitled-1', `${text}<!-- Grove: the heading is the task title -->\n`), true);
    assert.equal(isPlanFile('/r/plan.md', 'Just prose, no tasks.\n'), false);
  });
});
