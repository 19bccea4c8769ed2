import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { renderTranscript } from '../core/agents/transcript';
import { instanceLogPath } from '../core/paths';
import { Disposable } from '../core/util/disposable';
import type { Fleet } from '../core/fleet/fleet';
import type { WorkspaceRepositories } from './repositories';

export const LOG_SCHEME = 'grove-log';
/** The transcript shows the tail of very long logs; the raw file keeps everything. */
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * "Show Log": a read-only virtual document rendering an instance's raw stream as a readable transcript, live while
 * it is open (a file watcher on the log, debounced — no polling).
 */
export class LogDocumentProvider extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this._onDidChange.event;
  private readonly watchers = new Map<string, { watcher: fs.FSWatcher | undefined; timer?: NodeJS.Timeout }>();

  constructor(
    private readonly fleet: Fleet,
    private readonly repos: WorkspaceRepositories,
  ) {
    super();
    this._register(vscode.workspace.onDidCloseTextDocument((d) => {
      if (d.uri.scheme !== LOG_SCHEME) return;
      const w = this.watchers.get(d.uri.toString());
      w?.watcher?.close();
      clearTimeout(w?.timer);
      this.watchers.delete(d.uri.toString());
    }));
    this._register({ dispose: () => { for (const w of this.watchers.values()) { w.watcher?.close(); clearTimeout(w.timer); } } });
  }

  static uriFor(instanceId: string, title: string): vscode.Uri {
    const safe = title.replace(/[\\/:*?"<>|#%]+/g, '-').slice(0, 60) || 'agent';
    return vscode.Uri.from({ scheme: LOG_SCHEME, path: `/${safe}.log`, query: instanceId });
  }

  logPath(instanceId: string): string | undefined {
    const inst = this.fleet.get(instanceId);
    if (!inst) return undefined;
    const repo = this.repos.find(inst.repoRoot);
    return inst.logPath ?? (repo ? instanceLogPath(repo.info.commonDir, inst.id) : undefined);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const id = uri.query;
    const inst = this.fleet.get(id);
    const file = this.logPath(id);
    if (!inst || !file) return 'This agent is no longer known to Grove.\n';
    this.watch(uri, file);
    const header = `${inst.title} — ${inst.state}${inst.branch ? ` — ${inst.branch}` : ''}\n${'─'.repeat(60)}\n`;
    let raw = '';
    try {
      const size = fs.statSync(file).size;
      const fd = fs.openSync(file, 'r');
      try {
        const start = Math.max(0, size - MAX_BYTES);
        const buf = Buffer.alloc(size - start);
        fs.readSync(fd, buf, 0, buf.length, start);
        raw = buf.toString('utf8');
        if (start > 0) raw = `${JSON.stringify({ type: 'grove_note', text: `(earlier output left out; the full log is ${file})` })}\n${raw.slice(raw.indexOf('\n') + 1)}`;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return `${header}No output yet.${inst.mode === 'terminal' ? ' This agent runs in a terminal: its conversation is there.' : ''}\n`;
    }
    return header + renderTranscript(raw);
  }

  private watch(uri: vscode.Uri, file: string): void {
    const key = uri.toString();
    if (this.watchers.has(key)) return;
    const entry: { watcher: fs.FSWatcher | undefined; timer?: NodeJS.Timeout } = { watcher: undefined };
    try {
      entry.watcher = fs.watch(file, () => {
        clearTimeout(entry.timer);
        entry.timer = setTimeout(() => this._onDidChange.fire(uri), 250);
      });
    } catch {
      // No log yet: the fleet's change events refresh the document (see refresh()).
    }
    this.watchers.set(key, entry);
  }

  /** Called when an instance changes: re-render its open log (and start watching a log that now exists). */
  refresh(instanceId: string): void {
    for (const [key, w] of this.watchers) {
      const uri = vscode.Uri.parse(key);
      if (uri.query !== instanceId) continue;
      if (!w.watcher) this.watchers.delete(key);
      this._onDidChange.fire(uri);
    }
  }
}
