/**
 * The knobs the extension reads from `grove.*` settings, read here from flags and environment variables
 * (a flag wins over its variable). Never logged: `agentEnv` may hold secrets.
 */
import type { PermissionDecision } from '../core/agents/backgroundRunner';
import { UsageError } from './args';

export interface CliSettings {
  claudePath?: string;
  maxConcurrent: number;
  permissionMode: string;
  /** How permission requests of background agents are answered (there is no UI to ask). */
  onPermission: Extract<PermissionDecision, 'allow' | 'deny'>;
  model?: string;
  maxBudgetUsd?: number;
  maxTurns?: number;
  branchPrefix?: string;
  worktreeRoot?: string;
  copyFiles?: string[];
  setupCommand?: string;
}

export const PERMISSION_MODES = ['acceptEdits', 'default', 'plan', 'bypassPermissions', 'auto', 'dontAsk'];

export interface SettingFlags {
  'claude-path'?: string;
  max?: string;
  'permission-mode'?: string;
  'on-permission'?: string;
  model?: string;
}

export function readSettings(flags: SettingFlags, env: NodeJS.ProcessEnv = process.env): CliSettings {
  const str = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);
  const maxRaw = flags.max ?? env.GROVE_MAX_CONCURRENT ?? '4';
  const maxConcurrent = Number(maxRaw);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 50) {
    throw new UsageError(`--max must be an integer from 1 to 50, not "${maxRaw}"`);
  }
  const permissionMode = flags['permission-mode'] ?? env.GROVE_PERMISSION_MODE ?? 'acceptEdits';
  if (!PERMISSION_MODES.includes(permissionMode)) {
    throw new UsageError(`--permission-mode must be one of ${PERMISSION_MODES.join(', ')}, not "${permissionMode}"`);
  }
  const onPermission = flags['on-permission'] ?? env.GROVE_ON_PERMISSION ?? 'deny';
  if (onPermission !== 'allow' && onPermission !== 'deny') throw new UsageError(`--on-permission must be allow or deny, not "${onPermission}"`);
  const num = (name: string, v: string | undefined, integer: boolean) => {
    if (!str(v)) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${name} must be a positive ${integer ? 'integer' : 'number'}, not "${v}"`);
    return n;
  };
  const copyFiles = str(env.GROVE_COPY_FILES);
  return {
    claudePath: str(flags['claude-path']) ?? str(env.GROVE_CLAUDE_PATH),
    maxConcurrent,
    permissionMode,
    onPermission,
    model: str(flags.model) ?? str(env.GROVE_MODEL),
    maxBudgetUsd: num('GROVE_MAX_BUDGET_USD', env.GROVE_MAX_BUDGET_USD, false),
    maxTurns: num('GROVE_MAX_TURNS', env.GROVE_MAX_TURNS, true),
    branchPrefix: str(env.GROVE_BRANCH_PREFIX),
    worktreeRoot: str(env.GROVE_WORKTREE_ROOT),
    copyFiles: copyFiles ? copyFiles.split(',').map((s) => s.trim()).filter(Boolean) : ['.env', '.env.*'],
    setupCommand: str(env.GROVE_SETUP_COMMAND),
  };
}
