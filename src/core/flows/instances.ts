/**
 * The operations on one instance every surface offers: find it, follow up, stop, resume, switch mode. Each works
 * whichever process drives the instance (see fleet/ownership.ts): this process acts itself when it drives the
 * instance or nobody does, and otherwise asks the driver through a request and waits for its answer.
 */
import fs from 'node:fs';
import { GroveError } from '../errors';
import { continuationPrompt } from '../fleet/continuation';
import { isOwned, isFinished } from '../fleet/instance';
import { describeDriver } from '../fleet/ownership';
import type { Grove } from '../grove';
import type { AgentMode, DriverIdentity, InstanceSnapshot } from '../model';
import { liveness } from '../platform/processes';

/** How long a request to another process may take before the caller is told it went unanswered. */
const ANSWER_MS = 4000;

/**
 * An instance by full id, unique id prefix (4+ characters), or exact title (case-insensitive; the newest when several
 * share it), within `repoRoot` when given. @throws GroveError NotFound / Ambiguous.
 */
export function findInstance(g: Grove, ref: string, repoRoot?: string): InstanceSnapshot {
  const all = g.fleet.instances().filter((s) => repoRoot === undefined || s.repoRoot === repoRoot);
  const exact = all.find((s) => s.id === ref);
  if (exact) return exact;
  const key = ref.trim().toLowerCase();
  const byPrefix = key.length >= 4 ? all.filter((s) => s.id.startsWith(key)) : [];
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byPrefix.length > 1) {
    throw new GroveError('Ambiguous', `"${ref}" matches ${byPrefix.length} instances: ${byPrefix.map((s) => `${s.id.slice(0, 8)} ${s.title}`).join(', ')}; give more of the id.`);
  }
  const byTitle = all.filter((s) => s.title.trim().toLowerCase() === key).sort((a, b) => b.createdAt - a.createdAt);
  if (byTitle.length) return byTitle[0]!;
  throw new GroveError('NotFound', `No instance "${ref}"${repoRoot ? ` in ${repoRoot}` : ''}.`);
}

export function requireInstance(g: Grove, id: string): InstanceSnapshot {
  const s = g.fleet.get(id);
  if (!s) throw new GroveError('NotFound', `No instance ${id}; it may have been removed.`);
  return s;
}

/** Who drives an instance now: 'here', another live (or unreachable) process, or nobody (finished, or its driver died). */
export async function ownerOf(g: Grove, id: string): Promise<{ kind: 'here' } | { kind: 'other'; driver: DriverIdentity } | { kind: 'none' }> {
  if (g.fleet.isDriving(id)) return { kind: 'here' };
  let s = requireInstance(g, id);
  if (!(isOwned(s.state))) return { kind: 'none' };
  if (s.driver && liveness(s.driver) !== 'dead') return { kind: 'other', driver: s.driver };
  await g.fleet.reconcile(s.repoRoot);
  s = requireInstance(g, id);
  if ((isOwned(s.state)) && s.driver) return { kind: 'other', driver: s.driver };
  return { kind: 'none' };
}

export interface FollowUpResult {
  instance: InstanceSnapshot;
  /** sent: typed into the live session; queued: kept for the turn under way; started: a new turn started here; requested: handed to the process that drives it. */
  outcome: 'sent' | 'queued' | 'started' | 'requested';
  /** The process that drives it, when `requested`. */
  driver?: DriverIdentity;
  /** Sentence for the person. */
  message: string;
}

/** One more turn in the instance's session, whoever drives it. A follow-up is never dropped. */
export async function followUp(g: Grove, id: string, prompt: string): Promise<FollowUpResult> {
  const text = prompt.trim();
  if (!text) throw new GroveError('InvalidInput', 'The follow-up is empty.');
  const owner = await ownerOf(g, id);
  let s = requireInstance(g, id);
  if (owner.kind === 'other') {
    const { request, mailbox } = await g.fleet.request(id, 'followUp', text);
    if (!(await until(() => !mailbox.peek(id).some((r) => r.file === request.file), ANSWER_MS))) {
      if (mailbox.withdraw(request)) throw new GroveError('NoAnswer', `"${s.title}" is driven by ${describeDriver(owner.driver)}, which did not take the follow-up within ${ANSWER_MS / 1000} s; nothing was sent.`);
    }
    return { instance: requireInstance(g, id), outcome: 'requested', driver: owner.driver, message: `"${s.title}" is driven by ${describeDriver(owner.driver)}: it got the follow-up and sends it to the agent (at once, or when its current turn ends).` };
  }
  if (owner.kind === 'none') {
    if (!s.worktreePath) throw new GroveError('NotFound', `"${s.title}" has no worktree to follow up in.`);
    if (!g.trusted()) throw new GroveError('Untrusted', 'Grove starts no agents in an untrusted workspace.');
    s = switchForHost(g, s);
  }
  const outcome = g.fleet.followUpHere(id, text);
  const messages = {
    sent: `Sent to "${s.title}".`,
    queued: `"${s.title}" is in the middle of a turn: the follow-up is kept and sent when the turn ends.`,
    started: `"${s.title}" continues its session with the follow-up.`,
  };
  return { instance: requireInstance(g, id), outcome, message: messages[outcome] };
}

export interface StopResult {
  instance: InstanceSnapshot;
  /** What was done, for the person. */
  message: string;
}

/** Stops an instance, whichever process drives it. A queued instance never starts. */
export async function stop(g: Grove, id: string): Promise<StopResult> {
  const owner = await ownerOf(g, id);
  const before = requireInstance(g, id);
  if (owner.kind === 'here') {
    await g.fleet.stopHere(id);
    return { instance: requireInstance(g, id), message: `Stopped "${before.title}".` };
  }
  if (owner.kind === 'none') {
    const s = requireInstance(g, id);
    return { instance: s, message: before.state !== s.state ? `"${s.title}" was ${s.state}: the process that drove it had ended.` : `"${s.title}" was already ${s.state}.` };
  }
  if (liveness(owner.driver) === 'dead') {
    // Its driver is gone but its agent lives (a terminal session): nobody can be asked, so end it here.
    await g.fleet.stopOrphan(id);
    return { instance: requireInstance(g, id), message: `Stopped "${before.title}" (${describeDriver(owner.driver)}, which drove it, had ended).` };
  }
  const { request, mailbox } = await g.fleet.request(id, 'stop');
  const stopped = await until(() => {
    const s = g.fleet.get(id);
    return !s || !(isOwned(s.state));
  }, ANSWER_MS);
  const s = requireInstance(g, id);
  if (!stopped) {
    const withdrawn = mailbox.withdraw(request);
    throw new GroveError('NoAnswer', `Asked ${describeDriver(owner.driver)} to stop "${s.title}", but it did not record it within ${ANSWER_MS / 1000} s${withdrawn ? '; the request was withdrawn' : ''}.`);
  }
  return { instance: s, message: `${describeDriver(owner.driver)} stopped "${s.title}" (${s.state}).` };
}

/**
 * Continues an interrupted, stopped or failed instance in its session (or queues it again if it never got a
 * worktree); a `paused` one (rate limited) resumes now instead of at its reset time — whichever process drives it.
 */
export async function resume(g: Grove, id: string): Promise<InstanceSnapshot> {
  const owner = await ownerOf(g, id);
  let s = requireInstance(g, id);
  if (s.state === 'paused') {
    if (owner.kind === 'here') g.fleet.resumeHere(id);
    else if (owner.kind === 'none') {
      // Its driver is gone: this process continues the session now.
      if (!g.trusted()) throw new GroveError('Untrusted', 'Grove starts no agents in an untrusted workspace.');
      switchForHost(g, s);
      g.fleet.resumeHere(id);
    } else {
      const { request, mailbox } = await g.fleet.request(id, 'resume');
      if (!(await until(() => g.fleet.get(id)?.state !== 'paused', ANSWER_MS))) {
        mailbox.withdraw(request);
        throw new GroveError('NoAnswer', `Asked ${describeDriver(owner.driver)} to resume "${s.title}" now, but it did not within ${ANSWER_MS / 1000} s.`);
      }
    }
    return requireInstance(g, id);
  }
  if (owner.kind !== 'none') throw new GroveError('Busy', `"${s.title}" is ${s.state}${owner.kind === 'other' ? ` in ${describeDriver(owner.driver)}` : ''}: nothing to resume.`);
  if (!isFinished(s.state) || s.state === 'done') throw new GroveError('InvalidInput', `"${s.title}" is ${s.state}: Resume continues a stopped, failed or interrupted agent; use Follow Up for a new request.`);
  if (!g.trusted()) throw new GroveError('Untrusted', 'Grove starts no agents in an untrusted workspace.');
  s = switchForHost(g, s);
  g.fleet.resumeHere(id);
  return requireInstance(g, id);
}

/**
 * Take Over: the background session continues in a terminal (stopping its running turn first when `stopFirst`).
 * Hand Back: the terminal session is ended and continues in the background with the next follow-up.
 */
export async function switchMode(g: Grove, id: string, mode: AgentMode, options: { stopFirst?: boolean } = {}): Promise<InstanceSnapshot> {
  let s = requireInstance(g, id);
  if (mode === 'terminal' && !s.sessionId) throw new GroveError('InvalidInput', `"${s.title}" has no session yet.`);
  if (mode === 'background' && s.profile !== 'claude') throw new GroveError('NotSupported', `"${s.title}" runs ${s.profile}, which has no background mode.`);
  if (isOwned(s.state)) {
    if (!options.stopFirst) throw new GroveError('Busy', `"${s.title}" is ${s.state}: stop it first.`);
    await stop(g, id);
    s = requireInstance(g, id);
  }
  g.fleet.setMode(id, mode);
  return requireInstance(g, id);
}

/** A host without terminals (the CLI) continues a terminal-mode Claude session in the background. */
function switchForHost(g: Grove, s: InstanceSnapshot): InstanceSnapshot {
  if (s.mode === 'terminal' && !g.capabilities.terminal) {
    if (s.profile !== 'claude') throw new GroveError('NotSupported', `"${s.title}" runs ${s.profile} in a VS Code terminal; continue it from VS Code.`);
    g.fleet.setMode(s.id, 'background');
    return requireInstance(g, s.id);
  }
  return s;
}

function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (check()) return resolve(true);
    const deadline = Date.now() + timeoutMs;
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve(true);
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        resolve(false);
      }
    }, 25);
  });
}

/** Take Over: the background session continues interactively in a terminal (VS Code), without a new prompt. */
export async function takeOver(g: Grove, id: string, options: { stopFirst?: boolean } = {}): Promise<InstanceSnapshot> {
  if (!g.capabilities.terminal) throw new GroveError('NotSupported', 'Taking over a session needs a VS Code terminal.');
  await switchMode(g, id, 'terminal', options);
  g.fleet.followUpHere(id, '');
  return requireInstance(g, id);
}

/**
 * Continue in a Fresh Session: a new session in the same worktree whose first prompt carries the original task, a
 * bounded summary of the previous session and the worktree's changes so far (after its context was exhausted).
 */
export async function continueInFreshSession(g: Grove, id: string): Promise<InstanceSnapshot> {
  const owner = await ownerOf(g, id);
  let s = requireInstance(g, id);
  if (owner.kind !== 'none') throw new GroveError('Busy', `"${s.title}" is ${s.state}: stop it first.`);
  if (!s.worktreePath) throw new GroveError('NotFound', `"${s.title}" has no worktree to continue in.`);
  if (!g.trusted()) throw new GroveError('Untrusted', 'Grove starts no agents in an untrusted workspace.');
  s = switchForHost(g, s);
  let log = '';
  try {
    log = await fs.promises.readFile(await g.logPath(s), 'utf8');
  } catch {
    // No transcript: the prompt says so.
  }
  g.fleet.continueFresh(id, await continuationPrompt(g.git, s, log));
  return requireInstance(g, id);
}
