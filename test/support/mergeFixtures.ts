/**
 * Fixtures for the review-and-merge tests: a repository with one Grove instance (branch + worktree made by
 * the real WorktreeManager), and the "exact state" snapshots that abort and refusals must leave equal.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GitClient } from '../../src/core/git/gitClient';
import { GitError, type GitErrorCode } from '../../src/core/git/gitError';
import { MergeBlockedError, MergeService, type MergeProblemCode } from '../../src/core/git/mergeService';
import { WorktreeManager } from '../../src/core/git/worktreeManager';
import { MemoryLogger } from '../../src/core/util/logger';
import { git, gitTestEnv, repoState, snapshot, type TempRepos } from './repo';

export interface MergeFixture {
  client: GitClient;
  service: MergeService;
  manager: WorktreeManager;
  logger: MemoryLogger;
  repoRoot: string;
  worktreePath: string;
  branch: string;
  baseRef: string;
}

export function makeClients() {
  const logger = new MemoryLogger();
  const client = new GitClient({ logger, env: gitTestEnv });
  return { logger, client, service: new MergeService(client, logger), manager: new WorktreeManager(client, { logger }) };
}

/** A repository on `main` with `files`, and one instance created from `main` by the WorktreeManager. */
export async function instanceRepo(repos: TempRepos, files: Record<string, string> = { 'README.md': '# test\n' }, title = 'task'): Promise<MergeFixture> {
  const repoRoot = repos.create({ files });
  const clients = makeClients();
  const created = await clients.manager.create({ repoRoot, title });
  return { ...clients, repoRoot, worktreePath: created.path, branch: created.branch, baseRef: 'main' };
}

/** HEAD, index (with stages) and every file's content of a work tree: what "restores exactly" compares. */
export function exactState(worktree: string): string {
  const files = snapshot(worktree).filter((f) => f !== '.git' && !f.startsWith(`.git${path.sep}`));
  return [
    git(worktree, 'rev-parse', 'HEAD'),
    git(worktree, 'symbolic-ref', '-q', 'HEAD'),
    git(worktree, 'ls-files', '-s'),
    ...files.map((f) => `${f}\n${fs.readFileSync(path.join(worktree, f)).toString('base64')}`),
  ].join('\n');
}

/** Refs, worktrees and config plus the exact state of each given work tree. */
export function wholeState(repoRoot: string, ...worktrees: string[]): string {
  return [repoState(repoRoot), ...worktrees.map(exactState)].join('\n===\n');
}

export function rejectsBlocked(code: MergeProblemCode, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof MergeBlockedError, `expected a MergeBlockedError, got ${String(err)}`);
    assert.ok(err.problems.some((p) => p.code === code), `expected ${code}, got ${err.problems.map((p) => p.code).join(', ')}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  };
}

export function rejectsGit(code: GitErrorCode, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof GitError, `expected a GitError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

export function read(root: string, rel: string): string {
  return fs.readFileSync(path.join(root, rel), 'utf8');
}

export function parents(cwd: string, rev: string): string[] {
  return git(cwd, 'rev-list', '--parents', '-n', '1', rev).split(' ').slice(1);
}

/** Deterministic PRNG (mulberry32) for the randomised tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
