import * as vscode from 'vscode';
import type { Fleet } from '../core/fleet/fleet';
import type { InstanceSnapshot, InstanceState } from '../core/model';
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

  constructor(fleet: Fleet) {
    super();
    for (const i of fleet.instances()) this.last.set(i.id, key(i));
    this._register(fleet.onDidChangeInstances((change) => {
      for (const id of change.removed) this.last.delete(id);
      for (const inst of change.changed) this.onChange(inst);
    }));
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
        'Follow Up': 'grove.followUp', Resume: 'grove.resumeInstance',
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
        void vscode.window.showErrorMessage(`Grove: "${inst.title}" failed: ${(inst.error ?? 'see the log').split('\n')[0].slice(0, 200)}`, 'Show Log', 'Resume').then(act);
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
