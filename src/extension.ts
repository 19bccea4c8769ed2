import * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext) {
  return { version: '0.1.0' };
}

export function deactivate() {}
