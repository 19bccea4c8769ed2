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
import { landCommand } from './commands/land';
import { compareCommand, landAttemptCommand } from './commands/attempts';
import { continueCommand, logCommand, mergeCommand, removeCommand, resumeCommand, reviewCommand, statusCommand, stopCommand } from './commands/instance';
import { driverCommand, driverStarter } from './commands/detach';
import { installPluginCommand } from './commands/plugin';
import { restoreCommand, revertCommand, snapshotsCommand, turnsCommand } from './commands/restore';
import { serveMcp } from './mcp';

declare const GROVE_VERSION: string | undefined;
const VERSION = typeof GROVE_VERSION === 'string' ? GROVE_VERSION : '0.1.0';

export const USAGE = `grove — run many Claude Code agents in parallel, each on its own git worktree

Usage:
  grove dispatch --plan plan.md [--select "Title"]… [--max N] [--base REF] [--json]
  grove dispatch --prompt "…" [--title T] [--base REF] [--attempts N [--models a,b,…]] [--json]
      Runs the tasks to completion in the foreground (progress on stderr); Ctrl-C, SIGTERM and SIGHUP (a closed
      terminal) stop them, and they stay resumable.
  grove dispatch … --detach              Hands the tasks to the repository's background driver (started if none runs)
                                         and prints their ids at once; the driver outlives the terminal, runs the
                                         queue and exits when nothing is left (log: .git/grove/driver/driver.log)
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
  grove land [<id>…|--all] [--strategy merge|squash|rebase] [--commit] [--cleanup|--keep] [--retries N]
                                         Land All: sync, check and merge the done agents one after the other; a
                                         conflict or failing check is sent back to its agent, which rejoins the
                                         train when done (GROVE_LAND_RETRIES times); Ctrl-C undoes the step under way
  grove compare <id> [--check]           Best of N: each attempt's size, cost, model (and check result)
  grove land-attempt <id> [--strategy …] [--commit] [--remove-others]
                                         Land one attempt; the others are removed (their loss printed) only with
                                         --remove-others
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
  grove driver                           The background driver itself (started by dispatch --detach)
  grove install-plugin [--project|--user] [--force]
                                         A Claude Code skill that teaches a lead session to plan, dispatch, wait,
                                         review, fix and land with Grove, plus the grove MCP server entry
                                         (--project: .claude/skills/ and .mcp.json of the repository, the default;
                                         --user: ~/.claude/skills/ and ~/.claude.json). Other entries are kept.

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
  land: landCommand,
  compare: compareCommand,
  'land-attempt': landAttemptCommand,
  remove: removeCommand,
  rm: removeCommand,
  log: logCommand,
  snapshots: snapshotsCommand,
  restore: restoreCommand,
  turns: turnsCommand,
  revert: revertCommand,
  mcp: mcpCommand,
  driver: driverCommand,
  'install-plugin': installPluginCommand,
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
    // The lead: the Claude Code session that started this server (Claude Code passes its id), else the Grove agent
    // whose environment it runs in. The Agents tree nests what it dispatches under the instance with that id or session.
    lead: process.env.CLAUDE_CODE_SESSION_ID || process.env.GROVE_INSTANCE_ID || undefined,
    driverStarter: async (g) => driverStarter(g.repoRoot, await g.grove.commonDir(g.repoRoot), values, io),
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
