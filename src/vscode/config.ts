import * as vscode from 'vscode';
import type { AgentMode } from '../core/model';

export interface AgentProfileSetting {
  name: string;
  command: string;
  args?: string[];
}

/** Typed access to Grove's settings, read fresh each time (settings can change at any moment). */
export function groveConfig(scope?: vscode.Uri) {
  const c = vscode.workspace.getConfiguration('grove', scope);
  const num = (key: string) => {
    const v = c.get<number | null>(key, null);
    return typeof v === 'number' && v > 0 ? v : undefined;
  };
  return {
    branchPrefix: c.get<string>('branchPrefix', 'grove').trim() || 'grove',
    worktreeRoot: c.get<string>('worktreeRoot', '').trim() || undefined,
    copyFiles: c.get<string[]>('copyFiles', ['.env', '.env.*']),
    setupCommand: c.get<string>('setupCommand', '').trim() || undefined,
    maxConcurrent: Math.max(1, Math.floor(c.get<number>('maxConcurrent', 4))),
    claudePath: c.get<string>('claudePath', '').trim() || undefined,
    permissionMode: c.get<string>('permissionMode', 'acceptEdits'),
    defaultMode: c.get<AgentMode>('defaultMode', 'background'),
    model: c.get<string>('model', '').trim() || undefined,
    maxBudgetUsd: num('maxBudgetUsd'),
    maxTurns: num('maxTurns'),
    agentEnv: c.get<Record<string, string>>('agentEnv', {}),
    profiles: c.get<AgentProfileSetting[]>('agents', []),
    notifications: c.get<'all' | 'attention' | 'off'>('notifications', 'all'),
    syncStrategy: c.get<'merge' | 'rebase'>('syncStrategy', 'merge'),
    mergeStrategy: c.get<'ask' | 'merge' | 'squash' | 'rebase'>('mergeStrategy', 'ask'),
    checkCommand: c.get<string>('checkCommand', '').trim() || undefined,
    cleanupAfterMerge: c.get<'ask' | 'always' | 'never'>('cleanupAfterMerge', 'ask'),
    showClaudeSessions: c.get<boolean>('showClaudeSessions', true),
  };
}
