// A minimal stand-in for the `vscode` module, for timing Grove's own activate() in plain Node (test/bench/activation.cjs).
// It implements just what activation and repository discovery touch, with no-op UI; every API call is counted and
// any property this file does not know is recorded in `unknown` (reported by the bench, so gaps are visible).
'use strict';
const path = require('node:path');

const calls = Object.create(null);
const unknown = new Set();
const count = (name) => { calls[name] = (calls[name] || 0) + 1; };
const disposable = () => ({ dispose() {} });

/** Wraps an API namespace: known members are counted; unknown ones are recorded and answer a no-op. */
function namespace(name, members) {
  return new Proxy(members, {
    get(target, prop) {
      if (typeof prop === 'symbol' || prop === 'then') return target[prop];
      if (prop in target) {
        const v = target[prop];
        if (typeof v === 'function') return (...args) => { count(`${name}.${prop}`); return v(...args); };
        return v;
      }
      unknown.add(`${name}.${String(prop)}`);
      return () => disposable();
    },
  });
}

class Disposable {
  constructor(fn) { this._fn = fn; }
  static from(...ds) { return new Disposable(() => ds.forEach((d) => d && d.dispose())); }
  dispose() { if (this._fn) this._fn(); this._fn = undefined; }
}

class EventEmitter {
  constructor() { this.listeners = new Set(); this.event = (l, thisArg) => { const f = l.bind(thisArg); this.listeners.add(f); return new Disposable(() => this.listeners.delete(f)); }; }
  fire(e) { for (const l of [...this.listeners]) l(e); }
  dispose() { this.listeners.clear(); }
}
const noEvent = () => disposable();

class Uri {
  constructor(scheme, p, query = '', fragment = '') { this.scheme = scheme; this.path = p; this.query = query; this.fragment = fragment; this.authority = ''; }
  get fsPath() { return this.path; }
  static file(p) { return new Uri('file', path.resolve(p)); }
  static parse(s) { const m = /^([a-z][\w+.-]*):(.*)$/i.exec(s); return m ? new Uri(m[1], m[2].replace(/^\/\//, '')) : Uri.file(s); }
  static from(c) { return new Uri(c.scheme, c.path || '', c.query || '', c.fragment || ''); }
  static joinPath(u, ...parts) { return new Uri(u.scheme, path.join(u.path, ...parts)); }
  with(c) { return new Uri(c.scheme ?? this.scheme, c.path ?? this.path, c.query ?? this.query, c.fragment ?? this.fragment); }
  toString() { return `${this.scheme}://${this.path}${this.query ? `?${this.query}` : ''}`; }
}

class TreeItem { constructor(label, collapsibleState) { this.label = label; this.collapsibleState = collapsibleState; } }
class ThemeIcon { constructor(id, color) { this.id = id; this.color = color; } }
ThemeIcon.File = new ThemeIcon('file');
ThemeIcon.Folder = new ThemeIcon('folder');
class ThemeColor { constructor(id) { this.id = id; } }
class MarkdownString { constructor(v = '') { this.value = v; } appendMarkdown(s) { this.value += s; return this; } appendText(s) { this.value += s; return this; } appendCodeblock(s) { this.value += `\n\`\`\`\n${s}\n\`\`\`\n`; return this; } }
class RelativePattern { constructor(base, pattern) { this.baseUri = typeof base === 'string' ? Uri.file(base) : base.uri ?? base; this.base = this.baseUri.fsPath; this.pattern = pattern; } }
class CancellationError extends Error { constructor() { super('Canceled'); this.name = 'Canceled'; } }

function logChannel(name) {
  const c = { name, logLevel: 2, onDidChangeLogLevel: noEvent };
  for (const m of ['append', 'appendLine', 'replace', 'clear', 'show', 'hide', 'dispose', 'trace', 'debug', 'info', 'warn', 'error']) c[m] = () => {};
  return c;
}

let folders = [];
const config = { get: (_k, d) => d, has: () => false, inspect: () => undefined, update: async () => {} };
const commands = new Map();

const vscode = {
  version: '1.100.0',
  Disposable, EventEmitter, Uri, TreeItem, ThemeIcon, ThemeColor, MarkdownString, RelativePattern, CancellationError,
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  QuickPickItemKind: { Separator: -1, Default: 0 },
  ViewColumn: { Active: -1, Beside: -2, One: 1 },
  window: namespace('window', {
    createOutputChannel: (name) => logChannel(name),
    createTreeView: () => ({ description: undefined, message: undefined, badge: undefined, visible: true, selection: [], onDidChangeSelection: noEvent, onDidChangeVisibility: noEvent, onDidExpandElement: noEvent, onDidCollapseElement: noEvent, reveal: async () => {}, dispose() {} }),
    createStatusBarItem: () => ({ text: '', tooltip: '', command: undefined, show() {}, hide() {}, dispose() {} }),
    registerFileDecorationProvider: () => disposable(),
    onDidCloseTerminal: noEvent, onDidOpenTerminal: noEvent, onDidChangeActiveTerminal: noEvent, onDidChangeActiveTextEditor: noEvent,
    terminals: [], activeTextEditor: undefined,
    showInformationMessage: async () => undefined, showWarningMessage: async () => undefined, showErrorMessage: async () => undefined,
    withProgress: (_o, task) => task({ report() {} }, { isCancellationRequested: false, onCancellationRequested: noEvent }),
  }),
  workspace: namespace('workspace', {
    get workspaceFolders() { return folders; },
    isTrusted: true,
    textDocuments: [],
    onDidOpenTextDocument: noEvent, onDidChangeTextDocument: noEvent, onDidSaveTextDocument: noEvent,
    getConfiguration: () => config,
    onDidChangeConfiguration: noEvent, onDidChangeWorkspaceFolders: noEvent, onDidCloseTextDocument: noEvent, onDidGrantWorkspaceTrust: noEvent,
    registerTextDocumentContentProvider: () => disposable(),
    createFileSystemWatcher: () => ({ onDidChange: noEvent, onDidCreate: noEvent, onDidDelete: noEvent, dispose() {} }),
    asRelativePath: (p) => (typeof p === 'string' ? p : p.fsPath),
  }),
  languages: namespace('languages', {
    createDiagnosticCollection: () => ({ set() {}, delete() {}, clear() {}, forEach() {}, get: () => undefined, dispose() {} }),
    registerCodeLensProvider: () => disposable(),
    registerCompletionItemProvider: () => disposable(),
  }),
  commands: namespace('commands', {
    registerCommand: (id, fn) => { commands.set(id, fn); return new Disposable(() => commands.delete(id)); },
    executeCommand: async () => undefined,
  }),
  env: namespace('env', { remoteName: undefined, clipboard: { writeText: async () => {}, readText: async () => '' }, openExternal: async () => true }),
  extensions: namespace('extensions', { getExtension: () => undefined }),
};

module.exports = vscode;
module.exports.__bench = {
  calls, unknown, commands,
  setWorkspaceFolder(p) { folders = [{ uri: Uri.file(p), name: path.basename(p), index: 0 }]; },
};
