/**
 * Claude Code asks "Do you trust this folder?" the first time its interactive UI opens in a git repository, and a
 * new worktree is a new folder to it. When the user already trusted the repository the worktree was made from,
 * Grove carries that trust over to the worktree, so a terminal agent starts working at once. Grove never trusts a
 * folder the user has not trusted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Claude Code's global config file: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`. */
export function claudeConfigFile(env: Record<string, string | undefined> = process.env): string {
  const dir = env.CLAUDE_CONFIG_DIR;
  return dir ? path.join(dir, '.claude.json') : path.join(os.homedir(), '.claude.json');
}

export type TrustResult = 'inherited' | 'alreadyTrusted' | 'sourceNotTrusted' | 'noConfig';

interface ProjectEntry {
  hasTrustDialogAccepted?: boolean;
  [key: string]: unknown;
}

function isTrusted(projects: Record<string, ProjectEntry>, folder: string): boolean {
  let dir = path.resolve(folder);
  for (;;) {
    if (projects[dir]?.hasTrustDialogAccepted === true) return true;
    const up = path.dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

/** Marks `worktree` trusted when `repository` (or a folder above it) is. Atomic write; other keys untouched. */
export function inheritFolderTrust(configFile: string, repository: string, worktree: string): TrustResult {
  let config: { projects?: Record<string, ProjectEntry>; [key: string]: unknown };
  try {
    config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch {
    return 'noConfig';
  }
  const projects = config.projects ?? {};
  const target = path.resolve(worktree);
  if (projects[target]?.hasTrustDialogAccepted === true) return 'alreadyTrusted';
  if (!isTrusted(projects, repository)) return 'sourceNotTrusted';
  config.projects = { ...projects, [target]: { ...(projects[target] ?? {}), hasTrustDialogAccepted: true } };
  const tmp = `${configFile}.grove-${process.pid}-${Date.now()}.tmp`;
  const mode = fs.statSync(configFile).mode & 0o777;
  fs.writeFileSync(tmp, JSON.stringify(config, null, 2), { mode });
  fs.renameSync(tmp, configFile);
  return 'inherited';
}
