import * as vscode from 'vscode';
import { GroveError } from '../core/errors';
import { dispatch } from '../core/flows/dispatch';
import { followUp, stop, type FollowUpResult, type StopResult } from '../core/flows/instances';
import { merge, type MergeOutcome } from '../core/flows/merge';
import { remove, type RemoveOutcome } from '../core/flows/remove';
import { review, type Review } from '../core/flows/review';
import type { DispatchOptions, TaskSpec } from '../core/fleet/ports';
import type { MergeStrategy } from '../core/git/mergeService';
import type { InstanceSnapshot } from '../core/model';
import type { Services } from './services';
import type { AgentsTreeProvider, TreeSnapshotNode } from './tree/agentsTree';

/**
 * Grove's public API, returned by `activate()` (`vscode.extensions.getExtension('grove-dev.grove').exports`).
 * Everything it returns is a plain, serialisable snapshot; every operation is the same core flow the commands, the
 * CLI and the MCP server run, without prompts (what a command would ask is an option here). Documented in
 * README.md ("Public API").
 */
export interface GroveApi {
  readonly version: string;
  /**
   * Dispatches tasks on one repository; resolves with the created instances (queued). `bypassPermissions` applies
   * only when asked for here explicitly (`options.permissionMode`); from the settings alone it is refused.
   */
  dispatch(tasks: readonly TaskSpec[], options?: Partial<DispatchOptions>): Promise<InstanceSnapshot[]>;
  /** Every instance Grove knows in this window, oldest first. */
  instances(): InstanceSnapshot[];
  /** Fires with the current snapshots after any instance changes. */
  readonly onDidChangeInstances: vscode.Event<InstanceSnapshot[]>;
  /** One more turn; kept for the next turn when one is under way; handed to the driving process when another drives it. */
  followUp(id: string, prompt: string): Promise<FollowUpResult>;
  /** Stops an instance whichever process drives it; a queued one never starts. */
  stop(id: string): Promise<StopResult>;
  /** Changed files (renames detected), commits and optionally the patch against the merge-base. */
  review(id: string, options?: { patch?: boolean; maxPatchChars?: number }): Promise<Review>;
  /** Merge into Base without prompts: `strategy` (else the setting; `ask` means merge), `commit` the agent's work first, `cleanup`. */
  merge(id: string, options?: { strategy?: MergeStrategy; commit?: boolean; cleanup?: 'always' | 'never' }): Promise<MergeOutcome>;
  /** Removes an instance and its worktree; refuses a loss or a running agent unless `force`. */
  remove(id: string, options?: { force?: boolean; deleteBranch?: boolean }): Promise<RemoveOutcome>;
  /** Resolves once repositories are discovered and persisted instances recovered. */
  ready(): Promise<void>;
  /**
   * The Agents view as plain data (labels, descriptions, context values), for automation and diagnostics; `depth`
   * levels of rows (all by default: as if every row were expanded), deeper rows listed with no children.
   */
  viewSnapshot(options?: { depth?: number }): Promise<TreeSnapshotNode[]>;
}

export function createApi(version: string, s: Services, ready: Promise<void>, tree: AgentsTreeProvider): GroveApi {
  const emitter = new vscode.EventEmitter<InstanceSnapshot[]>();
  // The copies are made only while another extension listens: a busy fleet changes many times a second.
  let listeners = 0;
  const onDidChangeInstances: vscode.Event<InstanceSnapshot[]> = (listener, thisArgs, disposables) => {
    listeners++;
    const sub = emitter.event(listener, thisArgs);
    let live = true;
    const d = { dispose: () => { if (live) (live = false, listeners--, sub.dispose()); } };
    disposables?.push(d);
    return d;
  };
  s.context.subscriptions.push(emitter, s.fleet.onDidChangeInstances(() => listeners > 0 && emitter.fire(clone(s.fleet.instances()))));
  return {
    version,
    async dispatch(tasks, options = {}) {
      await ready;
      const repos = await s.repos.repositories();
      const repo = options.repoRoot ? s.repos.find(options.repoRoot) : repos[0];
      if (!repo) throw new GroveError('NotFound', options.repoRoot ? `${options.repoRoot} is not a git repository of this workspace` : 'no git repository is open');
      const explicitBypass = options.permissionMode === 'bypassPermissions';
      const r = await dispatch(s.grove, { ...options, repoRoot: repo.info.mainWorktree, tasks }, { confirmBypass: async () => explicitBypass });
      return clone(r.instances);
    },
    instances: () => clone(s.fleet.instances()),
    onDidChangeInstances,
    followUp: async (id, prompt) => clone(await followUp(s.grove, id, prompt)),
    stop: async (id) => clone(await stop(s.grove, id)),
    review: async (id, options = {}) => clone(await review(s.grove, id, options)),
    merge: async (id, options = {}) => {
      const r = await merge(s.grove, { id, ...options });
      if (!r) throw new GroveError('InvalidInput', 'Not merged.');
      return clone(r);
    },
    remove: async (id, options = {}) => clone(await remove(s.grove, { id, ...options })),
    ready: () => ready,
    viewSnapshot: async (options) => clone(await tree.snapshot(undefined, options?.depth ?? Infinity)),
  };
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
