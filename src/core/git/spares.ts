/**
 * The spares of the warm pool as records (see worktreePool.ts): which worktrees are spares, the claim that makes one
 * process the only user of a spare, and the removal of a spare that checks it holds no work.
 *
 * A spare is a linked worktree whose `grove.json` has `spare` (worktreeRecords.ts): detached at the base's tip, no
 * task branch. Every process reads the same records, so the extension and the CLI see the same spares.
 *
 * The claim: `<admin dir>/grove-claim.json`, created with `open(…, 'wx')` (atomic: of two processes only one
 * creates it) and holding the owner's identity. A claim whose owner died is broken the way fileLock.ts breaks a
 * dead lock (rename aside, then check); whoever claims a spare re-reads its records and HEAD before using it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { currentProcess, liveness, localProbe, type ProcessIdentity, type ProcessProbe } from '../platform/processes';
import { PathMap } from '../util/fsPaths';
import type { Logger } from '../util/logger';
import type { GitClient } from './gitClient';
import { readHeadFile, type RepositoryFacts } from './repositoryFacts';
import { readAdminDirs, readMetadata, unstamped, type SpareRecord, type WorktreeMetadata } from './worktreeRecords';
import { describeLoss, inspect, removeWorktree } from './worktreeRemoval';

export const CLAIM_FILE = 'grove-claim.json';

export interface Spare {
  path: string;
  adminDir: string;
  meta: WorktreeMetadata & { spare: SpareRecord };
}

/** The spares of a repository (file reads only, no git process), oldest first. */
export async function readSpares(commonDir: string): Promise<Spare[]> {
  const out: Spare[] = [];
  for (const [wtPath, adminDir] of await readAdminDirs(commonDir)) {
    const meta = await readMetadata(adminDir);
    if (meta?.spare) out.push({ path: wtPath, adminDir, meta: meta as Spare['meta'] });
  }
  return out.sort((a, b) => a.meta.createdAt - b.meta.createdAt);
}

/** The paths of a repository's spares (for listings: a path-keyed set). */
export async function sparePaths(commonDir: string): Promise<PathMap<Spare>> {
  const map = new PathMap<Spare>();
  for (const s of await readSpares(commonDir)) map.set(s.path, s);
  return map;
}

/** Provisioned, or still being provisioned by a live process (so it counts toward the pool's size). */
export function isLiveSpare(s: Spare, probe: ProcessProbe = localProbe): boolean {
  return s.meta.spare.ready || (!!s.meta.spare.filler && liveness(s.meta.spare.filler, probe) !== 'dead');
}

interface ClaimContent extends ProcessIdentity {
  token: string;
}

/** Claims the spare for this process: a release function, or undefined when someone alive holds it. */
export function claimSpare(adminDir: string, probe: ProcessProbe = localProbe): (() => void) | undefined {
  const file = path.join(adminDir, CLAIM_FILE);
  const content: ClaimContent = { ...currentProcess(probe), token: randomBytes(8).toString('hex') };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(content));
      } finally {
        fs.closeSync(fd);
      }
      return () => {
        if (readClaim(file)?.token === content.token) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined; // the admin dir is gone: the spare was removed
      if (code !== 'EEXIST') throw err;
    }
    const held = readClaim(file);
    if (held && liveness(held, probe) !== 'dead') return undefined;
    if (!held && Date.now() - mtimeOf(file) < 10_000) return undefined; // being written right now
    breakClaim(file, held?.token);
  }
  return undefined;
}

function readClaim(file: string): ClaimContent | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as ClaimContent;
    return Number.isInteger(c.pid) && typeof c.token === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

function breakClaim(file: string, deadToken: string | undefined): void {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.broken`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return;
  }
  if (readClaim(aside)?.token !== deadToken) {
    try {
      fs.linkSync(aside, file); // someone's fresh claim: put it back
    } catch {
      // a newer claim exists
    }
  }
  fs.rmSync(aside, { force: true });
}

function mtimeOf(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

export interface SpareRemovalContext {
  git: GitClient;
  facts: RepositoryFacts;
  logger: Logger;
  probe?: ProcessProbe;
}

/**
 * Removes a spare that holds no work, checked by the removal report (worktreeRemoval.ts). Commits only its detached
 * HEAD reaches are not work when HEAD is still the commit the spare was made at (the base was rewritten since):
 * anything else — a changed, untracked or ignored file worth keeping, a commit made in it — keeps the spare and
 * says why. The caller holds the spare's claim.
 */
export async function removeSpare(ctx: SpareRemovalContext, spare: Spare, signal?: AbortSignal): Promise<{ removed: true } | { removed: false; reason: string }> {
  const { report } = await inspect(ctx, spare.path, { signal });
  const head = readHeadFile(spare.adminDir);
  const atItsBase = head !== 'unknown' && !!head && 'detachedAt' in head && head.detachedAt === spare.meta.baseCommit;
  const files = await unstamped(spare.path, [...report.uncommitted, ...report.untracked], spare.meta.spare.leftovers);
  // Ignored files provisioning copied in and nobody changed since (the main checkout's may have changed) are not work.
  const ignoredFiles = (report.ignored ?? []).filter((e) => !e.dir).map((e) => e.path);
  const changedIgnored = new Set(await unstamped(spare.path, ignoredFiles, spare.meta.spare.leftovers));
  const ignored = (report.ignored ?? []).filter((e) => e.dir || changedIgnored.has(e.path));
  const work = files.length + ignored.length + report.submoduleCommits.length + report.commits.length > 0
    || report.branch !== undefined
    || (report.detachedCommits.length > 0 && !atItsBase);
  if (work || report.locked) {
    const shown = { ...report, uncommitted: report.uncommitted.filter((f) => files.includes(f)), untracked: report.untracked.filter((f) => files.includes(f)), ignored };
    const reason = report.locked ? `it is locked (${report.lockedReason ?? 'no reason given'})` : describeLoss(shown, { max: 5 }).join('\n') || `it is on the branch ${report.branch}`;
    ctx.logger.warn(`kept the spare worktree ${spare.path}: it holds work\n${reason}`);
    return { removed: false, reason };
  }
  await removeWorktree(ctx, spare.path, { force: report.hasLoss, deleteBranch: 'never', signal });
  ctx.logger.info(`removed the spare worktree ${spare.path}`);
  return { removed: true };
}
