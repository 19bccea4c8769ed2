// The generated repository the benchmarks share: `files` small files in 10 × 10 nested folders
// (pkg<a>/mod<b>/file<c>.ts), one commit on `main`. Each benchmark may choose a file's content and what else the
// repository holds (a .gitignore, an untracked `.env`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A committer identity, so a bench commits on a machine that has none. */
export const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid' };

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: gitEnv, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

export interface RepoOptions {
  files: number;
  /** The content of file number n at pkg<a>/mod<b>/file<c>.ts (default: two lines naming n). */
  content?: (n: number, a: number, b: number, c: number) => string;
  /** A .gitignore committed with the files. */
  gitignore?: string;
}

/** Writes `<root>/repo` and commits it; returns the repository's path and every file's relative path, in order. */
export function generateRepo(root: string, opts: RepoOptions): { repo: string; all: string[] } {
  const repo = path.join(root, 'repo');
  const all: string[] = [];
  const content = opts.content ?? ((n) => `// file ${n}\nexport const v${n} = ${n};\n`);
  let n = 0;
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) {
      const dir = path.join(repo, `pkg${a}`, `mod${b}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let c = 0; c < opts.files / 100; c++) {
        const rel = `pkg${a}/mod${b}/file${c}.ts`;
        fs.writeFileSync(path.join(repo, rel), content(n, a, b, c));
        all.push(rel);
        n++;
      }
    }
  }
  if (opts.gitignore !== undefined) fs.writeFileSync(path.join(repo, '.gitignore'), opts.gitignore);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'generated');
  return { repo, all };
}
