/**
 * The radar's notification: two agents still at work started changing the same files. "Show Both Diffs" opens each
 * one's changes; "Tell <agent>" sends the later one a follow-up naming the other's branch and files. Shown unless
 * `grove.notifications` is `off` (it is about work that will need attention).
 */
import * as vscode from 'vscode';
import { tellAboutOverlap } from '../core/flows/radar';
import type { Grove } from '../core/grove';
import type { Logger } from '../core/util/logger';
import { groveConfig } from './config';

export function radarNotifications(grove: Grove, log: Logger): vscode.Disposable {
  const sub = grove.radar.onDidStartOverlap(async (e) => {
    if (groveConfig(vscode.Uri.file(e.repoRoot)).notifications === 'off') return;
    const files = `${e.files.slice(0, 3).join(', ')}${e.files.length > 3 ? ` and ${e.files.length - 3} more` : ''}`;
    const tell = `Tell "${e.b.title.slice(0, 30)}"`;
    const a = await vscode.window.showWarningMessage(`Grove: "${e.a.title}" and "${e.b.title}" are both changing ${files}${e.conflict ? ' (their changes conflict)' : ''}.`, 'Show Both Diffs', tell);
    try {
      if (a === 'Show Both Diffs') {
        for (const i of [e.a, e.b]) await vscode.commands.executeCommand('grove.reviewChanges', { kind: 'instance', id: i.id });
      } else if (a === tell) {
        const r = await tellAboutOverlap(grove, e.b.id, e.a.id);
        void vscode.window.showInformationMessage(`Grove: ${r.message}`);
      }
    } catch (err) {
      log.warn(`radar: ${(err as Error).message}`);
      void vscode.window.showWarningMessage(`Grove: ${(err as Error).message}`);
    }
  });
  return new vscode.Disposable(() => sub.dispose());
}
