/**
 * The CLI's composition root: the same core objects the extension builds in `activate`, without vscode, for
 * one repository. Every command and the MCP server get one {@link Grove}.
 */
import path from 'node:path';
import { Fleet } from '../core/fleet/fleet';
import { isActive } from '../core/fleet/instance';
import { worktreePort } from '../core/fleet/worktreePort';
import { GitClient } from '../core/git/gitClient';
import { isGitError } from '../core/git/gitError';
import { MergeService } from '../core/git/mergeService';
import { WorktreeManager, type RepositoryInfo } from '../core/git/worktreeManager';
import type { InstanceSnapshot } from '../core/model';
import { Disposable } from '../core/util/disposable';
import type { Logger } from '../core/util/logger';
import { CliError } from './args';
import { CliAgents } from './cliAgents';
import { isAgentProcess, killAgentGroup } from '../core/agents/processControl';
import type { CliSettings } from './settings';

export interface GroveOptions {
  /** Any folder inside the repository (default: cwd). */
  repo?: string;
  settings: CliSettings;
  logger: Logger;
}

export class Grove extends Disposable {
  readonly git: GitClient;
  readonly worktrees: WorktreeManager;
  readonly merges: MergeService;
  readonly agents: CliAgents;
  readonly fleet: Fleet;

  private constructor(
    readonly repo: RepositoryInfo,
    readonly settings: CliSettings,
    readonly logger: Logger,
    git: GitClient,
    worktrees: WorktreeManager,
  ) {
    super();
    this.git = git;
    this.worktrees = worktrees;
    this.merges = new MergeService(git, logger);
    this.agents = this._register(new CliAgents(worktrees, repo.commonDir, settings, logger));
    this.fleet = this._register(new Fleet(
      {
        commonDir: async () => repo.commonDir,
        worktrees: worktreePort(worktrees, () => settings, { onOutput: (title, chunk) => logger.info(`[setup ${title.slice(0, 40)}] ${chunk.trimEnd()}`) }),
        agents: this.agents,
      },
      {
        logger,
        maxConcurrent: settings.maxConcurrent,
        // Only ever an agent's process group: the pid of an instance that has no agent yet is its driver's
        // (a VS Code window, another grove), which must never be signalled.
        killProcess: (pid) => {
          if (isAgentProcess(pid)) void killAgentGroup(pid);
        },
      },
    ));
  }

  /** Resolves the repository containing `repo` and loads its registry (recovering dead instances as the extension does). */
  static async open(options: GroveOptions): Promise<Grove> {
    const git = new GitClient({ logger: options.logger });
    const worktrees = new WorktreeManager(git, { logger: options.logger });
    let repo: RepositoryInfo;
    try {
      repo = await worktrees.resolveRepository(path.resolve(options.repo ?? process.cwd()));
    } catch (err) {
      if (isGitError(err)) throw new CliError(err.message);
      throw err;
    }
    if (repo.isBare) throw new CliError(`${repo.commonDir} is a bare repository: Grove needs a working tree.`);
    const grove = new Grove(repo, options.settings, options.logger, git, worktrees);
    await grove.fleet.recover([repo.mainWorktree]);
    return grove;
  }

  get repoRoot(): string {
    return this.repo.mainWorktree;
  }

  instances(): InstanceSnapshot[] {
    return this.fleet.instances().filter((s) => s.repoRoot === this.repoRoot);
  }

  /**
   * An instance by full id, unique id prefix, or exact title (case-insensitive; the newest when several
   * share it). @throws CliError listing the candidates when ambiguous.
   */
  resolve(ref: string): InstanceSnapshot {
    const all = this.instances();
    const exact = all.find((s) => s.id === ref);
    if (exact) return exact;
    const key = ref.trim().toLowerCase();
    const byPrefix = key.length >= 4 ? all.filter((s) => s.id.startsWith(key)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw new CliError(`"${ref}" matches ${byPrefix.length} instances: ${byPrefix.map((s) => `${s.id.slice(0, 8)} ${s.title}`).join(', ')}; give more of the id.`);
    const byTitle = all.filter((s) => s.title.trim().toLowerCase() === key).sort((a, b) => b.createdAt - a.createdAt);
    if (byTitle.length) return byTitle[0]!;
    throw new CliError(`No instance "${ref}" in ${this.repoRoot}. \`grove status\` lists them.`);
  }

  /** True while this process drives the instance (queued here, or its agent is a child of this process). */
  drives(id: string): boolean {
    const s = this.fleet.get(id);
    if (!s) return false;
    return this.driven.has(id) && (isActive(s.state) || s.state === 'queued');
  }

  /** Ids this process dispatched, followed up or resumed. */
  readonly driven = new Set<string>();

  async close(): Promise<void> {
    await this.agents.whenUnlocked();
    await this.fleet.flush();
    this.dispose();
  }
}
