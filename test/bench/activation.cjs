// Times Grove's own activation code in a fresh plain-Node process (not VS Code's extension host):
//   node test/bench/activation.cjs <bundle.js> <workspace folder>
// `vscode` is test/bench/fakeVscode.cjs. Prints one JSON line: load (require of the bundle), activate (the call
// until its promise resolves), ready (the API's ready(): repository discovery + registry recovery, which activate()
// starts but does not wait for), plus the fake's call counts and any API it did not implement.
'use strict';
const Module = require('node:module');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const [bundle, folder] = process.argv.slice(2);
const fake = path.join(__dirname, 'fakeVscode.cjs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? fake : resolve.call(this, request, ...rest);
};
const vscode = require(fake);
vscode.__bench.setWorkspaceFolder(folder);

(async () => {
  const subscriptions = [];
  const context = {
    subscriptions,
    extension: { id: 'grove-dev.grove', packageJSON: { version: '0.0.0-bench' } },
    extensionUri: vscode.Uri.file(path.dirname(bundle)),
    extensionPath: path.dirname(bundle),
    globalStorageUri: vscode.Uri.file(path.join(folder, '..', 'global-storage')),
    storageUri: vscode.Uri.file(path.join(folder, '..', 'storage')),
    logUri: vscode.Uri.file(path.join(folder, '..', 'logs')),
    workspaceState: { get: (_k, d) => d, update: async () => {}, keys: () => [] },
    globalState: { get: (_k, d) => d, update: async () => {}, keys: () => [], setKeysForSync() {} },
    secrets: { get: async () => undefined, store: async () => {}, delete: async () => {}, onDidChange: () => ({ dispose() {} }) },
    environmentVariableCollection: { replace() {}, append() {}, prepend() {}, clear() {} },
    asAbsolutePath: (p) => path.join(path.dirname(bundle), p),
  };
  const t0 = performance.now();
  const ext = require(path.resolve(bundle));
  const t1 = performance.now();
  const api = await ext.activate(context);
  const t2 = performance.now();
  await api.ready();
  const t3 = performance.now();
  const instances = api.instances().length;
  const commandCount = vscode.__bench.commands.size;
  for (const d of subscriptions.reverse()) try { d.dispose(); } catch { /* ignore */ }
  if (typeof ext.deactivate === 'function') await ext.deactivate();
  process.stdout.write(`${JSON.stringify({
    loadMs: t1 - t0, activateMs: t2 - t1, readyMs: t3 - t2, instances,
    commands: commandCount, calls: vscode.__bench.calls, unknown: [...vscode.__bench.unknown],
    rssMb: process.memoryUsage().rss / 2 ** 20,
  })}\n`);
  process.exit(0);
})().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
