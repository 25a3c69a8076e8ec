import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type ResolvedConfig } from '../config/index.ts';
import { applyPlugins } from '../pipeline/index.ts';
import { ConfigError } from '../errors/index.ts';
import { silentLogger } from '../log/index.ts';
import { formatPosition, parsePosition } from '../checkpoint/index.ts';
import { FileDeadLetterStore, type DeadLetterStore } from '../dead-letter/index.ts';
import { join } from 'node:path';
import { printable, reportError, table } from './output.ts';
import { openPositionAdmin } from './position-admin.ts';
import { batchLimitsFor } from '../runtime/batch-limits.ts';

const HELP: Record<string, string> = {
  main: `Tunnel: stream MySQL/MariaDB binlog row changes into Elasticsearch, Redis and webhooks.

Usage: tunnel <command> [options]

Commands:
  start              run the config's tasks until SIGINT/SIGTERM (graceful drain, then exit 0)
  validate           check a config and print the resolved pipelines
  status             cluster, nodes and every task's owner, position, lag and rate
  positions          list the committed position of every task
  reset-position     set or clear a task's position (refused while the task runs)
  snapshot           re-read a task's tables (initial backfill) before streaming on
  dead-letters       show events that sinks rejected or plugins failed on

Options for every command:
  -c, --config <file>   config file (default: tunnel.config.ts)
  -h, --help            help for a command: tunnel <command> --help`,
  start: `Usage: tunnel start [-c tunnel.config.ts]

Runs every task (standalone) or the tasks the group's leader assigns (with a cluster section).
SIGINT/SIGTERM: stop reading, drain in-flight batches within shutdownTimeoutMs, commit, exit 0.
Logs are JSON lines; pretty on a terminal (TUNNEL_LOG_FORMAT=json forces JSON).`,
  validate: `Usage: tunnel validate [-c tunnel.config.ts]

Loads and validates the config, applies every task's plugins without connecting anywhere, and
prints the resolved pipelines with secrets redacted. Exits 1 with one clear message on a bad config.`,
  status: `Usage: tunnel status [-c tunnel.config.ts] [--json]

Reads ZooKeeper (cluster mode) and the workers' status endpoints and prints, per task: owner,
position, lag (seconds and bytes), events/s and last error. --json prints the same for scripts.`,
  positions: `Usage: tunnel positions [-c tunnel.config.ts] [--json]

Prints every task's committed position from the position store (files or ZooKeeper).`,
  'reset-position': `Usage: tunnel reset-position <task> --to <file:offset | none> [-c tunnel.config.ts]

Sets the task's committed position, or with --to none removes it (the task then starts from
source.startFrom, or re-snapshots with snapshot: 'initial'). Refused while the task runs.`,
  snapshot: `Usage: tunnel snapshot <task> [--tables schema.table,...] [-c tunnel.config.ts]

Reads the task's tables in primary-key chunks through its pipeline into its sinks, then streams
the binlog from the position recorded before the first read. Resumable after a crash.`,
  'dead-letters': `Usage: tunnel dead-letters [task] [--limit 20] [--json] [-c tunnel.config.ts]

Shows the newest dead letters: the event, the sink or plugin that refused it, and why.`,
};

const OPTIONS = {
  config: { type: 'string', short: 'c', default: 'tunnel.config.ts' },
  help: { type: 'boolean', short: 'h', default: false },
  json: { type: 'boolean', default: false },
  to: { type: 'string' },
  tables: { type: 'string' },
  limit: { type: 'string', default: '20' },
} satisfies ParseArgsConfig['options'];

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${HELP.main}\n`);
    return command ? 0 : 1;
  }
  if (!(command in HELP) || command === 'main') {
    process.stderr.write(`tunnel: unknown command "${command}"\n\n${HELP.main}\n`);
    return 1;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`tunnel ${command}: ${(error as Error).message}\n\n${HELP[command]}\n`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP[command]}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'validate':
        return await validate(values.config);
      case 'start': {
        const { config } = await loadConfig(values.config);
        const { runWorker } = await import('./commands.ts');
        return await runWorker(config);
      }
      case 'positions':
        return await positions(values.config, values.json);
      case 'reset-position':
        return await resetPosition(values.config, positionals[0], values.to);
      case 'dead-letters':
        return await deadLetters(values.config, positionals[0], Number(values.limit), values.json);
      case 'status': {
        const { config } = await loadConfig(values.config);
        const { statusCommand } = await import('./commands.ts');
        return await statusCommand(config, values.json);
      }
      case 'snapshot': {
        const task = positionals[0];
        if (!task) throw new ConfigError('snapshot needs a task name: tunnel snapshot <task>');
        const { config } = await loadConfig(values.config);
        const { snapshotCommand } = await import('./commands.ts');
        return await snapshotCommand(config, task, values.tables?.split(',').filter(Boolean));
      }
    }
    return 1;
  } catch (error) {
    return reportError(error);
  }
}

async function validate(file: string): Promise<number> {
  const { config, file: path } = await loadConfig(file);
  const pipelines = config.tasks.map((task, index) => {
    const applied = applyPlugins(task.name, task.plugins, silentLogger(), { configPath: `tasks[${index}]` });
    const sinks = [...applied.sinks.keys()];
    if (sinks.length === 0) {
      throw new ConfigError(`tasks[${index}].plugins: task "${task.name}" registers no sink; add elasticsearch(), redis() or webhook()`);
    }
    if (task.deadLetter?.type === 'sink' && !applied.sinks.has(task.deadLetter.sink)) {
      throw new ConfigError(`tasks[${index}].deadLetter.sink: unknown sink "${task.deadLetter.sink}"; the sinks are ${sinks.join(', ')}`);
    }
    if (task.deadLetter?.type === 'plugin' && !applied.deadLetterStore) {
      throw new ConfigError(`tasks[${index}].deadLetter: type "plugin" but no plugin registers a dead-letter store`);
    }
    const batchLimits = Object.fromEntries([...applied.sinks].map(([name, sink]) => [name, batchLimitsFor(task.batch, sink)]));
    return { ...(printable(task) as object), sinks, batchLimits };
  });
  process.stdout.write(`${path} is valid.\n${JSON.stringify({ ...(printable(config) as object), tasks: pipelines }, null, 2)}\n`);
  return 0;
}

async function positions(file: string, json: boolean): Promise<number> {
  const { config } = await loadConfig(file);
  const admin = await openPositionAdmin(config);
  try {
    const rows = await Promise.all(
      config.tasks.map(async (task) => ({ task: task.name, stored: await admin.read(task.name), running: await admin.isRunning(task.name) })),
    );
    if (json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
    } else {
      process.stdout.write(
        `${table(
          ['task', 'position', 'committed at', 'running'],
          rows.map((r) => [
            r.task,
            r.stored ? formatPosition(r.stored.position) + (r.stored.snapshot ? ' (snapshot in progress)' : '') : '(none)',
            r.stored?.updatedAt ? new Date(r.stored.updatedAt).toISOString() : '',
            r.running ? 'yes' : 'no',
          ]),
        )}\n`,
      );
    }
    return 0;
  } finally {
    await admin.close();
  }
}

async function resetPosition(file: string, task: string | undefined, to: string | undefined): Promise<number> {
  if (!task) throw new ConfigError('reset-position needs a task: tunnel reset-position <task> --to <file:offset|none>');
  if (!to) throw new ConfigError('reset-position needs --to <file:offset> or --to none');
  const { config } = await loadConfig(file);
  if (!config.tasks.some((t) => t.name === task)) {
    throw new ConfigError(`unknown task "${task}"; the tasks are ${config.tasks.map((t) => t.name).join(', ')}`);
  }
  const position = to === 'none' ? null : parsePosition(to);
  const admin = await openPositionAdmin(config);
  try {
    if (await admin.isRunning(task)) {
      throw new ConfigError(`task "${task}" is running; stop it (or its worker) before resetting its position`);
    }
    await admin.reset(task, position);
    process.stdout.write(position ? `task "${task}" will resume after ${formatPosition(position)}\n` : `task "${task}" has no position now\n`);
    return 0;
  } finally {
    await admin.close();
  }
}

async function deadLetters(file: string, task: string | undefined, limit: number, json: boolean): Promise<number> {
  const { config } = await loadConfig(file);
  const tasks = task ? config.tasks.filter((t) => t.name === task) : config.tasks;
  if (task && tasks.length === 0) throw new ConfigError(`unknown task "${task}"`);
  const letters = (
    await Promise.all(
      tasks.map(async (t) => {
        const store = deadLetterStoreOf(config, t);
        try {
          return await store.list(t.name, limit);
        } finally {
          await store.close();
        }
      }),
    )
  ).flat();
  if (json) process.stdout.write(`${JSON.stringify(letters)}\n`);
  else if (letters.length === 0) process.stdout.write('no dead letters\n');
  else
    process.stdout.write(
      `${table(
        ['at', 'task', 'origin', 'table', 'action', 'reason'],
        letters.map((l) => [l.at, l.task, l.origin, `${l.event.schema}.${l.event.table}`, l.event.action, l.reason.slice(0, 100)]),
      )}\n`,
    );
  return 0;
}

/** The store a task's dead letters went to: a plugin's (e.g. a Redis list) or the task's file. */
function deadLetterStoreOf(config: ResolvedConfig, task: ResolvedConfig['tasks'][number]): DeadLetterStore {
  if (task.deadLetter?.type !== 'file') {
    const registered = applyPlugins(task.name, task.plugins, silentLogger()).deadLetterStore;
    if (registered) return registered;
  }
  return new FileDeadLetterStore(task.deadLetter?.type === 'file' ? task.deadLetter.path : join(config.deadLetters.dir, `${task.name}.jsonl`));
}
