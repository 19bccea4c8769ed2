import * as vscode from 'vscode';
import type { InstanceSnapshot } from '../core/model';
import { Disposable } from '../core/util/disposable';

/** "Grove: 3 running · 1 waiting · 2 done"; click focuses the Agents view. Hidden when there is nothing to say. */
export class StatusBarSummary extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem('grove.summary', vscode.StatusBarAlignment.Left, 50));

  /**
   * @param budgets today's spend and daily budget of each repository with agents (only those with a budget are
   * shown).
   */
  constructor(private readonly demoModel: boolean, private readonly budgets: (repoRoots: string[]) => Array<{ repoRoot: string; spent: number; budget?: number }> = () => []) {
    super();
    this.item.name = 'Grove';
    this.item.command = 'grove.agents.focus';
  }

  update(all: readonly InstanceSnapshot[]): void {
    // Archived (merged or removed) agents are history, not fleet status.
    const instances = all.filter((i) => !i.archived);
    const count = (pred: (i: InstanceSnapshot) => boolean) => instances.filter(pred).length;
    const running = count((i) => i.state === 'running' || i.state === 'starting' || i.state === 'provisioning');
    const waiting = count((i) => i.state === 'waiting');
    const queued = count((i) => i.state === 'queued');
    const done = count((i) => i.state === 'done');
    const failed = count((i) => i.state === 'failed');
    const interrupted = count((i) => i.state === 'interrupted');
    const paused = count((i) => i.state === 'paused');
    const parts: string[] = [];
    if (running) parts.push(`${running} running`);
    if (waiting) parts.push(`${waiting} waiting`);
    if (paused) parts.push(`${paused} paused`);
    if (queued) parts.push(`${queued} queued`);
    if (done) parts.push(`${done} done`);
    if (failed) parts.push(`${failed} failed`);
    if (interrupted) parts.push(`${interrupted} interrupted`);
    if (parts.length === 0) {
      this.item.hide();
      return;
    }
    const cost = instances.reduce((s, i) => s + (i.costUsd || 0), 0);
    const budgets = this.budgets([...new Set(instances.map((i) => i.repoRoot))]).filter((b) => b.budget !== undefined);
    const spentToday = budgets.map((b) => `$${b.spent.toFixed(2)} of $${b.budget!.toFixed(2)}${budgets.length > 1 ? ` in ${b.repoRoot.split(/[\\/]/).pop()}` : ''}`);
    const icon = waiting ? '$(bell-dot)' : running ? '$(sync~spin)' : paused ? '$(debug-pause)' : '$(check-all)';
    this.item.text = `${icon} Grove${this.demoModel ? ' (demo model)' : ''}: ${parts.join(' · ')}${budgets.length === 1 ? ` · ${spentToday[0]}` : ''}`;
    this.item.tooltip = `Grove${this.demoModel ? ' (demo model)' : ''}: ${parts.join(', ')}. Fleet cost $${cost.toFixed(2)}.${spentToday.length ? ` Today's budget: ${spentToday.join('; ')} spent.` : ''} Click to show the agents.`;
    this.item.backgroundColor = waiting ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.accessibilityInformation = { label: `Grove: ${parts.join(', ')}`, role: 'button' };
    this.item.show();
  }
}
