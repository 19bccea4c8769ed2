/**
 * Settings for a terminal-mode Claude session: every lifecycle hook appends its stdin JSON as one line to a
 * per-instance status file, which {@link ../hookStatus} maps to states. The hook command embeds no task text: only
 * the node executable, a small script written next to the settings, and the status file path.
 */
import fs from 'node:fs';
import path from 'node:path';

export const HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'PermissionRequest', 'Notification', 'Stop', 'SessionEnd'] as const;
export type HookEventName = (typeof HOOK_EVENTS)[number];

/** Events whose hook entries take a tool matcher. */
const TOOL_EVENTS = new Set<HookEventName>(['PreToolUse', 'PostToolUse', 'PermissionRequest']);

export interface HookSettingsOptions {
  /** Per-instance folder (created with mode 0700) that receives the settings, the script and the status file. */
  dir: string;
  /**
   * A Node.js executable for the hook command (default `process.execPath`). In the VS Code extension host that is
   * Electron: the caller must then put `ELECTRON_RUN_AS_NODE=1` in the terminal's environment (the CLI passes its
   * environment on to hooks).
   */
  nodePath?: string;
  /** Target platform of the command's quoting (default: this one). */
  platform?: NodeJS.Platform;
}

export interface HookSettingsFiles {
  settingsPath: string;
  statusPath: string;
  scriptPath: string;
  /** The settings object written to `settingsPath`. */
  settings: { hooks: Record<string, unknown[]> };
}

/**
 * The hook script: reads all of stdin, appends it as one JSON line (plus `grove_ts`) to argv[2]. One `appendFileSync`
 * per line, so concurrent hooks (parallel tool calls) never interleave inside a line. Never fails the hook.
 */
export const HOOK_SCRIPT = `// Written by Grove: appends a Claude Code hook's JSON input as one line to the status file.
const fs = require('fs');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  let line;
  try {
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    line = JSON.stringify(Object.assign({}, input, { grove_ts: Date.now() }));
  } catch (e) {
    line = JSON.stringify({ grove_ts: Date.now(), grove_error: 'unparseable hook input' });
  }
  try { fs.appendFileSync(process.argv[2], line + '\\n', { mode: 0o600 }); } catch (e) { /* never block the agent */ }
});
`;

/** Writes `hooks.json`, `grove-hook.js` and an empty `status.jsonl` into `opts.dir`. */
export function writeHookSettings(opts: HookSettingsOptions): HookSettingsFiles {
  fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(opts.dir, 0o700);
  const scriptPath = path.join(opts.dir, 'grove-hook.js');
  const statusPath = path.join(opts.dir, 'status.jsonl');
  const settingsPath = path.join(opts.dir, 'hooks.json');
  fs.writeFileSync(scriptPath, HOOK_SCRIPT, { mode: 0o600 });
  if (!fs.existsSync(statusPath)) fs.writeFileSync(statusPath, '', { mode: 0o600 });
  const settings = buildHookSettings(opts.nodePath ?? process.execPath, scriptPath, statusPath, opts.platform);
  fs.writeFileSync(settingsPath, JSON.stringify(settings, null, 2), { mode: 0o600 });
  return { settingsPath, statusPath, scriptPath, settings };
}

/** The settings object. Pure. */
export function buildHookSettings(nodePath: string, scriptPath: string, statusPath: string, platform: NodeJS.Platform = process.platform) {
  const command = [nodePath, scriptPath, statusPath].map((a) => quoteForShell(a, platform)).join(' ');
  const hooks: Record<string, unknown[]> = {};
  for (const event of HOOK_EVENTS) {
    const entry = { type: 'command', command, timeout: 10 };
    hooks[event] = [TOOL_EVENTS.has(event) ? { matcher: '*', hooks: [entry] } : { hooks: [entry] }];
  }
  return { hooks };
}

/**
 * Quotes one word for the shell Claude Code runs hook commands with (sh on POSIX; on Windows cmd or Git Bash —
 * double quotes work in both for paths, which cannot contain `"`).
 */
export function quoteForShell(arg: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    if (arg.includes('"')) throw new Error(`Cannot quote a path containing '"': ${arg}`);
    return `"${arg}"`;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
