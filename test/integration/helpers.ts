import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { GroveApi } from '../../src/extension';
import type { InstanceSnapshot } from '../../src/core/model';
import type { TreeSnapshotNode } from '../../src/vscode/tree/agentsTree';

export const workspaceRepo = (): string => {
  const ws = process.env.GROVE_TEST_WORKSPACE ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!ws) throw new Error('no test workspace');
  return fs.realpathSync(ws);
};

export async function api(): Promise<GroveApi> {
  const ext = vscode.extensions.getExtension<GroveApi>('grove-dev.grove')!;
  const a = await ext.activate();
  await a.ready();
  return a;
}

/** Waits until `check` returns a value; re-checks on every instance change and at most every 200 ms. */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function untilInstance(a: GroveApi, id: string, pred: (i: InstanceSnapshot) => boolean, what: string, timeoutMs = 90_000): Promise<InstanceSnapshot> {
  return until(what, () => a.instances().find((i) => i.id === id && pred(i)), timeoutMs).catch((err) => {
    const i = a.instances().find((x) => x.id === id);
    throw new Error(`${(err as Error).message} (instance is ${i?.state}${i?.error ? `: ${i.error}` : ''})`);
  });
}

export function flatten(nodes: TreeSnapshotNode[]): TreeSnapshotNode[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}

/** How deep (1 = top level) the first row that `is` lies in a view snapshot, if it is there. */
export function depthOf(nodes: TreeSnapshotNode[], is: (n: TreeSnapshotNode) => boolean, d = 1): number | undefined {
  for (const n of nodes) {
    if (is(n)) return d;
    const below = depthOf(n.children, is, d + 1);
    if (below) return below;
  }
  return undefined;
}

export function repoRoot(): string {
  return process.env.GROVE_REPO_ROOT ?? path.resolve(__dirname, '../../..');
}

export async function setConfig(values: Record<string, unknown>): Promise<void> {
  const c = vscode.workspace.getConfiguration('grove');
  for (const [k, v] of Object.entries(values)) await c.update(k, v, vscode.ConfigurationTarget.Global);
}

import os from 'node:os';
import { modelEnv } from '../support/claudeEnv';
import { ScriptedModel, type ScriptRule } from '../support/scriptedModel';

/**
 * Points Grove's agents at the real Claude Code CLI (node_modules) and a scripted model served from this process;
 * CLI state lives in a temporary folder given to agents through grove.agentEnv. Returns a teardown.
 */
export async function useScriptedAgents(rule: ScriptRule): Promise<{ model: ScriptedModel; dispose(): Promise<void> }> {
  const model = await ScriptedModel.start({ rule });
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'grove-it-claude-'));
  await setConfig({
    claudePath: path.join(repoRoot(), 'node_modules', '.bin', 'claude'),
    agentEnv: modelEnv(model.url, state, 'integration-test-key', [workspaceRepo()]),
    notifications: 'off',
  });
  return {
    model,
    async dispose() {
      await setConfig({ agentEnv: undefined, claudePath: undefined, notifications: undefined });
      await model.close();
    },
  };
}
