// Helpers for agent tests: temp folders, small git repos, the CLI env, and event collection.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentEvent } from '../../src/core/model';
import type { Event } from '../../src/core/util/event';
import { claudeBin, claudeEnv } from './claudeEnv';

export interface AgentSandbox {
  root: string;
  repo: string;
  env: Record<string, string>;
  configDir: string;
  logPath: string;
  cleanup(): void;
}

/** A temp folder with a committed git repo in `repo/` and CLI state in `cfg/`, `tmp/`. */
export function makeSandbox(baseUrl: string, files: Record<string, string> = { 'README.md': '# demo\n' }): AgentSandbox {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'grove-agent-')));
  const repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    fs.writeFileSync(path.join(repo, f), c);
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'init');
  const { env, configDir } = claudeEnv({ root, baseUrl });
  return { root, repo, env, configDir, logPath: path.join(root, 'logs', 'agent.jsonl'), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export const CLAUDE = () => claudeBin();

/** Collects events into an array. */
export function collect(event: Event<AgentEvent>): AgentEvent[] {
  const out: AgentEvent[] = [];
  event((e) => out.push(e));
  return out;
}

/** True while a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: any) {
    return err?.code === 'EPERM';
  }
}

/** Pids of live processes in process group `pgid` (POSIX, via ps). */
export function groupMembers(pgid: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length >= 3 && Number(c[1]) === pgid && !c[2].startsWith('Z'))
    .map((c) => Number(c[0]));
}

/** Live processes whose command line contains `marker`. */
export function processesMatching(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(marker) && !/^\s*\d+\s+Z/.test(l));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
