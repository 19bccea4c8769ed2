import * as path from 'node:path';
import * as vscode from 'vscode';
import { listBranches } from '../../core/git/branches';
import type { WorktreeInfo } from '../../core/git/worktreeManager';
import type { InstanceSnapshot } from '../../core/model';
import type { RepositoryState } from '../repositories';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { stateLabel } from '../tree/format';
import { UserFacingError } from './register';
import { samePath } from '../../core/util/fsPaths';

/** The repository to act on: the node's, the only one, or the user's pick. */
export async function pickRepository(s: Services, node?: Node): Promise<RepositoryState> {
  const repos = await s.repos.repositories();
  if (node && (node.kind === 'repo' || node.kind === 'worktree')) {
    const r = s.repos.get(node.root);
    if (r) return r;
  }
  if (repos.length === 0) throw new UserFacingError('open a folder that is a git repository first.');
  if (repos.length === 1) return repos[0];
  const active = vscode.window.activeTextEditor?.document.uri;
  const pick = await vscode.window.showQuickPick(
    repos.map((r) => ({ label: r.name, description: r.info.branch ?? 'detached HEAD', detail: r.info.mainWorktree, repo: r })),
    { title: 'Grove: choose a repository', placeHolder: active ? s.repos.find(active.fsPath)?.name : undefined },
  );
  if (!pick) throw new vscode.CancellationError();
  return pick.repo;
}

export async function pickWorktree(s: Services, node?: Node, filter: (w: WorktreeInfo) => boolean = () => true): Promise<{ repo: RepositoryState; worktree: WorktreeInfo }> {
  if (node?.kind === 'worktree') {
    const repo = s.repos.get(node.root);
    const worktree = repo?.worktrees.find((w) => w.path === node.path);
    if (repo && worktree) return { repo, worktree };
  }
  if (node?.kind === 'instance') {
    const inst = s.fleet.get(node.id);
    const repo = inst && s.repos.find(inst.repoRoot);
    const worktree = repo?.worktrees.find((w) => !!inst!.worktreePath && samePath(w.path, inst!.worktreePath));
    if (repo && worktree) return { repo, worktree };
  }
  const repos = await s.repos.repositories();
  const items = repos.flatMap((repo) => repo.worktrees.filter(filter).map((worktree) => ({
    label: worktree.branch ?? path.basename(worktree.path),
    description: repos.length > 1 ? repo.name : worktree.baseRef ? `from ${worktree.baseRef}` : '',
    detail: worktree.path,
    repo,
    worktree,
  })));
  if (items.length === 0) throw new UserFacingError('there is no worktree to act on.');
  const pick = await vscode.window.showQuickPick(items, { title: 'Grove: choose a worktree', matchOnDetail: true });
  if (!pick) throw new vscode.CancellationError();
  return pick;
}

/** The instance to act on: the node's, or the user's pick among those matching `filter`. */
export async function pickInstance(s: Services, node: Node | undefined, filter: (i: InstanceSnapshot) => boolean, what: string): Promise<InstanceSnapshot> {
  if (node?.kind === 'instance') {
    const inst = s.fleet.get(node.id);
    if (inst) return inst;
  }
  if (node?.kind === 'worktree') {
    const inst = s.fleet.instances().filter((i) => !!i.worktreePath && samePath(i.worktreePath, node.path)).filter(filter).pop();
    if (inst) return inst;
  }
  const items = s.fleet.instances().filter(filter).map((i) => ({ label: i.title, description: stateLabel(i), detail: i.branch, inst: i }));
  if (items.length === 0) throw new UserFacingError(`no agent to ${what}.`);
  if (items.length === 1 && node === undefined) return items[0].inst;
  const pick = await vscode.window.showQuickPick(items, { title: `Grove: choose an agent to ${what}` });
  if (!pick) throw new vscode.CancellationError();
  return pick.inst;
}

/** Quick pick of local and remote-tracking branches, the current branch first. */
export async function pickBase(s: Services, repo: RepositoryState, title: string): Promise<string> {
  const branches = await listBranches(s.git, repo.info.mainWorktree);
  const current = repo.info.branch;
  const items: (vscode.QuickPickItem & { ref?: string })[] = [];
  if (current) items.push({ label: `$(git-branch) ${current}`, description: 'current branch', ref: current });
  const locals = branches.filter((b) => !b.remote && b.name !== current);
  const remotes = branches.filter((b) => b.remote);
  if (locals.length) items.push({ label: 'Branches', kind: vscode.QuickPickItemKind.Separator });
  for (const b of locals) items.push({ label: `$(git-branch) ${b.name}`, description: b.subject, ref: b.name });
  if (remotes.length) items.push({ label: 'Remote branches', kind: vscode.QuickPickItemKind.Separator });
  for (const b of remotes) items.push({ label: `$(cloud) ${b.name}`, description: b.subject, ref: b.name });
  if (items.length === 1) return items[0].ref!;
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: current ? `Base (Enter for ${current})` : 'Base branch (HEAD is detached: choose one)' });
  if (!pick?.ref) throw new vscode.CancellationError();
  return pick.ref;
}
