// Entry point that VS Code's extension host loads (extensionTestsPath): activates Grove, then runs mocha.
import path from 'node:path';
import * as vscode from 'vscode';
import { findCompiledTests, runMocha } from '../support/mochaRun';

export async function run(): Promise<void> {
  const ext = vscode.extensions.getExtension('grove-dev.grove');
  if (!ext) throw new Error('Grove is not installed in this extension host');
  await ext.activate();
  const files = findCompiledTests(path.resolve(__dirname));
  const r = await runMocha(process.env.GROVE_TIER_LABEL ?? 'integration', files, 120_000);
  if (r.failed > 0) throw new Error(`${r.failed} integration test(s) failed`);
  if (r.passed === 0) throw new Error('no integration test ran');
}
