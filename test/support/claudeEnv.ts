// Environment for running the real Claude Code CLI isolated in a temporary folder, against a scripted model.
// All CLI state (config, transcripts, temp files) stays under `root`; no test touches the real ~/.claude.
import fs from 'node:fs';
import path from 'node:path';

export const TEST_API_KEY = 'test';

export interface ClaudeEnvOptions {
  /** Folder that holds the CLI's state: `<root>/cfg` and `<root>/tmp`. */
  root: string;
  /** Base URL of the scripted model, e.g. `http://127.0.0.1:1234`. */
  baseUrl: string;
  apiKey?: string;
  /** Extra variables (win over the defaults). */
  extra?: Record<string, string>;
}

export interface ClaudeEnv {
  env: Record<string, string>;
  configDir: string;
  tmpDir: string;
}

/** Variables that would leak the real user's setup into a test run. */
const SCRUB = [/^ANTHROPIC_/, /^CLAUDE_/, /^CLAUDECODE$/, /^AWS_BEARER_TOKEN_BEDROCK$/, /^OTEL_/];

/**
 * Only the variables that point the CLI at a model and keep its state in `stateDir` (for `grove.agentEnv`, which is
 * laid over the host's environment), with the TUI seeded for interactive use in `trusted` repositories.
 */
export function modelEnv(baseUrl: string, stateDir: string, apiKey: string, trusted: string[] = []): Record<string, string> {
  const configDir = path.join(stateDir, 'cfg');
  const tmpDir = path.join(stateDir, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  // Terminal-mode agents run the interactive TUI: onboarding done, repositories trusted (Grove carries the trust to
  // each worktree), the key approved.
  seedInteractiveConfig(configDir, trusted, apiKey);
  return {
    CLAUDE_CONFIG_DIR: configDir,
    CLAUDE_CODE_TMPDIR: tmpDir,
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_API_KEY: apiKey,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
  };
}

/**
 * The env for an isolated CLI run: the current process env minus any ANTHROPIC_ / CLAUDE_ variables, plus the
 * variables that keep state in `root`, point the CLI at the scripted model and make it fail fast.
 */
export function claudeEnv(opts: ClaudeEnvOptions): ClaudeEnv {
  const configDir = path.join(opts.root, 'cfg');
  const tmpDir = path.join(opts.root, 'tmp');
  fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !SCRUB.some((re) => re.test(k))) base[k] = v;
  }
  const env: Record<string, string> = {
    ...base,
    CLAUDE_CONFIG_DIR: configDir,
    CLAUDE_CODE_TMPDIR: tmpDir,
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ANTHROPIC_API_KEY: opts.apiKey ?? TEST_API_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
    IS_SANDBOX: '1',
    ...opts.extra,
  };
  return { env, configDir, tmpDir };
}

/**
 * Seeds `$CLAUDE_CONFIG_DIR/.claude.json` so the interactive TUI starts without blocking: onboarding done (skips the
 * connectivity check), folder trust accepted for each cwd, and the custom API key approved (last 20 chars).
 */
export function seedInteractiveConfig(configDir: string, cwds: string[], apiKey = TEST_API_KEY): string {
  const file = path.join(configDir, '.claude.json');
  let existing: any = {};
  try {
    existing = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    existing = {};
  }
  const projects = { ...(existing.projects ?? {}) };
  for (const cwd of cwds) {
    projects[path.resolve(cwd)] = { ...(projects[path.resolve(cwd)] ?? {}), hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true };
  }
  const approved = new Set<string>(existing.customApiKeyResponses?.approved ?? []);
  approved.add(apiKey.slice(-20));
  const config = {
    ...existing,
    hasCompletedOnboarding: true,
    projects,
    customApiKeyResponses: { approved: [...approved], rejected: existing.customApiKeyResponses?.rejected ?? [] },
  };
  fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  // The bypass-permissions warning is a settings key, not a .claude.json key.
  const settings = path.join(configDir, 'settings.json');
  let s: any = {};
  try {
    s = JSON.parse(fs.readFileSync(settings, 'utf8'));
  } catch {
    s = {};
  }
  fs.writeFileSync(settings, JSON.stringify({ ...s, skipDangerousModePermissionPrompt: true }, null, 2));
  return file;
}

/** The repository root (the folder holding package.json), found by walking up from `from`. */
export function repoRoot(from = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** The pinned CLI in node_modules. */
export function claudeBin(): string {
  return path.join(repoRoot(), 'node_modules', '.bin', process.platform === 'win32' ? 'claude.cmd' : 'claude');
}
