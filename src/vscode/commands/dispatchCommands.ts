import * as vscode from 'vscode';
import { dispatchAttempts, MAX_ATTEMPTS } from '../../core/flows/attempts';
import { dispatch, planTasks, specOf, titleFromPrompt } from '../../core/flows/dispatch';
import type { TaskSpec } from '../../core/fleet/ports';
import type { AgentMode, InstanceSnapshot } from '../../core/model';
import { isActive } from '../../core/fleet/instance';
import { stop } from '../../core/flows/instances';
import { groveConfig } from '../config';
import type { RepositoryState } from '../repositories';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { pickBase, pickRepository } from './pick';
import { UserFacingError } from './register';

export { titleFromPrompt };

/** Arguments for running Dispatch Task without prompts (automation, tests, the API). */
export interface DispatchTaskArgs {
  prompt: string;
  title?: string;
  repoRoot?: string;
  baseRef?: string;
  mode?: AgentMode;
  profile?: string;
  model?: string;
  /** Best of N: run 2–5 attempts at the task (titles "… #1", "#2"…), optionally one model each. */
  attempts?: number;
  models?: string[];
}

/** Options for running Dispatch Plan without prompts: every task is dispatched unless `select` names some. */
export interface DispatchPlanOptions {
  repoRoot?: string;
  select?: string[];
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
}

const DRAFT_HINT = '<!-- Grove: the heading is the task title, the text below it the prompt. Optional lines: "base: main", "mode: terminal", "model: …". Add more "## " sections for more agents. Then click the rocket in the editor title (Grove: Dispatch Plan…). -->';

/** The modal that confirms bypassPermissions for one dispatch (the one policy lives in core/flows/dispatch.ts). */
export async function confirmBypass(): Promise<boolean> {
  const ok = await vscode.window.showWarningMessage(
    'grove.permissionMode is "bypassPermissions": the agents will run any command and edit any file without asking.',
    { modal: true, detail: 'Only do this in a sandbox you can throw away. The instances are marked as bypassing permissions.' },
    'Run Without Permission Checks');
  return !!ok;
}

export function dispatchCommands(s: Services) {
  const ensureTrusted = () => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Grove starts no agents in an untrusted workspace.', 'Manage Workspace Trust')
        .then((a) => a && vscode.commands.executeCommand('workbench.trust.manage'));
      throw new vscode.CancellationError();
    }
  };

  const run = async (repo: RepositoryState, tasks: TaskSpec[], defaults: { baseRef?: string; mode?: AgentMode; model?: string }) => {
    const { instances, warnings } = await dispatch(s.grove, { repoRoot: repo.info.mainWorktree, tasks, ...defaults }, { confirmBypass });
    for (const w of warnings) void vscode.window.showWarningMessage(`Grove: ${w}`);
    void showProvisioningProgress(s, instances);
    return instances;
  };
  /** Best of N: N agents on N worktrees with the same prompt. */
  const runAttempts = async (repo: RepositoryState, task: TaskSpec, attempts: number, models?: readonly (string | undefined)[]) => {
    const { instances, warnings } = await dispatchAttempts(s.grove, {
      repoRoot: repo.info.mainWorktree, title: task.title, prompt: task.prompt, attempts, models,
      baseRef: task.baseRef, mode: task.mode, model: task.model, profile: task.profile,
    }, { confirmBypass });
    for (const w of warnings) void vscode.window.showWarningMessage(`Grove: ${w}`);
    void showProvisioningProgress(s, instances);
    return instances;
  };

  return {
    'grove.dispatchTask': async (nodeOrArgs?: Node | DispatchTaskArgs) => {
      ensureTrusted();
      const args = nodeOrArgs && 'prompt' in nodeOrArgs ? nodeOrArgs : undefined;
      if (args) {
        const repo = args.repoRoot ? s.repos.find(args.repoRoot) : await pickRepository(s);
        if (!repo) throw new UserFacingError(`${args.repoRoot} is not a repository of this workspace.`);
        const spec = { title: args.title ?? titleFromPrompt(args.prompt), prompt: args.prompt, baseRef: args.baseRef, mode: args.mode, profile: args.profile, model: args.model };
        if ((args.attempts ?? 1) > 1) return runAttempts(repo, spec, args.attempts!, args.models);
        return run(repo, [spec], {});
      }
      const repo = await pickRepository(s, nodeOrArgs as Node | undefined);
      const prompt = await askPrompt();
      if (prompt === undefined) return undefined;
      const reviewed = await reviewTask(s, repo, prompt);
      if (!reviewed) throw new vscode.CancellationError();
      if (reviewed.attempts > 1) return runAttempts(repo, reviewed.task, reviewed.attempts, reviewed.models);
      return run(repo, [reviewed.task], {});
    },

    'grove.dispatchPlan': async (uri?: vscode.Uri | Node, optionsOrUris?: DispatchPlanOptions | vscode.Uri[]) => {
      ensureTrusted();
      const options = optionsOrUris && !Array.isArray(optionsOrUris) ? optionsOrUris : undefined;
      const planUri = uri instanceof vscode.Uri ? uri : await pickPlanFile();
      if (!planUri) throw new vscode.CancellationError();
      const doc = await vscode.workspace.openTextDocument(planUri);
      const source = vscode.workspace.asRelativePath(planUri);
      const all = planTasks(doc.getText(), { source });
      const repo = options?.repoRoot ? s.repos.find(options.repoRoot)
        : (planUri.scheme === 'file' ? s.repos.find(planUri.fsPath) : undefined) ?? await pickRepository(s);
      if (!repo) throw new UserFacingError('The plan is not in a repository of this workspace.');
      let select = options?.select;
      if (!options) {
        const picks = await vscode.window.showQuickPick(
          all.map((t) => ({
            label: t.title,
            description: [t.after && `after ${t.after}`, t.baseRef && `from ${t.baseRef}`, t.mode, t.model].filter(Boolean).join(' · '),
            detail: t.body.replace(/\s+/g, ' ').slice(0, 140),
            picked: true,
            task: t,
          })),
          { canPickMany: true, title: `Grove: dispatch ${all.length} task(s) from ${source}`, placeHolder: 'Uncheck the tasks to leave out, then press Enter' },
        );
        if (!picks || picks.length === 0) throw new vscode.CancellationError();
        select = picks.length === all.length ? undefined : picks.map((p) => p.task.title);
      }
      const chosen = planTasks(doc.getText(), { source, select });
      return run(repo, chosen.map(specOf), { baseRef: options?.baseRef, mode: options?.mode, model: options?.model });
    },
  };
}

async function askPrompt(): Promise<string | undefined> {
  const input = vscode.window.createInputBox();
  input.title = 'Grove: Dispatch Task';
  input.prompt = 'What should the agent do? (Enter to continue; the editor button opens a multi-line draft)';
  input.placeholder = 'e.g. Add input validation to the signup form and tests for it';
  const editorButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('edit'), tooltip: 'Write a longer prompt in an editor' };
  input.buttons = [editorButton];
  input.ignoreFocusOut = true;
  return new Promise((resolve, reject) => {
    let settled = false;
    input.onDidTriggerButton(async () => {
      settled = true;
      input.hide();
      const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: `## ${input.value.trim() ? titleFromPrompt(input.value) : 'Task title'}\n\n${input.value.trim()}\n\n${DRAFT_HINT}\n` });
      await vscode.window.showTextDocument(doc);
      resolve(undefined);
    });
    input.onDidAccept(() => {
      if (!input.value.trim()) {
        input.validationMessage = 'Describe the task';
        return;
      }
      settled = true;
      resolve(input.value.trim());
      input.hide();
    });
    input.onDidHide(() => {
      input.dispose();
      if (!settled) reject(new vscode.CancellationError());
    });
    input.show();
  });
}

/** One review step: Enter dispatches; each other row changes one choice and comes back here. */
async function reviewTask(s: Services, repo: RepositoryState, prompt: string): Promise<{ task: TaskSpec; attempts: number; models?: (string | undefined)[] } | undefined> {
  const cfg = groveConfig(vscode.Uri.file(repo.info.mainWorktree));
  const task: TaskSpec = { title: titleFromPrompt(prompt), prompt, baseRef: repo.info.branch, mode: cfg.defaultMode, model: cfg.model, profile: 'claude' };
  let attempts = 1;
  let models: (string | undefined)[] | undefined;
  for (;;) {
    const rows = [
      { id: 'go', label: '$(rocket) Dispatch', description: `${task.title} · ${task.mode} · from ${task.baseRef ?? '?'}` },
      { id: 'title', label: `$(tag) Title: ${task.title}` },
      { id: 'base', label: `$(git-branch) Base: ${task.baseRef ?? 'choose…'}` },
      { id: 'mode', label: `$(${task.mode === 'terminal' ? 'terminal' : 'server-process'}) Mode: ${task.mode}` },
      { id: 'profile', label: `$(hubot) Agent: ${task.profile === 'claude' ? 'Claude Code' : task.profile}` },
      { id: 'model', label: `$(symbol-misc) Model: ${task.model ?? 'default'}` },
      { id: 'attempts', label: `$(copy) ${attempts > 1 ? `Run ${attempts} attempts${models?.some(Boolean) ? ` (${models.map((m) => m ?? task.model ?? 'default').join(', ')})` : ''}` : 'Run N attempts: 1'}`, description: 'Best of N: the same task on N worktrees, then Compare Attempts' },
    ];
    const pick = await vscode.window.showQuickPick(rows, { title: 'Grove: Dispatch Task', placeHolder: 'Enter to dispatch, or change an option', ignoreFocusOut: true });
    if (!pick) return undefined;
    if (pick.id === 'go') {
      if (!task.baseRef) task.baseRef = await pickBase(s, repo, 'Grove: base branch');
      return { task, attempts, ...(models ? { models } : {}) };
    }
    if (pick.id === 'attempts') {
      const n = await vscode.window.showQuickPick(Array.from({ length: MAX_ATTEMPTS }, (_, i) => ({ label: String(i + 1), description: i ? `${i + 1} agents on ${i + 1} worktrees, titled "${task.title} #1"…` : 'one agent' })), { title: 'Grove: attempts' });
      if (n) attempts = Number(n.label);
      if (attempts > 1) {
        const m = await vscode.window.showInputBox({ title: 'Grove: one model per attempt (optional)', prompt: `Up to ${attempts} model names, comma-separated (e.g. sonnet, opus); empty: all use ${task.model ?? 'the default'}`, value: models?.map((x) => x ?? '').join(', ') ?? '' });
        if (m !== undefined) models = m.trim() ? m.split(',').map((x) => x.trim() || undefined).slice(0, attempts) : undefined;
      } else models = undefined;
      continue;
    }
    if (pick.id === 'title') {
      const t = await vscode.window.showInputBox({ title: 'Grove: task title', value: task.title, prompt: 'Names the branch and the agent in the sidebar' });
      if (t?.trim()) task.title = t.trim();
    } else if (pick.id === 'base') {
      task.baseRef = await pickBase(s, repo, 'Grove: base branch').catch(() => task.baseRef);
    } else if (pick.id === 'mode') {
      const m = await vscode.window.showQuickPick([
        { label: 'background', description: 'claude -p, status from its event stream; take over in a terminal any time' },
        { label: 'terminal', description: 'interactive Claude Code in a managed terminal, status from hooks' },
      ], { title: 'Grove: mode' });
      if (m) task.mode = m.label as AgentMode;
    } else if (pick.id === 'profile') {
      const profiles = [{ label: 'claude', description: 'Claude Code (built in)' }, ...cfg.agents.map((p) => ({ label: p.name, description: `${p.command} (terminal)` }))];
      const p = await vscode.window.showQuickPick(profiles, { title: 'Grove: agent' });
      if (p) {
        task.profile = p.label;
        if (p.label !== 'claude') task.mode = 'terminal';
      }
    } else if (pick.id === 'model') {
      const m = await vscode.window.showInputBox({ title: 'Grove: model', value: task.model ?? '', prompt: 'A model name or alias (e.g. sonnet, opus); empty for the CLI default' });
      if (m !== undefined) task.model = m.trim() || undefined;
    }
  }
}

async function pickPlanFile(): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  if (active?.languageId === 'markdown') return active.uri;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Markdown plan': ['md', 'markdown'] }, title: 'Grove: choose a plan (## sections or - [ ] items)' });
  return picked?.[0];
}

/**
 * A progress notification while the dispatched instances' worktrees are provisioned. It ends when none is being
 * provisioned and the rest are queued only behind the concurrency cap or a dependency; Cancel stops them.
 */
async function showProvisioningProgress(s: Services, created: InstanceSnapshot[]): Promise<void> {
  if (created.length === 0) return;
  const ids = new Set(created.map((c) => c.id));
  const batch = () => s.fleet.instances().filter((i) => ids.has(i.id));
  const pending = () => {
    const all = s.fleet.instances();
    const active = (repoRoot: string) => all.filter((i) => i.repoRoot === repoRoot && isActive(i.state)).length;
    return batch().filter((i) => i.state === 'provisioning' || (i.state === 'queued' && !i.after && !i.error && active(i.repoRoot) < s.fleet.maxConcurrentOf(i.repoRoot)));
  };
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Grove: dispatching ${created.length} task(s)`, cancellable: true },
    (progress, token) => new Promise<void>((resolve) => {
      const finish = () => {
        sub.dispose();
        resolve();
      };
      const update = () => {
        const b = batch();
        const provisioning = b.filter((i) => i.state === 'provisioning').length;
        const queued = b.filter((i) => i.state === 'queued').length;
        progress.report({ message: `${b.length - provisioning - queued} started · ${provisioning} provisioning · ${queued} queued` });
        if (pending().length === 0) finish();
      };
      const sub = s.fleet.onDidChangeInstances(update);
      token.onCancellationRequested(() => {
        for (const i of batch()) if (i.state === 'provisioning' || i.state === 'queued') void stop(s.grove, i.id).catch(() => undefined);
        finish();
      });
      update();
    }),
  );
}
