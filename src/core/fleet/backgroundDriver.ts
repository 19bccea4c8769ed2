/**
 * The background driver of a repository: one detached Grove process (started by `grove dispatch --detach`) that
 * drives queued work and its agents after the shell that asked for it has gone, and exits when nothing is left.
 * Its files live in `<git common dir>/grove/driver/`:
 *
 * - `driver.json` — the registration: the live driver's identity (pid + host + start time, as every driver records
 *   on its instances). Created with `wx`, so at most one driver per repository; a registration whose process is
 *   dead is broken by renaming it away first (atomic), never by overwriting a live one.
 * - `inbox/<name>.json` — a dispatch asked of the driver (tasks and options), written atomically. The driver takes
 *   it by renaming it to `<name>.taken` (one taker only) and answers with `inbox/<name>.result.json`.
 * - `driver.log` — the driver's stdout and stderr.
 *
 * Everything else between the driver and other processes is the ordinary ownership protocol (ownership.ts): its
 * instances record it as their driver (kind `daemon`); stop and follow-up requests reach it through the mailbox.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentMode, DriverIdentity, InstanceSnapshot } from '../model';
import { groveDir } from '../paths';
import { liveness, localProbe, type ProcessProbe } from '../platform/processes';
import type { PermissionMode } from '../settings';
import type { TaskSpec } from './ports';

export interface DriverPaths {
  dir: string;
  registration: string;
  inbox: string;
  log: string;
}

export function driverPaths(commonDir: string): DriverPaths {
  const dir = path.join(groveDir(commonDir), 'driver');
  return { dir, registration: path.join(dir, 'driver.json'), inbox: path.join(dir, 'inbox'), log: path.join(dir, 'driver.log') };
}

/** A dispatch asked of the background driver. */
export interface DriverDispatch {
  tasks: TaskSpec[];
  baseRef?: string;
  mode?: AgentMode;
  model?: string;
  permissionMode?: PermissionMode;
  lead?: string;
}

export type DriverAnswer =
  | { ok: true; driver: DriverIdentity; instances: InstanceSnapshot[]; warnings: string[] }
  | { ok: false; driver: DriverIdentity; error: string; reason?: string };

/** The live registered driver, if any. */
export function registeredDriver(commonDir: string, probe: ProcessProbe = localProbe): DriverIdentity | undefined {
  const r = readJson<DriverIdentity>(driverPaths(commonDir).registration);
  return r && typeof r.pid === 'number' && liveness(r, probe) !== 'dead' ? r : undefined;
}

/** Registers `self` as the repository's driver; false when another live driver is registered. */
export function claimDriver(commonDir: string, self: DriverIdentity, probe: ProcessProbe = localProbe): boolean {
  const { dir, registration } = driverPaths(commonDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(registration, JSON.stringify(self), { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readJson<DriverIdentity>(registration);
    if (holder && liveness(holder, probe) !== 'dead') return isSelf(holder, self);
    // A dead driver's registration (or an unreadable one): move it aside atomically, then try once more.
    const aside = `${registration}.${randomUUID().slice(0, 8)}.stale`;
    try {
      fs.renameSync(registration, aside);
      fs.rmSync(aside, { force: true });
    } catch {
      // Someone else broke it first.
    }
  }
  return false;
}

/** Removes the registration if it is `self`'s. */
export function releaseDriver(commonDir: string, self: DriverIdentity): void {
  const { registration } = driverPaths(commonDir);
  const holder = readJson<DriverIdentity>(registration);
  if (holder && isSelf(holder, self)) fs.rmSync(registration, { force: true });
}

/** Writes a dispatch into the inbox; returns its name. */
export function postDispatch(commonDir: string, request: DriverDispatch): string {
  const { inbox } = driverPaths(commonDir);
  fs.mkdirSync(inbox, { recursive: true, mode: 0o700 });
  const name = `${Date.now()}.${randomUUID().slice(0, 8)}`;
  const tmp = path.join(inbox, `.${name}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(request), { mode: 0o600 });
  fs.renameSync(tmp, path.join(inbox, `${name}.json`));
  return name;
}

/** Names of dispatches nobody took yet, oldest first. */
export function pendingDispatches(commonDir: string): string[] {
  try {
    return fs.readdirSync(driverPaths(commonDir).inbox)
      .filter((n) => n.endsWith('.json') && !n.endsWith('.result.json') && !n.startsWith('.'))
      .map((n) => n.slice(0, -'.json'.length))
      .sort();
  } catch {
    return [];
  }
}

/** Takes a dispatch (only one process can); undefined when another took it or it was withdrawn. */
export function takeDispatch(commonDir: string, name: string): DriverDispatch | undefined {
  const { inbox } = driverPaths(commonDir);
  const taken = path.join(inbox, `${name}.taken`);
  try {
    fs.renameSync(path.join(inbox, `${name}.json`), taken);
  } catch {
    return undefined;
  }
  const request = readJson<DriverDispatch>(taken);
  fs.rmSync(taken, { force: true });
  return request && Array.isArray(request.tasks) ? request : undefined;
}

/** The driver's answer to a dispatch it took. */
export function answerDispatch(commonDir: string, name: string, answer: DriverAnswer): void {
  const { inbox } = driverPaths(commonDir);
  const tmp = path.join(inbox, `.${name}.result.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(answer), { mode: 0o600 });
  fs.renameSync(tmp, path.join(inbox, `${name}.result.json`));
}

/** Reads and removes the answer to a dispatch, once there. */
export function takeAnswer(commonDir: string, name: string): DriverAnswer | undefined {
  const file = path.join(driverPaths(commonDir).inbox, `${name}.result.json`);
  const answer = readJson<DriverAnswer>(file);
  if (answer) fs.rmSync(file, { force: true });
  return answer;
}

/** Removes a dispatch nobody took yet; false when a driver already took it. */
export function withdrawDispatch(commonDir: string, name: string): boolean {
  try {
    fs.rmSync(path.join(driverPaths(commonDir).inbox, `${name}.json`));
    return true;
  } catch {
    return false;
  }
}

function isSelf(a: DriverIdentity, b: DriverIdentity): boolean {
  return a.pid === b.pid && a.host === b.host && a.startTime === b.startTime;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
