/**
 * "Is Claude Code installed and signed in?", answered the way Claude Code itself answers it: `claude --version`
 * and `claude auth status --json` (which reads `$CLAUDE_CONFIG_DIR/.credentials.json` or `~/.claude`, the macOS
 * keychain, `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `CLAUDE_CODE_OAUTH_TOKEN`, Bedrock/Vertex settings…),
 * run with the environment agents get, never through a shell. A CLI without `auth status` falls back to looking
 * for those credentials itself. No `vscode` import: the VS Code layer shows the result.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveClaudeExecutable } from '../../core/agents/agentProcess';

export interface ClaudeCheck {
  installed: boolean;
  /** The program that was run (after resolving `grove.claudePath`, PATH and npm shims), for people. */
  executable?: string;
  /** The same as a command and its leading arguments (a Windows npm shim runs `node cli.js`). */
  command?: { file: string; prefixArgs: string[] };
  version?: string;
  /** undefined: could not tell (an old CLI and no credentials Grove knows how to see). */
  signedIn?: boolean;
  /** How it is signed in, for people: "a Claude Pro account", "an API key (ANTHROPIC_API_KEY)", "the demo model". */
  signedInWith?: string;
  /** What went wrong, for people, when not installed or not signed in. */
  problem?: string;
  demoModel: boolean;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export type Runner = (command: string, args: string[], env: NodeJS.ProcessEnv) => Promise<RunResult>;

/**
 * Runs from the home folder, not the workspace: Claude Code reads a project's `.claude/settings.json` (which can
 * name an `apiKeyHelper` program) from its working directory, and this check also runs in untrusted workspaces.
 */
export const runFile: Runner = (command, args, env) => new Promise((resolve) => {
  execFile(command, args, { env, cwd: os.homedir(), timeout: 20_000, windowsHide: true, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
    const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null) : 0;
    resolve({ code, stdout: String(stdout), stderr: String(stderr), error: error && code === null ? error : undefined });
  });
});

export async function checkClaude(opts: {
  claudePath?: string;
  env: NodeJS.ProcessEnv;
  demoModel: boolean;
  run?: Runner;
}): Promise<ClaudeCheck> {
  const run = opts.run ?? runFile;
  const { demoModel, env } = opts;
  let exe: { command: string; prefixArgs: string[] };
  try {
    exe = resolveClaudeExecutable(opts.claudePath, env);
  } catch (err) {
    return { installed: false, demoModel, problem: (err as Error).message };
  }
  const version = await run(exe.command, [...exe.prefixArgs, '--version'], env);
  const executable = [exe.command, ...exe.prefixArgs].join(' ');
  if (version.code !== 0) {
    const why = version.error?.message ?? (version.stderr.trim().split('\n')[0] || `exit code ${version.code}`);
    return { installed: false, executable, demoModel, problem: `${executable} --version failed: ${why}` };
  }
  const v = /\d+\.\d+\.\d+\S*/.exec(version.stdout)?.[0] ?? version.stdout.trim().split('\n')[0];
  const base: ClaudeCheck = { installed: true, executable, command: { file: exe.command, prefixArgs: exe.prefixArgs }, version: v, demoModel };
  if (demoModel) return { ...base, signedIn: true, signedInWith: 'the demo model (npm start): a scripted model on 127.0.0.1, no account needed' };

  const status = await run(exe.command, [...exe.prefixArgs, 'auth', 'status', '--json'], env);
  const parsed = parseAuthStatus(status.stdout);
  if (parsed) return { ...base, ...parsed };
  // An older CLI without `auth status`: look where Claude Code keeps credentials.
  const seen = credentialHints(env);
  if (seen) return { ...base, signedIn: true, signedInWith: seen };
  return { ...base, signedIn: undefined, problem: 'this Claude Code has no "claude auth status", and Grove found no credentials it can see (the macOS keychain is not readable to Grove)' };
}

interface AuthStatus {
  loggedIn?: boolean;
  authMethod?: string;
  apiProvider?: string;
  apiKeySource?: string;
  subscriptionType?: string | null;
  email?: string | null;
}

/** `claude auth status --json` → signed in and how; undefined when the output is not that JSON. Pure. */
export function parseAuthStatus(stdout: string): Pick<ClaudeCheck, 'signedIn' | 'signedInWith' | 'problem'> | undefined {
  let s: AuthStatus;
  try {
    s = JSON.parse(stdout.slice(stdout.indexOf('{'))) as AuthStatus;
  } catch {
    return undefined;
  }
  if (typeof s.loggedIn !== 'boolean') return undefined;
  if (!s.loggedIn) return { signedIn: false, problem: 'Claude Code is not signed in' };
  let how: string;
  if (s.apiProvider && s.apiProvider !== 'firstParty') how = `${s.apiProvider} credentials`;
  else if (s.authMethod === 'claude.ai') how = s.subscriptionType ? `a Claude ${s.subscriptionType[0].toUpperCase()}${s.subscriptionType.slice(1)} account` : 'a Claude account';
  else if (s.authMethod === 'api_key') how = `an API key${s.apiKeySource ? ` (${s.apiKeySource})` : ''}`;
  else how = s.authMethod ?? 'credentials';
  return { signedIn: true, signedInWith: s.email ? `${how}, ${s.email}` : how };
}

/** Credentials Claude Code would use that Grove can see without the CLI; undefined when none. */
export function credentialHints(env: NodeJS.ProcessEnv, home = os.homedir()): string | undefined {
  for (const k of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN']) if (env[k]) return `${k}`;
  for (const k of ['CLAUDE_CODE_USE_BEDROCK', 'CLAUDE_CODE_USE_VERTEX', 'CLAUDE_CODE_USE_FOUNDRY']) if (env[k] && env[k] !== '0') return `${k}`;
  const dir = env.CLAUDE_CONFIG_DIR || path.join(home, '.claude');
  const file = path.join(dir, '.credentials.json');
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as { claudeAiOauth?: { accessToken?: string } };
    if (c.claudeAiOauth?.accessToken) return `a stored login (${file})`;
  } catch {
    /* none */
  }
  return undefined;
}
