// A worker with one task (snapshot 'initial', then the binlog; real Redis sink), run as a child
// process by test/integration/snapshot-*.test.ts so that a test can kill it mid-snapshot:
//   npx tsx test/helpers/snapshot-task.ts
// Settings from the environment: SNAP_DB (schema to sync), SNAP_DIR (positions and dead letters),
// SNAP_COUNT_FILE (one line per batch written while snapshotting: its event count and its lowest id), SNAP_CHUNK_ROWS,
// SNAP_SERVER (the source server's scripts/services name, default mariadb).
// Logs JSON lines on stdout; SIGTERM stops it gracefully (exit 0).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../core/config/index.ts';
import { createLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { createSnapshotter } from '../../core/snapshot/index.ts';
import { createBinlogSource } from '../../core/source/index.ts';
import { startStatusServer } from '../../core/status/index.ts';
import { redis } from '../../sinks/redis/index.ts';
import { servers, sourceServers } from './servers.ts';

const db = process.env.SNAP_DB!;
const dir = process.env.SNAP_DIR!;
const countFile = process.env.SNAP_COUNT_FILE;
const chunkRows = Number(process.env.SNAP_CHUNK_ROWS ?? 5000);
const server = sourceServers.find((s) => s.name === (process.env.SNAP_SERVER ?? 'mariadb'))!;

const config = resolveConfig({
  positions: { dir: join(dir, 'positions') },
  deadLetters: { dir: join(dir, 'dead-letters') },
  status: { host: '127.0.0.1', port: 0 },
  shutdownTimeoutMs: 10_000,
  tasks: [
    {
      name: 'handoff',
      source: { ...server.connection, serverId: 31_000 + (process.pid % 1000), include: [`${db}.*`] },
      plugins: [redis({ connection: servers.redis.url, value: 'json' })],
      snapshot: 'initial',
      snapshotChunkRows: chunkRows,
    },
  ],
});
const logger = createLogger({ level: 'info', pretty: false });
const worker = new Worker(config, {
  createSource: createBinlogSource,
  logger,
  snapshot: createSnapshotter({ progress: 'log', progressLogIntervalMs: 500 }),
});
if (countFile) {
  worker.on('taskCreated', (_name, runner) => {
    runner.hooks.batchWritten.tap('test:count', (info) => {
      if (runner.stats.state !== 'snapshotting') return;
      const ids = info.events.flatMap((e) => e.rows.map((cells) => Number((cells.find((c) => c.column === 'id') as { value?: unknown } | undefined)?.value)));
      appendFileSync(countFile, `${info.events.length} ${Math.min(...ids)}\n`);
    });
  });
}
const status = await startStatusServer(worker, { host: '127.0.0.1', port: 0, defaultMetrics: false });
logger.info({ url: status.url }, 'test worker status endpoint');
process.on('SIGTERM', () => {
  void worker
    .close()
    .then(() => status.close())
    .then(() => process.exit(0));
});
worker.on('taskFailed', (task, error) => {
  logger.error({ task, err: error }, 'task failed');
  process.exit(3);
});
await worker.startAll();
logger.info('test worker started');
