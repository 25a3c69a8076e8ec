import type { ResolvedConfig } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import { Worker } from '../runtime/worker.ts';
import { createBinlogSource } from '../source/index.ts';
import { createSnapshotter } from '../snapshot/index.ts';
import { startStatusServer, type StatusServer } from '../status/index.ts';

/** `tunnel start`: run until SIGINT/SIGTERM, then close in order and exit 0. */
export async function runWorker(config: ResolvedConfig): Promise<number> {
  const logger = createLogger(config.log);
  const worker = new Worker(config, { createSource: createBinlogSource, snapshot: createSnapshotter(), logger });
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

export async function statusCommand(_config: ResolvedConfig, _json: boolean): Promise<number> {
  throw new Error('status is not wired yet');
}

export async function snapshotCommand(_config: ResolvedConfig, _task: string, _tables?: string[]): Promise<number> {
  throw new Error('snapshot is not wired yet');
}
