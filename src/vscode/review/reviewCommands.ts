import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChangedFile } from '../../core/git/changes';
import { type MergeProblem, type MergeService, type MergeStrategy, squashMessage, suggestCommitMessage } from '../../core/git/mergeService';
import { isActive } from '../../core/fleet/instance';
import type { InstanceSnapshot } from '../../core/model';
import { UserFacingError } from '../commands/register';
import { pickInstance } from '../commands/pick';
import { groveConfig } from '../config';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { gitUri, GIT_SCHEME, parseGitUri } from './gitContent';
import { changeUri, type ReviewModel } from './reviewModel';

const CONFLICT_MARKER = /^(<{7}|>{7})( |$)/m;

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
    if (candidates.length === 0) throw new UserFacingError(`Grove: no agent worktree to ${what}.`);
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

  const conflictsOf = async (inst: InstanceSnapshot) => (await merges.syncState(inst.worktreePath)).conflicts;

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
      if (node?.kind !== 'change') throw new UserFacingError('Grove: choose a changed file in the Agents view.');
      const inst = s.fleet.get(node.instanceId);
      const r = inst && review.get(inst.id);
      const f = r?.changes?.files.find((x) => x.path === node.path);
      if (!inst || !r?.changes || !f) throw new UserFacingError('Grove: that change is gone; refresh the view.');
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
      if (!target) throw new UserFacingError('Grove: open a file of an agent\'s worktree first.');
      const fsPath = target.scheme === GIT_SCHEME ? path.join(parseGitUri(target).repo, parseGitUri(target).path) : target.fsPath;
      const inst = s.fleet.instances().filter(withWorktree).find((i) => isInside(i.worktreePath, fsPath));
      if (!inst) throw new UserFacingError('Grove: this file is not in the worktree of an agent.');
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
      await s.fleet.followUp(inst.id, prompt);
      return prompt;
    },

    'grove.syncFromBase': async (node?: Node, nodes?: Node[]) => {
      const list = await targets(node, nodes, 'sync from base');
      const strategy = groveConfig().syncStrategy;
      const summary: string[] = [];
      for (const inst of list) {
        if (isActive(inst.state)) {
          summary.push(`"${inst.title}" is running: skipped`);
          continue;
        }
        if (!await ensureCommitted(s, merges, inst, 'sync')) {
          summary.push(`"${inst.title}": not synced (uncommitted work)`);
          continue;
        }
        const r = await merges.syncFromBase({ worktreePath: inst.worktreePath, branch: inst.branch, baseRef: inst.baseRef, strategy });
        await review.refreshOne(inst);
        if (r.status === 'conflicted') {
          summary.push(`"${inst.title}": conflicts in ${r.conflicts?.length ?? 0} file(s)`);
          void vscode.window.showWarningMessage(
            `Grove: syncing ${inst.baseRef} into "${inst.title}" stopped on conflicts in ${r.conflicts?.join(', ')}.`,
            'Open Conflicts', 'Ask Agent to Resolve', 'Abort Sync',
          ).then((a) => {
            const n: Node = { kind: 'instance', id: inst.id };
            if (a === 'Open Conflicts' && r.conflicts?.[0]) void vscode.commands.executeCommand('grove.openConflict', { kind: 'conflict', instanceId: inst.id, path: r.conflicts[0] });
            if (a === 'Ask Agent to Resolve') void vscode.commands.executeCommand('grove.askAgentToResolve', n);
            if (a === 'Abort Sync') void vscode.commands.executeCommand('grove.abortSync', n);
          });
        } else {
          summary.push(`"${inst.title}": ${r.status === 'upToDate' ? 'already up to date' : `synced with ${inst.baseRef}`}`);
        }
      }
      if (list.length > 1 || !summary[0]?.includes('conflicts')) void vscode.window.showInformationMessage(`Grove: ${summary.join('; ')}.`);
      return summary;
    },

    'grove.openConflict': async (node?: Node) => {
      const inst = await instanceOf(node, 'resolve');
      const conflicts = await conflictsOf(inst);
      const file = node?.kind === 'conflict' ? node.path : conflicts[0];
      if (!file || !conflicts.includes(file)) throw new UserFacingError(`Grove: "${inst.title}" has no unresolved conflict${file ? ` in ${file}` : ''}.`);
      const rebase = (await merges.syncState(inst.worktreePath)).operation === 'rebase';
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
      const state = await merges.syncState(inst.worktreePath);
      if (!state.operation) throw new UserFacingError(`Grove: no sync is in progress in "${inst.title}".`);
      await vscode.workspace.saveAll(false);
      const unresolved = state.conflicts.filter((f) => CONFLICT_MARKER.test(readText(path.join(inst.worktreePath, f))));
      if (unresolved.length) throw new UserFacingError(`Grove: conflict markers remain in ${unresolved.join(', ')}. Resolve them, then Complete Sync.`);
      if (state.conflicts.length) await s.git.mutate(inst.worktreePath, ['add', '--', ...state.conflicts]);
      const r = await merges.completeSync(inst.worktreePath);
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
      const state = await merges.syncState(inst.worktreePath);
      if (!state.operation) throw new UserFacingError(`Grove: no sync is in progress in "${inst.title}".`);
      if (!options?.confirmed) {
        const ok = await vscode.window.showWarningMessage(`Abort the sync of "${inst.title}"?`, { modal: true, detail: 'The branch and its worktree go back exactly to how they were before the sync; conflict resolutions made so far are discarded.' }, 'Abort Sync');
        if (!ok) return;
      }
      await merges.abortSync(inst.worktreePath);
      await review.refreshOne(inst);
      void vscode.window.showInformationMessage(`Grove: the sync of "${inst.title}" was aborted; nothing changed.`);
    },

    'grove.askAgentToResolve': async (node?: Node) => {
      const inst = await instanceOf(node, 'resolve conflicts of');
      const state = await merges.syncState(inst.worktreePath);
      if (!state.conflicts.length) throw new UserFacingError(`Grove: "${inst.title}" has no unresolved conflict.`);
      const finish = state.operation === 'rebase' ? '`git add` each file, then run `git -c core.editor=true rebase --continue`' : '`git add` each file, then run `git commit --no-edit`';
      await s.fleet.followUp(inst.id, [
        `Bringing \`${inst.baseRef}\` into your branch \`${inst.branch}\` stopped on conflicts in:`,
        ...state.conflicts.map((f) => `- ${f}`),
        '',
        `Resolve each conflict so that both sides' intent is kept, remove every conflict marker, then ${finish}. Run the tests if there are any.`,
      ].join('\n'));
    },

    'grove.commitAgentWork': async (node?: Node) => {
      const inst = await instanceOf(node, 'commit');
      if (isActive(inst.state)) throw new UserFacingError(`Grove: "${inst.title}" is still working.`);
      const sha = await commitNow(s, merges, inst);
      void vscode.window.showInformationMessage(sha ? `Grove: committed the work of "${inst.title}" (${sha.slice(0, 8)}).` : `Grove: "${inst.title}" has nothing to commit.`);
      await review.refreshOne(inst);
      return sha;
    },

    'grove.mergeInstance': async (node?: Node, options?: { strategy?: MergeStrategy; cleanup?: 'always' | 'never'; commit?: boolean }) => {
      const inst = await instanceOf(node, 'merge');
      const cfg = groveConfig(vscode.Uri.file(inst.repoRoot));
      const strategy = options?.strategy ?? (cfg.mergeStrategy !== 'ask' ? cfg.mergeStrategy : await pickStrategy(inst));
      const preflight = () => vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Grove: checking "${inst.title}" before merging`, cancellable: true },
        (_p, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return merges.preflight({
            repoRoot: inst.repoRoot, worktreePath: inst.worktreePath, branch: inst.branch, baseRef: inst.baseRef,
            running: isActive(inst.state), strategy, checkCommand: vscode.workspace.isTrusted ? cfg.checkCommand : undefined,
            onCheckOutput: (c) => s.channel.append(c), signal: abort.signal,
          });
        });
      let result = await preflight();
      const uncommitted = result.problems.find((p) => p.code === 'UncommittedWork');
      if (uncommitted) {
        if (!await ensureCommitted(s, merges, inst, 'merge', options?.commit)) return undefined;
        result = await preflight();
      }
      const blocking = result.problems.filter((p) => p.blocking);
      if (blocking.length) return refuse(inst, blocking);
      const message = strategy === 'squash' ? squashMessage(inst.title, inst.resultText) : `Merge ${inst.branch}: ${inst.title}`;
      const merged = await merges.mergeIntoBase({ repoRoot: inst.repoRoot, worktreePath: inst.worktreePath, branch: inst.branch, baseRef: inst.baseRef, strategy, message });
      s.fleet.recordMerge(inst.id, { at: Date.now(), strategy, into: inst.baseRef, commit: merged.mergedCommit }, false);
      await s.repos.refresh(s.repos.find(inst.repoRoot)?.info.mainWorktree);
      const cleanup = options?.cleanup ?? (cfg.cleanupAfterMerge === 'ask'
        ? (await vscode.window.showInformationMessage(`Grove: merged "${inst.title}" into ${inst.baseRef} (${strategy}). Remove its worktree and branch?`, 'Remove', 'Keep')) === 'Remove' ? 'always' : 'never'
        : cfg.cleanupAfterMerge);
      if (cleanup === 'always') await cleanupMerged(s, merges, inst);
      else void vscode.window.showInformationMessage(`Grove: merged "${inst.title}" into ${inst.baseRef} (${merged.mergedCommit.slice(0, 8)}).`);
      return merged;
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
    throw new UserFacingError(`Grove: not merged. ${problems.map((p) => p.message).join(' ')}`);
  }
}

/** Removes a merged instance's worktree and branch; keeps everything when uncommitted or untracked work is there. */
export async function cleanupMerged(s: Services, merges: MergeService, inst: InstanceSnapshot): Promise<void> {
  const report = await s.worktrees.inspectRemoval(inst.worktreePath, { repoRoot: inst.repoRoot });
  if (report.uncommitted.length || report.untracked.length) {
    void vscode.window.showWarningMessage(`Grove: merged "${inst.title}", but its worktree has uncommitted files (${[...report.uncommitted, ...report.untracked].slice(0, 5).join(', ')}); it was kept.`);
    return;
  }
  // After a squash or rebase the branch's own commits are not ancestors of the base, although their content is in it.
  const contentMerged = await merges.isContentMerged({ repoRoot: inst.repoRoot, branch: inst.branch, baseRef: inst.baseRef });
  const result = await s.worktrees.remove(inst.worktreePath, { force: contentMerged && report.commits.length > 0, deleteBranch: contentMerged ? 'always' : 'ifMerged', repoRoot: inst.repoRoot });
  if (result.branchDeleted) await merges.dropBackups(inst.repoRoot, inst.branch);
  s.fleet.archive(inst.id);
  await s.repos.refresh(s.repos.find(inst.repoRoot)?.info.mainWorktree);
  void vscode.window.showInformationMessage(`Grove: merged "${inst.title}" into ${inst.baseRef} and removed its worktree${result.branchDeleted ? ' and branch' : ''}.`);
}

async function commitNow(s: Services, merges: MergeService, inst: InstanceSnapshot): Promise<string | undefined> {
  const status = await s.git.read(inst.worktreePath, ['status', '--porcelain=v1', '-z', '--untracked-files=all']);
  const files = status.stdout.split('\0').filter(Boolean).map((l) => l.slice(3));
  return merges.commitWork({ worktreePath: inst.worktreePath, message: suggestCommitMessage(inst.title, files) });
}

/** Offers "Commit Agent's Work" when the worktree has uncommitted changes; true when it is (now) clean. */
async function ensureCommitted(s: Services, merges: MergeService, inst: InstanceSnapshot, what: string, preConfirmed?: boolean): Promise<boolean> {
  const status = await s.git.read(inst.worktreePath, ['status', '--porcelain=v1', '-z', '--untracked-files=all']);
  const files = status.stdout.split('\0').filter(Boolean).map((l) => l.slice(3));
  if (files.length === 0) return true;
  if (!preConfirmed) {
    const ok = await vscode.window.showWarningMessage(
      `"${inst.title}" has uncommitted work. Commit it before the ${what}?`,
      { modal: true, detail: `${files.slice(0, 15).join('\n')}${files.length > 15 ? `\n… and ${files.length - 15} more` : ''}\n\nMessage: ${suggestCommitMessage(inst.title, files).split('\n')[0]}` },
      'Commit Agent\'s Work');
    if (!ok) return false;
  }
  await merges.commitWork({ worktreePath: inst.worktreePath, message: suggestCommitMessage(inst.title, files) });
  return true;
}

async function pickStrategy(inst: InstanceSnapshot): Promise<MergeStrategy> {
  const pick = await vscode.window.showQuickPick([
    { label: 'squash', description: 'one commit on the base, message from the task and the agent\'s summary' },
    { label: 'merge', description: 'a merge commit (--no-ff) keeping the agent\'s commits' },
    { label: 'rebase', description: 'replay the agent\'s commits on the base, then fast-forward' },
  ], { title: `Grove: merge "${inst.title}" into ${inst.baseRef}` });
  if (!pick) throw new vscode.CancellationError();
  return pick.label as MergeStrategy;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return !!rel && !rel.startsWith('..') && !path.isAbsolute(rel);
}
