import os from 'node:os';
import type { InstanceSnapshot } from '../../core/model';
import { isActive } from '../../core/fleet/instance';
import { treeRssMb } from '../../core/platform/memory';
import { Disposable } from '../../core/util/disposable';
import { Emitter } from '../../core/util/event';
import type { RssSource } from './agentsTree';

/**
 * Resident memory of the live agents on this machine, for the Agents view's tooltips. It samples only while the view
 * is visible and an agent is live (every `intervalMs`), and says it changed only when a reading moved by 5 MB or
 * more, so an idle fleet or a hidden view costs nothing.
 */
export class AgentMemory extends Disposable implements RssSource {
  private readonly _onDidChange = this._register(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;
  private readonly readings = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private visible = false;
  private sampling = false;

  constructor(private readonly instances: () => readonly InstanceSnapshot[], private readonly intervalMs = 5000, private readonly host = os.hostname()) {
    super();
    this._register({ dispose: () => clearTimeout(this.timer) });
  }

  rssMb(instanceId: string): number | undefined {
    return this.readings.get(instanceId);
  }

  /** The view was shown or hidden. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.reschedule(0);
  }

  /** Instances changed: an agent may have started (sample soon) or ended (drop its reading). */
  instancesChanged(): void {
    this.reschedule(this.timer ? undefined : 0);
  }

  private live(): InstanceSnapshot[] {
    return this.instances().filter((i) => i.agent && i.agent.host === this.host && isActive(i.state));
  }

  private reschedule(inMs: number | undefined): void {
    if (this.isDisposed) return;
    if (!this.visible || !this.live().length) {
      clearTimeout(this.timer);
      this.timer = undefined;
      if (this.readings.size && !this.live().length) {
        this.readings.clear();
        this._onDidChange.fire();
      }
      return;
    }
    if (this.sampling || (inMs === undefined && this.timer)) return; // a sample under way schedules the next
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.sample(), inMs ?? this.intervalMs);
  }

  private async sample(): Promise<void> {
    this.timer = undefined;
    if (this.sampling || this.isDisposed) return;
    this.sampling = true;
    try {
      const live = this.live();
      const mb = await treeRssMb(live.map((i) => i.agent!.pid));
      let changed = false;
      const ids = new Set(live.map((i) => i.id));
      for (const id of [...this.readings.keys()]) if (!ids.has(id)) (this.readings.delete(id), changed = true);
      for (const i of live) {
        const now = mb.get(i.agent!.pid);
        const before = this.readings.get(i.id);
        if (now === undefined) {
          if (before !== undefined) (this.readings.delete(i.id), changed = true);
        } else if (before === undefined || Math.abs(now - before) >= 5) {
          this.readings.set(i.id, now);
          changed = true;
        }
      }
      if (changed) this._onDidChange.fire();
    } finally {
      this.sampling = false;
      this.reschedule(this.intervalMs);
    }
  }
}
