/**
 * Persistence of a repository's instances in `<git common dir>/grove/instances.json`, shared by every VS Code
 * window (process) that has the repository open.
 *
 * - Atomic: every write goes to a temporary file in the same folder, is flushed, then renamed over the file, so a
 *   reader never sees half a file.
 * - Safe against concurrent writers in other processes: a write holds an exclusive lock file
 *   (`instances.json.lock`, created with `open(…, 'wx')`, holding pid, host and time). A lock whose process is dead
 *   (same host) or that is older than `staleLockMs` is broken. Under the lock the writer reads the file, merges its
 *   pending changes per instance id (the newer `updatedAt` wins, removals are kept as tombstones so another
 *   window cannot resurrect a removed instance with an older snapshot) and writes the result. No writer loses
 *   another's entries.
 * - Writes within a process are serialised and coalesced: snapshots upserted while a write is in flight go out
 *   together in the next one.
 * - `watch()` observes the folder (fs.watch, debounced, no polling) and fires `onDidChange` when another process
 *   changed the file.
 * - A corrupt file is copied to `instances.json.<time>.bak`, reported through `onDidReportCorruption` and the
 *   logger, and replaced on the next write by the merge of this process's last good view and its pending changes.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { InstanceSnapshot } from '../model';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import type { ProcessProbe } from '../platform/processes';
import { LockTimeoutError, withFileLock } from '../util/fileLock';

export const REGISTRY_FOLDER = 'grove';
export const REGISTRY_FILE = 'instances.json';
/** Tombstones of removed instances are forgotten after this long. */
const TOMBSTONE_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export interface RegistryOptions {
  logger?: Logger;
  /** Give up acquiring the lock after this long (default 10 s). */
  lockTimeoutMs?: number;
  /** A lock older than this is considered abandoned (default 30 s; a write holds it for milliseconds). */
  staleLockMs?: number;
  /** Debounce of watcher-driven reloads (default 100 ms). */
  debounceMs?: number;
  /** Liveness of a lock owner (default: this machine's processes). */
  probe?: ProcessProbe;
}

/** What another process left in the file: its instances and the ids removed (tombstones). */
export interface RegistryContents {
  instances: InstanceSnapshot[];
  removed: string[];
}

export interface RegistryCorruption {
  file: string;
  /** Where the unreadable content was kept. */
  backup: string;
  reason: string;
}

/** On-disk shape. */
interface RegistryFileContent {
  version: 1;
  instances: Record<string, InstanceSnapshot>;
  /** id → time of removal. */
  removed: Record<string, number>;
}

/** The registry of one repository. Create one per git common dir; `dispose()` stops the watcher. */
export class InstanceRegistry extends Disposable {
  readonly dir: string;
  readonly file: string;
  readonly lockFile: string;

  private readonly _onDidChange = this._register(new Emitter<RegistryContents>());
  /** Fires with all instances after another process changed the file (never for this registry's own writes). */
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidReportCorruption = this._register(new Emitter<RegistryCorruption>());
  readonly onDidReportCorruption = this._onDidReportCorruption.event;

  private readonly logger: Logger;
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly debounceMs: number;
  private readonly probe: ProcessProbe | undefined;

  /** Last good content seen on disk (read or written by us). */
  private known: RegistryFileContent = emptyContent();
  /** Raw text last read or written. */
  private lastText: string | undefined;
  /**
   * Raw text whose content this process has seen as a whole: written by it, returned by `read()`, or fired as
   * `onDidChange`. The watcher fires for anything else, even when a read or a write of ours (which merges another
   * process's changes) came first — comparing with the last text read would swallow that change.
   */
  private delivered: string | undefined;
  /** Raw text of the last corrupt content already backed up, so it is reported once. */
  private lastCorruptText: string | undefined;

  private pending = new Map<string, InstanceSnapshot>();
  private pendingRemovals = new Map<string, number>();
  private scheduled: Promise<void> | undefined;
  private tail: Promise<void> = Promise.resolve();
  private watcher: fs.FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(commonDir: string, options: RegistryOptions = {}) {
    super();
    this.dir = path.join(commonDir, REGISTRY_FOLDER);
    this.file = path.join(this.dir, REGISTRY_FILE);
    this.lockFile = `${this.file}.lock`;
    this.logger = options.logger ?? nullLogger;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.staleLockMs = options.staleLockMs ?? 30_000;
    this.debounceMs = options.debounceMs ?? 100;
    this.probe = options.probe;
    this._register(Disposable.from(() => this.unwatch()));
  }

  /** Reads the file (without the lock: renames are atomic). A missing file is an empty registry. */
  async read(): Promise<InstanceSnapshot[]> {
    const content = await this.readContent();
    this.delivered = this.lastText;
    return Object.values(content.instances);
  }

  /** Instances as last read or written by this registry, without touching the disk. */
  cached(): InstanceSnapshot[] {
    return Object.values(this.known.instances);
  }

  /** Persists snapshots (merged per id, newer `updatedAt` wins). Resolves once they are on disk. */
  upsert(snapshots: InstanceSnapshot | readonly InstanceSnapshot[]): Promise<void> {
    for (const s of Array.isArray(snapshots) ? snapshots : [snapshots as InstanceSnapshot]) {
      const prev = this.pending.get(s.id);
      if (!prev || s.updatedAt >= prev.updatedAt) this.pending.set(s.id, { ...s });
      this.pendingRemovals.delete(s.id);
    }
    return this.schedule();
  }

  /** Removes instances (kept as tombstones so an older snapshot from another window cannot bring them back). */
  remove(ids: readonly string[], now: number = Date.now()): Promise<void> {
    for (const id of ids) {
      this.pending.delete(id);
      this.pendingRemovals.set(id, now);
    }
    return this.schedule();
  }

  /** Resolves when every change handed in so far is written. */
  flush(): Promise<void> {
    return this.scheduled ?? this.tail;
  }

  /** Starts watching the folder for changes by other processes. Idempotent. */
  watch(): void {
    if (this.watcher || this.isDisposed) return;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.watcher = fs.watch(this.dir, (_event, filename) => {
      // Some platforms give no file name; then any change in the folder may concern us.
      if (filename && filename.toString() !== REGISTRY_FILE) return;
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.reloadFromWatcher(), this.debounceMs);
    });
    this.watcher.on('error', (err) => this.logger.warn(`registry watcher for ${this.file} failed: ${err.message}`));
  }

  private unwatch(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async reloadFromWatcher(): Promise<void> {
    if (this.isDisposed) return;
    try {
      const content = await this.readContent();
      if (this.lastText === this.delivered || this.isDisposed) return;
      this.delivered = this.lastText;
      this._onDidChange.fire({ instances: Object.values(content.instances), removed: Object.keys(content.removed) });
    } catch (err) {
      this.logger.warn(`registry reload of ${this.file} failed: ${(err as Error).message}`);
    }
  }

  private schedule(): Promise<void> {
    if (!this.scheduled) {
      const run = this.tail.then(() => {
        this.scheduled = undefined;
        return this.writeOnce();
      });
      this.scheduled = run;
      this.tail = run.catch(() => undefined);
    }
    return this.scheduled;
  }

  private async writeOnce(): Promise<void> {
    const upserts = this.pending;
    const removals = this.pendingRemovals;
    this.pending = new Map();
    this.pendingRemovals = new Map();
    if (upserts.size === 0 && removals.size === 0) return;
    /** What another process changed and this write merged: fired once written (the watcher will not see it). */
    let merged: RegistryFileContent | undefined;
    try {
      await this.withLock(async () => {
        const content = await this.readContent();
        if (this.lastText !== undefined && this.lastText !== this.delivered) merged = structuredClone(content);
        const now = Date.now();
        for (const [id, at] of removals) {
          delete content.instances[id];
          content.removed[id] = Math.max(at, content.removed[id] ?? 0);
        }
        for (const s of upserts.values()) {
          const removedAt = content.removed[s.id];
          if (removedAt !== undefined && removedAt >= s.updatedAt) continue;
          if (removedAt !== undefined) delete content.removed[s.id];
          const existing = content.instances[s.id];
          if (!existing || s.updatedAt >= existing.updatedAt) content.instances[s.id] = s;
        }
        for (const [id, at] of Object.entries(content.removed)) {
          if (now - at > TOMBSTONE_TTL_MS) delete content.removed[id];
        }
        const text = `${JSON.stringify(content, null, 1)}\n`;
        await writeAtomic(this.file, text);
        this.known = content;
        this.lastText = text;
        this.delivered = text;
      });
      if (merged && !this.isDisposed) this._onDidChange.fire({ instances: Object.values(merged.instances), removed: Object.keys(merged.removed) });
    } catch (err) {
      // Put the changes back (unless superseded meanwhile) so the next write retries them.
      for (const [id, s] of upserts) if (!this.pending.has(id) && !this.pendingRemovals.has(id)) this.pending.set(id, s);
      for (const [id, at] of removals) if (!this.pending.has(id) && !this.pendingRemovals.has(id)) this.pendingRemovals.set(id, at);
      this.logger.error(`registry write to ${this.file} failed: ${(err as Error).message}`);
      throw err;
    }
  }

  /**
   * Reads and validates the file. Corrupt content is backed up and reported once; the result then falls back
   * to this process's last good view so nothing it knew is dropped by the next write.
   */
  private async readContent(): Promise<RegistryFileContent> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.lastText = undefined;
      return structuredClone(this.known);
    }
    const parsed = parseContent(text);
    if (parsed.ok) {
      this.known = parsed.content;
      this.lastText = text;
      if (parsed.dropped.length === 0) return structuredClone(parsed.content);
      await this.reportCorruption(text, `${parsed.dropped.length} invalid entr${parsed.dropped.length === 1 ? 'y' : 'ies'} skipped`);
      return structuredClone(parsed.content);
    }
    await this.reportCorruption(text, parsed.reason);
    this.lastText = text;
    return structuredClone(this.known);
  }

  private async reportCorruption(text: string, reason: string): Promise<void> {
    if (text === this.lastCorruptText) return;
    this.lastCorruptText = text;
    const backup = `${this.file}.${new Date().toISOString().replace(/[:.]/g, '-')}.${process.pid}.bak`;
    await fsp.writeFile(backup, text, { mode: 0o600 });
    this.logger.warn(`registry ${this.file} is corrupt (${reason}); kept as ${backup}`);
    this._onDidReportCorruption.fire({ file: this.file, backup, reason });
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withFileLock(this.lockFile, fn, { timeoutMs: this.lockTimeoutMs, staleMs: this.staleLockMs, unreadableGraceMs: 2000, probe: this.probe, logger: this.logger })
      .catch((err: unknown) => {
        if (err instanceof LockTimeoutError) throw new Error(`Timed out after ${this.lockTimeoutMs} ms waiting for the registry lock ${this.lockFile}`);
        throw err;
      });
  }
}

function emptyContent(): RegistryFileContent {
  return { version: 1, instances: {}, removed: {} };
}

type ParseResult = { ok: true; content: RegistryFileContent; dropped: unknown[] } | { ok: false; reason: string };

function parseContent(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (!isRecord(raw) || !isRecord(raw.instances)) return { ok: false, reason: 'no "instances" object' };
  const content = emptyContent();
  const dropped: unknown[] = [];
  for (const [id, value] of Object.entries(raw.instances)) {
    if (isRecord(value) && value.id === id && typeof value.state === 'string' && typeof value.updatedAt === 'number') {
      content.instances[id] = value as unknown as InstanceSnapshot;
    } else {
      dropped.push(value);
    }
  }
  if (isRecord(raw.removed)) {
    for (const [id, at] of Object.entries(raw.removed)) if (typeof at === 'number') content.removed[id] = at;
  }
  return { ok: true, content, dropped };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const handle = await fsp.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  // Windows refuses a rename over a file another process is reading for a moment (EPERM/EBUSY): retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.rename(tmp, file);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt >= 20 || (code !== 'EPERM' && code !== 'EBUSY' && code !== 'EACCES')) {
        await fsp.rm(tmp, { force: true });
        throw err;
      }
      await sleep(5 + attempt * 5);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
