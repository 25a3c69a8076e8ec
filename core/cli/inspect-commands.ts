import { join } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../config/index.ts';
import { applyPlugins } from '../pipeline/index.ts';
import { ConfigError } from '../errors/index.ts';
import { silentLogger } from '../log/index.ts';
import { formatPosition } from '../checkpoint/index.ts';
import type { BinlogPosition } from '../event/index.ts';
import { FileDeadLetterStore, type DeadLetterStore } from '../dead-letter/index.ts';
import { printable, table } from './output.ts';
import { openPositionAdmin } from './position-admin.ts';
import { resetTarget, type ResetChoice } from './reset-generation.ts';
import { batchLimitsFor } from '../runtime/batch-limits.ts';

// The commands that read or change state without running a task: validate, positions,
// reset-position, dead-letters. Each resolves to the process exit code.

export async function validate(file: string | undefined): Promise<number> {
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

export async function positions(file: string | undefined, json: boolean): Promise<number> {
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

/** `position` null clears the task's position. */
export async function resetPosition(file: string | undefined, task: string, requested: BinlogPosition | null, choice: ResetChoice = {}): Promise<number> {
  const { config } = await loadConfig(file);
  if (!config.tasks.some((t) => t.name === task)) {
    throw new ConfigError(`unknown task "${task}"; the tasks are ${config.tasks.map((t) => t.name).join(', ')}`);
  }
  const admin = await openPositionAdmin(config);
  try {
    if (await admin.isRunning(task)) {
      throw new ConfigError(`task "${task}" is running; stop it (or its worker) before resetting its position`);
    }
    const stored = (await admin.read(task))?.position;
    const position = requested && resetTarget(stored, requested, choice);
    await admin.reset(task, position);
    const generation = position?.generation ? ` (generation ${position.generation})` : '';
    process.stdout.write(position ? `task "${task}" will resume after ${formatPosition(position)}${generation}\n` : `task "${task}" has no position now\n`);
    if (!position && stored?.generation) {
      process.stderr.write(
        `tunnel: the removed position was of generation ${stored.generation}; a fresh start reads generation 0, whose changes Elasticsearch takes as older ` +
          'than the documents it holds: clear the sinks first, or set a position with --new-history\n',
      );
    }
    return 0;
  } finally {
    await admin.close();
  }
}

export async function deadLetters(file: string | undefined, task: string | undefined, limit: number, json: boolean): Promise<number> {
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
