import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/index.ts';
import { parsePosition } from '../checkpoint/index.ts';
import type { BinlogPosition } from '../event/index.ts';
import { packageInfo } from '../package/index.ts';
import { reportError } from './output.ts';

/** Exit codes: 0 done, 1 the command failed (bad config, server error...), 2 the command line was wrong. */
export const EXIT_USAGE = 2;

/** Run `tunnel <argv>` and resolve to its exit code; nothing here calls process.exit. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = createProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; every other commander error is a usage error
      // whose message commander has already written to stderr
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return reportError(error);
  }
}

const configOption = () =>
  new Option('-c, --config <file>', 'config file (default: tunnel.config.ts, .mts, .js or .mjs in this directory)').env('TUNNEL_CONFIG');

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a positive integer.');
  }
  return Number(value);
}

function positionOrNone(value: string): BinlogPosition | null {
  if (value === 'none') return null;
  try {
    return parsePosition(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}, or "none".`);
  }
}

function tableList(value: string): string[] {
  const tables = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tables.length === 0 || tables.some((t) => !/^[^.\s]+\.[^.\s]+$/.test(t))) {
    throw new InvalidArgumentError('expected schema.table names separated by commas.');
  }
  return tables;
}

function createProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('tunnel')
    .description('Stream MySQL/MariaDB binlog row changes into Elasticsearch, Redis and webhooks.')
    .version(packageInfo().version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help (tunnel <command> --help: help for a command)')
    .helpCommand('help [command]', 'help for a command')
    // usage errors throw a CommanderError (caught in main) instead of exiting the process
    .exitOverride()
    .showHelpAfterError('(tunnel <command> --help shows the usage)')
    .allowExcessArguments(false);

  program
    .command('start')
    .description("run the config's tasks until SIGINT/SIGTERM (graceful drain, then exit 0)")
    .addOption(configOption())
    .addHelpText(
      'after',
      `
Runs every task (standalone) or the tasks the group's leader assigns (with a cluster section).
SIGINT/SIGTERM: stop reading, drain in-flight batches within shutdownTimeoutMs, commit, exit 0.
A process manager must signal Tunnel itself: run node_modules/.bin/tunnel (or
node node_modules/tunnel/dist/bin/tunnel.js), not npx, which does not pass signals on.
Logs are JSON lines; pretty on a terminal (TUNNEL_LOG_FORMAT=json forces JSON).`,
    )
    .action(async (options: { config?: string }) => {
      const { config } = await loadConfig(options.config);
      const { runWorker } = await import('./commands.ts');
      setExitCode(await runWorker(config));
    });

  program
    .command('validate')
    .description('check a config and print the resolved pipelines')
    .addOption(configOption())
    .addHelpText(
      'after',
      `
Loads and validates the config, applies every task's plugins without connecting anywhere (sink
names that routes and dead letters refer to must exist), and prints the resolved pipelines with
secrets redacted. Exits 1 with one clear message per problem on a bad config.`,
    )
    .action(async (options: { config?: string }) => {
      const { validate } = await import('./inspect-commands.ts');
      setExitCode(await validate(options.config));
    });

  program
    .command('status')
    .description("cluster, nodes and every task's owner, position, lag and rate")
    .addOption(configOption())
    .option('--json', 'print JSON for scripts', false)
    .addHelpText(
      'after',
      `
Reads ZooKeeper (cluster mode) and the workers' status endpoints and prints, per task: owner,
position, lag (seconds and bytes), events/s and last error.`,
    )
    .action(async (options: { config?: string; json: boolean }) => {
      const { config } = await loadConfig(options.config);
      const { statusCommand } = await import('./commands.ts');
      setExitCode(await statusCommand(config, options.json));
    });

  program
    .command('positions')
    .description('list the committed position of every task')
    .addOption(configOption())
    .option('--json', 'print JSON for scripts', false)
    .addHelpText('after', "\nPrints every task's committed position from the position store (files or ZooKeeper).")
    .action(async (options: { config?: string; json: boolean }) => {
      const { positions } = await import('./inspect-commands.ts');
      setExitCode(await positions(options.config, options.json));
    });

  program
    .command('reset-position')
    .description("set or clear a task's position (refused while the task runs)")
    .argument('<task>', 'task name')
    .requiredOption('--to <position>', 'binlog position <file>:<offset>, or "none" to clear it', positionOrNone)
    .option('--rewind', "a position before the stored one: replay the same server's binlog from there", false)
    .option('--new-history', "another server's position, or this one's after RESET MASTER: the next generation", false)
    .addOption(configOption())
    .addHelpText(
      'after',
      `
Sets the task's committed position, or with --to none removes it (the task then starts from
source.startFrom, or re-snapshots with snapshot: 'initial'). Refused while the task runs.
A position before the stored one needs --rewind or --new-history: the sinks order changes by
position, and --new-history makes every change from there newer than what they hold.`,
    )
    .action(async (task: string, options: { config?: string; to: BinlogPosition | null; rewind: boolean; newHistory: boolean }) => {
      const { resetPosition } = await import('./inspect-commands.ts');
      setExitCode(await resetPosition(options.config, task, options.to, { rewind: options.rewind, newHistory: options.newHistory }));
    });

  program
    .command('snapshot')
    .description("re-read a task's tables (initial backfill) before streaming on")
    .argument('<task>', 'task name')
    .option('--tables <list>', 'only these tables: schema.table,schema.table', tableList)
    .addOption(configOption())
    .addHelpText(
      'after',
      `
Reads the task's tables in primary-key chunks through its pipeline into its sinks, then streams
the binlog from the position recorded before the first read. Resumable after a crash.`,
    )
    .action(async (task: string, options: { config?: string; tables?: string[] }) => {
      const { config } = await loadConfig(options.config);
      const { snapshotCommand } = await import('./commands.ts');
      setExitCode(await snapshotCommand(config, task, options.tables));
    });

  program
    .command('dead-letters')
    .description('show events that sinks rejected or plugins failed on')
    .argument('[task]', 'only this task')
    .option('--limit <n>', 'newest n per task', positiveInteger, 20)
    .option('--json', 'print JSON for scripts', false)
    .addOption(configOption())
    .addHelpText('after', '\nShows the newest dead letters: the event, the sink or plugin that refused it, and why.')
    .action(async (task: string | undefined, options: { config?: string; limit: number; json: boolean }) => {
      const { deadLetters } = await import('./inspect-commands.ts');
      setExitCode(await deadLetters(options.config, task, options.limit, options.json));
    });

  program
    .command('init')
    .description('write a commented tunnel.config.ts and an example plugin into this directory')
    .addHelpText(
      'after',
      `
Writes tunnel.config.ts and plugins/skip-test-accounts.ts into the current directory, for a team's
repository that installs Tunnel as a dependency. Refuses to overwrite a file that exists.`,
    )
    .action(async () => {
      const { initCommand } = await import('./init.ts');
      setExitCode(await initCommand(process.cwd()));
    });

  // `tunnel` alone prints the overview to stderr: a usage error (exit 2) like an unknown command
  return program;
}
