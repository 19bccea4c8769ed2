/**
 * One settings model for every surface. {@link GroveSettings} is what core reads; {@link SETTINGS} describes each
 * setting once (type, default, the CLI's environment variable and flag, whether it runs a program or sends data)
 * and {@link validateSettings} turns raw values from any source — VS Code configuration, CLI flags, environment
 * variables — into valid settings plus a list of problems a person can act on. An invalid value never reaches core:
 * it is replaced by the default and reported.
 *
 * package.json's `contributes.configuration` is the VS Code side of the same table; a unit test keeps the two equal.
 */
import type { AgentMode } from './model';
import { validateBranchPrefix } from './util/branchNames';

export type PermissionMode = 'acceptEdits' | 'default' | 'plan' | 'bypassPermissions' | 'auto' | 'dontAsk';
export type NotificationLevel = 'all' | 'attention' | 'off';
export type SyncStrategySetting = 'merge' | 'rebase';
export type MergeStrategySetting = 'ask' | 'merge' | 'squash' | 'rebase';
export type CleanupSetting = 'ask' | 'always' | 'never';

export interface AgentProfileSetting {
  name: string;
  command: string;
  args?: string[];
}

export interface GroveSettings {
  branchPrefix: string;
  /** Folder for new worktrees; undefined = `${repoParent}/${repoName}.worktrees`. */
  worktreeRoot?: string;
  copyFiles: string[];
  setupCommand?: string;
  /** Spare worktrees kept provisioned per repository and base (worktreePool.ts); 0 = no pool. */
  worktreePool: number;
  maxConcurrent: number;
  defaultMode: AgentMode;
  permissionMode: PermissionMode;
  model?: string;
  maxBudgetUsd?: number;
  maxTurns?: number;
  claudePath?: string;
  /** Extra environment of agents; values are secrets as far as logging is concerned. */
  agentEnv: Record<string, string>;
  agents: AgentProfileSetting[];
  notifications: NotificationLevel;
  syncStrategy: SyncStrategySetting;
  mergeStrategy: MergeStrategySetting;
  checkCommand?: string;
  cleanupAfterMerge: CleanupSetting;
  /** Land All: how many times an agent whose sync conflicts or whose check fails is sent back to fix it. */
  landRetries: number;
  showClaudeSessions: boolean;
  /** Daily spending cap of a repository's agents (USD, local day); undefined = none. */
  fleetBudgetUsd?: number;
  /** An agent starts only while the machine has this much memory available (MB); 0 = no check. */
  minFreeMemoryMb: number;
  /** A task whose context is exhausted continues in a fresh session by itself (at most twice). */
  autoContinue: boolean;
  /** Snapshots taken before destructive steps (Recently Removed) are kept this many days. */
  snapshotRetentionDays: number;
}

export type SettingKey = keyof GroveSettings;

type Kind =
  | { type: 'string'; check?: (v: string) => string | undefined }
  | { type: 'integer'; min: number; max: number }
  | { type: 'number'; min: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'boolean' }
  | { type: 'stringList' }
  | { type: 'envMap' }
  | { type: 'profiles' };

export interface SettingSpec {
  key: SettingKey;
  kind: Kind;
  /** The value when nothing is set (undefined = unset, e.g. no check command). */
  default: unknown;
  /** The CLI's environment variable. */
  env: string;
  /** A CLI flag for the most used settings (`--max`), besides the variable. */
  flag?: string;
  /** One line for `grove --help`. */
  summary: string;
  /** Runs a program or sends data: ignored from an untrusted workspace's own settings (VS Code) . */
  restricted?: boolean;
  /** Only meaningful in VS Code; the CLI accepts and ignores it. */
  vscodeOnly?: boolean;
}

export const PERMISSION_MODES: readonly PermissionMode[] = ['acceptEdits', 'default', 'plan', 'bypassPermissions', 'auto', 'dontAsk'];

/** The problem with a branch prefix (ambiguous with git's own refs, or not valid in a branch name), if any. Pure. */
export const branchPrefixProblem = validateBranchPrefix;

export const SETTINGS: readonly SettingSpec[] = [
  { key: 'branchPrefix', kind: { type: 'string', check: branchPrefixProblem }, default: 'grove', env: 'GROVE_BRANCH_PREFIX', summary: 'Branches are <prefix>/<task-slug>' },
  { key: 'worktreeRoot', kind: { type: 'string' }, default: undefined, env: 'GROVE_WORKTREE_ROOT', summary: 'Folder for new worktrees (${repoParent}, ${repoName} expanded)' },
  { key: 'copyFiles', kind: { type: 'stringList' }, default: ['.env', '.env.*'], env: 'GROVE_COPY_FILES', summary: 'Untracked files copied into each worktree (comma-separated gitignore patterns)' },
  { key: 'setupCommand', kind: { type: 'string' }, default: undefined, env: 'GROVE_SETUP_COMMAND', summary: 'Run in each new worktree with GROVE_PORT set', restricted: true },
  { key: 'worktreePool', kind: { type: 'integer', min: 0, max: 8 }, default: 0, env: 'GROVE_WORKTREE_POOL', summary: 'Spare worktrees kept provisioned per repository and base, so a dispatch starts at once (0: none)' },
  { key: 'maxConcurrent', kind: { type: 'integer', min: 1, max: 50 }, default: 4, env: 'GROVE_MAX_CONCURRENT', flag: 'max', summary: 'Agents running at once in a repository (all windows and processes)' },
  { key: 'defaultMode', kind: { type: 'enum', values: ['background', 'terminal'] }, default: 'background', env: 'GROVE_DEFAULT_MODE', summary: 'background or terminal (terminal needs VS Code)' },
  { key: 'permissionMode', kind: { type: 'enum', values: PERMISSION_MODES }, default: 'acceptEdits', env: 'GROVE_PERMISSION_MODE', flag: 'permission-mode', summary: 'Claude Code permission mode of new agents' },
  { key: 'model', kind: { type: 'string' }, default: undefined, env: 'GROVE_MODEL', flag: 'model', summary: 'Model of new agents (sonnet, opus, …)' },
  { key: 'maxBudgetUsd', kind: { type: 'number', min: 0 }, default: undefined, env: 'GROVE_MAX_BUDGET_USD', summary: 'Per-agent spending cap in US dollars' },
  { key: 'maxTurns', kind: { type: 'integer', min: 1, max: 100_000 }, default: undefined, env: 'GROVE_MAX_TURNS', summary: 'Per-turn cap on agent turns' },
  { key: 'claudePath', kind: { type: 'string' }, default: undefined, env: 'GROVE_CLAUDE_PATH', flag: 'claude-path', summary: 'The Claude Code CLI (default: claude on PATH)', restricted: true },
  { key: 'agentEnv', kind: { type: 'envMap' }, default: {}, env: 'GROVE_AGENT_ENV', summary: 'Extra environment of agents, as a JSON object (never logged)', restricted: true },
  { key: 'agents', kind: { type: 'profiles' }, default: [], env: 'GROVE_AGENTS', summary: 'Other agent CLIs, as a JSON array of { name, command, args } (terminal mode)', restricted: true },
  { key: 'notifications', kind: { type: 'enum', values: ['all', 'attention', 'off'] }, default: 'all', env: 'GROVE_NOTIFICATIONS', summary: 'Which events are told: all, attention (waiting and failures), off (CLI: progress lines)' },
  { key: 'syncStrategy', kind: { type: 'enum', values: ['merge', 'rebase'] }, default: 'merge', env: 'GROVE_SYNC_STRATEGY', summary: 'How Sync from Base brings the base in' },
  { key: 'mergeStrategy', kind: { type: 'enum', values: ['ask', 'merge', 'squash', 'rebase'] }, default: 'ask', env: 'GROVE_MERGE_STRATEGY', summary: 'How merges land; ask = VS Code asks, the CLI uses merge unless --strategy' },
  { key: 'checkCommand', kind: { type: 'string' }, default: undefined, env: 'GROVE_CHECK_COMMAND', summary: 'Must pass in the agent\'s worktree before a merge (e.g. npm test)', restricted: true },
  { key: 'cleanupAfterMerge', kind: { type: 'enum', values: ['ask', 'always', 'never'] }, default: 'ask', env: 'GROVE_CLEANUP_AFTER_MERGE', summary: 'Remove the worktree and merged branch after a merge; ask = VS Code asks, the CLI keeps them unless --cleanup' },
  { key: 'landRetries', kind: { type: 'integer', min: 0, max: 10 }, default: 2, env: 'GROVE_LAND_RETRIES', summary: 'Land All: times an agent whose sync conflicts or whose check fails is sent back to fix it before it is left for you' },
  { key: 'showClaudeSessions', kind: { type: 'boolean' }, default: true, env: 'GROVE_SHOW_CLAUDE_SESSIONS', summary: 'Show Claude Code\'s own sessions in the Agents view', vscodeOnly: true },
  { key: 'fleetBudgetUsd', kind: { type: 'number', min: 0 }, default: undefined, env: 'GROVE_FLEET_BUDGET_USD', summary: 'Daily spending cap of a repository\'s agents in US dollars (local day)' },
  { key: 'minFreeMemoryMb', kind: { type: 'integer', min: 0, max: 1_048_576 }, default: 1024, env: 'GROVE_MIN_FREE_MEMORY_MB', summary: 'An agent starts only while this much memory is available (MB; 0: no check)' },
  { key: 'autoContinue', kind: { type: 'boolean' }, default: false, env: 'GROVE_AUTO_CONTINUE', summary: 'Continue a task whose context is exhausted in a fresh session by itself (at most twice)' },
  { key: 'snapshotRetentionDays', kind: { type: 'integer', min: 1, max: 3650 }, default: 14, env: 'GROVE_SNAPSHOT_RETENTION_DAYS', summary: 'Days a snapshot taken before a destructive step (remove, delete branch, abort sync, cleanup) is kept for Restore' },
];

export const SETTING_KEYS: readonly SettingKey[] = SETTINGS.map((s) => s.key);

export function defaultSettings(): GroveSettings {
  return validateSettings({}).settings;
}

export interface ValidatedSettings {
  settings: GroveSettings;
  /** One sentence per rejected value ("grove.maxConcurrent must be …; using 4"). */
  problems: string[];
}

/**
 * Validates raw values (from VS Code configuration, or strings from flags and the environment: `fromText` parses
 * those first). Unknown keys are ignored; `undefined`, `null` and empty strings mean "not set". Pure.
 */
export function validateSettings(raw: Partial<Record<SettingKey, unknown>>, label: (key: SettingKey) => string = (k) => `grove.${k}`): ValidatedSettings {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const spec of SETTINGS) {
    const value = raw[spec.key];
    const result = value === undefined || value === null || (typeof value === 'string' && !value.trim() && spec.kind.type !== 'string')
      ? { ok: true as const, value: clone(spec.default) }
      : check(spec, value);
    if (result.ok) {
      if (result.value !== undefined) out[spec.key] = result.value;
    } else {
      problems.push(`${label(spec.key)} ${result.problem}; using ${spec.default === undefined ? 'none' : JSON.stringify(spec.default)}.`);
      if (spec.default !== undefined) out[spec.key] = clone(spec.default);
    }
  }
  return { settings: out as unknown as GroveSettings, problems };
}

type Checked = { ok: true; value: unknown } | { ok: false; problem: string };

function check(spec: SettingSpec, value: unknown): Checked {
  const k = spec.kind;
  switch (k.type) {
    case 'string': {
      if (typeof value !== 'string') return { ok: false, problem: `must be text, not ${JSON.stringify(value)}` };
      const v = value.trim();
      if (!v) return { ok: true, value: clone(spec.default) };
      const problem = k.check?.(v);
      return problem ? { ok: false, problem: `is invalid: ${problem}` } : { ok: true, value: v };
    }
    case 'integer':
    case 'number': {
      const n = typeof value === 'string' ? Number(value.trim()) : value;
      if (typeof n !== 'number' || !Number.isFinite(n) || (k.type === 'integer' && !Number.isInteger(n))) {
        return { ok: false, problem: `must be ${k.type === 'integer' ? 'a whole number' : 'a number'}, not ${JSON.stringify(value)}` };
      }
      if (n < k.min || (k.type === 'integer' && n > k.max)) {
        return { ok: false, problem: k.type === 'integer' ? `must be from ${k.min} to ${k.max}, not ${n}` : `must be at least ${k.min}, not ${n}` };
      }
      // A budget of 0 or a missing one means "no cap" in the CLI's own flags; keep 0 as "unset".
      if (k.type === 'number' && n === 0) return { ok: true, value: undefined };
      return { ok: true, value: n };
    }
    case 'enum':
      return typeof value === 'string' && k.values.includes(value.trim())
        ? { ok: true, value: value.trim() }
        : { ok: false, problem: `must be one of ${k.values.join(', ')}, not ${JSON.stringify(value)}` };
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      if (typeof value === 'string' && /^(1|true|yes|on)$/i.test(value.trim())) return { ok: true, value: true };
      if (typeof value === 'string' && /^(0|false|no|off)$/i.test(value.trim())) return { ok: true, value: false };
      return { ok: false, problem: `must be true or false, not ${JSON.stringify(value)}` };
    }
    case 'stringList': {
      const list = typeof value === 'string' ? parseList(value) : value;
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) return { ok: false, problem: 'must be a list of text patterns' };
      return { ok: true, value: list.map((x: string) => x.trim()).filter(Boolean) };
    }
    case 'envMap': {
      const map = typeof value === 'string' ? parseJson(value) : value;
      if (!isRecord(map)) return { ok: false, problem: 'must be an object of NAME: "value" pairs' };
      const bad = Object.entries(map).filter(([name, v]) => typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
      if (bad.length) return { ok: false, problem: `has invalid entries (${bad.map(([n]) => n).join(', ')}): names are letters, digits and _, values are text` };
      return { ok: true, value: { ...(map as Record<string, string>) } };
    }
    case 'profiles': {
      const list = typeof value === 'string' ? parseJson(value) : value;
      if (!Array.isArray(list)) return { ok: false, problem: 'must be a list of { "name", "command", "args" } objects' };
      const problems: string[] = [];
      const profiles: AgentProfileSetting[] = [];
      for (const [i, p] of list.entries()) {
        if (!isRecord(p) || typeof p.name !== 'string' || !p.name.trim() || typeof p.command !== 'string' || !p.command.trim()) {
          problems.push(`entry ${i + 1} needs a "name" and a "command"`);
          continue;
        }
        if (p.args !== undefined && (!Array.isArray(p.args) || p.args.some((a) => typeof a !== 'string'))) {
          problems.push(`"${p.name}": "args" must be a list of text`);
          continue;
        }
        if (p.name.trim() === 'claude') {
          problems.push('"claude" is the built-in profile and cannot be redefined');
          continue;
        }
        profiles.push({ name: p.name.trim(), command: p.command.trim(), ...(p.args ? { args: [...(p.args as string[])] } : {}) });
      }
      return problems.length ? { ok: false, problem: `is invalid: ${problems.join('; ')}` } : { ok: true, value: profiles };
    }
  }
}

/**
 * The CLI's settings: environment variables, overridden by flags (`--max 3`). Every setting exists here with the
 * same validation as in VS Code. Pure.
 */
export function settingsFromEnvironment(env: Record<string, string | undefined>, flags: Record<string, string | undefined> = {}): ValidatedSettings {
  const raw: Partial<Record<SettingKey, unknown>> = {};
  const source = new Map<SettingKey, string>();
  for (const spec of SETTINGS) {
    const fromFlag = spec.flag !== undefined ? flags[spec.flag] : undefined;
    const value = fromFlag ?? env[spec.env];
    if (value === undefined) continue;
    raw[spec.key] = value;
    source.set(spec.key, fromFlag !== undefined ? `--${spec.flag}` : spec.env);
  }
  return validateSettings(raw, (key) => source.get(key) ?? key);
}

/** `grove --help`'s settings section, from the table. */
export function settingsHelp(): string {
  const rows = SETTINGS.map((s) => {
    const name = `${s.env}${s.flag ? ` (--${s.flag})` : ''}`;
    const def = s.default === undefined || (Array.isArray(s.default) && !s.default.length) || (isRecord(s.default) && !Object.keys(s.default).length)
      ? ''
      : ` [${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}]`;
    return `  ${name.padEnd(44)} ${s.summary}${def}${s.vscodeOnly ? ' (VS Code only)' : ''}`;
  });
  return rows.join('\n');
}

function parseList(text: string): unknown {
  const t = text.trim();
  if (t.startsWith('[')) return parseJson(t);
  return t.split(',');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
