/**
 * Grove's core for one process: the git client, worktree and merge engines, the fleet, settings and trust, built the
 * same way for every host. A composition root (the extension's `activate`, the CLI's `main`) creates exactly one
 * and hands it to the flows (core/flows), which implement every user operation once.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { killAgentGroup } from './agents/processControl';
import type { AgentPort } from './agents/port';
import { Fleet } from './fleet/fleet';
import { continuationPrompt } from './fleet/continuation';
import { RadarWatch } from './fleet/radarWatch';
import { PoolKeeper } from './fleet/poolKeeper';
import { Scheduler } from './fleet/scheduler';
import { worktreePort } from './fleet/worktreePort';
import { GitClient } from './git/gitClient';
import { listIgnoredWork } from './git/ignoredFiles';
import { MergeService } from './git/mergeService';
import { Snapshots, type SnapshotsOptions } from './git/snapshots';
import { WorktreeManager } from './git/worktreeManager';
import type { DriverKind, DriverIdentity, InstanceSnapshot } from './model';
import { instanceLogPath } from './paths';
import { availableMemoryMb } from './platform/memory';
import { currentProcess, liveness, localProbe, type ProcessIdentity, type ProcessProbe } from './platform/processes';
import type { GroveSettings } from './settings';
import { Disposable } from './util/disposable';
import { nullLogger, type Logger } from './util/logger';

/** The parts a host's agent port is built from. */
export interface GroveParts {
  git: GitClient;
  worktrees: WorktreeManager;
  settings(repoRoot: string): GroveSettings;
  logPath(instance: InstanceSnapshot): string;
  agentEnv(instance: InstanceSnapshot): Record<string, string | undefined>;
  logger: Logger;
}

export interface GroveHost {
  kind: DriverKind;
  logger?: Logger;
  /** The settings of a repository (VS Code: resource-scoped configuration; CLI: flags and environment). */
  settings(repoRoot: string): GroveSettings;
  /** Workspace Trust: false means no agents, setup or check commands. The CLI is always trusted (the user runs it). */
  trusted(): boolean;
  /** What the host can run: terminal agents need VS Code. */
  capabilities?: { terminal: boolean };
  /** Builds the host's agent port (background agents, and terminals in VS Code). */
  agents(parts: GroveParts): AgentPort;
  onWorktreeCreated?(repoRoot: string): void;
  /** Spares of the warm pool were created or removed. */
  onSparesChanged?(repoRoot: string): void;
  onSetupOutput?(title: string, chunk: string): void;
  /** Extra environment of every git call (tests). */
  gitEnv?: Record<string, string>;
  probe?: ProcessProbe;
  /** Ends a background agent left behind by a dead driver (default: its process group, once its identity is checked). */
  endOrphanAgent?(agent: ProcessIdentity): Promise<void>;
  fleet?: { orphanCheckMs?: number; activityWriteMs?: number; newId?: () => string; now?: () => number; backoffMs?: (attempt: number) => number };
  /** Available memory in MB (default: this machine's; tests inject their own). */
  memory?: () => number | undefined;
  /** Tests: the clock, the size limit, and a hook run at each step of recording (to slow or fail one). */
  snapshots?: Pick<SnapshotsOptions, 'now' | 'sizeLimitBytes' | 'onStep'>;
  /** Tests: how often file events may scan a repository's conflict radar (see {@link RadarWatch}). */
  radar?: { fileScanEveryMs?: number };
}

export class Grove extends Disposable {
  readonly git: GitClient;
  readonly worktrees: WorktreeManager;
  readonly merges: MergeService;
  /** Snapshots before destructive steps (Recently Removed) and checkpoints; see flows/restore. */
  readonly snapshots: Snapshots;
  readonly fleet: Fleet;
  readonly agents: AgentPort;
  readonly self: DriverIdentity;
  readonly logger: Logger;
  /** The start rules besides the cap: rate limits per account, the daily budget, free memory. */
  readonly scheduler: Scheduler;
  /** Keeps the warm worktree pool (`grove.worktreePool`) filled while idle. */
  readonly pool: PoolKeeper;
  private readonly commonDirs = new Map<string, string>();
  private radarWatch?: RadarWatch;
  private readonly pendingCheckpoints = new Set<Promise<void>>();
  private readonly checkpointChains = new Map<string, Promise<void>>();

  constructor(private readonly host: GroveHost) {
    super();
    this.logger = host.logger ?? nullLogger;
    const probe = host.probe ?? localProbe;
    this.self = { ...currentProcess(probe), kind: host.kind };
    this.git = new GitClient({ logger: this.logger, ...(host.gitEnv ? { env: host.gitEnv } : {}) });
    this.worktrees = new WorktreeManager(this.git, { logger: this.logger });
    this.merges = new MergeService(this.git, this.logger);
    this.snapshots = new Snapshots(this.git, { logger: this.logger, ...host.snapshots });
    this.agents = host.agents({
      git: this.git,
      worktrees: this.worktrees,
      settings: (r) => host.settings(r),
      logPath: (i) => this.logPathSync(i),
      agentEnv: (i) => this.agentEnv(i),
      logger: this.logger,
    });
    if (isDisposable(this.agents)) this._register(this.agents);
    this.scheduler = new Scheduler({
      settings: (r) => host.settings(r),
      memory: host.memory ?? (() => availableMemoryMb()),
      account: (i) => this.account(i),
      now: host.fleet?.now,
    });
    this.fleet = this._register(new Fleet(
      {
        commonDir: (repoRoot) => this.commonDir(repoRoot),
        worktrees: worktreePort(this.worktrees, {
          settings: (r) => host.settings(r),
          trusted: () => host.trusted(),
          logPath: async (repoRoot, id) => instanceLogPath(await this.commonDir(repoRoot), id),
          onOutput: (title, chunk) => {
            this.logger.info(`[setup ${title.slice(0, 40)}] ${chunk.trimEnd()}`);
            host.onSetupOutput?.(title, chunk);
          },
          onCreated: (r) => host.onWorktreeCreated?.(r),
          onPoolUsed: (r, base) => this.pool.want(r, base),
        }),
        agents: this.agents,
        checkpoints: {
          beforeFirstTurn: (i) => this.tracked(this.checkpointInOrder(i, 'first')),
          turnEnded: (i) => this.tracked(this.checkpointInOrder(i, 'next')),
        },
      },
      {
        self: this.self,
        maxConcurrent: (repoRoot) => host.settings(repoRoot).maxConcurrent,
        logger: this.logger,
        probe,
        endOrphanAgent: host.endOrphanAgent ?? (async (agent) => {
          // Only the very process recorded (pid + start time): a reused pid is never signalled.
          if (liveness(agent, probe) === 'alive') await killAgentGroup(agent.pid);
        }),
        autoContinue: async (i) => {
          if (!host.settings(i.repoRoot).autoContinue || (i.continuations ?? 0) >= 2) return undefined;
          return continuationPrompt(this.git, i, await readText(await this.logPath(i)));
        },
        scheduler: this.scheduler,
        ...host.fleet,
      },
    ));
    this.pool = this._register(new PoolKeeper({
      pool: this.worktrees.pool,
      settings: (r) => host.settings(r),
      trusted: () => host.trusted(),
      instances: () => this.fleet.instances(),
      onDidChangeInstances: this.fleet.onDidChangeInstances,
      logger: this.logger,
      onDidChangeSpares: (r) => host.onSparesChanged?.(r),
    }));
  }

  /**
   * The conflict radar of the fleet, kept current by fleet events from its first use on (a host that never shows it
   * never scans). See {@link RadarWatch}.
   */
  get radar(): RadarWatch {
    this.radarWatch ??= this._register(new RadarWatch(this.fleet, this.git, { logger: this.logger, ...this.host.radar }));
    return this.radarWatch;
  }

  settings(repoRoot: string): GroveSettings {
    return this.host.settings(repoRoot);
  }

  /** Today's spend of a repository's agents and its daily fleet budget (none when unset). */
  budget(repoRoot: string): { spent: number; budget?: number } {
    return this.scheduler.budget(repoRoot, this.fleet.instances());
  }

  trusted(): boolean {
    return this.host.trusted();
  }

  get kind(): DriverKind {
    return this.host.kind;
  }

  get capabilities(): { terminal: boolean } {
    return this.host.capabilities ?? { terminal: false };
  }

  /** The git common dir of a repository (cached: it never changes for a repository). */
  async commonDir(repoRoot: string): Promise<string> {
    const cached = this.commonDirs.get(repoRoot);
    if (cached) return cached;
    const dir = await this.git.commonDir(repoRoot);
    this.commonDirs.set(repoRoot, dir);
    return dir;
  }

  /** An instance's raw log (stream-json and Grove's own lines). */
  async logPath(instance: InstanceSnapshot): Promise<string> {
    return instance.logPath ?? instanceLogPath(await this.commonDir(instance.repoRoot), instance.id);
  }

  private logPathSync(instance: InstanceSnapshot): string {
    const dir = this.commonDirs.get(instance.repoRoot);
    if (!dir) throw new Error(`the registry of ${instance.repoRoot} is not loaded`);
    return instance.logPath ?? instanceLogPath(dir, instance.id);
  }

  /** The environment of an agent: the host's, `agentEnv`, the worktree's `GROVE_PORT` and the instance id. */
  agentEnv(instance: InstanceSnapshot): Record<string, string | undefined> {
    const s = this.host.settings(instance.repoRoot);
    return {
      ...process.env,
      ...s.agentEnv,
      ...(instance.port !== undefined ? { GROVE_PORT: String(instance.port) } : {}),
      GROVE_INSTANCE_ID: instance.id,
    };
  }

  /**
   * The account an instance's agent runs on — a hash of the endpoint and credentials its environment gives the CLI
   * (never the secrets themselves): rate limits and usage limits are per account.
   */
  account(instance: InstanceSnapshot): string {
    const env = this.agentEnv(instance);
    const key = ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'CLAUDE_CONFIG_DIR', 'CLAUDE_CODE_USE_BEDROCK', 'CLAUDE_CODE_USE_VERTEX']
      .map((k) => `${k}=${env[k] ?? ''}`).join('\n');
    return createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** Loads and reconciles the registries of these repositories (see Fleet.recover). */
  recover(repoRoots: readonly string[]): Promise<InstanceSnapshot[]> {
    for (const r of repoRoots) void this.commonDir(r);
    return this.fleet.recover(repoRoots);
  }

  /**
   * A checkpoint of an agent's worktree at a turn boundary (`refs/grove/checkpoints/<id>/<turn>`, nothing on its
   * branch): turn 0 before the first prompt, then one per turn's end, numbered after the last one recorded.
   */
  /**
   * One instance's checkpoints are recorded one after another: the next turn's number is read from the ones
   * recorded, so a turn that ended before the previous turn's checkpoint was written must wait for it (otherwise both
   * would be numbered alike and the second would replace the first).
   */
  private checkpointInOrder(inst: InstanceSnapshot, which: 'first' | 'next'): Promise<void> {
    const prev = this.checkpointChains.get(inst.id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.checkpointTurn(inst, which));
    this.checkpointChains.set(inst.id, next);
    void next.catch(() => undefined).finally(() => {
      if (this.checkpointChains.get(inst.id) === next) this.checkpointChains.delete(inst.id);
    });
    return next;
  }

  private async checkpointTurn(inst: InstanceSnapshot, which: 'first' | 'next'): Promise<void> {
    if (!inst.worktreePath || !fs.existsSync(inst.worktreePath)) return;
    let turn = 0;
    if (which === 'next') {
      const ends = (await this.snapshots.checkpoints(inst.repoRoot, inst.id)).filter((c) => c.phase === 'end');
      turn = ends.length ? Math.max(...ends.map((c) => c.turn ?? 0)) + 1 : 1;
    }
    const ignored = (await listIgnoredWork(this.git, inst.worktreePath, { top: inst.worktreePath, copyPatterns: this.host.settings(inst.repoRoot).copyFiles })).filter((e) => !e.repository);
    // Beside the queue: no wait behind the other worktrees' creates and end-of-turn checkpoints (recorded again in the
    // queue when a flow acted on this worktree meanwhile).
    await this.snapshots.checkpoint(inst.worktreePath, { instanceId: inst.id, turn, title: inst.title, ignored, unshared: true });
  }

  /**
   * Resolves once the turn checkpoints this process is recording for the instance are written (at once when none
   * is): an agent is done at its result event, a moment before its turn's checkpoint exists.
   */
  async checkpointsRecorded(instanceId: string): Promise<void> {
    for (let chain = this.checkpointChains.get(instanceId); chain; chain = this.checkpointChains.get(instanceId)) {
      await chain.catch(() => undefined);
      if (this.checkpointChains.get(instanceId) === chain) return;
    }
  }

  /** Checkpoints being recorded: close() waits for them (a CLI run must not exit in the middle of one). */
  private tracked(p: Promise<void>): Promise<void> {
    this.pendingCheckpoints.add(p);
    return p.finally(() => this.pendingCheckpoints.delete(p));
  }

  async close(): Promise<void> {
    await this.radarWatch?.close();
    await this.worktrees.pool.pause(); // a spare half made is rolled back, not left behind
    await Promise.allSettled([...this.pendingCheckpoints]);
    await this.fleet.flush();
    this.dispose();
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch {
    return '';
  }
}

function isDisposable(v: unknown): v is { dispose(): unknown } {
  return typeof (v as { dispose?: unknown }).dispose === 'function';
}
