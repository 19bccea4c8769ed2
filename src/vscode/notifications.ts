import * as vscode from 'vscode';
import type { Fleet } from '../core/fleet/fleet';
import type { InstanceSnapshot, InstanceState } from '../core/model';
import { localDay } from '../core/util/localDay';
import { Disposable } from '../core/util/disposable';
import { groveConfig } from './config';
import type { Node } from './tree/agentsTree';

/**
 * Says what needs the user: an agent waiting for them, asking for a terminal permission, finished or failed.
 * `grove.notifications`: `all`, `attention` (waiting and failures only) or `off`. Background permission requests are
 * asked by the agent runner itself (with Allow / Deny buttons).
 */
export class Notifications extends Disposable {
  private readonly last = new Map<string, string>();
  /** Per repository: the budget share (80 or 100 %) already announced, and for which day. */
  private readonly budgetSaid = new Map<string, { day: string; share: number }>();

  constructor(private readonly fleet: Fleet, private readonly budget: (repoRoot: string) => { spent: number; budget?: number } = () => ({ spent: 0 })) {
    super();
    for (const i of fleet.instances()) this.last.set(i.id, key(i));
    this._register(fleet.onDidChangeInstances((change) => {
      for (const id of change.removed) this.last.delete(id);
      for (const inst of change.changed) this.onChange(inst);
      for (const repoRoot of new Set(change.changed.filter((i) => i.spend).map((i) => i.repoRoot))) this.checkBudget(repoRoot);
    }));
  }

  /** Once a day per repository: 80 % of the daily fleet budget spent, then all of it. */
  private checkBudget(repoRoot: string): void {
    const { spent, budget } = this.budget(repoRoot);
    if (!budget || groveConfig(vscode.Uri.file(repoRoot)).notifications === 'off') return;
    const share = spent >= budget ? 100 : spent >= 0.8 * budget ? 80 : 0;
    const day = localDay(Date.now());
    const said = this.budgetSaid.get(repoRoot);
    if (!share || (said?.day === day && said.share >= share)) return;
    this.budgetSaid.set(repoRoot, { day, share });
    const waiting = this.fleet.instances().filter((i) => i.repoRoot === repoRoot && i.state === 'queued').length;
    const text = share === 100
      ? `Grove: today's fleet budget of $${budget.toFixed(2)} is spent ($${spent.toFixed(2)}).${waiting ? ` ${waiting} queued agent${waiting === 1 ? ' waits' : 's wait'} until tomorrow or a higher budget.` : ' New agents wait until tomorrow or a higher budget.'}`
      : `Grove: 80% of today's fleet budget spent ($${spent.toFixed(2)} of $${budget.toFixed(2)}). An agent starts only while its estimate fits in what is left.`;
    void vscode.window.showWarningMessage(text, 'Change Budget').then((a) => {
      if (a) void vscode.commands.executeCommand('workbench.action.openSettings', 'grove.fleetBudgetUsd');
    });
  }

  private onChange(inst: InstanceSnapshot): void {
    const before = this.last.get(inst.id);
    const now = key(inst);
    this.last.set(inst.id, now);
    if (before === now || before === undefined && inst.state === 'queued') return;
    const level = groveConfig(vscode.Uri.file(inst.repoRoot)).notifications;
    if (level === 'off') return;
    const node: Node = { kind: 'instance', id: inst.id };
    const act = (action: string | undefined) => {
      const command = {
        Review: 'grove.showLog', 'Show Log': 'grove.showLog', 'Show Terminal': 'grove.showTerminal',
        'Follow Up': 'grove.followUp', Resume: 'grove.resumeInstance', 'Resume Now': 'grove.resumeInstance',
        'Continue in a Fresh Session': 'grove.continueFresh',
      }[action ?? ''];
      if (command) void vscode.commands.executeCommand(command, node);
    };
    const terminal = inst.mode === 'terminal';
    const states: Partial<Record<InstanceState, () => void>> = {
      waiting: () => {
        if (inst.waitReason === 'permission') {
          if (terminal) void vscode.window.showWarningMessage(`Grove: "${inst.title}" needs your permission.`, 'Show Terminal').then(act);
          return; // background: the runner asks with Allow / Deny
        }
        void vscode.window.showInformationMessage(`Grove: "${inst.title}" is waiting for you.`, terminal ? 'Show Terminal' : 'Follow Up', 'Show Log').then(act);
      },
      done: () => {
        if (level !== 'all') return;
        const cost = inst.costUsd > 0 ? ` ($${inst.costUsd.toFixed(2)})` : '';
        void vscode.window.showInformationMessage(`Grove: "${inst.title}" is done${cost}.`, 'Review', 'Follow Up').then(act);
      },
      failed: () => {
        if (inst.contextExhausted) {
          const cfg = groveConfig(vscode.Uri.file(inst.repoRoot));
          if (cfg.autoContinue && (inst.continuations ?? 0) < 2) return; // it continues in a fresh session by itself
          void vscode.window.showWarningMessage(`Grove: "${inst.title}" ran out of context.`, 'Continue in a Fresh Session', 'Show Log').then(act);
          return;
        }
        void vscode.window.showErrorMessage(`Grove: "${inst.title}" failed: ${(inst.error ?? 'see the log').split('\n')[0].slice(0, 200)}`, 'Show Log', 'Resume').then(act);
      },
      paused: () => {
        // One message when a limit first pauses the fleet, not one per agent.
        const others = this.fleet.instances().filter((i) => i.id !== inst.id && i.state === 'paused');
        if (others.length) return;
        const until = inst.pausedUntil ? ` until ${new Date(inst.pausedUntil).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : '';
        void vscode.window.showInformationMessage(`Grove: "${inst.title}" is paused${until}: ${inst.pauseReason ?? 'a usage limit'}. It resumes its session by itself; agents of the same account wait.`, 'Resume Now', 'Show Log').then(act);
      },
      interrupted: () => {
        void vscode.window.showWarningMessage(`Grove: "${inst.title}" was interrupted.`, 'Resume', 'Show Log').then(act);
      },
    };
    states[inst.state]?.();
  }
}

function key(i: InstanceSnapshot): string {
  return i.state === 'waiting' ? `waiting:${i.waitReason}` : i.state;
}
