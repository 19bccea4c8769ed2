import * as vscode from 'vscode';
import { describeToolUse } from '../../core/agents/claudeStream';
import { isActive, isFinished } from '../../core/fleet/instance';
import type { InstanceSnapshot } from '../../core/model';
import type { AgentRunners } from '../agents/agentRunners';
import { LogDocumentProvider } from '../logDocument';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { pickInstance } from './pick';
import { UserFacingError } from './register';

/** Commands on agent instances: open, stop, follow up, resume, log, take over, hand back, permissions. */
export function instanceCommands(s: Services, agents: AgentRunners) {
  const showLog = async (inst: InstanceSnapshot) => {
    const doc = await vscode.workspace.openTextDocument(LogDocumentProvider.uriFor(inst.id, inst.title));
    await vscode.window.showTextDocument(doc, { preview: true, preserveFocus: false });
    return doc;
  };
  /** Multi-select in the tree passes (clicked node, all selected nodes). */
  const targets = (node?: Node, nodes?: Node[]) => (nodes && nodes.length ? nodes : node ? [node] : undefined);

  return {
    'grove.openInstance': async (node?: Node) => {
      const inst = await pickInstance(s, node, () => true, 'open');
      if (inst.mode === 'terminal' && agents.terminals.reveal(inst.id)) return;
      const runner = agents.runner(inst.id);
      const pending = runner?.pendingPermissions[0];
      if (inst.state === 'waiting' && inst.waitReason === 'permission' && runner && pending) {
        await agents.askPermission(inst, runner, { requestId: pending.requestId, toolName: pending.toolName, input: pending.input, summary: describeToolUse(pending.toolName, pending.input, inst.worktreePath) });
        return;
      }
      await showLog(inst);
    },

    'grove.showLog': async (node?: Node) => {
      const inst = await pickInstance(s, node, () => true, 'show the log of');
      return showLog(inst);
    },

    'grove.showTerminal': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => i.mode === 'terminal', 'show the terminal of');
      if (!agents.terminals.reveal(inst.id)) throw new UserFacingError(`Grove: "${inst.title}" has no open terminal. Use Follow Up or Take Over to continue its session.`);
    },

    'grove.stopInstance': async (node?: Node, nodes?: Node[]) => {
      const list = targets(node, nodes);
      const chosen = list
        ? list.filter((n) => n.kind === 'instance').map((n) => s.fleet.get((n as { id: string }).id)).filter((i): i is InstanceSnapshot => !!i)
        : [await pickInstance(s, undefined, (i) => isActive(i.state) || i.state === 'queued', 'stop')];
      const live = chosen.filter((i) => isActive(i.state) || i.state === 'queued');
      await Promise.all(live.map((i) => s.fleet.stop(i.id)));
    },

    'grove.followUp': async (node?: Node, args?: { prompt?: string }) => {
      const inst = await pickInstance(s, node, (i) => (isFinished(i.state) || i.state === 'waiting') && !!i.worktreePath, 'follow up');
      const prompt = args?.prompt ?? await vscode.window.showInputBox({
        title: `Grove: follow up "${inst.title}"`,
        prompt: inst.sessionId ? 'Sent to the same session: the agent keeps its history' : 'Starts the agent again in its worktree',
        placeHolder: 'e.g. Also add tests for the empty case',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'Write the follow-up'),
      });
      if (!prompt?.trim()) throw new vscode.CancellationError();
      await s.fleet.followUp(inst.id, prompt.trim());
    },

    'grove.resumeInstance': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => isFinished(i.state) && i.state !== 'done', 'resume');
      await s.fleet.resume(inst.id);
    },

    'grove.takeOver': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => i.mode === 'background' && !!i.sessionId, 'take over');
      if (!inst.sessionId) throw new UserFacingError(`Grove: "${inst.title}" has no session yet.`);
      if (isActive(inst.state)) {
        const ok = await vscode.window.showWarningMessage(`"${inst.title}" is working. Stop its background turn and continue the session in a terminal?`, { modal: true }, 'Stop and Take Over');
        if (!ok) return;
        await s.fleet.stop(inst.id);
      }
      s.fleet.setMode(inst.id, 'terminal');
      await s.fleet.followUp(inst.id, '');
    },

    'grove.handBack': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => i.mode === 'terminal' && i.profile === 'claude', 'hand back');
      if (isActive(inst.state)) await s.fleet.stop(inst.id);
      s.fleet.setMode(inst.id, 'background');
      void vscode.window.showInformationMessage(`Grove: "${inst.title}" is back in the background. Follow Up continues its session there.`);
    },

    'grove.removeInstance': async (node?: Node, nodes?: Node[]) => {
      const list = targets(node, nodes) ?? [{ kind: 'instance', id: (await pickInstance(s, undefined, () => true, 'remove')).id } as Node];
      for (const n of list) {
        if (n.kind !== 'instance') continue;
        const inst = s.fleet.get(n.id);
        if (!inst) continue;
        const wt = inst.worktreePath && s.repos.find(inst.repoRoot)?.worktrees.find((w) => w.path === inst.worktreePath);
        if (wt) {
          if (isActive(inst.state)) await s.fleet.stop(inst.id);
          await vscode.commands.executeCommand('grove.removeWorktree', { kind: 'worktree', root: s.repos.find(inst.repoRoot)!.info.mainWorktree, path: wt.path });
        } else {
          await s.fleet.remove(inst.id);
        }
      }
    },

    'grove.answerPermission': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => i.state === 'waiting' && i.waitReason === 'permission', 'answer');
      const runner = agents.runner(inst.id);
      const pending = runner?.pendingPermissions[0];
      if (!runner || !pending) {
        if (agents.terminals.reveal(inst.id)) return;
        throw new UserFacingError(`Grove: "${inst.title}" has no open permission request.`);
      }
      await agents.askPermission(inst, runner, { requestId: pending.requestId, toolName: pending.toolName, input: pending.input, summary: describeToolUse(pending.toolName, pending.input, inst.worktreePath) });
    },
  };
}
