import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { GroveError } from '../../core/errors';
import { commitAgentWork } from '../../core/flows/commit';
import { followUp } from '../../core/flows/instances';
import { merge } from '../../core/flows/merge';
import { abortSync, askAgentToResolve, completeSync, sync } from '../../core/flows/sync';
import type { ChangedFile } from '../../core/git/changes';
import { suggestCommitMessage, type MergeProblem, type MergeService, type MergeStrategy } from '../../core/git/mergeService';
import type { InstanceSnapshot } from '../../core/model';
import { UserFacingError } from '../commands/register';
import { pickInstance } from '../commands/pick';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { gitUri, GIT_SCHEME, parseGitUri } from './gitContent';
import { changeUri, type ReviewModel } from './reviewModel';
import { isInside } from '../../core/util/fsPaths';

/** Review, sync and merge: the operator's last mile, in VS Code's own diff, multi-diff and merge editors. */
export function reviewCommands(s: Services, merges: MergeService, review: ReviewModel) {
  const withWorktree = (i: InstanceSnapshot) => !!i.worktreePath && !i.archived && fs.existsSync(i.worktreePath);
  const targets = async (node: Node | undefined, nodes: Node[] | undefined, what: string): Promise<InstanceSnapshot[]> => {
    const list = nodes?.length ? nodes : node ? [node] : undefined;
    if (list) {
      return list.map((n) => (n.kind === 'instance' || n.kind === 'change' || n.kind === 'conflict' ? s.fleet.get(n.kind === 'instance' ? n.id : n.instanceId) : undefined))
        .filter((i): i is InstanceSnapshot => !!i && withWorktree(i));
    }
    const candidates = s.fleet.instances().filter(withWorktree);
    if (candidates.length === 0) throw new UserFacingError(`no agent worktree to ${what}.`);
    const picks = await vscode.window.showQuickPick(candidates.map((i) => ({ label: i.title, description: `${i.branch} ← ${i.baseRef}`, picked: true, inst: i })),
      { canPickMany: true, title: `Grove: ${what} — choose the agents` });
    if (!picks?.length) throw new vscode.CancellationError();
    return picks.map((p) => p.inst);
  };
  const instanceOf = async (node: Node | undefined, what: string) =>
    node && (node.kind === 'change' || node.kind === 'conflict') ? s.fleet.get(node.instanceId)! : pickInstance(s, node, withWorktree, what);

  const resources = (inst: InstanceSnapshot, mergeBase: string, f: ChangedFile) => {
    const modified = f.status === 'D' ? undefined : changeUri(inst.worktreePath, f.path);
    const original = f.status === 'A' || f.untracked ? undefined : gitUri({ repo: inst.worktreePath, ref: mergeBase, path: f.oldPath ?? f.path });
    return { label: changeUri(inst.worktreePath, f.path), original, modified };
  };


  return {
    'grove.reviewChanges': async (node?: Node) => {
      const inst = await instanceOf(node, 'review');
      const r = await review.refreshOne(inst);
      if (!r?.changes || r.changes.files.length === 0) {
        void vscode.window.showInformationMessage(`Grove: "${inst.title}" has no changes against ${inst.baseRef} yet.`);
        return undefined;
      }
      const title = `${inst.title} (${inst.branch} ↔ ${inst.baseRef})`;
      const list = r.changes.files.map((f) => resources(inst, r.changes!.mergeBase, f));
      await vscode.commands.executeCommand('vscode.changes', title, list.map((x) => [x.label, x.original, x.modified]));
      return { title, resources: list.map((x) => ({ label: x.label.toString(), original: x.original?.toString(), modified: x.modified?.toString() })) };
    },

    'grove.openChange': async (node?: Node) => {
      if (node?.kind !== 'change') throw new UserFacingError('choose a changed file in the Agents view.');
      const inst = s.fleet.get(node.instanceId);
      const r = inst && review.get(inst.id);
      const f = r?.changes?.files.find((x) => x.path === node.path);
      if (!inst || !r?.changes || !f) throw new UserFacingError('that change is gone; refresh the view.');
      const x = resources(inst, r.changes.mergeBase, f);
      const name = path.basename(f.path);
      if (x.original && x.modified) {
        await vscode.commands.executeCommand('vscode.diff', x.original, x.modified, `${name} (${inst.baseRef} ↔ ${inst.title})`);
      } else {
        await vscode.window.showTextDocument(x.modified ?? x.original!, { preview: true });
      }
    },

    'grove.askAgent': async (uri?: vscode.Uri, options?: { request?: string }) => {
      const editor = vscode.window.activeTextEditor;
      const target = uri ?? editor?.document.uri;
      if (!target) throw new UserFacingError('open a file of an agent\'s worktree first.');
      const fsPath = target.scheme === GIT_SCHEME ? path.join(parseGitUri(target).repo, parseGitUri(target).path) : target.fsPath;
      const inst = s.fleet.instances().filter(withWorktree).find((i) => isInside(i.worktreePath, fsPath));
      if (!inst) throw new UserFacingError('this file is not in the worktree of an agent.');
      const rel = path.relative(inst.worktreePath, fsPath).split(path.sep).join('/');
      const sel = editor && editor.document.uri.toString() === target.toString() ? editor.selection : undefined;
      const quoted = sel && !sel.isEmpty ? editor!.document.getText(sel) : '';
      const where = sel && !sel.isEmpty ? `${rel}, lines ${sel.start.line + 1}–${sel.end.line + 1}` : rel;
      const request = options?.request ?? await vscode.window.showInputBox({
        title: `Grove: ask "${inst.title}" about ${where}`,
        prompt: 'Your request; the file and selected lines are quoted for the agent',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'Write the request'),
      });
      if (!request?.trim()) throw new vscode.CancellationError();
      const prompt = quoted ? `In \`${where}\`:\n\n\`\`\`\n${quoted}\n\`\`\`\n\n${request.trim()}` : `About \`${rel}\`: ${request.trim()}`;
      const r = await followUp(s.grove, inst.id, prompt);
      if (r.outcome === 'queued' || r.outcome === 'requested') void vscode.window.showInformationMessage(`Grove: ${r.message}`);
      return prompt;
    },

    'grove.syncFromBase': async (node?: Node, nodes?: Node[]) => {
      const list = await targets(node, nodes, 'sync from base');
      const outcomes = await sync(s.grove, list.map((i) => i.id), {}, {
        confirmCommit: (inst, files) => confirmCommit(inst, files, 'sync'),
        commit: (inst) => commitAgentWork(s.grove, inst.id),
      });
      for (const o of outcomes) await review.refreshOne(o.instance);
      for (const o of outcomes.filter((x) => x.status === 'conflicted')) {
        const inst = o.instance;
        void vscode.window.showWarningMessage(
          `Grove: syncing ${inst.baseRef} into "${inst.title}" stopped on conflicts in ${o.conflicts?.join(', ')}.`,
          'Open Conflicts', 'Ask Agent to Resolve', 'Abort Sync',
        ).then((a) => {
          const n: Node = { kind: 'instance', id: inst.id };
          if (a === 'Open Conflicts' && o.conflicts?.[0]) void vscode.commands.executeCommand('grove.openConflict', { kind: 'conflict', instanceId: inst.id, path: o.conflicts[0] });
          if (a === 'Ask Agent to Resolve') void vscode.commands.executeCommand('grove.askAgentToResolve', n);
          if (a === 'Abort Sync') void vscode.commands.executeCommand('grove.abortSync', n);
        });
      }
      const summary = outcomes.map((o) => o.message);
      if (outcomes.length > 1 || outcomes[0]?.status !== 'conflicted') void vscode.window.showInformationMessage(`Grove: ${summary.join('; ')}.`);
      return summary;
    },

    'grove.openConflict': async (node?: Node) => {
      const inst = await instanceOf(node, 'resolve');
      const state = await merges.syncState(inst.worktreePath);
      const file = node?.kind === 'conflict' ? node.path : state.conflicts[0];
      if (!file || !state.conflicts.includes(file)) throw new UserFacingError(`"${inst.title}" has no unresolved conflict${file ? ` in ${file}` : ''}.`);
      const rebase = state.operation === 'rebase';
      // Stage 2 is "ours" (the branch being changed), stage 3 "theirs". A rebase replays the agent's commits onto
      // the base, so there "ours" is the base.
      const agent = { title: `Agent: ${inst.title}`, description: inst.branch };
      const base = { title: `Base: ${inst.baseRef}`, description: inst.baseRef };
      await vscode.commands.executeCommand('_open.mergeEditor', {
        base: gitUri({ repo: inst.worktreePath, ref: ':1', path: file }),
        input1: { uri: gitUri({ repo: inst.worktreePath, ref: ':2', path: file }), ...(rebase ? base : agent) },
        input2: { uri: gitUri({ repo: inst.worktreePath, ref: ':3', path: file }), ...(rebase ? agent : base) },
        output: changeUri(inst.worktreePath, file),
      });
    },

    'grove.completeSync': async (node?: Node) => {
      const inst = await instanceOf(node, 'complete the sync of');
      await vscode.workspace.saveAll(false);
      const r = await completeSync(s.grove, inst.id);
      await review.refreshOne(inst);
      if (r.status === 'conflicted') {
        void vscode.window.showWarningMessage(`Grove: the next commit of the rebase conflicts in ${r.conflicts?.join(', ')}.`, 'Open Conflicts')
          .then((a) => a && r.conflicts?.[0] && vscode.commands.executeCommand('grove.openConflict', { kind: 'conflict', instanceId: inst.id, path: r.conflicts[0] }));
      } else {
        void vscode.window.showInformationMessage(`Grove: "${inst.title}" is synced with ${inst.baseRef}.`);
      }
      return r;
    },

    'grove.abortSync': async (node?: Node, options?: { confirmed?: boolean }) => {
      const inst = await instanceOf(node, 'abort the sync of');
      const aborted = await abortSync(s.grove, inst.id, {
        confirm: options?.confirmed ? undefined : async (i) => !!(await vscode.window.showWarningMessage(`Abort the sync of "${i.title}"?`, { modal: true, detail: 'The branch and its worktree go back exactly to how they were before the sync; conflict resolutions made so far are discarded.' }, 'Abort Sync')),
      });
      if (!aborted) return;
      await review.refreshOne(inst);
      void vscode.window.showInformationMessage(`Grove: the sync of "${inst.title}" was aborted; nothing changed.`);
    },

    'grove.askAgentToResolve': async (node?: Node) => {
      const inst = await instanceOf(node, 'resolve conflicts of');
      const r = await askAgentToResolve(s.grove, inst.id);
      if (r.outcome === 'queued' || r.outcome === 'requested') void vscode.window.showInformationMessage(`Grove: ${r.message}`);
    },

    'grove.commitAgentWork': async (node?: Node) => {
      const inst = await instanceOf(node, 'commit');
      const { sha } = await commitAgentWork(s.grove, inst.id);
      void vscode.window.showInformationMessage(sha ? `Grove: committed the work of "${inst.title}" (${sha.slice(0, 8)}).` : `Grove: "${inst.title}" has nothing to commit.`);
      await review.refreshOne(inst);
      return sha;
    },

    'grove.mergeInstance': async (node?: Node, options?: { strategy?: MergeStrategy; cleanup?: 'always' | 'never'; commit?: boolean }) => {
      const inst = await instanceOf(node, 'merge');
      let outcome;
      try {
        outcome = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Grove: checking "${inst.title}" before merging`, cancellable: true },
          (_p, token) => {
            const abort = new AbortController();
            token.onCancellationRequested(() => abort.abort());
            return merge(s.grove, { id: inst.id, strategy: options?.strategy, commit: options?.commit, cleanup: options?.cleanup, signal: abort.signal }, {
              chooseStrategy: pickStrategy,
              confirmCommit: (i, files) => confirmCommit(i, files, 'merge'),
              confirmCleanup: async (i) => (await vscode.window.showInformationMessage(`Grove: merged "${i.title}" into ${i.baseRef}. Remove its worktree and branch?`, 'Remove', 'Keep')) === 'Remove',
              onCheckOutput: (c) => s.channel.append(c),
            });
          });
      } catch (err) {
        if (GroveError.is(err, 'Blocked')) return refuse(inst, err.details as MergeProblem[]);
        throw err;
      }
      if (!outcome) return undefined;
      await review.refreshOne(outcome.instance);
      await s.repos.refresh(s.repos.find(inst.repoRoot)?.info.mainWorktree);
      const c = outcome.cleanup;
      if (c && 'kept' in c) void vscode.window.showWarningMessage(`Grove: merged "${inst.title}" into ${inst.baseRef}, but ${c.kept}.`);
      else if (c) {
        void vscode.window.showInformationMessage(`Grove: merged "${inst.title}" into ${inst.baseRef} and removed its worktree${c.branchDeleted ? ' and branch' : ''}${c.snapshotId ? ' (restorable from Recently Removed)' : ''}.`, ...(c.snapshotId ? ['Restore'] : [])).then((a) => {
          if (a === 'Restore') void vscode.commands.executeCommand('grove.restoreSnapshot', { id: c.snapshotId, confirmed: true });
        });
      }
      else void vscode.window.showInformationMessage(`Grove: merged "${inst.title}" into ${inst.baseRef} (${outcome.mergedCommit.slice(0, 8)}).`);
      return { mergedCommit: outcome.mergedCommit, strategy: outcome.strategy, updatedVia: outcome.updatedVia, ...(outcome.committed ? { committed: outcome.committed } : {}) };
    },
  };

  async function refuse(inst: InstanceSnapshot, problems: MergeProblem[]) {
    const first = problems[0];
    // Notifications are not awaited: the command finishes (and reports) while the message waits for the user.
    if (first.code === 'Conflicts') {
      void vscode.window.showWarningMessage(`Grove: merging "${inst.title}" into ${inst.baseRef} would conflict in ${first.files?.join(', ')}. Sync it from ${inst.baseRef} first and resolve there.`, 'Sync Now')
        .then((a) => a && vscode.commands.executeCommand('grove.syncFromBase', { kind: 'instance', id: inst.id }));
      return { blocked: problems.map((p) => p.code) };
    }
    if (first.code === 'CheckFailed') {
      void vscode.window.showErrorMessage(`Grove: the check failed for "${inst.title}"; not merged. ${first.message}`, 'Show Log')
        .then((a) => a && s.channel.show(true));
      return { blocked: problems.map((p) => p.code), output: first.output };
    }
    throw new UserFacingError(`not merged. ${problems.map((p) => p.message).join(' ')}`);
  }
}

/** Offers "Commit Agent's Work" when the worktree has uncommitted work; true when the person agrees. */
async function confirmCommit(inst: InstanceSnapshot, files: string[], what: string): Promise<boolean> {
  const ok = await vscode.window.showWarningMessage(
    `"${inst.title}" has uncommitted work. Commit it before the ${what}?`,
    { modal: true, detail: `${files.slice(0, 15).join('\n')}${files.length > 15 ? `\n… and ${files.length - 15} more` : ''}\n\nMessage: ${suggestCommitMessage(inst.title, files).split('\n')[0]}` },
    'Commit Agent\'s Work');
  return !!ok;
}

async function pickStrategy(inst: InstanceSnapshot): Promise<MergeStrategy | undefined> {
  const pick = await vscode.window.showQuickPick([
    { label: 'squash', description: 'one commit on the base, message from the task and the agent\'s summary' },
    { label: 'merge', description: 'a merge commit (--no-ff) keeping the agent\'s commits' },
    { label: 'rebase', description: 'replay the agent\'s commits on the base, then fast-forward' },
  ], { title: `Grove: merge "${inst.title}" into ${inst.baseRef}` });
  return pick?.label as MergeStrategy | undefined;
}

