/**
 * The CLI's composition root: the same core {@link Grove} the extension builds in `activate`, without vscode, for
 * one repository. Every command and the MCP server get one {@link CliContext}.
 */
import path from 'node:path';
import { GroveError } from '../core/errors';
import { findInstance } from '../core/flows/instances';
import { Grove } from '../core/grove';
import { isGitError } from '../core/git/gitError';
import { GitClient } from '../core/git/gitClient';
import { WorktreeManager, type RepositoryInfo } from '../core/git/worktreeManager';
import type { DriverKind, InstanceSnapshot } from '../core/model';
import type { Logger } from '../core/util/logger';
import { CliError } from './args';
import { CliAgents } from './cliAgents';
import type { CliSettings } from './settings';

export interface OpenOptions {
  /** Any folder inside the repository (default: cwd). */
  repo?: string;
  settings: CliSettings;
  logger: Logger;
  kind?: DriverKind;
}

export class CliContext {
  private constructor(
    readonly grove: Grove,
    readonly repo: RepositoryInfo,
    readonly settings: CliSettings,
    readonly agents: CliAgents,
  ) {}

  /** Resolves the repository containing `repo` and loads its registry (applying the ownership protocol). */
  static async open(options: OpenOptions): Promise<CliContext> {
    const probe = new WorktreeManager(new GitClient({ logger: options.logger }), { logger: options.logger });
    let repo: RepositoryInfo;
    try {
      repo = await probe.resolveRepository(path.resolve(options.repo ?? process.cwd()));
    } catch (err) {
      if (isGitError(err)) throw new CliError(err.message);
      throw err;
    }
    if (repo.isBare) throw new CliError(`${repo.commonDir} is a bare repository: Grove needs a working tree.`);
    let agents!: CliAgents;
    const grove = new Grove({
      kind: options.kind ?? 'cli',
      logger: options.logger,
      settings: () => options.settings.settings,
      trusted: () => true,
      capabilities: { terminal: false },
      agents: (parts) => (agents = new CliAgents(parts, () => options.settings.onPermission)),
    });
    const ctx = new CliContext(grove, repo, options.settings, agents);
    await grove.recover([repo.mainWorktree]);
    return ctx;
  }

  get repoRoot(): string {
    return this.repo.mainWorktree;
  }

  instances(): InstanceSnapshot[] {
    return this.grove.fleet.instances().filter((s) => s.repoRoot === this.repoRoot);
  }

  /** An instance by full id, unique id prefix (4+ characters) or exact title. @throws CliError */
  resolve(ref: string): InstanceSnapshot {
    try {
      return findInstance(this.grove, ref, this.repoRoot);
    } catch (err) {
      if (GroveError.is(err)) throw new CliError(`${err.message}${GroveError.is(err, 'NotFound') ? ' `grove status` lists them.' : ''}`);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.agents.whenUnlocked();
    await this.grove.close();
  }
}
