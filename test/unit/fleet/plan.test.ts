import assert from 'node:assert/strict';
import { parsePlan, PlanError } from '../../../src/core/fleet/plan';

function issues(md: string): string[] {
  try {
    parsePlan(md);
  } catch (e) {
    assert.ok(e instanceof PlanError, String(e));
    return e.issues.map((i) => `${i.line}: ${i.message}`);
  }
  assert.fail('expected a PlanError');
}

describe('fleet/plan', () => {
  it('parses ## sections with per-task lines and prepends the shared context', () => {
    const md = [
      '# Release 2.0', // 1
      '', // 2
      'We use TypeScript strict mode.', // 3
      '', // 4
      '## Add login', // 5
      'base: main', // 6
      'mode: terminal', // 7
      'model: opus', // 8
      'profile: claude', // 9
      'Implement the login form.', // 10
      '### Details', // 11
      'Use the session API.', // 12
      '', // 13
      '## Tests for login ##', // 14
      'after: add LOGIN', // 15
      'Write tests.', // 16
      '```md', // 17
      '## not a task', // 18
      'base: not an option', // 19
      '```', // 20
    ].join('\n');
    const plan = parsePlan(md);
    assert.equal(plan.title, 'Release 2.0');
    assert.equal(plan.context, '# Release 2.0\n\nWe use TypeScript strict mode.');
    assert.equal(plan.tasks.length, 2);
    const [a, b] = plan.tasks;
    assert.deepEqual(
      { title: a.title, line: a.line, base: a.baseRef, mode: a.mode, model: a.model, profile: a.profile, body: a.body },
      { title: 'Add login', line: 5, base: 'main', mode: 'terminal', model: 'opus', profile: 'claude', body: 'Implement the login form.\n### Details\nUse the session API.' },
    );
    assert.equal(a.prompt, `${plan.context}\n\nTask: Add login\n\n${a.body}`);
    assert.equal(b.title, 'Tests for login');
    assert.equal(b.after, 'Add login', 'after: is matched case-insensitively and normalised to the real title');
    assert.equal(b.body, 'Write tests.\n```md\n## not a task\nbase: not an option\n```');
    assert.equal(parsePlan(md, { prependContext: false }).tasks[0].prompt, a.body);
  });

  it('parses a plain checklist, skipping checked items, with indented continuation and options', () => {
    const md = ['Shared note.', '', '- [ ] Fix the flaky test', '  mode: background', '  It fails on Windows.', '- [x] Already done', '* [ ] Bump deps', 'Trailing prose.'].join('\r\n');
    const plan = parsePlan(md);
    assert.deepEqual(plan.tasks.map((t) => [t.title, t.line, t.body, t.mode]), [
      ['Fix the flaky test', 3, 'It fails on Windows.', 'background'],
      ['Bump deps', 7, 'Bump deps', undefined],
    ]);
    assert.equal(plan.context, 'Shared note.');
    assert.equal(plan.tasks[1].prompt, 'Shared note.\n\nTask: Bump deps\n\nBump deps');
  });

  it('keeps odd titles intact: slashes, quotes, unicode, 500 characters', () => {
    const long = 'x'.repeat(500);
    const titles = ['feat/api: "quoted" & \'single\'', 'Ünïcødé — 日本語 🚀', '../../etc/passwd', long];
    const plan = parsePlan(titles.map((t) => `## ${t}\nDo ${t.length}`).join('\n\n'));
    assert.deepEqual(plan.tasks.map((t) => t.title), titles);
    assert.equal(plan.tasks[3].title.length, 500);
    assert.equal(plan.context, '');
    assert.equal(plan.tasks[0].prompt, 'Do 29');
  });

  it('a section without a body uses its title as the prompt', () => {
    assert.equal(parsePlan('## Just do it\n').tasks[0].prompt, 'Just do it');
  });

  it('reports an unknown after: target with its line', () => {
    assert.deepEqual(issues('## A\nafter: Nope\nbody'), ['2: "after: Nope" names no task of this plan']);
  });

  it('reports dependency cycles, including a self-dependency, with the path', () => {
    const found = issues('## A\nafter: C\n\n## B\nafter: A\n\n## C\nafter: B\n\n## D\nafter: D');
    assert.equal(found.length, 2);
    assert.match(found[0], /^1: dependency cycle: "A" \(line 1\) → "C" \(line 7\) → "B" \(line 4\) → "A" \(line 1\)$/);
    assert.match(found[1], /^10: dependency cycle: "D" \(line 10\) → "D"/);
  });

  it('reports duplicate titles, bad modes, repeated and empty options, empty titles — all at once', () => {
    const found = issues('## Same\nmode: fast\n## same\nbase: a\nbase: b\nmodel:\n##\nbody');
    assert.deepEqual(found, [
      '2: mode must be "terminal" or "background", not "fast"',
      '3: duplicate task title "same" (first at line 1)',
      '5: "base:" given twice for task "same"',
      '6: "model:" has no value',
      '7: task has an empty title',
    ]);
  });

  it('reports a plan without tasks', () => {
    assert.deepEqual(issues('# Title\njust prose\n- [x] all done'), ['1: the plan has no tasks: use "## Title" sections or a "- [ ] task" checklist']);
  });
});
