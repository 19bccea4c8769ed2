/**
 * `grove`: the command line on Grove's core, a second composition root next to the extension's `activate`.
 * It reads and writes the same registry (`<git common dir>/grove/instances.json`), so what it dispatches shows
 * in VS Code's Agents tree and the other way round. Exit codes: 0 ok, 1 failure or refusal, 2 usage error.
 */
import { GroveError } from '../core/errors';
import { settingsHelp } from '../core/settings';
import { CliError, parse, UsageError } from './args';
import { dispatchCommand, followUpCommand } from './commands/dispatch';
import { openContext, settingsOf, type Io } from './commands/common';
import { continueCommand, logCommand, mergeCommand, removeCommand, resumeCommand, reviewCommand, statusCommand, stopCommand } from './commands/instance';
import { restoreCommand, revertCommand, snapshotsCommand, turnsCommand } from './commands/restore';
import { serveMcp } from './mcp';

declare const GROVE_VERSION: string | undefined;
const VERSION = typeof GROVE_VERSION === 'string' ? GROVE_VERSION : '0.1.0';

export const USAGE = `grove — run many Claude Code agents in parallel, each on its own git worktree

Usage:
  grove dispatch --plan plan.md [--select "Title"]… [--max N] [--base REF] [--json]
  grove dispatch --prompt "…" [--title T] [--base REF] [--json]
      Runs the tasks to completion in the foreground (progress on stderr); Ctrl-C, SIGTERM and SIGHUP (a closed
      terminal) stop them, and they stay resumable.
  grove status [<id>…] [--json]          Instances of the repository (all windows and processes); a read: changes nothing
  grove follow-up <id> "<prompt>"        One more turn in the instance's session (in the foreground, or handed to
                                         the process that drives it)
  grove stop <id>                        Stops an agent, whichever process drives it; a queued one never starts
  grove resume <id>                      A stopped, failed or interrupted agent continues its session; a paused
                                         (rate-limited) one resumes now
  grove continue <id>                    The task goes on in a fresh session with a summary of the last one (after
                                         its context ran out)
  grove review <id> [--stat]             Changed files, commits and patch against the merge-base
  grove merge <id> [--strategy merge|squash|rebase] [--commit] [--cleanup|--keep]
                                         Preflight (conflicts, your checkout, GROVE_CHECK_COMMAND), then merge
  grove remove <id> [--force] [--delete-branch]
  grove snapshots [--prune] [--json]     Recently Removed: the snapshot Grove records before every remove, branch
                                         deletion, sync abort and cleanup (kept GROVE_SNAPSHOT_RETENTION_DAYS days)
  grove restore <id> [--branch NAME|--detach] [--path DIR]
                                         Brings a snapshot's worktree (or branch) back exactly; a worktree that
                                         still exists is restored in place (and that is undoable)
  grove turns <id> [--json]              The checkpoint Grove records at each turn's end, and what each turn changed
  grove revert <id> --before-turn N [--yes]
                                         The worktree back to before turn N (lists what goes; --yes confirms)
  grove log <id> [--raw]                 The instance's transcript
  grove mcp                              The same operations as MCP tools over stdio

<id>: a full id, a unique prefix (4+ characters), or the exact task title.

Options for every command:
  --repo <path>              A folder of the repository (default: the current directory)
  --json                     Machine-readable output on stdout only
  --on-permission deny|allow How to answer an agent's permission request (default deny; env GROVE_ON_PERMISSION)
  --verbose                  Log git and agent commands to stderr

Settings — the same as the extension's grove.* settings, validated the same way (flag > variable > default):
${settingsHelp()}
Terminal mode needs VS Code: the command line runs background agents only.`;

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  dispatch: dispatchCommand,
  status: statusCommand,
  'follow-up': followUpCommand,
  followup: followUpCommand,
  stop: stopCommand,
  resume: resumeCommand,
  continue: continueCommand,
  review: reviewCommand,
  merge: mergeCommand,
  remove: removeCommand,
  rm: removeCommand,
  log: logCommand,
  snapshots: snapshotsCommand,
  restore: restoreCommand,
  turns: turnsCommand,
  revert: revertCommand,
  mcp: mcpCommand,
};

async function mcpCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { max: { type: 'string' }, verbose: { type: 'boolean' } });
  if (positionals.length) throw new UsageError('grove mcp takes no arguments');
  // Validate the flags now (a usage error must not wait for the first tool call).
  settingsOf(values);
  await serveMcp({
    open: () => openContext(values, io, 'mcp'),
    version: VERSION,
    input: process.stdin,
    output: process.stdout,
    log: (m) => io.err(m),
  });
  return 0;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === 'version') {
    io.out(VERSION);
    return 0;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new UsageError(`unknown command "${command}"`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(USAGE);
      return 0;
    }
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`grove: ${err.message}\nRun \`grove help\` for usage.`);
      return 2;
    }
    const json = rest.includes('--json');
    if (GroveError.is(err)) {
      if (json) io.out(JSON.stringify({ ok: false, reason: err.reason, error: err.message, ...(err.details !== undefined ? { details: err.details } : {}) }, null, 2));
      io.err(`grove: ${err.message}`);
      return 1;
    }
    if (err instanceof CliError) {
      if (json) io.out(JSON.stringify({ ok: false, error: err.message, ...(err.details !== undefined ? { details: err.details } : {}) }, null, 2));
      io.err(`grove: ${err.message}`);
      return 1;
    }
    io.err(`grove: ${(err as Error).stack ?? err}`);
    return 1;
  }
}

/** Waits for stdout and stderr to drain before exiting, so piped output is never cut. */
function flushAndExit(code: number): void {
  let waiting = 2;
  const done = () => {
    if (--waiting === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

if (require.main === module) {
  const io: Io = {
    out: (t) => void process.stdout.write(`${t}\n`),
    err: (t) => void process.stderr.write(`${t}\n`),
  };
  main(process.argv.slice(2), io).then(flushAndExit, (err) => {
    process.stderr.write(`grove: ${err}\n`);
    flushAndExit(1);
  });
}
