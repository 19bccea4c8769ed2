/**
 * The warm worktree pool (`grove.worktreePool`): spare worktrees per repository and base, created and provisioned
 * ahead of time (worktreeCreate.ts's {@link createSpare}: the same code as a task's worktree, detached at the base's
 * tip), so that a dispatch only has to create its branch.
 *
 * Taking a spare ({@link WorktreePool.take}): claim it (spares.ts: one process only), check it holds nothing (one
 * `status`), bring it to the base's tip — a fast-forward; a base that was rewritten discards the spare (only if it
 * holds no work) and the dispatch makes a fresh worktree — and create the task branch in it with one `checkout -b`.
 * The task records are then written exactly as a fresh create writes them, and the copied files refreshed from the
 * main checkout where they changed since. Git processes: `for-each-ref`, `status`, `checkout` (and a `merge-base
 * --is-ancestor` when the base moved).
 *
 * Filling ({@link WorktreePool.reconcile}) makes one spare at a time and stops at once when a dispatch needs the
 * repository ({@link WorktreePool.pause}: the half-made spare is rolled back). When to fill is the caller's decision
 * (fleet/poolKeeper.ts: only while no agent of the repository is being dispatched or working); nothing here runs by itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { currentProcess, localProbe } from '../platform/processes';
import { isInside, normalizePath, samePath } from '../util/fsPaths';
import { slugify, withSuffix } from '../util/slug';
import type { LockedRepository } from './gitClient';
import { GitError } from './gitError';
import { listRefs, readHeadFile, resolveFromRefs, type RefMap, type RepositoryFactsEntry } from './repositoryFacts';
import { claimSpare, isLiveSpare, readSpares, removeSpare, type Spare } from './spares';
import { branchNames, createSpare, resolveWorktreeRoot, type CreateContext } from './worktreeCreate';
import { recipeOf, unstamped, writeBranchRecord, writeMetadata, type WorktreeMetadata } from './worktreeRecords';
import { uncommittedPaths } from './worktreeState';
import type { CreateWorktreeOptions, CreatedWorktree } from './worktreeTypes';

export interface PoolOptions {
  repoRoot: string;
  /** The base the spares are for; the repository's current branch by default. */
  baseRef?: string;
  /** How many spares to keep for that base; 0 removes every spare of the repository. */
  size: number;
  worktreeRoot?: string;
  copyFiles?: readonly string[];
  setupCommand?: string;
  env?: Record<string, string>;
  onOutput?: (chunk: string) => void;
}

export interface ReconcileResult {
  created: string[];
  removed: string[];
  /** Spares not removed because they hold work (the reason lists it). */
  kept: { path: string; reason: string }[];
  /** Filling stopped: a setup command failed, or something else went wrong (the message says what). */
  failed?: string;
  /** A dispatch paused the fill before the pool was full. */
  paused?: boolean;
}

type Outcome = CreatedWorktree | 'skip' | 'discard';

export class WorktreePool {
  private filling?: { controller: AbortController; done: Promise<unknown> };

  constructor(private readonly ctx: CreateContext) {}

  /** Stops a fill in progress (its half-made spare is rolled back) and waits until it has: a dispatch goes first. */
  async pause(): Promise<void> {
    const f = this.filling;
    if (!f) return;
    f.controller.abort();
    await f.done.catch(() => undefined);
  }

  /** The spares of the repository containing `repoRoot` (records only). */
  async spares(repoRoot: string): Promise<Spare[]> {
    return readSpares((await this.ctx.facts.get(repoRoot)).commonDir);
  }

  /**
   * A task's worktree from a spare of this repository and base, or undefined when there is none (or none usable:
   * then the caller creates one as usual). Never throws for a spare it cannot use; a spare that holds work is left
   * alone and logged.
   */
  async take(options: CreateWorktreeOptions): Promise<CreatedWorktree | undefined> {
    await this.pause();
    const { signal } = options;
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    const facts = await this.ctx.facts.get(options.repoRoot, signal);
    if (facts.isBare) return undefined;
    const base = options.baseRef ?? currentBranch(facts);
    if (!base) return undefined;
    const root = resolveWorktreeRoot(options.worktreeRoot, facts.mainWorktree);
    const recipe = recipeOf(options);
    const candidates = (await readSpares(facts.commonDir)).filter((s) => s.meta.spare.ready && s.meta.spare.recipe === recipe && s.meta.baseRef === base && samePath(path.dirname(s.path), root));
    if (!candidates.length) return undefined;
    const refs = await listRefs((args) => this.ctx.git.read(facts.root, args, { signal }));
    const tip = resolveFromRefs(refs, base) ?? await this.revParse(facts.root, base, signal);
    if (!tip) return undefined;
    for (const spare of candidates) {
      const release = claimSpare(spare.adminDir, this.ctx.probe);
      if (!release) continue;
      try {
        const outcome = await this.takeClaimed(facts, spare, refs, base, tip, options);
        if (outcome === 'discard') {
          await removeSpare(this.ctx, spare).catch((err: Error) => this.ctx.logger.warn(`could not discard the spare ${spare.path}: ${err.message}`));
        } else if (outcome !== 'skip') {
          return outcome;
        }
      } finally {
        release();
      }
    }
    return undefined;
  }

  private async revParse(cwd: string, rev: string, signal?: AbortSignal): Promise<string | undefined> {
    if (rev.startsWith('-')) return undefined;
    const r = await this.ctx.git.read(cwd, ['rev-parse', '--verify', '-q', `${rev}^{commit}`], { signal, okExitCodes: [1] });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }

  private async takeClaimed(facts: RepositoryFactsEntry, spare: Spare, refs: RefMap, base: string, tip: string, options: CreateWorktreeOptions): Promise<Outcome> {
    const { git, logger } = this.ctx;
    const { signal } = options;
    // Re-read under the claim: another process may have taken it between our listing and our claim.
    const again = (await readSpares(facts.commonDir)).find((s) => samePath(s.path, spare.path));
    const head = readHeadFile(spare.adminDir);
    if (!again?.meta.spare.ready || again.meta.baseRef !== base || head === 'unknown' || !head || !('detachedAt' in head) || !fs.existsSync(spare.path)) return 'skip';
    const status = await uncommittedPaths(git, spare.path, signal);
    // Changes beyond what provisioning left, or a copied file edited in the spare (a refresh would overwrite it).
    const copies = (again.meta.spare.copiedFiles ?? []).filter((f) => !f.endsWith('/') && fs.existsSync(path.join(spare.path, f)));
    const work = await unstamped(spare.path, [...status.changed, ...status.untracked, ...copies], again.meta.spare.leftovers);
    if (work.length) {
      logger.warn(`the spare worktree ${spare.path} has changes (${work.slice(0, 3).join(', ')}${work.length > 3 ? '…' : ''}): not used, and kept`);
      return 'skip';
    }
    if (head.detachedAt !== tip) {
      const ff = await git.read(facts.root, ['merge-base', '--is-ancestor', head.detachedAt, tip], { signal, okExitCodes: [1] });
      if (ff.exitCode !== 0) {
        logger.info(`the base ${base} of the spare ${spare.path} was rewritten (${head.detachedAt.slice(0, 8)} is not in ${tip.slice(0, 8)}): discarding it`);
        return 'discard';
      }
    }
    const prefix = (options.branchPrefix ?? 'grove').trim().replace(/^\/+|\/+$/g, '');
    const baseSlug = slugify(options.title);
    const names = branchNames(refs, prefix, baseSlug);
    if (signal?.aborted) throw new GitError('Cancelled', { code: 'Cancelled' });
    let made: { branch: string; slug: string };
    try {
      made = await git.exclusive(facts.root, (locked) => this.createBranch(locked, spare, prefix, baseSlug, names, tip, head.detachedAt !== tip));
    } catch (err) {
      logger.warn(`could not create the task branch in the spare ${spare.path} (${(err as Error).message}): not used`);
      return 'skip';
    }
    if (signal?.aborted) {
      await git.exclusive(facts.root, (locked) => undoBranch(locked, spare.path, made.branch, tip));
      throw new GitError('Cancelled', { code: 'Cancelled' });
    }
    const meta: WorktreeMetadata = {
      version: 1, managedBy: 'grove', slug: made.slug, branch: made.branch, baseRef: base, baseCommit: tip, port: again.meta.port, createdAt: Date.now(),
      ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    };
    await writeMetadata(spare.adminDir, meta);
    await writeBranchRecord(facts.commonDir, meta);
    const copiedFiles = await refreshCopies(facts.root, spare.path, again.meta.spare.copiedFiles ?? []);
    logger.info(`took the spare worktree ${spare.path} for ${made.branch} from ${base} (${tip.slice(0, 8)}), port ${meta.port}`);
    return { path: normalizePath(spare.path), branch: made.branch, slug: made.slug, baseRef: base, baseCommit: tip, port: meta.port, copiedFiles, setupFailed: false };
  }

  /** `checkout -b <prefix>/<slug>` at the tip in the spare: the first free name (git refuses a taken one atomically). */
  private async createBranch(locked: LockedRepository, spare: Spare, prefix: string, baseSlug: string, names: ReturnType<typeof branchNames>, tip: string, moved: boolean): Promise<{ branch: string; slug: string }> {
    for (let n = 1; n <= 1000; n++) {
      const slug = withSuffix(baseSlug, n);
      const branch = prefix ? `${prefix}/${slug}` : slug;
      if (names.taken(branch)) continue;
      // A commit as the start point: no upstream is set (a base such as origin/main must not become one).
      const r = await locked.run(spare.path, ['checkout', '-q', '--no-track', '-b', branch, tip], { okExitCodes: [128] });
      if (r.exitCode === 0) {
        if (moved && fs.existsSync(path.join(spare.path, '.gitmodules'))) {
          await locked.run(spare.path, ['submodule', 'update', '--init', '--recursive']);
        }
        return { branch, slug };
      }
      if (!/already exists|exists; cannot create/i.test(r.stderr)) {
        throw new GitError(r.stderr.trim().split(/\r?\n/).slice(0, 5).join('\n') || `git checkout -b ${branch} failed`, { args: ['checkout', '-b', branch], exitCode: r.exitCode, stderr: r.stderr });
      }
      names.existing.add(branch);
    }
    throw new GitError(`No free name for '${baseSlug}'`, { code: 'BranchExists' });
  }

  /**
   * Brings the pool of one repository and base to `options.size`: abandoned spares (their filler died while
   * provisioning) and spares above the size are removed — never one that holds work (it is kept and listed) — and
   * missing ones are created one at a time until full, {@link pause}d, or a creation fails. Size 0 removes every
   * spare of the repository, whatever its base.
   */
  async reconcile(options: PoolOptions): Promise<ReconcileResult> {
    const result: ReconcileResult = { created: [], removed: [], kept: [] };
    const probe = this.ctx.probe ?? localProbe;
    const facts = await this.ctx.facts.get(options.repoRoot);
    if (facts.isBare) return result;
    const base = options.baseRef ?? currentBranch(facts);
    const all = await readSpares(facts.commonDir);
    // Made with other provisioning settings (copy patterns, setup command): not what a dispatch would get now.
    const stale = (s: Spare) => s.meta.spare.ready && s.meta.spare.recipe !== recipeOf(options);
    const mine = all.filter((s) => options.size > 0 && s.meta.baseRef === base && isLiveSpare(s, probe) && !stale(s));
    const extra = all.filter((s) => options.size === 0 || !isLiveSpare(s, probe) || stale(s) || (mine.indexOf(s) >= options.size));
    for (const spare of extra) {
      const release = claimSpare(spare.adminDir, probe);
      if (!release) continue;
      try {
        const r = await removeSpare(this.ctx, spare);
        if (r.removed) result.removed.push(spare.path);
        else result.kept.push({ path: spare.path, reason: r.reason });
      } catch (err) {
        result.kept.push({ path: spare.path, reason: (err as Error).message });
      } finally {
        release();
      }
    }
    if (options.size === 0 || !base) return result;
    const filler = currentProcess(probe);
    const admit = async () => (await readSpares(facts.commonDir)).filter((s) => s.meta.baseRef === base && isLiveSpare(s, probe) && !stale(s)).length < options.size;
    while (!this.filling) {
      const controller = new AbortController();
      const making = createSpare(this.ctx, {
        repoRoot: options.repoRoot, baseRef: base, worktreeRoot: options.worktreeRoot, copyFiles: options.copyFiles,
        setupCommand: options.setupCommand, env: options.env, onOutput: options.onOutput, signal: controller.signal,
      }, { filler, admit });
      this.filling = { controller, done: making };
      try {
        const spare = await making;
        if (!spare) break;
        result.created.push(spare.path);
      } catch (err) {
        if (controller.signal.aborted) result.paused = true;
        else result.failed = (err as Error).message;
        break;
      } finally {
        this.filling = undefined;
      }
    }
    return result;
  }
}

/** The repository's current branch (from the HEAD file), the default base of a dispatch. */
function currentBranch(facts: RepositoryFactsEntry): string | undefined {
  const head = readHeadFile(facts.gitDir);
  return head !== 'unknown' && head && 'branch' in head ? head.branch : undefined;
}

/** Undoes a branch created in a spare (an abort right after): back to a detached HEAD, the branch deleted if unmoved. */
async function undoBranch(locked: LockedRepository, spare: string, branch: string, tip: string): Promise<void> {
  await locked.run(spare, ['checkout', '-q', '--detach']);
  await locked.run(spare, ['update-ref', '-d', `refs/heads/${branch}`, tip], { okExitCodes: [1, 128] });
}

/**
 * Copies again, from the main checkout, the files provisioning copied into the spare that changed there since (an
 * edited `.env`). Files only (folders such as `node_modules/` stay as provisioned); a file gone from the main
 * checkout is left in place. Returns the copied list.
 */
async function refreshCopies(main: string, spare: string, copied: readonly string[]): Promise<string[]> {
  for (const rel of copied) {
    if (rel.endsWith('/')) continue;
    const from = path.join(main, rel);
    const to = path.join(spare, rel);
    if (!isInside(spare, to)) continue;
    try {
      const [a, b] = await Promise.all([fs.promises.lstat(from), fs.promises.lstat(to).catch(() => undefined)]);
      if (!a.isFile()) continue;
      if (b?.isFile() && b.size === a.size && (await fs.promises.readFile(from)).equals(await fs.promises.readFile(to))) continue;
      await fs.promises.mkdir(path.dirname(to), { recursive: true });
      await fs.promises.copyFile(from, to);
    } catch {
      // Gone from the main checkout: the spare keeps what it has.
    }
  }
  return [...copied];
}
