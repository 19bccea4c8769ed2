/** The Agents view's rows as plain ids (never state), and their identities. */
import type { InstanceSnapshot } from '../../core/model';

// Nodes carry ids only; state is read from the models when VS Code asks for the item.
export type Node =
  | { kind: 'repo'; root: string }
  | { kind: 'worktree'; root: string; path: string }
  | { kind: 'instance'; id: string }
  | { kind: 'change'; instanceId: string; path: string }
  | { kind: 'conflict'; instanceId: string; path: string }
  | { kind: 'archive'; root: string }
  | { kind: 'claudeSession'; id: string }
  | { kind: 'contributed'; contribution: string; key: string };

/** A node's identity in the view (also its TreeItem id, so VS Code keeps selection and expansion across refreshes). */
export function nodeKey(n: Node): string {
  switch (n.kind) {
    case 'repo': return `repo:${n.root}`;
    case 'worktree': return `worktree:${n.path}`;
    case 'instance': return `instance:${n.id}`;
    case 'change': return `change:${n.instanceId}:${n.path}`;
    case 'conflict': return `conflict:${n.instanceId}:${n.path}`;
    case 'archive': return `archive:${n.root}`;
    case 'claudeSession': return `claude:${n.id}`;
    case 'contributed': return `contributed:${n.contribution}:${n.key}`;
  }
}

/** Where an instance's row shows: under which worktree, lead or archive. */
export function placementOf(i: InstanceSnapshot): string {
  return [i.repoRoot, i.worktreePath, i.archived ?? '', i.lead ?? '', i.sessionId ?? ''].join('\0');
}

