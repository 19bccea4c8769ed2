/** Argument parsing on node:util `parseArgs` (no dependency), and the errors that map to exit codes. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad command line: exit code 2, with the usage hint. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A refusal or failure the user can act on: exit code 1, message only (no stack). */
export class CliError extends Error {
  constructor(message: string, readonly details?: unknown) {
    super(message);
    this.name = 'CliError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  repo: { type: 'string' },
  json: { type: 'boolean' },
  'claude-path': { type: 'string' },
  'permission-mode': { type: 'string' },
  'on-permission': { type: 'string' },
  model: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export interface Parsed<V> {
  values: V;
  positionals: string[];
}

/** Strict parsing; unknown options and wrong types become a UsageError. */
export function parse<O extends Options>(args: string[], options: O): Parsed<Record<string, string | boolean | string[] | undefined>> {
  try {
    const r = parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | string[] | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function exactly(positionals: string[], names: string[], command: string): string[] {
  if (positionals.length !== names.length) {
    throw new UsageError(`grove ${command} takes ${names.map((n) => `<${n}>`).join(' ') || 'no arguments'}${positionals.length ? `, got ${positionals.length}` : ''}`);
  }
  return positionals;
}
