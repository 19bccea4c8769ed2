/**
 * The conflict radar kept current for a fleet: a repository is scanned again (see {@link ConflictRadar}) when one of
 * its agents ends a turn, when an agent comes, goes or is merged, and when a host says its base moved (a ref
 * changed) — events only, no timer. Scans of a repository never overlap: changes during a scan make one more scan
 * after it. Every surface reads the same per-instance answer: {@link RadarWatch.of}.
 */
import { ConflictRadar, overlapsOf, type RadarAgent, type RadarResult } from '../git/radar';
import type { GitClient } from '../git/gitClient';
import type { InstanceSnapshot } from '../model';
import { Disposable } from '../util/disposable';
import { pathKey } from '../util/fsPaths';
import { Emitter, type Event } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { isActive } from './instance';
import type { InstancesChange } from './fleet';

/** Another agent whose changes touch the same files (`conflict`: merging both would conflict). */
export interface Overlap {
  id: string;
  title: string;
  files: string[];
  conflict: boolean;
  conflictFiles: string[];
}

/** What the radar says about one instance. */
export interface InstanceRadar {
  overlaps: Overlap[];
  /** Files its base also changed since they parted (present when there are any). */
  base?: { ref: string; files: string[]; conflict: boolean; conflictFiles: string[] };
}

/** Two agents that are both at work started changing the same files (seen by the scan after they did). */
export interface OverlapStarted {
  repoRoot: string;
  /** The two instances, the one that started later second. */
  a: InstanceSnapshot;
  b: InstanceSnapshot;
  files: string[];
  conflict: boolean;
}

export interface RadarSource {
  instances(): InstanceSnapshot[];
  readonly onDidChangeInstances: Event<InstancesChange>;
}

/** The instances the radar looks at: they have a worktree that is still there and are not waiting to start. */
export function radarCandidates(instances: readonly InstanceSnapshot[], repoRoot: string): InstanceSnapshot[] {
  return instances.filter((s) => s.repoRoot === repoRoot && !!s.worktreePath && !!s.branch && !!s.baseRef && !s.archived && s.state !== 'queued' && s.state !== 'provisioning');
}

/** The per-instance view of a scan. Pure. */
export function radarOf(result: RadarResult, inst: Pick<InstanceSnapshot, 'id' | 'baseRef'>, titles: ReadonlyMap<string, string>): InstanceRadar {
  const overlaps = overlapsOf(result, inst.id).map((o) => ({ ...o, title: titles.get(o.id) ?? o.id }));
  const b = result.againstBase.find((x) => x.id === inst.id);
  return { overlaps, ...(b && b.files.length ? { base: { ref: inst.baseRef, files: b.files, conflict: b.conflict, conflictFiles: b.conflictFiles } } : {}) };
}

/** One scan of a repository's agents, for a one-shot reader (`grove status --json`). */
export async function scanOnce(git: GitClient, instances: readonly InstanceSnapshot[], repoRoot: string, logger?: Logger): Promise<Map<string, InstanceRadar>> {
  const radar = new ConflictRadar(git, { logger });
  try {
    const list = radarCandidates(instances, repoRoot);
    const result = await radar.scan(repoRoot, list.map((s) => toAgent(s, false)));
    const titles = new Map(list.map((s) => [s.id, s.title]));
    return new Map(list.filter((s) => !result.errors.some((e) => e.id === s.id)).map((s) => [s.id, radarOf(result, s, titles)]));
  } finally {
    await radar.dispose();
  }
}

function toAgent(s: InstanceSnapshot, unchanged: boolean): RadarAgent {
  return { id: s.id, worktreePath: s.worktreePath, branch: s.branch, baseRef: s.baseRef, ...(unchanged ? { unchanged } : {}) };
}

export class RadarWatch extends Disposable {
  private readonly _onDidChange = this._register(new Emitter<{ repoRoot: string; ids: string[] }>());
  /** A repository's answers changed (`ids`: the instances whose answer is different). */
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidStartOverlap = this._register(new Emitter<OverlapStarted>());
  /** Two active agents began to touch the same files (once per pair, until they no longer overlap). */
  readonly onDidStartOverlap = this._onDidStartOverlap.event;
  /** Per repository: the overlapping pairs of active agents at the last scan (`a\0b`). */
  private readonly activePairs = new Map<string, Set<string>>();
  private readonly radar: ConflictRadar;
  private readonly logger: Logger;
  private readonly results = new Map<string, InstanceRadar>();
  /** Per instance: what it looked like at the last event (a turn ends when it stops being active). */
  private readonly seen = new Map<string, { active: boolean; endedAt?: number; merged: boolean; archived: boolean; repoRoot: string }>();
  /** Per instance: idle since the scan that read it (its worktree is not read again). */
  private readonly idleAtScan = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Per repository: when its last scan started (Date.now()). */
  private readonly lastScanAt = new Map<string, number>();
  /** Per repository: a scan for file events, held until {@link fileScanEveryMs} after the last one. */
  private readonly held = new Map<string, { timer: ReturnType<typeof setTimeout>; done: Promise<void>; resolve: () => void }>();
  private readonly fileScanEveryMs: number;
  private cleaned?: Promise<void>;

  /**
   * `fileScanEveryMs`: file events scan a repository at most this often (default 5 s), so agents writing all the time
   * do not keep the radar scanning back to back; turn ends, a moved base and agents coming or going scan at once.
   */
  constructor(private readonly source: RadarSource, git: GitClient, options: { logger?: Logger; tmpDir?: string; fileScanEveryMs?: number } = {}) {
    super();
    this.logger = options.logger ?? nullLogger;
    this.fileScanEveryMs = options.fileScanEveryMs ?? 5000;
    this.radar = new ConflictRadar(git, { logger: this.logger, tmpDir: options.tmpDir });
    this._register({
      dispose: () => {
        for (const h of this.held.values()) {
          clearTimeout(h.timer);
          h.resolve();
        }
        this.held.clear();
        // After the scans under way: a scan queued in the radar would otherwise make its private objects again.
        void this.cleanup();
      },
    });
    for (const s of source.instances()) this.seen.set(s.id, this.facts(s));
    this._register(source.onDidChangeInstances((c) => this.instancesChanged(c)));
  }

  /** The radar's last answer for an instance (undefined until its repository was scanned). */
  of(id: string): InstanceRadar | undefined {
    return this.results.get(id);
  }

  /** The base of a repository (or a worktree's files, outside any turn) changed: scan it again, every worktree read. */
  baseMoved(repoRoot: string): Promise<void> {
    for (const s of this.source.instances()) if (s.repoRoot === repoRoot) this.idleAtScan.delete(s.id);
    return this.schedule(repoRoot);
  }

  /**
   * Files changed in these worktrees (a host's file events; no ref moved): the agents on them are read again at the
   * next scan — how overlaps between agents still at work are seen before their turns end. That scan runs now, or
   * when {@link fileScanEveryMs} have passed since the last one started (one timer, only while events come);
   * resolves when the answers are current.
   */
  worktreesChanged(repoRoot: string, worktreePaths: readonly string[]): Promise<void> {
    const keys = new Set(worktreePaths.map((p) => pathKey(p)));
    const hit = this.source.instances().filter((s) => s.repoRoot === repoRoot && s.worktreePath && keys.has(pathKey(s.worktreePath)));
    if (!hit.length || this.isDisposed) return Promise.resolve();
    for (const s of hit) this.idleAtScan.delete(s.id);
    const held = this.held.get(repoRoot);
    if (held) return held.done;
    const wait = (this.lastScanAt.get(repoRoot) ?? -Infinity) + this.fileScanEveryMs - Date.now();
    if (wait <= 0 && !this.running.has(repoRoot)) return this.schedule(repoRoot);
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(() => {
      this.held.delete(repoRoot);
      void this.schedule(repoRoot).then(resolve, resolve);
    }, Math.max(0, wait));
    this.held.set(repoRoot, { timer, done, resolve });
    return done;
  }

  /** Scans a repository now (after the scan under way, if any); resolves when its answers are current. */
  refresh(repoRoot: string): Promise<void> {
    return this.schedule(repoRoot);
  }

  /** Stops watching and removes the radar's private objects (awaited: a CLI exits right after). */
  async close(): Promise<void> {
    this.dispose();
    await this.cleanup();
  }

  private cleanup(): Promise<void> {
    this.cleaned ??= Promise.allSettled([...this.running.values()]).then(() => this.radar.dispose());
    return this.cleaned;
  }

  /** Resolves when no scan is under way or due. */
  async whenIdle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }

  private facts(s: InstanceSnapshot) {
    return { active: isActive(s.state), endedAt: s.endedAt, merged: !!s.merge, archived: !!s.archived, repoRoot: s.repoRoot };
  }

  private instancesChanged(c: InstancesChange): void {
    const due = new Set<string>();
    for (const s of c.changed) {
      const before = this.seen.get(s.id);
      const now = this.facts(s);
      this.seen.set(s.id, now);
      if (now.active) this.idleAtScan.delete(s.id);
      const turnEnded = !!before && before.active && !now.active;
      const appeared = !before && !!s.worktreePath;
      const merged = !!before && !before.merged && now.merged;
      const archived = !!before && !before.archived && now.archived;
      if (turnEnded || appeared || merged || archived || (!!before && before.endedAt !== now.endedAt)) due.add(s.repoRoot);
      // A merge moved the base: every agent of the repository is read again.
      if (merged) for (const o of this.source.instances()) if (o.repoRoot === s.repoRoot) this.idleAtScan.delete(o.id);
    }
    for (const id of c.removed) {
      const before = this.seen.get(id);
      this.seen.delete(id);
      this.idleAtScan.delete(id);
      if (before) due.add(before.repoRoot);
    }
    for (const repoRoot of due) void this.schedule(repoRoot);
  }

  private schedule(repoRoot: string): Promise<void> {
    if (this.isDisposed) return Promise.resolve();
    const current = this.running.get(repoRoot);
    if (current) {
      this.again.add(repoRoot);
      return current.then(() => this.running.get(repoRoot));
    }
    const run = (async () => {
      do {
        this.again.delete(repoRoot);
        await this.scan(repoRoot);
      } while (this.again.has(repoRoot) && !this.isDisposed);
    })().finally(() => this.running.delete(repoRoot));
    this.running.set(repoRoot, run);
    return run;
  }

  private async scan(repoRoot: string): Promise<void> {
    this.lastScanAt.set(repoRoot, Date.now());
    // A scan held for file events is this one: it reads the same worktrees.
    const held = this.held.get(repoRoot);
    if (held) {
      clearTimeout(held.timer);
      this.held.delete(repoRoot);
    }
    try {
      await this.scanNow(repoRoot);
    } finally {
      held?.resolve();
    }
  }

  private async scanNow(repoRoot: string): Promise<void> {
    const list = radarCandidates(this.source.instances(), repoRoot);
    const agents = list.map((s) => toAgent(s, this.idleAtScan.has(s.id)));
    let result: RadarResult;
    try {
      result = await this.radar.scan(repoRoot, agents);
    } catch (err) {
      if (!this.isDisposed) this.logger.warn(`radar ${repoRoot}: ${(err as Error).message}`);
      return;
    }
    if (this.isDisposed) return;
    for (const s of list) if (!isActive(s.state)) this.idleAtScan.add(s.id);
    const titles = new Map(list.map((s) => [s.id, s.title]));
    const failed = new Set(result.errors.map((e) => e.id));
    const changed: string[] = [];
    const keep = new Set<string>();
    for (const s of list) {
      if (failed.has(s.id)) continue;
      keep.add(s.id);
      const next = radarOf(result, s, titles);
      if (JSON.stringify(next) !== JSON.stringify(this.results.get(s.id))) changed.push(s.id);
      this.results.set(s.id, next);
    }
    for (const [id] of this.results) {
      const s = this.seen.get(id);
      if ((!s || s.repoRoot === repoRoot) && !keep.has(id)) {
        this.results.delete(id);
        changed.push(id);
      }
    }
    if (changed.length) this._onDidChange.fire({ repoRoot, ids: changed });
    this.reportStartedOverlaps(repoRoot, list, result);
  }

  private reportStartedOverlaps(repoRoot: string, list: readonly InstanceSnapshot[], result: RadarResult): void {
    const byId = new Map(list.map((s) => [s.id, s]));
    const before = this.activePairs.get(repoRoot) ?? new Set<string>();
    const now = new Set<string>();
    for (const p of result.pairs) {
      const a = byId.get(p.a);
      const b = byId.get(p.b);
      if (!a || !b || !isActive(a.state) || !isActive(b.state)) continue;
      const key = `${p.a}\0${p.b}`;
      now.add(key);
      if (before.has(key)) continue;
      const [first, second] = (a.startedAt ?? a.createdAt) <= (b.startedAt ?? b.createdAt) ? [a, b] : [b, a];
      this._onDidStartOverlap.fire({ repoRoot, a: first, b: second, files: p.files, conflict: p.conflict });
    }
    this.activePairs.set(repoRoot, now);
  }
}
