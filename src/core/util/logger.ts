/** Core logs through this interface; the VS Code layer backs it with a LogOutputChannel, tests with memory. */
export interface Logger {
  trace(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string | Error): void;
}

export const nullLogger: Logger = { trace() {}, info() {}, warn() {}, error() {} };

/** Collects lines; used by tests and the CLI. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  trace(m: string) { this.lines.push(`trace ${m}`); }
  info(m: string) { this.lines.push(`info ${m}`); }
  warn(m: string) { this.lines.push(`warn ${m}`); }
  error(m: string | Error) { this.lines.push(`error ${m instanceof Error ? m.message : m}`); }
}
