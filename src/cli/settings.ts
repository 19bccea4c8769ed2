/**
 * The CLI's settings: the same {@link GroveSettings} as the extension's `grove.*`, read from `GROVE_*` environment
 * variables and a few flags (a flag wins over its variable), validated by core's one validator. Plus the one knob
 * only a headless host needs: how permission requests are answered when nobody can be asked.
 */
import type { PermissionDecision } from '../core/agents/backgroundRunner';
import { settingsFromEnvironment, type GroveSettings } from '../core/settings';
import { UsageError } from './args';

export interface CliSettings {
  settings: GroveSettings;
  /** How permission requests of background agents are answered (there is no UI to ask). */
  onPermission: Extract<PermissionDecision, 'allow' | 'deny'>;
}

export interface SettingFlags {
  'claude-path'?: string;
  max?: string;
  'permission-mode'?: string;
  'on-permission'?: string;
  model?: string;
}

export function readSettings(flags: SettingFlags, env: NodeJS.ProcessEnv = process.env): CliSettings {
  const { settings, problems } = settingsFromEnvironment(env, { ...flags });
  if (problems.length) throw new UsageError(problems.join('\n'));
  const onPermission = flags['on-permission'] ?? env.GROVE_ON_PERMISSION ?? 'deny';
  if (onPermission !== 'allow' && onPermission !== 'deny') throw new UsageError(`--on-permission must be allow or deny, not "${onPermission}"`);
  return { settings, onPermission };
}
