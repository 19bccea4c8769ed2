import type * as vscode from 'vscode';
import { registerPlanEditing } from '../plans/planEditing';
import { registerWalkthrough, type InstancesSource } from '../walkthrough/walkthrough';

/**
 * The conventions of a well-made extension that live outside the features themselves: the Get Started
 * walkthrough (its check command and completion context keys) and editor support for plan files. One call from
 * the composition root; the keybindings, icons, restricted settings and setting descriptions are in package.json.
 */
export function registerConventions(fleet: InstancesSource, opts: { demoModel: boolean }): vscode.Disposable[] {
  return [...registerWalkthrough(fleet, opts), ...registerPlanEditing()];
}
