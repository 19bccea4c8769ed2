import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { InstanceSnapshot } from '../../src/core/model';
import { text } from '../support/scriptedModel';
import { api, until, untilInstance, useScriptedAgents, workspaceRepo } from './helpers';

/** What a person sees in a plan file: CodeLens above the tasks, problems in the Problems view, completion. */
describe('plan files in the editor', function () {
  const files: string[] = [];
  const plan = [
    '# Lens plan', // 0
    'Shared context for every task.', // 1
    '', // 2
    '## Lens build the API', // 3
    'Write the API.', // 4
    '', // 5
    '## Lens test the API', // 6
    'after: lens BUILD the api', // 7
    'Test it.', // 8
    '', // 9
    '```md', // 10
    '## not a task, inside a fence', // 11
    '```', // 12
    '## Lens write docs', // 13
    'Describe it.', // 14
  ].join('\n');

  const writeFile = (dir: string, name: string, content: string) => {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    files.push(file);
    return vscode.Uri.file(file);
  };
  const open = async (uri: vscode.Uri) => {
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.languageId, 'markdown');
    return doc;
  };
  const groveLenses = async (uri: vscode.Uri) => {
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
    return lenses.filter((l) => l.command?.command.startsWith('grove.'));
  };
  const planProblems = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Grove plan');

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const f of files) fs.rmSync(f, { force: true });
  });

  it('shows "Dispatch All" above the first task and "Dispatch" above each, at the heading lines', async () => {
    const uri = writeFile(workspaceRepo(), 'lens-plan.md', plan);
    await open(uri);
    const lenses = await groveLenses(uri);
    assert.deepEqual(lenses.map((l) => ({ line: l.range.start.line, title: l.command!.title, command: l.command!.command, args: l.command!.arguments?.slice(1) })), [
      { line: 3, title: '$(rocket) Dispatch All (3)…', command: 'grove.dispatchPlan', args: [] },
      { line: 3, title: '$(rocket) Dispatch', command: 'grove.dispatchPlan', args: [{ select: ['Lens build the API'] }] },
      { line: 6, title: '$(rocket) Dispatch with "Lens build the API"', command: 'grove.dispatchPlan', args: [{ select: ['Lens build the API', 'Lens test the API'] }] },
      { line: 13, title: '$(rocket) Dispatch', command: 'grove.dispatchPlan', args: [{ select: ['Lens write docs'] }] },
    ]);
    for (const l of lenses) assert.equal((l.command!.arguments![0] as vscode.Uri).toString(), uri.toString());
  });

  it('puts a lens above each open checklist item of a checklist plan, none above checked ones', async () => {
    const uri = writeFile(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-plans-')), 'chores.plan.md', '# Chores\n- [ ] Bump deps\n- [x] Done already\n- [ ] Fix lint\n  after: Bump deps\n');
    await open(uri);
    const lenses = await groveLenses(uri);
    assert.deepEqual(lenses.map((l) => [l.range.start.line, l.command!.title]), [
      [1, '$(rocket) Dispatch All (2)…'],
      [1, '$(rocket) Dispatch'],
      [3, '$(rocket) Dispatch with "Bump deps"'],
    ]);
  });

  it('reports an after: that names no task and a cycle as problems, and clears them once fixed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-plans-'));
    const broken = ['## Alpha', 'after: Nobody', '', '## Beta', 'after: Gamma', '', '## Gamma', 'after: Beta', ''].join('\n');
    // A README with the same text is no plan: it must get no problems. It is opened first, so once the plan's
    // problems are there, the README's open has been handled too.
    const readme = writeFile(dir, 'README.md', broken);
    await open(readme);
    const uri = writeFile(dir, 'sprint-plan.md', broken);
    const doc = await open(uri);
    const problems = await until('the plan\'s problems', () => (planProblems(uri).length >= 2 ? planProblems(uri) : undefined));
    const seen = problems.map((d) => ({ line: d.range.start.line, text: doc.getText(d.range), severity: d.severity, message: d.message }));
    assert.deepEqual(seen.map((s) => [s.line, s.text, s.severity]), [
      [1, 'Nobody', vscode.DiagnosticSeverity.Error],
      [3, 'Beta', vscode.DiagnosticSeverity.Error],
    ]);
    assert.match(seen[0].message, /"after: Nobody" names no task of this plan/);
    assert.match(seen[1].message, /dependency cycle: "Beta" \(line 4\) → "Gamma" \(line 7\) → "Beta" \(line 4\)/);
    assert.deepEqual(planProblems(readme), [], 'a README got plan problems');
    assert.deepEqual(await groveLenses(readme), [], 'a README got Dispatch lenses');

    const fix = new vscode.WorkspaceEdit();
    fix.replace(uri, new vscode.Range(1, 0, 1, 'after: Nobody'.length), 'after: Beta');
    fix.replace(uri, new vscode.Range(7, 0, 7, 'after: Beta'.length), '');
    assert.ok(await vscode.workspace.applyEdit(fix));
    await until('the problems to clear after the fix', () => planProblems(uri).length === 0 || undefined);
  });

  it('completes after: with the other tasks\' titles, leaving out the task itself and those that wait for it', async () => {
    const content = ['## Schema', '', '## Migrations', 'after: Schema', '', '## Seed data', 'after: Migrations', '', '## Backfill', 'after: Se', ''].join('\n');
    const uri = writeFile(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-plans-')), 'db-plan.md', content);
    await open(uri);
    // Grove's items name the task's line; word-based suggestions (plain labels) may come along and are left out.
    const complete = async (line: number, character: number) => {
      const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, new vscode.Position(line, character));
      return list.items.filter((i) => typeof i.label !== 'string' && /^line \d+$/.test(i.label.description ?? ''));
    };
    const label = (i: vscode.CompletionItem) => (typeof i.label === 'string' ? i.label : i.label.label);

    // On "after: Se|" of Backfill: every other task; the typed "Se" is what the choice replaces.
    const items = await complete(9, 'after: Se'.length);
    assert.deepEqual(items.map(label), ['Schema', 'Migrations', 'Seed data']);
    const range = items[0].range as vscode.Range;
    assert.deepEqual([range.start.line, range.start.character, range.end.character], [9, 'after: '.length, 'after: Se'.length]);

    // On Schema's own body (a new after: line): not itself, nor Migrations and Seed data, which wait for it.
    const edit = new vscode.WorkspaceEdit();
    edit.insert(uri, new vscode.Position(1, 0), 'after: ');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const own = await complete(1, 'after: '.length);
    assert.deepEqual(own.map(label), ['Backfill']);
    const at = own[0].range as vscode.Range;
    assert.deepEqual([at.start.character, at.end.character], ['after: '.length, 'after: '.length], 'the choice would replace more than the typed name');

    // Elsewhere (a heading, prose) nothing of Grove's is offered.
    assert.deepEqual(await complete(0, 3), []);
  });

  describe('running the lenses', function () {
    let agents: Awaited<ReturnType<typeof useScriptedAgents>>;
    before(async () => {
      agents = await useScriptedAgents(() => text('Done.'));
    });
    after(async () => agents?.dispose());

    it('a task\'s "Dispatch" starts only that task; a dependent one\'s starts it after the task it waits for', async () => {
      const a = await api();
      const uri = vscode.Uri.file(path.join(workspaceRepo(), 'lens-plan.md'));
      const lenses = await groveLenses(uri);
      const run = async (title: string, line: number) => {
        const lens = lenses.find((l) => l.range.start.line === line && l.command!.title === title);
        assert.ok(lens, `no "${title}" lens on line ${line}`);
        return vscode.commands.executeCommand<InstanceSnapshot[]>(lens.command!.command, ...(lens.command!.arguments ?? []));
      };
      const docs = await run('$(rocket) Dispatch', 13);
      assert.deepEqual(docs.map((i) => i.title), ['Lens write docs']);
      assert.match(docs[0].prompt, /^# Lens plan\nShared context for every task\.\n\nTask: Lens write docs\n\nDescribe it\.$/);

      const pair = await run('$(rocket) Dispatch with "Lens build the API"', 6);
      assert.deepEqual(pair.map((i) => [i.title, i.after]), [['Lens build the API', undefined], ['Lens test the API', 'Lens build the API']]);
      for (const i of [...docs, ...pair]) {
        const done = await untilInstance(a, i.id, (x) => x.state === 'done' || x.state === 'failed', `"${i.title}" to finish`);
        assert.equal(done.state, 'done', done.error);
      }
      assert.equal(a.instances().filter((i) => i.title.startsWith('Lens ')).length, 3, 'a lens dispatched more than its tasks');
    });
  });
});
