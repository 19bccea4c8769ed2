/**
 * Detached dispatch: the tasks go to the repository's background driver (fleet/backgroundDriver.ts), which is
 * started when none runs and reused when one does; the caller gets the queued instances at once and may exit.
 * The driver side is {@link serveAsDriver}: it dispatches what its inbox receives (through the ordinary dispatch
 * flow, so every rule of dispatch applies), drives the agents, and ends when nothing it drives can still run.
 */
import fs from 'node:fs';
import { GroveError } from '../errors';
import {
  answerDispatch, claimDriver, driverPaths, pendingDispatches, postDispatch, registeredDriver, releaseDriver, takeAnswer, takeDispatch, withdrawDispatch,
  type DriverAnswer, type DriverDispatch,
} from '../fleet/backgroundDriver';
import type { Grove } from '../grove';
import type { DriverIdentity, InstanceSnapshot } from '../model';
import { dispatch } from './dispatch';

export interface DetachedDispatchResult {
  instances: InstanceSnapshot[];
  warnings: string[];
  driver: DriverIdentity;
  /** The driver was started for this dispatch (false: a running one took it). */
  started: boolean;
  log: string;
}

export interface DetachOptions {
  /** Starts a driver process for the repository (the host knows how: the CLI spawns itself, detached). */
  startDriver(): void;
  /** How long the driver may take to answer (default 20 s). */
  timeoutMs?: number;
}

/** Hands the tasks to the background driver (starting one if needed) and returns the instances it queued. */
export async function dispatchDetached(g: Grove, repoRoot: string, request: DriverDispatch, options: DetachOptions): Promise<DetachedDispatchResult> {
  if (!g.trusted()) throw new GroveError('Untrusted', 'Grove starts no agents in an untrusted workspace. Trust the workspace first.');
  if (!request.tasks.length) throw new GroveError('InvalidInput', 'Nothing to dispatch: no tasks.');
  const commonDir = await g.commonDir(repoRoot);
  const { log } = driverPaths(commonDir);
  const name = postDispatch(commonDir, request);
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let started = false;
  let lastStart = 0;
  for (;;) {
    const answer: DriverAnswer | undefined = takeAnswer(commonDir, name);
    if (answer) {
      if (!answer.ok) throw new GroveError((answer.reason as never) ?? 'Failed', answer.error);
      return { instances: answer.instances, warnings: answer.warnings, driver: answer.driver, started, log };
    }
    // No live driver (none yet, or it exited while idle before it saw this dispatch): start one. A just-started
    // driver needs a moment to register itself.
    if (!registeredDriver(commonDir) && Date.now() - lastStart > 3000) {
      options.startDriver();
      started = true;
      lastStart = Date.now();
    }
    if (Date.now() > deadline) {
      const withdrawn = withdrawDispatch(commonDir, name);
      throw new GroveError('NoAnswer', withdrawn
        ? `The background driver did not take the dispatch within ${Math.round((options.timeoutMs ?? 20_000) / 1000)} s; nothing was dispatched. Its log: ${log}`
        : `The background driver took the dispatch but did not answer in time; \`grove status\` shows whether it queued the tasks. Its log: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface DriverServeOptions {
  /** How long the driver stays once idle (default 2 s): a dispatch arriving meanwhile is taken at once. */
  idleMs?: number;
  log?(message: string): void;
}

/**
 * Serves as the repository's background driver until nothing it drives can still run. Resolves 'another' at once
 * when a live driver is already registered (it takes the inbox), 'idle' after the driver released itself.
 */
export async function serveAsDriver(g: Grove, repoRoot: string, options: DriverServeOptions = {}): Promise<'idle' | 'another'> {
  const commonDir = await g.commonDir(repoRoot);
  if (!claimDriver(commonDir, g.self)) return 'another';
  const say = options.log ?? (() => undefined);
  say(`background driver ${g.self.pid} for ${repoRoot}`);
  const idleMs = options.idleMs ?? 2000;
  return new Promise((resolve) => {
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let chain = Promise.resolve();
    const busy = () => g.fleet.instances().some((s) => s.repoRoot === repoRoot && g.fleet.isDriving(s.id) && !(s.state === 'queued' && s.error?.startsWith('blocked:')));
    const serveInbox = () => {
      chain = chain.then(async () => {
        for (const name of pendingDispatches(commonDir)) {
          const req = takeDispatch(commonDir, name);
          if (!req) continue;
          try {
            // The person who ran `grove dispatch --detach` chose the permission mode (a flag or variable).
            const r = await dispatch(g, { repoRoot, ...req }, { confirmBypass: async () => true });
            say(`dispatched ${r.instances.map((i) => `${i.id.slice(0, 8)} "${i.title}"`).join(', ')}`);
            answerDispatch(commonDir, name, { ok: true, driver: g.self, instances: r.instances, warnings: r.warnings });
          } catch (err) {
            say(`refused a dispatch: ${(err as Error).message}`);
            answerDispatch(commonDir, name, { ok: false, driver: g.self, error: (err as Error).message, ...(GroveError.is(err) ? { reason: err.reason } : {}) });
          }
        }
      }).finally(check);
    };
    const check = () => {
      clearTimeout(idleTimer);
      // An agent's process exits a moment after its last state change: while busy, look again in a second too.
      idleTimer = busy() ? setTimeout(check, 1000) : setTimeout(tryExit, idleMs);
    };
    const tryExit = () => {
      if (busy()) return;
      releaseDriver(commonDir, g.self);
      // A dispatch posted while the registration was being removed: serve it (unless another driver took over).
      if (pendingDispatches(commonDir).length && claimDriver(commonDir, g.self)) return serveInbox();
      sub.dispose();
      watcher.close();
      say('idle: nothing left to drive; exiting');
      resolve('idle');
    };
    const sub = g.fleet.onDidChangeInstances(check);
    const watcher = watchInbox(driverPaths(commonDir).inbox, serveInbox);
    serveInbox();
  });
}

function watchInbox(dir: string, onChange: () => void): { close(): void } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const w = fs.watch(dir, (_e, f) => {
    const n = f?.toString();
    if (!n || (n.endsWith('.json') && !n.endsWith('.result.json') && !n.startsWith('.'))) onChange();
  });
  w.on('error', () => undefined);
  return w;
}
