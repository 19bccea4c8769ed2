import * as vscode from 'vscode';
import { describeToolUse } from '../../core/agents/claudeStream';
import { continueInFreshSession, followUp, resume, stop, switchMode, takeOver } from '../../core/flows/instances';
import { isOwned, isActive, isFinished } from '../../core/fleet/instance';
import type { InstanceSnapshot } from '../../core/model';
import type { AgentRunners } from '../agents/agentRunners';
import { LogDocumentProvider } from '../logDocument';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { pickInstance } from './pick';
import { UserFacingError } from './register';
import { removeWithConfirmation } from './worktreeCommands';

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
      if (!agents.terminals.reveal(inst.id)) throw new UserFacingError(`"${inst.title}" has no open terminal. Use Follow Up or Take Over to continue its session.`);
    },

    'grove.stopInstance': async (node?: Node, nodes?: Node[]) => {
      const list = targets(node, nodes);
      const chosen = list
        ? list.filter((n) => n.kind === 'instance').map((n) => s.fleet.get((n as { id: string }).id)).filter((i): i is InstanceSnapshot => !!i)
        : [await pickInstance(s, undefined, (i) => isOwned(i.state), 'stop')];
      const live = chosen.filter((i) => isOwned(i.state));
      const results = await Promise.allSettled(live.map((i) => stop(s.grove, i.id)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length) throw failed[0]!.reason;
      return results.map((r) => (r as PromiseFulfilledResult<{ message: string }>).value.message);
    },

    'grove.followUp': async (node?: Node, args?: { prompt?: string }) => {
      const inst = await pickInstance(s, node, (i) => !!i.worktreePath && !i.archived, 'follow up');
      const prompt = args?.prompt ?? await vscode.window.showInputBox({
        title: `Grove: follow up "${inst.title}"`,
        prompt: isActive(inst.state) ? 'The agent is working: this is sent when its current turn ends (or typed into its terminal)' : inst.sessionId ? 'Sent to the same session: the agent keeps its history' : 'Starts the agent again in its worktree',
        placeHolder: 'e.g. Also add tests for the empty case',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'Write the follow-up'),
      });
      if (!prompt?.trim()) throw new vscode.CancellationError();
      const r = await followUp(s.grove, inst.id, prompt);
      if (r.outcome === 'queued' || r.outcome === 'requested') void vscode.window.showInformationMessage(`Grove: ${r.message}`);
      return r;
    },

    'grove.resumeInstance': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => (isFinished(i.state) && i.state !== 'done') || i.state === 'paused', 'resume');
      await resume(s.grove, inst.id);
    },

    'grove.continueFresh': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => isFinished(i.state) && !!i.worktreePath && !i.archived, 'continue in a fresh session');
      const next = await continueInFreshSession(s.grove, inst.id);
      void vscode.window.showInformationMessage(`Grove: "${inst.title}" continues in a fresh session with a summary of the last one.`);
      return next;
    },

    'grove.takeOver': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => i.mode === 'background' && !!i.sessionId, 'take over');
      if (!inst.sessionId) throw new UserFacingError(`"${inst.title}" has no session yet.`);
      let stopFirst = false;
      if (isActive(inst.state)) {
        const ok = await vscode.window.showWarningMessage(`"${inst.title}" is working. Stop its background turn and continue the session in a terminal?`, { modal: true }, 'Stop and Take Over');
        if (!ok) return;
        stopFirst = true;
      }
      await takeOver(s.grove, inst.id, { stopFirst });
    },

    'grove.handBack': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => i.mode === 'terminal' && i.profile === 'claude', 'hand back');
      await switchMode(s.grove, inst.id, 'background', { stopFirst: true });
      void vscode.window.showInformationMessage(`Grove: "${inst.title}" is back in the background. Follow Up continues its session there.`);
    },

    'grove.removeInstance': async (node?: Node, nodes?: Node[]) => {
      const list = targets(node, nodes) ?? [{ kind: 'instance', id: (await pickInstance(s, undefined, () => true, 'remove')).id } as Node];
      const out = [];
      for (const n of list) {
        if (n.kind !== 'instance' || !s.fleet.get(n.id)) continue;
        out.push(await removeWithConfirmation(s, { id: n.id }));
      }
      return out;
    },

    'grove.answerPermission': async (node?: Node) => {
      const inst = await pickInstance(s, node, (i) => i.state === 'waiting' && i.waitReason === 'permission', 'answer');
      const runner = agents.runner(inst.id);
      const pending = runner?.pendingPermissions[0];
      if (!runner || !pending) {
        if (agents.terminals.reveal(inst.id)) return;
        throw new UserFacingError(`"${inst.title}" has no open permission request.`);
      }
      await agents.askPermission(inst, runner, { requestId: pending.requestId, toolName: pending.toolName, input: pending.input, summary: describeToolUse(pending.toolName, pending.input, inst.worktreePath) });
    },
  };
}
