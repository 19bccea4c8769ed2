/** Real processes for lock-owner tests: one that lives until killed, one that has ended. */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { processStartTime, type ProcessIdentity } from '../../../../src/core/platform/processes';

export interface LiveProcess {
  identity: ProcessIdentity;
  kill(): Promise<void>;
}

export async function liveProcess(): Promise<LiveProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  const pid = child.pid!;
  const startTime = processStartTime(pid);
  return {
    identity: { pid, host: os.hostname(), ...(startTime !== undefined ? { startTime } : {}) },
    kill: () => ended(child),
  };
}

/** The identity of a process that ran and has exited. */
export async function deadProcess(): Promise<ProcessIdentity> {
  const p = await liveProcess();
  await p.kill();
  return p.identity;
}

function ended(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
