import * as vscode from 'vscode';
import { CHANGE_SCHEME } from '../tree/agentsTree';

const DECORATIONS: Record<string, { tooltip: string; color: string }> = {
  A: { tooltip: 'Added', color: 'gitDecoration.addedResourceForeground' },
  M: { tooltip: 'Modified', color: 'gitDecoration.modifiedResourceForeground' },
  D: { tooltip: 'Deleted', color: 'gitDecoration.deletedResourceForeground' },
  R: { tooltip: 'Renamed', color: 'gitDecoration.renamedResourceForeground' },
  C: { tooltip: 'Copied', color: 'gitDecoration.addedResourceForeground' },
  T: { tooltip: 'Type changed', color: 'gitDecoration.modifiedResourceForeground' },
  U: { tooltip: 'Conflicted', color: 'gitDecoration.conflictingResourceForeground' },
};

/** A/M/D/R/U badges and git colours on the changed-file rows of the Agents view. */
export class ChangeDecorations implements vscode.FileDecorationProvider {
  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== CHANGE_SCHEME) return undefined;
    const d = DECORATIONS[uri.query];
    return d ? new vscode.FileDecoration(uri.query, d.tooltip, new vscode.ThemeColor(d.color)) : undefined;
  }
}
