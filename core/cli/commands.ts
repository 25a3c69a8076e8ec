import type { ResolvedConfig } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import { Worker } from '../runtime/worker.ts';
import { createBinlogSource } from '../source/index.ts';
import { createSnapshotter } from '../snapshot/index.ts';
import { collectStatus, formatStatus, startStatusServer, type StatusServer } from '../status/index.ts';
import { ConfigError } from '../errors/index.ts';
import { openPositionAdmin } from './position-admin.ts';

/** `tunnel start`: run until SIGINT/SIGTERM, then close in order and exit 0. */
export async function runWorker(config: ResolvedConfig, snapshotter = createSnapshotter()): Promise<number> {
  const logger = createLogger(config.log);
  const worker = new Worker(config, { createSource: createBinlogSource, snapshot: snapshotter, logger });
  let status: StatusServer | undefined;
  if (config.status.port !== false) {
    status = await startStatusServer(worker, {
      host: config.status.host,
      port: config.status.port,
      ...(config.status.token ? { token: config.status.token } : {}),
    });
  }
  let exitCode = 0;
  const closed = new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting without waiting for the drain');
        process.exit(1);
      }
      logger.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight batches');
      worker
        .close()
        .then(() => status?.close())
        .then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitCode = 1;
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  worker.on('taskFailed', (task, error) => logger.error({ task, err: error }, 'task failed'));
  await worker.startAll();
  logger.info({ tasks: config.tasks.map((t) => t.name) }, 'tunnel started');
  await closed;
  logger.info('tunnel stopped');
  return exitCode;
}

export async function statusCommand(config: ResolvedConfig, json: boolean): Promise<number> {
  const status = await collectStatus({ config });
  process.stdout.write(json ? `${JSON.stringify(status)}\n` : `${formatStatus(status)}\n`);
  return 0;
}

/** `tunnel snapshot <task>`: re-read the task's tables, then stream on from the recorded position. */
export async function snapshotCommand(config: ResolvedConfig, task: string, tables?: string[]): Promise<number> {
  const taskConfig = config.tasks.find((t) => t.name === task);
  if (!taskConfig) throw new ConfigError(`unknown task "${task}"; the tasks are ${config.tasks.map((t) => t.name).join(', ')}`);
  const admin = await openPositionAdmin(config);
  try {
    if (await admin.isRunning(task)) throw new ConfigError(`task "${task}" is running; stop it before a manual snapshot`);
  } finally {
    await admin.close();
  }
  const only = { ...config, tasks: [{ ...taskConfig, snapshot: 'always' as const }] };
  return runWorker(only, createSnapshotter(tables ? { tables } : {}));
}
