/**
 * Typed git failures. The code is classified from git's stderr the way VS Code's git extension does
 * (`getGitErrorCode` in extensions/git/src/git.ts); git runs with `LC_ALL=C` so the messages are stable.
 */
export type GitErrorCode =
  | 'NotAGitRepository'
  | 'BareRepository'
  | 'NoCommits'
  | 'DetachedHead'
  | 'BranchExists'
  | 'InvalidBranchName'
  | 'PathExists'
  | 'IndexLocked'
  | 'RefLocked'
  | 'ConfigLocked'
  | 'WorktreeLocked'
  | 'DirtyWorkTree'
  | 'WouldLoseWork'
  | 'IsMainWorktree'
  | 'Conflict'
  | 'NotFound'
  | 'NoSpace'
  | 'Cancelled'
  | 'GitNotFound'
  | 'Unknown';

export interface GitErrorOptions {
  code?: GitErrorCode;
  args?: readonly string[];
  exitCode?: number;
  stderr?: string;
  cause?: unknown;
  /** Extra structured data for the caller (e.g. the removal report behind `WouldLoseWork`). */
  details?: unknown;
}

export class GitError extends Error {
  readonly code: GitErrorCode;
  readonly args: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly details: unknown;

  constructor(message: string, options: GitErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'GitError';
    this.code = options.code ?? classifyGitError(options.stderr ?? '');
    this.args = options.args ?? [];
    this.exitCode = options.exitCode;
    this.stderr = options.stderr ?? '';
    this.details = options.details;
  }
}

export function isGitError(err: unknown, code?: GitErrorCode): err is GitError {
  return err instanceof GitError && (code === undefined || err.code === code);
}

/** Maps git's stderr to a code; order matters (the most specific message first). */
export function classifyGitError(stderr: string): GitErrorCode {
  const s = stderr;
  if (/not a git repository/i.test(s)) return 'NotAGitRepository';
  if (/must be run in a work tree|this operation must be run in a work tree/i.test(s)) return 'BareRepository';
  if (/Unable to create '.*index\.lock': File exists/is.test(s)) return 'IndexLocked';
  if (/could not lock config file|Unable to create '.*config\.lock'/is.test(s)) return 'ConfigLocked';
  if (/Unable to create '.*\.lock': File exists|cannot lock ref|unable to lock/is.test(s)) return 'RefLocked';
  if (/a branch named '.*' already exists|already exists.*branch/i.test(s)) return 'BranchExists';
  if (/is not a valid branch name|not a valid ref name/i.test(s)) return 'InvalidBranchName';
  if (/'.*' already exists/i.test(s)) return 'PathExists';
  if (/is locked|locked working tree/i.test(s)) return 'WorktreeLocked';
  if (/contains modified or untracked files|has changes|would be overwritten/i.test(s)) return 'DirtyWorkTree';
  if (/CONFLICT|unmerged files|needs merge/.test(s)) return 'Conflict';
  if (/No space left on device|disk quota exceeded/i.test(s)) return 'NoSpace';
  if (/invalid reference|unknown revision|not a valid object name|does not exist|not a working tree|is not a working tree|bad revision|not found|did not match/i.test(s)) return 'NotFound';
  if (/does not have any commits yet|ambiguous argument 'HEAD'/i.test(s)) return 'NoCommits';
  return 'Unknown';
}
