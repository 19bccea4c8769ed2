/** Show Turn Changes and Revert to Before This Turn: the VS Code way of asking for core/flows/turns. */
import path from 'node:path';
import * as vscode from 'vscode';
import { revertToBeforeTurn, turnChanges, turns } from '../../core/flows/turns';
import type { InstanceSnapshot } from '../../core/model';
import { gitUri } from '../review/gitContent';
import type { Services } from '../services';
import type { Node } from '../tree/agentsTree';
import { TURNS, type TurnRows } from '../tree/turnRows';
import { pickInstance } from './pick';
import { UserFacingError } from './register';

export interface TurnArgs {
  instanceId: string;
  turn: number;
  /** Skip the confirmation of a revert (tests, automation). */
  confirmed?: boolean;
}

export function turnCommands(s: Services, rows: TurnRows) {
  /** The agent and turn of a row, of explicit arguments, or picked. */
  const target = async (arg: Node | TurnArgs | undefined, what: string): Promise<{ inst: InstanceSnapshot; turn: number }> => {
    const t = arg && 'kind' in arg ? (arg.kind === 'contributed' && arg.contribution === TURNS ? rows.turnOf(arg.key) : undefined) : arg;
    if (t) {
      const inst = s.fleet.get(t.instanceId);
      if (!inst) throw new UserFacingError('That agent is gone.');
      return { inst, turn: t.turn };
    }
    const inst = await pickInstance(s, arg && 'kind' in arg ? arg : undefined, (i) => !!i.worktreePath, what);
    const list = (await turns(s.grove, inst.id)).filter((m) => (m.turn ?? 0) >= 1);
    if (!list.length) throw new UserFacingError(`"${inst.title}" has no finished turn yet.`);
    const pick = await vscode.window.showQuickPick(list.reverse().map((m) => ({ label: `Turn ${m.turn}`, description: new Date(m.createdAt).toLocaleString(), turn: m.turn! })), { title: `Grove: ${what} — ${inst.title}` });
    if (!pick) throw new vscode.CancellationError();
    return { inst, turn: pick.turn };
  };

  return {
    'grove.showTurnChanges': async (arg?: Node | TurnArgs) => {
      const { inst, turn } = await target(arg, 'Show Turn Changes');
      const c = await turnChanges(s.grove, inst.id, turn);
      if (!c.files.length) {
        void vscode.window.showInformationMessage(`Grove: turn ${turn} of "${inst.title}" changed no files.`);
        return { title: '', resources: [] };
      }
      const repo = inst.repoRoot;
      const list = c.files.map((f) => ({
        label: vscode.Uri.file(path.join(inst.worktreePath || repo, f.path)),
        original: f.status === 'A' ? undefined : gitUri({ repo, ref: c.from.filesTree, path: f.oldPath ?? f.path }),
        modified: f.status === 'D' ? undefined : gitUri({ repo, ref: c.to.filesTree, path: f.path }),
      }));
      const title = `${inst.title}: turn ${turn}`;
      await vscode.commands.executeCommand('vscode.changes', title, list.map((x) => [x.label, x.original, x.modified]));
      return { title, resources: list.map((x) => ({ label: x.label.toString(), original: x.original?.toString(), modified: x.modified?.toString() })) };
    },

    'grove.revertTurn': async (arg?: Node | TurnArgs) => {
      const { inst, turn } = await target(arg, 'Revert to Before This Turn');
      const confirmed = !!arg && !('kind' in arg) && !!arg.confirmed;
      const r = await revertToBeforeTurn(s.grove, inst.id, turn, confirmed ? {} : {
        confirm: async (i, files) => {
          const shown = files.slice(0, 15).map((f) => `  ${f.path}`).join('\n');
          const more = files.length > 15 ? `\n  … and ${files.length - 15} more` : '';
          const a = await vscode.window.showWarningMessage(
            `Revert "${i.title}" to before turn ${turn}?`,
            { modal: true, detail: `Its worktree goes back to the checkpoint before turn ${turn}: the changes of ${files.length} file(s) in this turn and the later ones are undone${files.length ? `:\n${shown}${more}` : ''}\n\nand anything changed since. What it holds now is kept as a checkpoint first.` },
            'Revert');
          return a === 'Revert';
        },
      }, confirmed);
      if (r.cancelled) return r;
      await s.repos.refresh(s.repos.find(inst.repoRoot)?.info.mainWorktree);
      await rows.read(inst.id);
      const notes = r.notes.length ? ` ${r.notes.join(' ')}` : '';
      void vscode.window.showInformationMessage(`Grove: "${inst.title}" is back to before turn ${turn}. The state it replaced is kept as checkpoint ${r.undoId}.${notes}`);
      return r;
    },
  };
}
