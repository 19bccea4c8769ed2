import * as vscode from 'vscode';
import { SETTINGS, validateSettings, type GroveSettings, type SettingKey } from '../core/settings';

export type { AgentProfileSetting } from '../core/settings';

const reported = new Set<string>();

/**
 * Grove's settings for a resource (a repository's folder), read fresh each time and validated by core's one
 * validator: an invalid value is replaced by its default and reported once in a warning. In an untrusted workspace
 * VS Code itself withholds the workspace's values of the restricted settings (package.json
 * `restrictedConfigurations`); Grove starts nothing there anyway.
 */
export function groveConfig(scope?: vscode.Uri): GroveSettings {
  const c = vscode.workspace.getConfiguration('grove', scope);
  const raw: Partial<Record<SettingKey, unknown>> = {};
  for (const spec of SETTINGS) raw[spec.key] = c.get(spec.key);
  const { settings, problems } = validateSettings(raw);
  for (const p of problems) {
    if (reported.has(p)) continue;
    reported.add(p);
    void vscode.window.showWarningMessage(`Grove: ${p}`, 'Open Settings').then((a) => a && vscode.commands.executeCommand('workbench.action.openSettings', 'grove.'));
  }
  return settings;
}
