/**
 * A full, comparable "fingerprint" of a worktree: everything a user could notice if Grove lost or changed it.
 * Two fingerprints are `deepEqual` exactly when the worktrees are the same byte for byte:
 *   - HEAD (branch or detached, and its commit), the last commits of HEAD (so they must still exist);
 *   - `git status --porcelain=v2 -z --branch --untracked-files=all` (upstream and ahead/behind included);
 *   - the index: `ls-files --stage` (all stages of a conflict), `ls-files -t -v` (skip-worktree/assume-unchanged
 *     tags), and `git diff --cached --binary` / `git diff --binary` (staged and unstaged patches, intent-to-add);
 *   - every file and symbolic link on disk outside `.git`: type, permission bits (POSIX), SHA-256 of the bytes,
 *     or the link target — ignored files included (pass `exclude` for the ones a test does not expect back);
 *   - the operation in progress (MERGE_HEAD, MERGE_MSG, rebase-merge/…, CHERRY_PICK_HEAD…) in the git dir;
 *   - `branch.*` config and the branch tips (`refs/heads/*`) of the repository.
 * It reads without taking git's optional locks, so taking a fingerprint changes nothing (not even index stat data).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gitTestEnv } from './repo';

export interface Fingerprint {
  head: string;
  log: string;
  status: string;
  stage: string;
  tags: string;
  staged: string;
  unstaged: string;
  files: Record<string, string>;
  state: Record<string, string>;
  branchConfig: string;
  branches: string;
}

export interface FingerprintOptions {
  /** Paths (relative, `/` separators) to leave out, e.g. `(p) => p.startsWith('node_modules/')`. */
  exclude?: (rel: string) => boolean;
  /** Skip permission bits (they do not exist on Windows). Default: compared on POSIX. */
  ignorePermissions?: boolean;
}

const STATE = ['MERGE_HEAD', 'MERGE_MSG', 'MERGE_MODE', 'MERGE_AUTOSTASH', 'AUTO_MERGE', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'REBASE_HEAD', 'ORIG_HEAD', 'SQUASH_MSG', 'rebase-merge', 'rebase-apply', 'sequencer'];

function run(cwd: string, args: string[], okStatus: number[] = [0]): string {
  try {
    return execFileSync('git', args, {
      cwd,
      env: { ...process.env, ...gitTestEnv, GIT_OPTIONAL_LOCKS: '0' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 << 20,
    });
  } catch (err) {
    const e = err as { status?: number; stdout?: string };
    if (e.status !== undefined && okStatus.includes(e.status)) return e.stdout ?? '';
    throw err;
  }
}

export function fingerprint(worktree: string, options: FingerprintOptions = {}): Fingerprint {
  const exclude = options.exclude ?? (() => false);
  const perms = !options.ignorePermissions && process.platform !== 'win32';
  const symbolic = run(worktree, ['symbolic-ref', '-q', 'HEAD'], [1]).trim();
  const sha = run(worktree, ['rev-parse', '-q', '--verify', 'HEAD'], [1]).trim();
  const files: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      if (name === '.git') continue;
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (exclude(r)) continue;
      const st = fs.lstatSync(abs);
      const mode = perms ? ` ${(st.mode & 0o7777).toString(8)}` : '';
      if (st.isSymbolicLink()) files[r] = `link -> ${fs.readlinkSync(abs)}`;
      else if (st.isDirectory()) walk(abs, r);
      else files[r] = `file${mode} ${st.size} ${crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex')}`;
    }
  };
  walk(worktree, '');
  const gitDir = run(worktree, ['rev-parse', '--path-format=absolute', '--git-dir']).trim();
  const state: Record<string, string> = {};
  const readState = (rel: string) => {
    const abs = path.join(gitDir, ...rel.split('/'));
    if (!fs.existsSync(abs)) return;
    if (fs.statSync(abs).isDirectory()) for (const c of fs.readdirSync(abs).sort()) readState(`${rel}/${c}`);
    else state[rel] = fs.readFileSync(abs, 'utf8');
  };
  for (const s of STATE) readState(s);
  return {
    head: symbolic ? `${symbolic} ${sha}` : `detached ${sha}`,
    log: sha ? run(worktree, ['log', '--format=%H %P %s', '-n', '50', 'HEAD', '--']) : '',
    status: run(worktree, ['status', '--porcelain=v2', '-z', '--branch', '--untracked-files=all']).split('\0').join('\n'),
    stage: run(worktree, ['ls-files', '--stage', '-z']).split('\0').join('\n'),
    tags: run(worktree, ['ls-files', '-t', '-v', '-z']).split('\0').join('\n'),
    staged: run(worktree, ['diff', '--cached', '--binary', '--no-ext-diff', '--no-textconv']),
    unstaged: run(worktree, ['diff', '--binary', '--no-ext-diff', '--no-textconv']),
    files,
    state,
    branchConfig: run(worktree, ['config', '--local', '--get-regexp', '^branch\\.'], [1]).split('\n').filter(Boolean).sort().join('\n'),
    branches: run(worktree, ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads']),
  };
}
