// Composition root: builds core objects with plain constructor arguments, wires the VS Code layer, and hands
// every disposable to context.subscriptions. Nothing else constructs services.
import * as vscode from 'vscode';

export interface GroveApi {
  readonly version: string;
}

export async function activate(context: vscode.ExtensionContext): Promise<GroveApi> {
  const log = vscode.window.createOutputChannel('Grove', { log: true });
  context.subscriptions.push(log);
  const comingSoon = (what: string) => () => vscode.window.showInformationMessage(`Grove: ${what} is coming soon.`);
  context.subscriptions.push(
    vscode.commands.registerCommand('grove.dispatchTask', comingSoon('Dispatch Task')),
    vscode.commands.registerCommand('grove.dispatchPlan', comingSoon('Dispatch Plan')),
  );
  await vscode.commands.executeCommand('setContext', 'grove.ready', true);
  return { version: context.extension.packageJSON.version as string };
}

export function deactivate(): void {}
