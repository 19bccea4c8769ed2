import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { resolveClaudeExecutable, which } from '../../core/agents/agentProcess';
import { claudeConfigFile, inheritFolderTrust } from '../../core/agents/claudeTrust';
import { writeHookSettings } from '../../core/agents/hookSettings';
import { HookStatusMapper, StatusFileTailer } from '../../core/agents/hookStatus';
import { expandArgs, findProfile, parseProfiles } from '../../core/agents/profiles';
import type { AgentHandle, AgentStartOptions } from '../../core/agents/port';
import type { AgentEvent, InstanceSnapshot } from '../../core/model';
import { Disposable } from '../../core/util/disposable';
import type { Logger } from '../../core/util/logger';
import type { AgentProfileSetting } from '../config';

interface Session {
  instanceId: string;
  terminal: vscode.Terminal;
  emit(e: AgentEvent): void;
  stopping: boolean;
  exited: boolean;
  /** The agent finished its turn (Stop hook) and waits for the user. */
  waitingForUser: boolean;
  /** The agent's UI has started and accepts input. */
  ready: boolean;
  dispose(): void;
}

export interface TerminalStartContext {
  env: Record<string, string | undefined>;
  claudePath?: string;
  profiles: AgentProfileSetting[];
}

/** Where a terminal agent's status comes from: Claude Code's hooks, or (other CLIs) the worktree's files. */
type StatusSource = { kind: 'hooks'; statusPath: string; sessionId: string; idleAtStart?: boolean } | { kind: 'files' };

/**
 * Terminal mode: one managed integrated terminal per instance, started with shellPath/shellArgs (never sendText of
 * a command line). Claude Code's status comes from hooks that append to a per-instance status file in the
 * extension's storage; other CLIs (profiles) report through their process and file activity in the worktree.
 * A terminal that survives a window reload is re-attached (see {@link reattach}).
 */
export class TerminalAgents extends Disposable {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: Logger,
  ) {
    super();
    this._register(vscode.window.onDidCloseTerminal((t) => {
      for (const s of this.sessions.values()) if (s.terminal === t) this.finish(s, s.stopping, t.exitStatus?.code);
    }));
    this._register({ dispose: () => { for (const s of this.sessions.values()) s.dispose(); } });
  }

  terminal(instanceId: string): vscode.Terminal | undefined {
    const s = this.sessions.get(instanceId);
    return s && !s.exited ? s.terminal : undefined;
  }

  reveal(instanceId: string): boolean {
    const t = this.terminal(instanceId);
    t?.show(false);
    return !!t;
  }

  private hookDir(instanceId: string): string {
    return path.join(this.context.globalStorageUri.fsPath, 'hooks', instanceId);
  }

  start(instance: InstanceSnapshot, onEvent: (e: AgentEvent) => void, options: AgentStartOptions, ctx: TerminalStartContext): AgentHandle {
    this.sessions.get(instance.id)?.dispose();
    const { profiles, errors } = parseProfiles(ctx.profiles);
    for (const e of errors) this.log.warn(e);
    const profile = findProfile(profiles, instance.profile);
    if (!profile) throw new Error(`unknown agent profile "${instance.profile}" (define it in grove.agents)`);
    const name = `Grove: ${instance.title.length > 40 ? `${instance.title.slice(0, 39)}…` : instance.title}`;
    let terminalOptions: vscode.TerminalOptions;
    let source: StatusSource;

    if (profile.builtin) {
      const files = writeHookSettings({ dir: this.hookDir(instance.id) });
      // A resumed session reuses the folder: start from an empty status file so old lines are not replayed.
      fs.writeFileSync(files.statusPath, '', { mode: 0o600 });
      const resume = options.resume && !!instance.sessionId;
      const sessionId = resume ? instance.sessionId! : randomUUID();
      const exe = resolveClaudeExecutable(ctx.claudePath, ctx.env);
      const trust = inheritFolderTrust(claudeConfigFile(ctx.env), instance.repoRoot, instance.worktreePath);
      this.log.info(`folder trust for ${instance.worktreePath}: ${trust}`);
      const args = [...exe.prefixArgs, ...(resume ? ['--resume', sessionId] : ['--session-id', sessionId]),
        '--settings', files.settingsPath, '--permission-mode', instance.permissionMode];
      if (instance.model) args.push('--model', instance.model);
      // The prompt is one argument; a leading "-" must not be read as an option.
      if (options.prompt) args.push(options.prompt.startsWith('-') ? ` ${options.prompt}` : options.prompt);
      terminalOptions = {
        name,
        shellPath: exe.command,
        shellArgs: args,
        cwd: instance.worktreePath,
        // The hook command runs our Node script with the host's executable (Electron in desktop VS Code).
        env: { ...stringEnv(ctx.env), ELECTRON_RUN_AS_NODE: '1', GROVE_INSTANCE_ID: instance.id },
        iconPath: new vscode.ThemeIcon('hubot'),
        color: new vscode.ThemeColor('terminal.ansiGreen'),
      };
      // Resumed without a prompt (Take Over), the session waits for the user's input once it has started.
      source = { kind: 'hooks', statusPath: files.statusPath, sessionId, idleAtStart: !options.prompt };
      onEvent({ type: 'started', sessionId });
    } else {
      terminalOptions = {
        name,
        shellPath: which(profile.command, ctx.env) ?? profile.command,
        shellArgs: expandArgs(profile.args, { prompt: options.prompt, title: instance.title, cwd: instance.worktreePath }),
        cwd: instance.worktreePath,
        env: { ...stringEnv(ctx.env), GROVE_INSTANCE_ID: instance.id },
        iconPath: new vscode.ThemeIcon('terminal'),
      };
      source = { kind: 'files' };
      onEvent({ type: 'started' });
    }

    const terminal = vscode.window.createTerminal(terminalOptions);
    const handle = this.connect(instance, terminal, source, onEvent);
    terminal.show(true);
    this.log.info(`terminal agent "${instance.title}": ${terminalOptions.shellPath} (${(terminalOptions.shellArgs as string[]).length} args) in ${instance.worktreePath}`);
    return handle;
  }

  /**
   * Finds the terminal of an active terminal-mode instance among the window's terminals (they survive a window
   * reload) by its process id. {@link reattach} then reads its status file from the start, so the instance ends
   * in the state the session is in now.
   */
  async findTerminal(instance: InstanceSnapshot): Promise<vscode.Terminal | undefined> {
    const pid = instance.agent?.pid;
    if (pid === undefined) return undefined;
    for (const terminal of vscode.window.terminals) {
      if ((await terminal.processId) === pid) return terminal;
    }
    return undefined;
  }

  /** Connects to a terminal found by {@link findTerminal}. */
  reattach(instance: InstanceSnapshot, terminal: vscode.Terminal, onEvent: (e: AgentEvent) => void): AgentHandle {
    const statusPath = path.join(this.hookDir(instance.id), 'status.jsonl');
    const source: StatusSource = instance.profile === 'claude' && instance.sessionId && fs.existsSync(statusPath)
      ? { kind: 'hooks', statusPath, sessionId: instance.sessionId }
      : { kind: 'files' };
    this.log.info(`re-attached to the terminal of "${instance.title}" (pid ${instance.agent?.pid})`);
    return this.connect(instance, terminal, source, onEvent);
  }

  private connect(instance: InstanceSnapshot, terminal: vscode.Terminal, source: StatusSource, onEvent: (e: AgentEvent) => void): AgentHandle {
    const subs: vscode.Disposable[] = [];
    // Input typed before the agent's UI is up would be lost: hold it until the first hook says it is.
    const pendingInput: string[] = [];
    const type = (prompt: string) => {
      terminal.sendText(prompt.replace(/\r?\n/g, ' '), false);
      setTimeout(() => terminal.sendText('', true), 300);
    };
    const markReady = () => {
      if (session.ready) return;
      session.ready = true;
      for (const p of pendingInput.splice(0)) type(p);
    };
    const session: Session = {
      instanceId: instance.id,
      terminal,
      stopping: false,
      exited: false,
      waitingForUser: false,
      ready: source.kind === 'files',
      emit: (e) => {
        if (session.exited) return;
        if (e.type === 'waiting') session.waitingForUser = e.reason === 'user';
        else if (e.type === 'running' || e.type === 'activity') session.waitingForUser = false;
        onEvent(e);
      },
      dispose: () => {
        for (const d of subs) d.dispose();
      },
    };
    this.sessions.set(instance.id, session);

    if (source.kind === 'hooks') {
      const mapper = new HookStatusMapper(source.sessionId);
      const tailer = new StatusFileTailer(source.statusPath);
      subs.push(tailer, tailer.onDidLine((line) => {
        for (const e of mapper.mapLine(line)) {
          // SessionEnd: the session is over even if the terminal lingers; finish() reports the exit once.
          if (e.type === 'exit') this.finish(session, e.stoppedByUser);
          else session.emit(e);
          if (e.type === 'session' && source.idleAtStart) {
            session.emit({ type: 'waiting', reason: 'user' });
            markReady();
          }
          if (e.type === 'running' || e.type === 'waiting') markReady();
        }
      }));
      tailer.start();
    } else {
      session.emit({ type: 'running' });
      // Activity of a CLI without hooks: files it changes in the worktree.
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(instance.worktreePath), '**/*'));
      let timer: NodeJS.Timeout | undefined;
      const touched = (uri: vscode.Uri) => {
        if (/[\\/]\.git([\\/]|$)/.test(uri.fsPath)) return;
        clearTimeout(timer);
        timer = setTimeout(() => session.emit({ type: 'activity', text: `Changed ${path.relative(instance.worktreePath, uri.fsPath)}` }), 300);
      };
      subs.push(watcher, watcher.onDidChange(touched), watcher.onDidCreate(touched), { dispose: () => clearTimeout(timer) });
    }
    void terminal.processId.then((pid) => pid && session.emit({ type: 'started', pid }));

    return {
      stop: async () => {
        session.stopping = true;
        terminal.dispose();
        await new Promise<void>((resolve) => {
          if (session.exited) return resolve();
          const sub = vscode.window.onDidCloseTerminal((t) => {
            if (t === terminal) {
              sub.dispose();
              resolve();
            }
          });
        });
      },
      // The TUI takes input while it works (it queues it for its next turn).
      acceptsInput: true,
      // Typing into the agent's own input (the TUI prompt), not into a shell. The text and the Enter go separately:
      // arriving in one chunk, the TUI takes them for a paste and keeps the newline in the input.
      followUp: (prompt) => {
        if (session.ready) type(prompt);
        else pendingInput.push(prompt);
      },
    };
  }

  /**
   * Reports the end once. A session that had finished its turn (Stop hook: waiting for you) and then ends counts as
   * done; one that ends while working failed (or was stopped, when the user closed it).
   */
  private finish(s: Session, stoppedByUser: boolean, code?: number): void {
    if (s.exited) return;
    const wasWaiting = s.waitingForUser;
    if (wasWaiting) s.emit({ type: 'result', isError: false, subtype: 'success', text: '' });
    s.emit({ type: 'exit', code: wasWaiting ? 0 : code ?? null, signal: null, stoppedByUser: stoppedByUser && !wasWaiting });
    s.exited = true;
    s.dispose();
  }
}

function stringEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
