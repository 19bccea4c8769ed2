import * as vscode from 'vscode';
import { isBinary, showFileAt } from '../../core/git/changes';
import type { GitClient } from '../../core/git/gitClient';

export const GIT_SCHEME = 'grove-git';

interface GitUriQuery {
  /** A folder of the repository (a worktree). */
  repo: string;
  /** A commit-ish, or `:1`/`:2`/`:3` for the stages of a conflicted file. */
  ref: string;
  /** Path relative to the repository, `/` separators. */
  path: string;
}

/** `grove-git:` URIs: read-only file contents at a commit or index stage, for diff and merge editors. */
export function gitUri(q: GitUriQuery): vscode.Uri {
  const label = q.ref.startsWith(':') ? `stage ${q.ref.slice(1)}` : q.ref.slice(0, 8);
  return vscode.Uri.from({ scheme: GIT_SCHEME, path: `/${q.path}`, query: JSON.stringify(q), fragment: label });
}

export function parseGitUri(uri: vscode.Uri): GitUriQuery {
  return JSON.parse(uri.query) as GitUriQuery;
}

export class GitContentProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly git: GitClient) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = parseGitUri(uri);
    const content = await showFileAt(this.git, q.repo, q.ref, q.path);
    if (!content) return '';
    if (isBinary(content)) return `Binary file (${content.length} bytes) — not shown.\n`;
    return content.toString('utf8');
  }
}
