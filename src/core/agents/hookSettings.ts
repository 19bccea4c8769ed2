/**
 * Settings for a terminal-mode Claude session: every lifecycle hook appends its stdin JSON as one line to a
 * per-instance status file, which {@link ../hookStatus} maps to states. The hook command embeds no task text: only
 * the node executable, a small script written next to the settings, and the status file path.
 *
 * The node executable is the host's (`process.execPath`), which in desktop VS Code is Electron: it runs a script as
 * plain Node only with `ELECTRON_RUN_AS_NODE=1`. That variable is set for the hook command alone — never in the
 * terminal's environment, where every Electron app and VS Code extension test the agent starts would inherit it.
 * POSIX: the shell's own `VAR=value command` prefix. Windows, where Claude Code runs hooks through Git Bash or, without
 * it, PowerShell: a small wrapper, `grove-hook.cmd`, that is at the same time a batch file and a bash script, started
 * with `. "<wrapper>"` — which both bash (sourcing it) and PowerShell (running it) accept.
 */
import fs from 'node:fs';
import path from 'node:path';

export const HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'PermissionRequest', 'Notification', 'Stop', 'StopFailure', 'PreCompact', 'PostCompact', 'SessionEnd'] as const;
export type HookEventName = (typeof HOOK_EVENTS)[number];

/** Events whose hook entries take a tool matcher. */
const TOOL_EVENTS = new Set<HookEventName>(['PreToolUse', 'PostToolUse', 'PermissionRequest']);

export interface HookSettingsOptions {
  /** Per-instance folder (created with mode 0700) that receives the settings, the script and the status file. */
  dir: string;
  /**
   * A Node.js executable for the hook command (default `process.execPath`); Electron works too: the command sets
   * `ELECTRON_RUN_AS_NODE=1` for itself.
   */
  nodePath?: string;
  /** Target platform of the command's quoting (default: this one). */
  platform?: NodeJS.Platform;
}

export interface HookSettingsFiles {
  settingsPath: string;
  statusPath: string;
  scriptPath: string;
  /** Windows: the wrapper the hook command starts (see the module comment). */
  wrapperPath?: string;
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

/** Writes `hooks.json`, `grove-hook.js` (and on Windows `grove-hook.cmd`) and an empty `status.jsonl` into `opts.dir`. */
export function writeHookSettings(opts: HookSettingsOptions): HookSettingsFiles {
  const platform = opts.platform ?? process.platform;
  const nodePath = opts.nodePath ?? process.execPath;
  fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(opts.dir, 0o700);
  const scriptPath = path.join(opts.dir, 'grove-hook.js');
  const statusPath = path.join(opts.dir, 'status.jsonl');
  const settingsPath = path.join(opts.dir, 'hooks.json');
  fs.writeFileSync(scriptPath, HOOK_SCRIPT, { mode: 0o600 });
  if (!fs.existsSync(statusPath)) fs.writeFileSync(statusPath, '', { mode: 0o600 });
  let wrapperPath: string | undefined;
  if (platform === 'win32') {
    wrapperPath = path.join(opts.dir, 'grove-hook.cmd');
    fs.writeFileSync(wrapperPath, windowsHookWrapper(nodePath, scriptPath, statusPath), { mode: 0o700 });
  }
  const settings = buildHookSettings(nodePath, scriptPath, statusPath, platform, wrapperPath);
  fs.writeFileSync(settingsPath, JSON.stringify(settings, null, 2), { mode: 0o600 });
  return { settingsPath, statusPath, scriptPath, ...(wrapperPath ? { wrapperPath } : {}), settings };
}

/** The settings object. Pure. On Windows the command starts `wrapperPath` (default: `grove-hook.cmd` next to the script). */
export function buildHookSettings(nodePath: string, scriptPath: string, statusPath: string, platform: NodeJS.Platform = process.platform, wrapperPath?: string) {
  const command = hookCommand(nodePath, scriptPath, statusPath, platform, wrapperPath);
  const hooks: Record<string, unknown[]> = {};
  for (const event of HOOK_EVENTS) {
    const entry = { type: 'command', command, timeout: 10 };
    hooks[event] = [TOOL_EVENTS.has(event) ? { matcher: '*', hooks: [entry] } : { hooks: [entry] }];
  }
  return { hooks };
}

/** The shell command of every hook; `ELECTRON_RUN_AS_NODE=1` is in its own environment only. Pure. */
export function hookCommand(nodePath: string, scriptPath: string, statusPath: string, platform: NodeJS.Platform = process.platform, wrapperPath?: string): string {
  if (platform === 'win32') {
    const wrapper = wrapperPath ?? path.win32.join(path.win32.dirname(scriptPath), 'grove-hook.cmd');
    return `. ${quoteForBashAndPowerShell(toForwardSlashes(wrapper))}`;
  }
  return `ELECTRON_RUN_AS_NODE=1 ${[nodePath, scriptPath, statusPath].map((a) => quoteForShell(a, platform)).join(' ')}`;
}

/**
 * `grove-hook.cmd`: a batch file whose first line is also a bash command. cmd.exe reads `:;…` as a label and runs the
 * lines after it; bash (which sources the file) runs `:` then the rest of the line, and `exec` ends it there. Each
 * line ends in CRLF for cmd; the bash line hides its `\r` in a comment. Pure.
 */
export function windowsHookWrapper(nodePath: string, scriptPath: string, statusPath: string): string {
  for (const p of [nodePath, scriptPath, statusPath]) if (/["\r\n]/.test(p)) throw new Error(`Cannot use a path containing '"' or a line break in a hook: ${p}`);
  const bash = [nodePath, scriptPath, statusPath].map((p) => quoteForShell(toForwardSlashes(p), 'linux')).join(' ');
  const batch = [nodePath, scriptPath, statusPath].map((p) => `"${p.replace(/%/g, '%%')}"`).join(' ');
  return [
    `:; ELECTRON_RUN_AS_NODE=1 exec ${bash} #`,
    '@echo off',
    'set "ELECTRON_RUN_AS_NODE=1"',
    batch,
    '',
  ].join('\r\n');
}

/** Git Bash takes `C:/x/y`; so does PowerShell. A backslash would be an escape to bash. */
function toForwardSlashes(p: string): string {
  return p.replace(/\\/g, '/');
}

/**
 * One word read the same by bash and PowerShell: double quotes unless the text holds `$` or a backtick (which both
 * expand inside them), then single quotes (literal in both; a `'` inside cannot be written alike in the two).
 */
export function quoteForBashAndPowerShell(arg: string): string {
  if (!/[$`"\\]/.test(arg)) return `"${arg}"`;
  if (!/'/.test(arg)) return `'${arg}'`;
  throw new Error(`Cannot quote a path for both bash and PowerShell: ${arg}`);
}

/**
 * Quotes one word for the shell Claude Code runs hook commands with on POSIX (sh, bash or zsh). On Windows: double
 * quotes (paths cannot contain `"`).
 */
export function quoteForShell(arg: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    if (arg.includes('"')) throw new Error(`Cannot quote a path containing '"': ${arg}`);
    return `"${arg}"`;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
