/**
 * A supervised agent process: spawned through execa with an argument array (never a shell), leading its own
 * process group on POSIX, and ended with its whole process tree on stop, failure or dispose (see
 * {@link ../platform/processTree}: the tree is read before anything is signalled, one strategy per platform).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { localTreeIo, ProcessTree, type TreeIo } from '../platform/processTree';
import { Disposable } from '../util/disposable';
import { Emitter } from '../util/event';
import { nullLogger, type Logger } from '../util/logger';

export interface ProcessOutput {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface ProcessExit {
  code: number | null;
  signal: string | null;
  /** True when `stop()` or `dispose()` ended it. */
  stoppedByUser: boolean;
}

export interface StopTimeouts {
  /** After SIGINT, wait this long before SIGTERM (default 3000 ms). */
  interruptMs?: number;
  /** After SIGTERM, wait this long before SIGKILL (default 3000 ms). */
  terminateMs?: number;
}

export interface AgentProcessOptions {
  /** Executable (absolute path or a name on PATH). Use {@link resolveClaudeExecutable} for Claude. */
  command: string;
  args: string[];
  cwd: string;
  /** The complete environment of the child (not merged with ours). */
  env: Record<string, string | undefined>;
  logger?: Logger;
  stopTimeouts?: StopTimeouts;
  /** Aborting ends the process like `stop()`. */
  signal?: AbortSignal;
  /** The machine's process table and signals (tests inject another platform). */
  treeIo?: TreeIo;
}

/**
 * Variables of the host's own process that must not reach an agent: with `ELECTRON_RUN_AS_NODE=1` (set in a VS Code
 * extension host) every Electron app and VS Code extension test the agent starts would run as plain Node.
 */
const HOST_ONLY_VARIABLES = ['ELECTRON_RUN_AS_NODE'];

/** The environment an agent gets from `env`: without {@link HOST_ONLY_VARIABLES}. Pure. */
export function agentEnvironment(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  for (const k of HOST_ONLY_VARIABLES) delete out[k];
  return out;
}

/** The executable is missing: the message tells the user how to fix it. */
export class ExecutableNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExecutableNotFoundError';
  }
}

export const CLAUDE_NOT_FOUND = 'Claude Code CLI not found: install with npm i -g @anthropic-ai/claude-code or set grove.claudePath';

/** Every live process group, so that an exiting host (deactivation, crash) leaves no orphan agent behind. */
const liveGroups = new Set<AgentProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of liveGroups) p.killNow();
  });
}

export class AgentProcess extends Disposable {
  private readonly _onDidOutput = this._register(new Emitter<ProcessOutput>());
  /** Raw chunks of stdout and stderr. */
  readonly onDidOutput = this._onDidOutput.event;
  private readonly _onDidExit = this._register(new Emitter<ProcessExit>());
  /** Fires once, after the output streams are drained; listeners are dropped afterwards. */
  readonly onDidExit = this._onDidExit.event;

  readonly pid: number | undefined;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;

  private readonly child: ResultPromise;
  /** Inherited by every descendant: finds tool processes that left our group and were re-parented. */
  private readonly marker = randomUUID();
  private readonly tree: ProcessTree | undefined;
  private readonly io: TreeIo;
  private readonly logger: Logger;
  private stopRequested = false;
  private exitInfo: ProcessExit | undefined;
  private stopping: Promise<ProcessExit> | undefined;

  constructor(private readonly options: AgentProcessOptions) {
    super();
    this.logger = options.logger ?? nullLogger;
    this.io = options.treeIo ?? localTreeIo;
    const spawnedAfter = this.io.now();
    installExitHook();
    this.child = execa(options.command, options.args, {
      cwd: options.cwd,
      env: { ...agentEnvironment(options.env), [MARKER_VAR]: this.marker },
      extendEnv: false,
      // POSIX: lead a process group so stop() reaches the CLI's children (Bash tool, nested agents…).
      detached: process.platform !== 'win32',
      windowsHide: true,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      encoding: 'buffer',
      // execa's own cleanup is skipped for detached children; liveGroups + the exit hook do it instead.
      cleanup: false,
      shell: false,
    });
    this.pid = this.child.pid;
    this.tree = this.pid !== undefined ? new ProcessTree(this.pid, { name: MARKER_VAR, token: this.marker }, this.io, spawnedAfter) : undefined;
    liveGroups.add(this);
    this.child.stdout?.on('data', (data: Buffer) => this._onDidOutput.fire({ stream: 'stdout', data }));
    this.child.stderr?.on('data', (data: Buffer) => this._onDidOutput.fire({ stream: 'stderr', data }));
    this.child.stdin?.on('error', () => { /* EPIPE once the child is gone: its exit is reported instead */ });

    // Once the main process has exited, whatever it left behind is an orphan: end it so it cannot hold the output
    // pipes open (which would delay the exit event forever) or keep running unsupervised. Claude Code starts its Bash
    // tool with setsid (a new session and group), so the group alone does not reach it: the tree also takes the
    // processes that inherited our marker, and those a stop's snapshot saw before they were re-parented.
    this.child.once('exit', () => {
      const tree = this.tree;
      if (!tree) return;
      tree.rootExited();
      if (this.io.platform === 'win32') void tree.signalAsync('SIGKILL'); // PowerShell: not on the event loop
      else tree.signal('SIGKILL');
    });

    this.exited = this.child.then(
      (r) => this.finish(r.exitCode ?? null, r.signal ?? null),
      (err) => this.finish(null, null, err),
    );
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) void this.stop();
      else {
        const onAbort = () => void this.stop();
        signal.addEventListener('abort', onAbort, { once: true });
        void this.exited.then(() => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Writes to the child's stdin; false when it is closed. */
  write(data: string): boolean {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded || this.exitInfo) return false;
    stdin.write(data);
    return true;
  }

  /** Closes the child's stdin (a stream-json CLI exits when its input ends). */
  endInput(): void {
    const stdin = this.child.stdin;
    if (stdin && !stdin.writableEnded) stdin.end();
  }

  /**
   * Ends the whole process tree, read before the first signal. POSIX: SIGINT, then SIGTERM, then SIGKILL to the
   * tree's groups and members, waiting the configured time between steps. Windows (no graceful signal exists for
   * a console process): `taskkill /T /F` of the CLI, then of every member of the snapshot still alive.
   */
  stop(): Promise<ProcessExit> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    this.stopRequested = true;
    this.stopping ??= this.runStopLadder();
    return this.stopping;
  }

  private async runStopLadder(): Promise<ProcessExit> {
    const { interruptMs = 3000, terminateMs = 3000 } = this.options.stopTimeouts ?? {};
    const tree = this.tree;
    if (!tree) return this.exited;
    // Before any signal: once the CLI is gone its children are re-parented and no longer found from it.
    await tree.snapshotAsync();
    if (this.io.platform === 'win32') {
      this.logger.trace(`agent ${this.pid}: taskkill of its process tree (${tree.members.length} processes)`);
      await tree.signalAsync('SIGKILL');
      if (await this.exitsWithin(interruptMs + terminateMs)) return this.exited;
      this.logger.warn(`agent ${this.pid}: still alive after taskkill, trying again`);
      await tree.signalAsync('SIGKILL');
      return this.exited;
    }
    for (const [sig, wait] of [['SIGINT', interruptMs], ['SIGTERM', terminateMs]] as const) {
      this.logger.trace(`agent ${this.pid}: ${sig} to its process tree`);
      this.signalTree(sig);
      if (await this.exitsWithin(wait)) return this.exited;
    }
    this.logger.warn(`agent ${this.pid}: still alive after SIGINT and SIGTERM, sending SIGKILL`);
    this.signalTree('SIGKILL');
    return this.exited;
  }

  /** Synchronous last resort (host exiting): SIGKILL (Windows: taskkill) the whole tree now. */
  killNow(): void {
    try {
      if (this.io.platform === 'win32') this.tree?.signalKnown('SIGKILL');
      else this.tree?.signal('SIGKILL');
    } catch {
      /* exiting anyway */
    }
  }

  override dispose(): void {
    if (!this.exitInfo) void this.stop();
    super.dispose();
  }

  private exitsWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  private signalTree(sig: NodeJS.Signals): void {
    try {
      this.tree?.signal(sig);
    } catch (err) {
      this.logger.warn(`agent ${this.pid}: ${sig} failed: ${String(err)}`);
    }
  }

  private finish(code: number | null, signal: string | null, err?: unknown): ProcessExit {
    if (this.exitInfo) return this.exitInfo;
    if (err) this.logger.error(`agent ${this.pid}: ${String(err)}`);
    liveGroups.delete(this);
    this.exitInfo = { code, signal, stoppedByUser: this.stopRequested };
    this.logger.trace(`agent ${this.pid}: exited code=${code} signal=${signal}${this.stopRequested ? ' (stopped)' : ''}`);
    this._onDidExit.fire(this.exitInfo);
    this._onDidOutput.dispose();
    this._onDidExit.dispose();
    return this.exitInfo;
  }
}

/** Environment variable carrying a per-process token, inherited by all descendants of an agent. */
export const MARKER_VAR = 'GROVE_AGENT_PROCESS';

// ---- resolving the executable ---------------------------------------------------------------------------------

export interface ResolvedCommand {
  command: string;
  /** Arguments to put before the caller's own (e.g. the script of a resolved `.cmd` shim). */
  prefixArgs: string[];
}

/**
 * Finds the Claude CLI: the `grove.claudePath` setting when given, else `claude` on PATH.
 *
 * Windows: npm installs a `claude.cmd` shim, which execa cannot start without a shell. Rather than running it
 * through `cmd.exe /d /s /c` — whose quoting rules differ from every other program's and would put arguments through
 * cmd's metacharacter parsing — we read the shim and start its target directly: the native `claude.exe` it points
 * to, or `node <cli.js>` for older JavaScript releases. (cmd-shim's format: the target is the last quoted
 * `"%dp0%\…"` path on the line that ends with `%*`.)
 *
 * @throws ExecutableNotFoundError with {@link CLAUDE_NOT_FOUND} when nothing is found.
 */
export function resolveClaudeExecutable(claudePath: string | undefined, env: Record<string, string | undefined> = process.env): ResolvedCommand {
  const found = claudePath?.trim() ? resolveExplicit(claudePath.trim(), env) : which('claude', env);
  if (!found) {
    throw new ExecutableNotFoundError(claudePath?.trim() ? `${CLAUDE_NOT_FOUND} (grove.claudePath is "${claudePath}", which does not exist)` : CLAUDE_NOT_FOUND);
  }
  return resolveShim(found);
}

function resolveExplicit(p: string, env: Record<string, string | undefined>): string | undefined {
  if (path.isAbsolute(p) || p.includes('/') || p.includes('\\')) return isFile(p) ? p : undefined;
  return which(p, env);
}

/** `name` on PATH (with PATHEXT on Windows), or undefined. */
export function which(name: string, env: Record<string, string | undefined> = process.env, platform = process.platform): string | undefined {
  const pathVar = env.PATH ?? env.Path ?? '';
  const sep = platform === 'win32' ? ';' : ':';
  const exts = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').map((e) => e.toLowerCase())] : [''];
  for (const dir of pathVar.split(sep)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir.replace(/^"|"$/g, ''), name + ext);
      if (isFile(candidate) && (platform === 'win32' || isExecutable(candidate))) return candidate;
    }
  }
  return undefined;
}

/** Turns an npm `.cmd` shim into the command it runs; any other file is returned as is. */
export function resolveShim(file: string, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): ResolvedCommand {
  if (!/\.(cmd|bat)$/i.test(file)) return { command: file, prefixArgs: [] };
  const target = parseCmdShim(readFile(file), path.win32.dirname(file));
  if (!target) throw new ExecutableNotFoundError(`${CLAUDE_NOT_FOUND} (cannot read the npm shim ${file}; set grove.claudePath to claude.exe or cli.js)`);
  if (/\.(c|m)?js$/i.test(target)) {
    const localNode = path.win32.join(path.win32.dirname(file), 'node.exe');
    return { command: isFile(localNode) ? localNode : 'node', prefixArgs: [target] };
  }
  return { command: target, prefixArgs: [] };
}

/** The target of an npm cmd-shim: `"%dp0%\node_modules\…\claude.exe"   %*` → the absolute path. Pure. */
export function parseCmdShim(content: string, shimDir: string): string | undefined {
  const line = content.split(/\r?\n/).reverse().find((l) => l.includes('%*'));
  if (!line) return undefined;
  const quoted = [...line.matchAll(/"(%~?dp0%?\\[^"]+)"/gi)].map((m) => m[1]);
  const target = quoted.filter((q) => !/\\node(\.exe)?$/i.test(q)).pop();
  if (!target) return undefined;
  return path.win32.join(shimDir, target.replace(/^%~?dp0%?\\/i, ''));
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---- what may be logged ----------------------------------------------------------------------------------------

/**
 * Variables whose values may appear in a log: CLI configuration that holds no secret. A deny-list of "secret-looking"
 * names cannot work (`ANTHROPIC_CUSTOM_HEADERS` usually carries an `Authorization` header), so only these are shown.
 */
const SHOWN_VARIABLES = new Set([
  'CLAUDE_CONFIG_DIR', 'CLAUDE_CODE_TMPDIR', 'CLAUDE_CODE_USE_BEDROCK', 'CLAUDE_CODE_USE_VERTEX', 'CLAUDE_CODE_USE_FOUNDRY',
  'CLAUDE_CODE_MAX_RETRIES', 'CLAUDE_CODE_MAX_OUTPUT_TOKENS', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'CLAUDE_CODE_SUBAGENT_MODEL',
  'ANTHROPIC_MODEL', 'ANTHROPIC_SMALL_FAST_MODEL', 'ANTHROPIC_DEFAULT_OPUS_MODEL', 'ANTHROPIC_DEFAULT_SONNET_MODEL', 'ANTHROPIC_DEFAULT_HAIKU_MODEL',
  'DISABLE_TELEMETRY', 'DISABLE_AUTOUPDATER', 'IS_SANDBOX',
]);
/** URLs among the shown variables: shown without userinfo (`user:pass@`), query or fragment. */
const URL_VARIABLES = new Set(['ANTHROPIC_BASE_URL', 'ANTHROPIC_BEDROCK_BASE_URL', 'ANTHROPIC_VERTEX_BASE_URL', 'ANTHROPIC_FOUNDRY_BASE_URL']);
/** Other variables of the CLI: named in logs (so one can see they are set), their values never shown. */
const NAMED_VARIABLE = /^(ANTHROPIC_|CLAUDE_)/;

/** A URL with its userinfo, query and fragment masked; `***` for anything that does not look like a URL. Pure. */
export function maskUrl(value: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^/?#]*)@)?([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(value);
  if (!m) return '***';
  const [, scheme, userinfo, host, rest, query, fragment] = m;
  return `${scheme}${userinfo !== undefined ? '***@' : ''}${host}${rest}${query ? '?***' : ''}${fragment ? '#***' : ''}`;
}

/**
 * The loggable part of an environment, as `NAME=value` words: allow-listed variables with their values (URLs masked),
 * the CLI's other variables as `NAME=***`, nothing else. Pure.
 */
export function describeEnv(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (URL_VARIABLES.has(k)) out.push(`${k}=${maskUrl(v)}`);
    else if (SHOWN_VARIABLES.has(k)) out.push(`${k}=${v}`);
    else if (NAMED_VARIABLE.test(k)) out.push(`${k}=***`);
  }
  return out;
}

/** A loggable command line: {@link describeEnv} of the environment, then the argv. */
export function describeCommand(command: string, args: string[], env: Record<string, string | undefined> = {}): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a));
  return [...describeEnv(env), quote(command), ...args.map(quote)].join(' ');
}
