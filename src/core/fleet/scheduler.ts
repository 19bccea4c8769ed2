/**
 * The rules that decide whether a queued instance may start now, besides a free slot — the same in every process
 * (they read the shared registry):
 * - **Rate limits.** While an agent of the same account is `paused` by a rate or usage limit, no new agent of that
 *   account starts ("rate limited until 14:05"); the queue goes on when the limit resets.
 * - **Fleet budget** (`fleetBudgetUsd`, per repository and local day): an agent starts only while today's spend plus
 *   the expected cost of the agents running now and of this one stays within it. The expected cost of one agent is
 *   its `maxBudgetUsd` when set, else the average of today's finished agents; until one finished, agents start one at
 *   a time. An agent that starts gets at most what is left as `--max-budget-usd`.
 * - **Memory** (`minFreeMemoryMb`): an agent starts only while the machine has that much memory available.
 * Each rule says when to look again (a reset time, the next local midnight, a few seconds for memory) so nothing
 * polls unless something waits.
 */
import type { InstanceSnapshot } from '../model';
import type { GroveSettings } from '../settings';
import { localDay } from '../util/localDay';
import { isActive, isFinished } from './instance';

export interface StartDecision {
  /** Why it must wait (shown on its row), if it must. */
  wait?: string;
  /** Look again after this long (only with `wait`). */
  retryMs?: number;
  /** The `--max-budget-usd` of the agent that starts (the remaining fleet budget, at most its own cap). */
  maxBudgetUsd?: number;
  /** The account it will run on. */
  account?: string;
}

export interface SchedulerOptions {
  settings(repoRoot: string): Pick<GroveSettings, 'fleetBudgetUsd' | 'minFreeMemoryMb' | 'maxBudgetUsd'>;
  /** Available memory in MB (undefined: unknown, the rule is skipped). */
  memory(): number | undefined;
  /** The account (a hash of endpoint and credentials) an instance's agent runs on. */
  account(s: InstanceSnapshot): string | undefined;
  now?: () => number;
}

const MEMORY_RETRY_MS = 5000;

export class Scheduler {
  private readonly now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether `s` may start now, given every instance this process knows. */
  decide(s: InstanceSnapshot, all: readonly InstanceSnapshot[]): StartDecision {
    const now = this.now();
    const account = this.options.account(s);
    const settings = this.options.settings(s.repoRoot);

    // A pause whose resume time is not set yet (its agent is still exiting) holds the account too.
    const limitedUntil = all
      .filter((i) => i.state === 'paused' && (i.pausedUntil === undefined || i.pausedUntil > now) && (account === undefined || i.account === account))
      .reduce((m, i) => Math.max(m, i.pausedUntil ?? now + 1000), 0);
    if (limitedUntil) return { wait: `rate limited until ${clock(limitedUntil)}`, retryMs: limitedUntil - now, account };

    let maxBudgetUsd = settings.maxBudgetUsd;
    const budget = settings.fleetBudgetUsd;
    if (budget !== undefined) {
      const today = localDay(now);
      const mine = all.filter((i) => i.repoRoot === s.repoRoot && i.id !== s.id);
      const spent = mine.reduce((n, i) => n + (i.spend?.[today] ?? 0), 0);
      const finished = mine.filter((i) => isFinished(i.state) && (i.spend?.[today] ?? 0) > 0);
      const running = mine.filter((i) => isActive(i.state));
      const estimate = settings.maxBudgetUsd ?? (finished.length ? finished.reduce((n, i) => n + i.spend![today]!, 0) / finished.length : 0);
      // What the running agents are still expected to spend on top of what they already did today.
      const reserved = running.reduce((n, i) => n + Math.max(0, estimate - (i.spend?.[today] ?? 0)), 0);
      const left = budget - spent - reserved;
      const wait = left <= 1e-9 || (estimate > 0 ? left + 1e-9 < estimate : running.length > 0);
      if (wait) {
        const why = !estimate && running.length && left > 0 ? ' (one agent at a time until the cost of one is known)' : '';
        return { wait: `budget: ${usd(spent)} of ${usd(budget)} spent today${why}`, retryMs: untilMidnight(now), account };
      }
      maxBudgetUsd = Math.min(maxBudgetUsd ?? Infinity, left);
    }

    const need = settings.minFreeMemoryMb;
    if (need > 0) {
      const free = this.options.memory();
      if (free !== undefined && free < need) return { wait: `memory: ${Math.round(free)} MB free, ${need} MB needed`, retryMs: MEMORY_RETRY_MS, account };
    }
    return { ...(maxBudgetUsd !== undefined ? { maxBudgetUsd: Math.round(maxBudgetUsd * 100) / 100 } : {}), account };
  }

  /** Today's spend and budget of a repository, for the status bar. */
  budget(repoRoot: string, all: readonly InstanceSnapshot[]): { spent: number; budget?: number } {
    const today = localDay(this.now());
    const spent = all.filter((i) => i.repoRoot === repoRoot).reduce((n, i) => n + (i.spend?.[today] ?? 0), 0);
    return { spent, budget: this.options.settings(repoRoot).fleetBudgetUsd };
  }
}

/** Exponential backoff of a rate-limited agent without a reset time: 30 s, 1, 2, 4, 8 min, then every 15 min. Pure. */
export function rateLimitBackoffMs(attempt: number, baseMs = 30_000): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), 15 * 60_000);
}

function clock(t: number): string {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}${t - Date.now() < 60_000 ? `:${String(d.getSeconds()).padStart(2, '0')}` : ''}`;
}

function usd(n: number): string {
  return `$${n.toFixed(2)}`;
}

function untilMidnight(now: number): number {
  const d = new Date(now);
  d.setHours(24, 0, 0, 0);
  return d.getTime() - now;
}
