/**
 * The ownership protocol between Grove processes (VS Code windows, `grove` CLIs, MCP servers) that share a
 * repository's registry.
 *
 * 1. **One driver.** An instance that is queued, provisioning or has a live agent records the process that drives
 *    it ({@link DriverIdentity}: pid + host + process start time, so a reused pid is not mistaken for it). Only the
 *    driver changes it. A finished instance has no driver: whoever acts on it next becomes its driver.
 * 2. **Requests.** Another process that wants to stop it or send it a follow-up posts a request file into
 *    `<git common dir>/grove/requests/` ({@link RequestMailbox}). Every driver watches that folder and honours the
 *    requests for the instances it drives at once (and checks for a stop request right before starting a queued
 *    instance), so a stop reaches the owner within the watcher's latency (tens of milliseconds).
 * 3. **Dead drivers.** Every Grove process checks the drivers of the active instances it mirrors whenever the
 *    registry changes, and on a slow timer only while such instances exist. A driver that is verifiably dead (same
 *    host, and its pid is gone or now belongs to a process started at another time) leaves its instances
 *    `interrupted` (Resume offered) and their slots free; background agents it left behind are ended (they report
 *    to nobody). A terminal agent whose process lives is left alone: a VS Code window re-attaches it.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DriverIdentity, InstanceSnapshot } from '../model';
import { liveness, localProbe, type ProcessProbe } from '../platform/processes';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';
import { isOwned } from './instance';

export type RequestKind = 'stop' | 'followUp' | 'resume';

export interface InstanceRequest {
  /** The file name, unique. */
  file: string;
  instanceId: string;
  kind: RequestKind;
  prompt?: string;
  from: DriverIdentity;
  at: number;
}

/** Requests older than this are dropped by whoever sees them (their sender has long given up waiting). */
const REQUEST_TTL_MS = 60 * 60 * 1000;

/** The request folder of one repository. */
export class RequestMailbox extends Disposable {
  readonly dir: string;
  private readonly _onDidPost = this._register(new Emitter<string>());
  /** An instance id with new requests (fired for every process's posts, ours included). */
  readonly onDidPost = this._onDidPost.event;
  private watcher: fs.FSWatcher | undefined;
  private readonly logger: Logger;

  constructor(groveDir: string, options: { logger?: Logger } = {}) {
    super();
    this.dir = path.join(groveDir, 'requests');
    this.logger = options.logger ?? nullLogger;
    this._register(Disposable.from(() => this.watcher?.close()));
  }

  /** Writes a request atomically (write, then rename into the folder). */
  post(instanceId: string, kind: RequestKind, from: DriverIdentity, prompt?: string): InstanceRequest {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const at = Date.now();
    const file = `${safeId(instanceId)}.${at}.${randomUUID().slice(0, 8)}.json`;
    const request: InstanceRequest = { file, instanceId, kind, from, at, ...(prompt !== undefined ? { prompt } : {}) };
    const tmp = path.join(this.dir, `.${file}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(request), { mode: 0o600 });
    fs.renameSync(tmp, path.join(this.dir, file));
    return request;
  }

  /** The requests waiting for an instance, oldest first (without removing them). */
  peek(instanceId: string): InstanceRequest[] {
    const prefix = `${safeId(instanceId)}.`;
    const out: InstanceRequest[] = [];
    for (const name of this.names()) {
      if (!name.startsWith(prefix)) continue;
      const r = this.read(name);
      if (r && r.instanceId === instanceId) out.push(r);
    }
    return out.sort((a, b) => a.at - b.at || a.file.localeCompare(b.file));
  }

  /** Takes (reads and deletes) the requests of an instance, oldest first. A request another process took first is skipped. */
  take(instanceId: string): InstanceRequest[] {
    const taken: InstanceRequest[] = [];
    for (const r of this.peek(instanceId)) {
      try {
        fs.rmSync(path.join(this.dir, r.file));
        taken.push(r);
      } catch {
        // Taken by someone else meanwhile.
      }
    }
    return taken;
  }

  /** Removes one request (a sender cleaning up after its own request went unanswered). True if it was still there. */
  withdraw(request: InstanceRequest): boolean {
    try {
      fs.rmSync(path.join(this.dir, request.file));
      return true;
    } catch {
      return false;
    }
  }

  /** Instance ids that have requests waiting; expired requests are removed on the way. */
  pendingInstances(): string[] {
    const ids = new Set<string>();
    for (const name of this.names()) {
      const r = this.read(name);
      if (!r) continue;
      if (Date.now() - r.at > REQUEST_TTL_MS) {
        fs.rmSync(path.join(this.dir, name), { force: true });
        continue;
      }
      ids.add(r.instanceId);
    }
    return [...ids];
  }

  /** Starts watching the folder (no polling). Idempotent. */
  watch(): void {
    if (this.watcher || this.isDisposed) return;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.watcher = fs.watch(this.dir, (_event, filename) => {
      const name = filename?.toString();
      if (name && (name.startsWith('.') || !name.endsWith('.json'))) return;
      const ids = name ? [this.read(name)?.instanceId].filter((x): x is string => !!x) : this.pendingInstances();
      for (const id of ids) this._onDidPost.fire(id);
    });
    this.watcher.on('error', (err) => this.logger.warn(`request watcher for ${this.dir} failed: ${err.message}`));
  }

  private names(): string[] {
    try {
      return fs.readdirSync(this.dir).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    } catch {
      return [];
    }
  }

  private read(name: string): InstanceRequest | undefined {
    try {
      const r = JSON.parse(fs.readFileSync(path.join(this.dir, name), 'utf8')) as InstanceRequest;
      return typeof r.instanceId === 'string' && (r.kind === 'stop' || r.kind === 'followUp' || r.kind === 'resume') ? { ...r, file: name } : undefined;
    } catch {
      return undefined;
    }
  }
}

function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9-]/g, '_');
}

/** "the grove CLI (pid 1234)", "a VS Code window (pid 99)" — for messages. */
export function describeDriver(d: DriverIdentity): string {
  const what = d.kind === 'vscode' ? 'a VS Code window' : d.kind === 'mcp' ? 'a grove MCP server' : d.kind === 'daemon' ? 'the grove background driver' : d.kind === 'test' ? 'a test process' : 'a grove CLI';
  return `${what} (pid ${d.pid}${d.host ? ` on ${d.host}` : ''})`;
}

export type Orphan = { instance: InstanceSnapshot; why: string; endAgent: boolean };

/**
 * Which mirrored instances lost their driver: active or queued, not driven by `self`, and whose driver is
 * verifiably dead. Instances from older Grove versions (no driver recorded) count as orphaned when the agent
 * process they name is gone. A terminal agent whose process still lives is not orphaned (a window re-attaches it).
 */
export function findOrphans(instances: readonly InstanceSnapshot[], isDrivenHere: (id: string) => boolean, probe: ProcessProbe = localProbe): Orphan[] {
  const out: Orphan[] = [];
  for (const s of instances) {
    if (!isOwned(s.state) || isDrivenHere(s.id)) continue;
    const agentAlive = s.agent ? liveness(s.agent, probe) !== 'dead' : false;
    if (!s.driver) {
      const legacyPid = (s as { pid?: unknown }).pid;
      const alive = typeof legacyPid === 'number' && probe.isAlive(legacyPid);
      if (!alive && !agentAlive) out.push({ instance: s, why: 'its driver is unknown and no agent process runs', endAgent: false });
      continue;
    }
    if (liveness(s.driver, probe) !== 'dead') continue;
    if (s.mode === 'terminal' && agentAlive) continue;
    out.push({ instance: s, why: `${describeDriver(s.driver)} ended while it drove this agent`, endAgent: agentAlive && s.mode !== 'terminal' });
  }
  return out;
}
