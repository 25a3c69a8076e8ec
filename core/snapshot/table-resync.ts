/**
 * A resync of one table in the middle of the stream (docs/schema-changes.md, "Resync"): while the
 * binlog source waits at a DDL statement, every row of the table as it is now is read in key-ordered
 * chunks and handed to the task as `insert` events, ahead of every row change after the statement.
 * Those later changes carry whole rows, so applied again on top of the rows read here they end in
 * the table's state. Nothing is saved as progress: the statement's position is committed only after
 * the resync, so a crash during it does it again.
 */
import type { TableName } from '../event/index.ts';
import type { BinlogPosition } from '../event/index.ts';
import { AbortedError } from '../errors/index.ts';
import type { TaskRunner } from '../runtime/task-runner.ts';
import { ChunkWindow } from './chunk-window.ts';
import { SnapshotSession } from './session.ts';
import { TableReader } from './table-reader.ts';
import { describeTable } from './tables.ts';

/** Reads the table and hands its rows to the task; resolves once every sink acknowledged them. Returns the rows read. */
export async function resyncTable(runner: TaskRunner, table: TableName, position: BinlogPosition): Promise<number> {
  const { config, signal } = runner;
  const log = runner.logger.child({ resync: `${table.schema}.${table.table}` });
  const stopping = () => signal.aborted || runner.stats.state === 'stopping' || runner.stats.state === 'failed';
  const session = new SnapshotSession({ connection: config.source, logger: log, signal, stopping, onConnect: () => undefined });
  const window = new ChunkWindow({ maxChunks: 2, busy: () => runner.stats.inFlight >= config.maxInFlightRows, signal, settled: async () => undefined });
  let rows = 0;
  try {
    const info = await session.query('describe a table', (conn) => describeTable(conn, table.schema, table.table));
    if (!info) {
      log.warn('the table no longer exists: nothing to read');
      return 0;
    }
    log.info('reading the table again');
    const reader = new TableReader(info, config.snapshotChunkRows, position);
    if (info.chunkKey.length === 0) {
      const connection = await session.streaming();
      for await (const chunk of reader.onePass(connection, stopping)) {
        rows += chunk.length;
        await window.add({ segment: reader.send(runner, chunk), progress: undefined, rows: chunk.length });
      }
    } else {
      let lastKey: unknown[] | undefined;
      for (;;) {
        if (stopping()) throw new AbortedError('the resync was stopped');
        const after = lastKey;
        const chunk = await session.query('read a chunk', (conn) => reader.chunk(conn, after));
        if (chunk.length === 0) break;
        lastKey = reader.keyOf(chunk[chunk.length - 1]!);
        rows += chunk.length;
        await window.add({ segment: reader.send(runner, chunk), progress: undefined, rows: chunk.length });
        if (chunk.length < config.snapshotChunkRows) break;
      }
    }
    await window.drain();
    log.info({ rows }, 'table read again');
    return rows;
  } finally {
    await session.close(true);
  }
}
