import * as vscode from 'vscode';
import type { DispatchOptions, TaskSpec } from '../core/fleet/dispatcher';
import type { InstanceSnapshot } from '../core/model';
import type { Services } from './services';
import type { AgentsTreeProvider, TreeSnapshotNode } from './tree/agentsTree';

/**
 * Grove's public API, returned by `activate()` (`vscode.extensions.getExtension('grove-dev.grove').exports`).
 * Everything it returns is a plain, serialisable snapshot. Documented in README.md ("Public API").
 */
export interface GroveApi {
  readonly version: string;
  /** Dispatches tasks on one repository; resolves with the created instances (queued). */
  dispatch(tasks: readonly TaskSpec[], options?: Partial<DispatchOptions>): Promise<InstanceSnapshot[]>;
  /** Every instance Grove knows in this window, oldest first. */
  instances(): InstanceSnapshot[];
  /** Fires with the current snapshots after any instance changes. */
  readonly onDidChangeInstances: vscode.Event<InstanceSnapshot[]>;
  /** Resolves once repositories are discovered and persisted instances recovered. */
  ready(): Promise<void>;
  /** The Agents view as plain data (labels, descriptions, context values), for automation and diagnostics. */
  viewSnapshot(): Promise<TreeSnapshotNode[]>;
}

export function createApi(version: string, s: Services, ready: Promise<void>, tree: AgentsTreeProvider): GroveApi {
  const emitter = new vscode.EventEmitter<InstanceSnapshot[]>();
  s.context.subscriptions.push(emitter, s.fleet.onDidChangeInstances(() => emitter.fire(clone(s.fleet.instances()))));
  return {
    version,
    async dispatch(tasks, options = {}) {
      await ready;
      const repos = await s.repos.repositories();
      const repo = options.repoRoot ? s.repos.find(options.repoRoot) : repos[0];
      if (!repo) throw new Error(options.repoRoot ? `${options.repoRoot} is not a git repository of this workspace` : 'no git repository is open');
      if (!vscode.workspace.isTrusted) throw new Error('Grove starts no agents in an untrusted workspace');
      const cfg = vscode.workspace.getConfiguration('grove', vscode.Uri.file(repo.info.mainWorktree));
      // bypassPermissions from the settings is confirmed in a modal for interactive dispatches; a program calling
      // the API cannot confirm, so it must ask for it explicitly in `options.permissionMode`.
      const configured = cfg.get<string>('permissionMode', 'acceptEdits');
      return clone(await s.fleet.dispatch(tasks, {
        permissionMode: configured === 'bypassPermissions' ? 'acceptEdits' : configured,
        mode: cfg.get('defaultMode', 'background'),
        model: cfg.get<string>('model') || undefined,
        ...options,
        repoRoot: repo.info.mainWorktree,
      }));
    },
    instances: () => clone(s.fleet.instances()),
    onDidChangeInstances: emitter.event,
    ready: () => ready,
    viewSnapshot: async () => clone(await tree.snapshot()),
  };
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
