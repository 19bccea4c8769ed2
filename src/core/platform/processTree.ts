/**
 * Process trees: who belongs to an agent, and in which order to end them — one strategy per platform.
 *
 * A tree is read as a snapshot of the process table ({@link ProcessRow}: pid, parent, group, start time, and whether
 * the process carries the agent's environment marker) BEFORE anything is signalled: once a parent dies its children
 * are re-parented (POSIX: to init or a subreaper; Windows keeps a dangling parent id) and can no longer be found by
 * walking from the root. A pure planner ({@link planTreeKill}) turns a snapshot into actions:
 *
 * - linux, darwin: the root's process group and every group led by a member (`kill(-pgid)` also reaches processes
 *   forked after the snapshot), then each member outside those groups by pid (a `setsid` tool process, an orphan
 *   found by its marker). The snapshot comes from /proc on Linux (the marker from /proc/<pid>/environ) and from
 *   `ps -A -E` on macOS (the environment follows the command).
 * - win32: `taskkill /T /F /PID` on the root while it lives (it still knows its children), then on every member of
 *   the snapshot that is still alive — those whose parent died first are out of reach of /T. Children are matched
 *   by creation time too, since Windows keeps the parent id of a process whose parent is gone and reuses pids.
 *
 * Nothing here signals a process except {@link localTreeIo}, which the callers inject (tests give their own).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { darwinProcessTable, linuxProcessTable, processTableAsync, windowsProcessTable, type Marker, type ProcessRow } from './processTable';
import { linuxStartTime } from './processes';

export {
  darwinProcessTable, linuxProcessTable, parseLinuxStat, parsePsTable, parseWindowsTable, processTableAsync, windowsProcessTable, type Marker, type ProcessRow,
} from './processTable';

// ---- planning ------------------------------------------------------------------------------------------------

export type KillAction = { kind: 'group'; pgid: number } | { kind: 'pid'; pid: number } | { kind: 'taskkill'; pid: number };

export interface TreePlan {
  /** Every process of the tree, root first, then in breadth-first order. */
  members: ProcessRow[];
  /** In order. */
  actions: KillAction[];
}

export interface PlanOptions {
  /** Processes remembered from an earlier snapshot (pid → start time): still members when the start time matches. */
  known?: ReadonlyMap<number, string | undefined>;
  /** Never signalled, nor its group: this process. */
  self?: number;
  /** Windows: only rows created before this FILETIME can be children of a root that exited then. */
  rootExitedAt?: string;
  /**
   * Windows: the root was created after this FILETIME (taken just before it was spawned). Without it, or the root's
   * own start time, the children of a root that is gone cannot be told from those of an older process that had its
   * pid, and none is taken.
   */
  rootStartedAfter?: string;
}

/** Same start time, or at least one side unknown. */
function sameStart(a: string | undefined, b: string | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

/** Compares two decimal start-time tokens (`undefined` when either is unknown). */
function compareStart(a: string | undefined, b: string | undefined): number | undefined {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Decides what to signal, in which order, to end the tree of `root` on `platform`. Pure. */
export function planTreeKill(platform: NodeJS.Platform, table: readonly ProcessRow[], root: number, opts: PlanOptions = {}): TreePlan {
  return platform === 'win32' ? planWindows(table, root, opts) : planPosix(table, root, opts);
}

function never(row: ProcessRow, self: number | undefined): boolean {
  return row.pid <= 1 || row.pid === self;
}

function planPosix(table: readonly ProcessRow[], root: number, opts: PlanOptions): TreePlan {
  const selfRow = table.find((r) => r.pid === opts.self);
  const selfGroup = selfRow?.pgid;
  const children = new Map<number, ProcessRow[]>();
  for (const r of table) children.set(r.ppid, [...(children.get(r.ppid) ?? []), r]);
  // A process that got the root's pid after the root exited (its start time differs) is not the root, and the group
  // it may lead is not the root's group.
  const rootRow = table.find((r) => r.pid === root);
  const rootReused = rootRow !== undefined && !sameStart(opts.known?.get(root), rootRow.startTime);
  const ownGroup = (g: number | undefined) => g === root && !rootReused;
  const seeds = table.filter(
    (r) =>
      !never(r, opts.self) &&
      ((r.pid === root && !rootReused) || ownGroup(r.pgid) || r.marked === true ||
        (r.pid !== root && opts.known?.has(r.pid) === true && sameStart(opts.known.get(r.pid), r.startTime))),
  );
  const members = closure(seeds, (r) => (children.get(r.pid) ?? []).filter((c) => !never(c, opts.self)));
  // Sorted root first (the order of the closure), the root itself at the head when present.
  members.sort((a, b) => (a.pid === root ? -1 : b.pid === root ? 1 : 0));
  const memberPids = new Set(members.map((m) => m.pid));
  const groups: number[] = [];
  for (const m of members) {
    const g = m.pgid;
    if (g === undefined || g <= 1 || g === selfGroup || g === opts.self || groups.includes(g)) continue;
    // Only a group the tree owns: the root's, or one whose leader is a member.
    if (ownGroup(g) || memberPids.has(g)) groups.push(g);
  }
  const actions: KillAction[] = groups.map((pgid) => ({ kind: 'group', pgid }));
  for (const m of members) if (m.pgid === undefined || !groups.includes(m.pgid)) actions.push({ kind: 'pid', pid: m.pid });
  return { members, actions };
}

function planWindows(table: readonly ProcessRow[], root: number, opts: PlanOptions): TreePlan {
  const byParent = new Map<number, ProcessRow[]>();
  for (const r of table) byParent.set(r.ppid, [...(byParent.get(r.ppid) ?? []), r]);
  const rootRow = table.find((r) => r.pid === root);
  const knownRoot = opts.known?.get(root);
  // A row with the root's pid but another start time is a new process that reused the pid: not ours.
  const liveRoot = rootRow && sameStart(knownRoot, rootRow.startTime) && !never(rootRow, opts.self) ? rootRow : undefined;
  const rootStart = liveRoot?.startTime ?? knownRoot ?? opts.rootStartedAfter;
  const childrenOf = (parent: { pid: number; startTime?: string }, exitedAt?: string) =>
    (byParent.get(parent.pid) ?? []).filter(
      (c) =>
        c.pid !== parent.pid &&
        !never(c, opts.self) &&
        // A child is created after its parent (and before the parent, if it has exited, was gone).
        compareStart(c.startTime, parent.startTime) !== -1 &&
        (exitedAt === undefined || compareStart(c.startTime, exitedAt) !== 1),
    );
  const seeds: ProcessRow[] = [];
  if (liveRoot) seeds.push(liveRoot);
  else if (rootStart !== undefined) seeds.push(...childrenOf({ pid: root, startTime: rootStart }, opts.rootExitedAt));
  for (const r of table) {
    if (r.pid !== root && !never(r, opts.self) && opts.known?.has(r.pid) && sameStart(opts.known.get(r.pid), r.startTime)) seeds.push(r);
  }
  const members = closure(seeds, (r) => childrenOf(r));
  return { members, actions: members.map((m) => ({ kind: 'taskkill', pid: m.pid })) };
}

/** Breadth-first closure of `seeds` under `next`, each pid once. */
function closure(seeds: ProcessRow[], next: (r: ProcessRow) => ProcessRow[]): ProcessRow[] {
  const seen = new Set<number>();
  const out: ProcessRow[] = [];
  const queue = [...seeds];
  while (queue.length) {
    const r = queue.shift()!;
    if (seen.has(r.pid)) continue;
    seen.add(r.pid);
    out.push(r);
    queue.push(...next(r));
  }
  return out;
}

// ---- doing it ------------------------------------------------------------------------------------------------

/** What a {@link ProcessTree} needs from the machine; tests inject their own. */
export interface TreeIo {
  platform: NodeJS.Platform;
  /** A snapshot of the process table, with `marked` set for `marker`. */
  table(marker?: Marker): ProcessRow[];
  /** The same without blocking (default: {@link table}). */
  tableAsync?(marker?: Marker): Promise<ProcessRow[]>;
  /** POSIX: `process.kill` (a negative pid is a group). False when there was nothing to signal. */
  kill(target: number, signal: NodeJS.Signals): boolean;
  /** Windows: `taskkill /T /F /PID pid`, synchronously. */
  taskkill(pid: number): void;
  isAlive(pid: number): boolean;
  /** The start-time token of a live pid (to not signal a process that reused a remembered pid). */
  startTime(pid: number): string | undefined;
  /** Now, as a start-time token comparable with the table's (Windows FILETIME); undefined elsewhere. */
  now(): string | undefined;
  readonly self: number;
}

export const localTreeIo: TreeIo = {
  platform: process.platform,
  table: (marker) => (process.platform === 'linux' ? linuxProcessTable(marker) : process.platform === 'win32' ? windowsProcessTable() : darwinProcessTable(marker)),
  tableAsync: (marker) => processTableAsync(marker),
  kill: (target, signal) => {
    try {
      process.kill(target, signal);
      return true;
    } catch {
      return false; // gone (ESRCH), or not ours (EPERM)
    }
  },
  taskkill: (pid) => {
    try {
      spawnSync('taskkill', ['/T', '/F', '/PID', String(pid)], { windowsHide: true, stdio: 'ignore', timeout: 15_000 });
    } catch {
      /* gone */
    }
  },
  isAlive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  startTime: (pid) => {
    if (process.platform !== 'linux') return undefined;
    try {
      return linuxStartTime(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return undefined;
    }
  },
  now: () => (process.platform === 'win32' ? String(BigInt(Date.now()) * 10_000n + 116_444_736_000_000_000n) : undefined),
  self: process.pid,
};

/**
 * The tree of one root process. {@link snapshot} remembers its members; every {@link signal} reads the table again,
 * adds what it finds to what it remembers (a member that was re-parented is still one), plans, and acts.
 */
export class ProcessTree {
  private readonly known = new Map<number, string | undefined>();
  private rootExitedAt: string | undefined;

  constructor(
    readonly root: number,
    private readonly marker?: Marker,
    private readonly io: TreeIo = localTreeIo,
    /** See {@link PlanOptions.rootStartedAfter}: `io.now()` taken just before the root was spawned. */
    private readonly rootStartedAfter?: string,
  ) {}

  /** Reads the table and remembers every member of the tree. */
  snapshot(): TreePlan {
    return this.remember(this.io.table(this.marker));
  }

  /** {@link snapshot} without blocking the event loop. */
  async snapshotAsync(): Promise<TreePlan> {
    return this.remember(this.io.tableAsync ? await this.io.tableAsync(this.marker) : this.io.table(this.marker));
  }

  private remember(table: ProcessRow[]): TreePlan {
    const plan = planTreeKill(this.io.platform, table, this.root, this.planOptions());
    for (const m of plan.members) this.known.set(m.pid, m.startTime);
    return plan;
  }

  /** The root has exited (Windows: bounds the creation time of the children it can have had). */
  rootExited(): void {
    this.rootExitedAt ??= this.io.now();
  }

  /** Remembered members (pids). */
  get members(): number[] {
    return [...this.known.keys()];
  }

  /**
   * Signals the whole tree. POSIX: groups, then the members outside them. Windows (any signal): taskkill of the root
   * while it lives, then of every member still alive.
   */
  signal(sig: NodeJS.Signals): KillAction[] {
    return this.act(this.snapshot(), sig);
  }

  /** {@link signal} with a snapshot read without blocking. */
  async signalAsync(sig: NodeJS.Signals): Promise<KillAction[]> {
    return this.act(await this.snapshotAsync(), sig);
  }

  private act(plan: TreePlan, sig: NodeJS.Signals): KillAction[] {
    const done: KillAction[] = [];
    for (const a of plan.actions) {
      if (a.kind === 'group') {
        if (this.io.kill(-a.pgid, sig)) done.push(a);
      } else if (a.kind === 'pid') {
        if (this.stillSame(a.pid) && this.io.kill(a.pid, sig)) done.push(a);
      } else if (this.stillSame(a.pid)) {
        this.io.taskkill(a.pid);
        done.push(a);
      }
    }
    return done;
  }

  /**
   * Signals the root and the remembered members without reading the table again (a host exiting: on Windows a
   * table costs a PowerShell start per agent). POSIX: the root's group too.
   */
  signalKnown(sig: NodeJS.Signals): void {
    if (this.io.platform === 'win32') {
      if (this.io.isAlive(this.root)) this.io.taskkill(this.root);
      for (const p of this.alive()) if (p !== this.root) this.io.taskkill(p);
      return;
    }
    if (this.root !== this.io.self) this.io.kill(-this.root, sig);
    for (const p of this.alive()) if (p !== this.io.self) this.io.kill(p, sig);
  }

  /** Remembered members still running (same start time where it can be read). */
  alive(): number[] {
    return this.members.filter((p) => this.stillSame(p));
  }

  private stillSame(pid: number): boolean {
    if (!this.io.isAlive(pid)) return false;
    const was = this.known.get(pid);
    return sameStart(was, was === undefined ? undefined : this.io.startTime(pid));
  }

  private planOptions(): PlanOptions {
    return {
      known: this.known,
      self: this.io.self,
      ...(this.rootExitedAt ? { rootExitedAt: this.rootExitedAt } : {}),
      ...(this.rootStartedAfter ? { rootStartedAfter: this.rootStartedAfter } : {}),
    };
  }
}
