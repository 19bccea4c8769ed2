import assert from 'node:assert/strict';
import * as vscode from 'vscode';

describe('activation', () => {
  it('activates Grove and returns its API with the package version', async () => {
    const ext = vscode.extensions.getExtension('grove-dev.grove');
    assert.ok(ext, 'extension grove-dev.grove is not installed');
    const api = await ext.activate();
    assert.equal(ext.isActive, true);
    assert.equal(api.version, ext.packageJSON.version);
  });

  it('registers every command it contributes', async () => {
    const ext = vscode.extensions.getExtension('grove-dev.grove')!;
    const contributed: string[] = ext.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
  });
});
