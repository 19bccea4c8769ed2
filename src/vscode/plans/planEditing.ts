import * as vscode from 'vscode';
import { parsePlan, PlanError } from '../../core/fleet/plan';
import { dependents, isPlanFile, outlinePlan, prerequisites, taskAt, type PlanOutline } from './planOutline';

/**
 * Editor support for plan files (markdown that {@link isPlanFile} recognises): a "Dispatch" CodeLens above each
 * task and "Dispatch All…" above the first, diagnostics from the plan parser (an `after:` that names no task, a
 * cycle, duplicate titles, a bad `mode:`…), and completion of task titles after `after:`. The lenses call the
 * existing `grove.dispatchPlan` command: `(uri, { select })` dispatches those tasks without asking, `(uri)` asks
 * with a preview.
 */
export function registerPlanEditing(): vscode.Disposable[] {
  const selector: vscode.DocumentSelector = [
    { language: 'markdown', scheme: 'file' },
    { language: 'markdown', scheme: 'untitled' },
  ];
  const diagnostics = new PlanDiagnostics();
  return [
    diagnostics,
    vscode.languages.registerCodeLensProvider(selector, new PlanCodeLensProvider()),
    vscode.languages.registerCompletionItemProvider(selector, new AfterCompletionProvider(), ':', ' '),
  ];
}

function planOutline(doc: vscode.TextDocument): PlanOutline | undefined {
  if (doc.languageId !== 'markdown') return undefined;
  const text = doc.getText();
  const outline = outlinePlan(text);
  return isPlanFile(doc.uri.path, text, outline) ? outline : undefined;
}

export class PlanCodeLensProvider implements vscode.CodeLensProvider {
  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const outline = planOutline(doc);
    if (!outline) return [];
    const lenses: vscode.CodeLens[] = [];
    outline.tasks.forEach((task, i) => {
      const range = new vscode.Range(task.line, 0, task.line, 0);
      if (i === 0 && outline.tasks.length > 1) {
        lenses.push(new vscode.CodeLens(range, {
          title: `$(rocket) Dispatch All (${outline.tasks.length})…`,
          tooltip: 'Choose which of this plan\'s tasks to dispatch, each on its own worktree',
          command: 'grove.dispatchPlan',
          arguments: [doc.uri],
        }));
      }
      if (!task.title) return;
      // A task that starts after another can only be dispatched with it: the dispatcher orders tasks of one batch.
      const before = prerequisites(outline, task);
      const title = before.length === 0 ? '$(rocket) Dispatch'
        : before.length === 1 ? `$(rocket) Dispatch with "${before[0].title}"`
          : `$(rocket) Dispatch with the ${before.length} tasks it waits for`;
      lenses.push(new vscode.CodeLens(range, {
        title,
        tooltip: before.length ? `Dispatch ${[...before, task].map((t) => `"${t.title}"`).join(', then ')}` : `Dispatch "${task.title}" on its own worktree`,
        command: 'grove.dispatchPlan',
        arguments: [doc.uri, { select: [...before.map((t) => t.title), task.title] }],
      }));
    });
    return lenses;
  }
}

/** Offers the other tasks' titles after `after:`, leaving out the task itself and those that wait for it. */
export class AfterCompletionProvider implements vscode.CompletionItemProvider {
  provideCompletionItems(doc: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] | undefined {
    const line = doc.lineAt(position.line).text;
    const m = /^(\s*after\s*:[ \t]*)/i.exec(line);
    if (!m || position.character < m[1].length) return undefined;
    const outline = planOutline(doc);
    const task = outline && taskAt(outline, position.line);
    if (!outline || !task || task.line === position.line) return undefined;
    const excluded = dependents(outline, task);
    // The typed name (up to the end of the line, trailing blanks aside) is what a choice replaces.
    const start = m[1].length;
    const end = Math.max(start, line.trimEnd().length, position.character);
    const range = new vscode.Range(position.line, start, position.line, end);
    return outline.tasks
      .filter((t) => t !== task && t.title && !excluded.has(t))
      .map((t, i) => {
        const item = new vscode.CompletionItem({ label: t.title, description: `line ${t.line + 1}` }, vscode.CompletionItemKind.Reference);
        item.range = range;
        item.insertText = t.title;
        item.filterText = t.title;
        item.sortText = String(i).padStart(4, '0');
        item.detail = 'Start after this task is done, from its branch';
        return item;
      });
  }
}

/** Problems of open plan files, recomputed on open and (debounced) on change. */
export class PlanDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('grove-plan');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly delayMs = 300) {
    this.subscriptions = [
      vscode.workspace.onDidOpenTextDocument((d) => this.update(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => this.clear(d.uri)),
    ];
    for (const d of vscode.workspace.textDocuments) this.update(d);
  }

  private schedule(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      if (!doc.isClosed) this.update(doc);
    }, this.delayMs));
  }

  private clear(uri: vscode.Uri): void {
    clearTimeout(this.timers.get(uri.toString()));
    this.timers.delete(uri.toString());
    this.collection.delete(uri);
  }

  update(doc: vscode.TextDocument): void {
    if (doc.uri.scheme !== 'file' && doc.uri.scheme !== 'untitled') return;
    const outline = planOutline(doc);
    if (!outline) {
      this.collection.delete(doc.uri);
      return;
    }
    this.collection.set(doc.uri, planDiagnostics(doc, outline));
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.subscriptions.forEach((s) => s.dispose());
    this.collection.dispose();
  }
}

export function planDiagnostics(doc: vscode.TextDocument, outline: PlanOutline): vscode.Diagnostic[] {
  try {
    parsePlan(doc.getText());
    return [];
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    return err.issues.map((issue) => {
      const line = Math.min(Math.max(issue.line - 1, 0), doc.lineCount - 1);
      const d = new vscode.Diagnostic(issueRange(doc, outline, line), issue.message, vscode.DiagnosticSeverity.Error);
      d.source = 'Grove plan';
      return d;
    });
  }
}

/** The named title of an `after:` line, a task's title on its heading, else the line's text. */
function issueRange(doc: vscode.TextDocument, outline: PlanOutline, line: number): vscode.Range {
  const after = outline.tasks.find((t) => t.after?.line === line)?.after;
  if (after && after.valueEnd > after.valueStart) return new vscode.Range(line, after.valueStart, line, after.valueEnd);
  const task = outline.tasks.find((t) => t.line === line);
  if (task && task.titleEnd > task.titleStart) return new vscode.Range(line, task.titleStart, line, task.titleEnd);
  const text = doc.lineAt(line);
  return text.isEmptyOrWhitespace ? text.range : new vscode.Range(line, text.firstNonWhitespaceCharacterIndex, line, text.text.trimEnd().length);
}
