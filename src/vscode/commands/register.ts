import * as vscode from 'vscode';
import { GroveError } from '../../core/errors';
import type { Logger } from '../../core/util/logger';

/** Thrown by handlers for an expected refusal: shown as a warning, without a stack in the log. */
export class UserFacingError extends Error {}

/** "Grove: …" is added here, at the UI edge; core's messages carry no prefix. */
export function withPrefix(message: string): string {
  return `Grove: ${message}`;
}

/**
 * The one registration wrapper: logs each command, turns errors into messages (with "Show Log"), and keeps
 * handlers thin. A handler returning normally means success; cancellation (the user closed a picker) is silent.
 */
export function registerCommands(
  log: Logger,
  showLog: () => void,
  handlers: Record<string, (...args: any[]) => unknown>,
): vscode.Disposable[] {
  return Object.entries(handlers).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      log.trace(`command ${id}`);
      try {
        return await handler(...args);
      } catch (err) {
        if (err instanceof vscode.CancellationError) return undefined;
        const message = err instanceof Error ? err.message : String(err);
        if (err instanceof UserFacingError || (GroveError.is(err) && err.reason !== 'Failed')) {
          log.warn(`${id}: ${message}`);
          void vscode.window.showWarningMessage(withPrefix(message));
        } else {
          log.error(err instanceof Error ? err : new Error(message));
          void vscode.window.showErrorMessage(withPrefix(message), 'Show Log').then((a) => a && showLog());
        }
        // Rethrow for programmatic callers (tests, API) so they can see the failure.
        if (args.some((a) => a && typeof a === 'object' && (a as { throwErrors?: boolean }).throwErrors)) throw err;
        return undefined;
      }
    }),
  );
}
