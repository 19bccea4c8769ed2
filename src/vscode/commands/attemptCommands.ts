/**
 * Best of N in VS Code: Compare Attempts (each attempt's diff in its own multi-diff editor, and a summary of size,
 * check result and cost to choose from) and Land This Attempt (merge it, then remove the others only after a modal
 * that lists what each would lose). The work is core/flows/attempts.ts.
 */
import * as vscode from 'vscode';
import { attemptsOf, compareAttempts, landAttempt, type AttemptSummary } from '../../core/flows/attempts';
import { describeLoss } from '../../core/git/worktreeRemoval';
import type { MergeStrategy } from '../../core/git/mergeService';
import type { InstanceSnapshot } from '../../core/model';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { pickInstance } from './pick';
import { UserFacingError } from './register';

export function attemptCommands(s: Services) {
  const attemptOf = (node: Node | undefined, what: string) => pickInstance(s, node, (i) => !!i.attempt && !i.archived, what);

  const landThis = async (inst: InstanceSnapshot, options?: { strategy?: MergeStrategy; removeOthers?: boolean }) => {
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Grove: landing "${inst.title}"` }, () =>
      landAttempt(s.grove, { id: inst.id, strategy: options?.strategy }, {
        chooseStrategy: async () => (await vscode.window.showQuickPick(['merge', 'squash', 'rebase'], { title: `Grove: land "${inst.title}" with` })) as MergeStrategy | undefined,
        confirmCommit: async (i, files) => !!(await vscode.window.showWarningMessage(`"${i.title}" has uncommitted work. Commit it to land it?`, { modal: true, detail: files.slice(0, 15).join('\n') }, 'Commit Agent\'s Work')),
        confirmCleanup: async (i) => (await vscode.window.showInformationMessage(`Grove: landed "${i.title}". Remove its worktree and branch?`, 'Remove', 'Keep')) === 'Remove',
        confirmRemoveOthers: async (others) => {
          if (options?.removeOthers !== undefined) return options.removeOthers;
          const detail = others.map((o) => {
            const loss = o.plan.report ? describeLoss(o.plan.report, { deleteBranch: true, max: 8 }) : [];
            return `${o.instance.title}${o.plan.running.length ? ` (${o.instance.state}: it is stopped)` : ''}:\n${loss.length ? loss.join('\n') : '  nothing is lost'}`;
          }).join('\n\n');
          const a = await vscode.window.showWarningMessage(`Landed "${inst.title}". Remove the other ${others.length} attempt${others.length === 1 ? '' : 's'}, their worktrees and branches?`, { modal: true, detail }, 'Remove Them');
          return a === 'Remove Them';
        },
        onCheckOutput: (c) => s.channel.append(c),
      }));
    if (!r) return undefined;
    void s.repos.refresh(s.repos.find(inst.repoRoot)?.info.mainWorktree);
    const others = r.removed.length ? `; removed ${r.removed.map((x) => `"${x.instance.title}"`).join(', ')}` : r.kept.length ? `; kept the other ${r.kept.length} attempt${r.kept.length === 1 ? '' : 's'}` : '';
    void vscode.window.showInformationMessage(`Grove: landed "${inst.title}" into ${r.merged.into} (${r.merged.mergedCommit.slice(0, 8)})${others}.`);
    return r;
  };

  return {
    'grove.compareAttempts': async (node?: Node, _nodes?: Node[], options?: { check?: boolean; pick?: boolean }) => {
      const inst = await attemptOf(node, 'compare the attempts of');
      const list = attemptsOf(s.grove, inst.id);
      if (list.length < 2) throw new UserFacingError(`"${inst.title}" has no other attempt left.`);
      const summaries = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Grove: comparing ${list.length} attempts`, cancellable: true }, (_p, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return compareAttempts(s.grove, inst.id, { check: options?.check ?? true, signal: abort.signal });
      });
      for (const a of summaries) if (!a.error && a.files) await vscode.commands.executeCommand('grove.reviewChanges', { kind: 'instance', id: a.instance.id });
      s.log.info(`Compare Attempts of "${inst.title}":\n${summaries.map((a) => `  ${summaryLine(a)}`).join('\n')}`);
      if (options?.pick === false) return summaries;
      const chosen = await vscode.window.showQuickPick(summaries.map((a) => ({ label: a.instance.title, description: summaryLine(a, false), summary: a })), {
        title: `Grove: ${list.length} attempts — choose one to land (Escape keeps them all)`,
      });
      if (chosen) await landThis(chosen.summary.instance);
      return summaries;
    },

    'grove.landAttempt': async (node?: Node, _nodes?: Node[], options?: { strategy?: MergeStrategy; removeOthers?: boolean }) => {
      const inst = await attemptOf(node, 'land');
      return landThis(inst, options);
    },
  };
}

/** "#2: 3 files +40 −2 · check passed · $0.42 · sonnet". Pure. */
export function summaryLine(a: AttemptSummary, withTitle = true): string {
  const parts = [
    a.error ?? `${a.files} file${a.files === 1 ? '' : 's'} +${a.insertions} −${a.deletions}`,
    a.check ? (a.check.passed ? 'check passed' : `check failed (exit ${a.check.exitCode ?? 'killed'})`) : '',
    `$${a.costUsd.toFixed(2)}`,
    a.instance.model ?? '',
    a.instance.state !== 'done' ? a.instance.state : '',
  ].filter(Boolean);
  return `${withTitle ? `${a.instance.title}: ` : ''}${parts.join(' · ')}`;
}
