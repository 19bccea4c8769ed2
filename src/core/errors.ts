/**
 * Refusals and failures of Grove's user operations, with a typed reason a surface can act on (GitLens style:
 * `GroveError.is(err, 'Busy')`). Messages are sentences for a person, without a product prefix: the VS Code layer
 * adds "Grove:" at the edge, the CLI "grove:". Nothing was changed when an operation refuses, unless the message
 * says otherwise.
 */
export type GroveErrorReason =
  /** No such instance, worktree, plan task or repository. */
  | 'NotFound'
  /** A reference matches several instances. */
  | 'Ambiguous'
  /** The workspace is not trusted: no agents, setup or check commands. */
  | 'Untrusted'
  /** The request itself is wrong (empty prompt, unknown mode, two tasks with one title…). */
  | 'InvalidInput'
  /** The instance is running, queued or provisioning, and the operation needs it to be still. */
  | 'Busy'
  /** Going on would discard work; the details list it. */
  | 'WouldLoseWork'
  /** A person must confirm first (bypassPermissions, a loss, committing the agent's work). */
  | 'NeedsConfirmation'
  /** A merge/sync precondition failed; the details are the problems. */
  | 'Blocked'
  /** The operation is not available on this surface (terminal mode in the CLI). */
  | 'NotSupported'
  /** Another process owns the instance and did not answer in time. */
  | 'NoAnswer'
  /** A git or process step failed; the message says how to finish when anything was left half done. */
  | 'Failed';

export class GroveError extends Error {
  constructor(
    readonly reason: GroveErrorReason,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'GroveError';
  }

  static is(err: unknown, reason?: GroveErrorReason): err is GroveError {
    return err instanceof GroveError && (reason === undefined || err.reason === reason);
  }
}

/** The message of any thrown value, for a person. */
export function plainMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
