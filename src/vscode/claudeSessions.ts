import * as vscode from 'vscode';
import { resolveClaudeExecutable } from '../core/agents/agentProcess';
import { listClaudeSessions, type ClaudeSession } from '../core/agents/claudeSessions';
import type { Fleet } from '../core/fleet/fleet';
import { Disposable } from '../core/util/disposable';
import { Emitter } from '../core/util/event';
import { groveConfig } from './config';
import { isSameOrInside } from '../core/util/fsPaths';

/**
 * Claude Code's own sessions (`claude --bg`, other interactive sessions) in the workspace's repositories, shown
 * read-only beside Grove's agents. Asked for when the view becomes visible and on Refresh — a `claude agents --json`
 * is a full CLI start, so never on a timer and never on each file event.
 */
export class ClaudeSessionsModel extends Disposable {
  private readonly _onDidChange = this._register(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;
  private list: ClaudeSession[] = [];
  private pending?: Promise<void>;

  constructor(private readonly fleet: Fleet) {
    super();
  }

  /** Sessions whose cwd is inside `folder`, minus the ones Grove itself drives. */
  inside(folder: string): ClaudeSession[] {
    const ours = new Set(this.fleet.instances().map((i) => i.sessionId).filter(Boolean));
    return this.list.filter((s) => !ours.has(s.sessionId) && isSameOrInside(folder, s.cwd));
  }

  get(id: string): ClaudeSession | undefined {
    return this.list.find((s) => s.id === id);
  }

  refresh(): Promise<void> {
    this.pending ??= this.load().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async load(): Promise<void> {
    const cfg = groveConfig();
    if (!cfg.showClaudeSessions || !vscode.workspace.isTrusted) {
      if (this.list.length) {
        this.list = [];
        this._onDidChange.fire();
      }
      return;
    }
    const env = { ...process.env, ...cfg.agentEnv };
    let next: ClaudeSession[] = [];
    try {
      next = await listClaudeSessions(resolveClaudeExecutable(cfg.claudePath, env), env);
    } catch {
      next = []; // no claude installed: nothing to show
    }
    if (JSON.stringify(next) === JSON.stringify(this.list)) return;
    this.list = next;
    this._onDidChange.fire();
  }
}

