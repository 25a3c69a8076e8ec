import mysqlCore, { type Connection as CoreConnection } from 'mysql2';
import type { Connection, FieldPacket } from 'mysql2/promise';
import type { PositionStore, Segment, SnapshotProgress, StoredPosition } from '../checkpoint/index.ts';
import { formatPosition } from '../checkpoint/index.ts';
import { tableMatcher, type BinlogPosition, type ColumnValue, type InsertEvent, type ValueCell } from '../event/index.ts';
import { AbortedError, SourceError, TunnelError } from '../errors/index.ts';
import { backoffDelay, sleep } from '../runtime/backoff.ts';
import type { TaskRunner } from '../runtime/task-runner.ts';
import { createProgress, formatCount, type Progress, type ProgressOptions } from '../progress/index.ts';
import { describeTable, estimateRows, listTables, qualifiedName, quoteIdentifier, recordStartPosition, splitTableName, type TableInfo } from './tables.ts';
import { convertValue, keyParameter, readsBytes } from './values.ts';
import { isConnectionLost, mysqlConnectionOptions } from '../source/index.ts';

export interface SnapshotterOptions {
  /**
   * Only these tables (`schema.table` glob patterns, the CLI's `--tables`), within the task's
   * include/exclude. A subset snapshot of a task that already has a position keeps streaming from
   * that position, so the tables not snapshotted lose nothing.
   */
  tables?: readonly string[];
  /** Rows per chunk; default the task's `snapshotChunkRows`. */
  chunkRows?: number;
  /** Chunks read ahead while earlier ones are still being written. Default 2. */
  maxChunksInFlight?: number;
  /** Where progress is saved; default the runner's own position store. */
  positionStore?: PositionStore;
  /** Progress display: a bar on a TTY stderr, log lines otherwise ('auto', the default). */
  progress?: ProgressOptions['mode'];
  progressStream?: ProgressOptions['stream'];
  /** Log line interval when not on a terminal. Default 5000 ms. */
  progressLogIntervalMs?: number;
  /** Called after each acknowledged chunk was saved (tests, the CLI). */
  onChunk?: (progress: SnapshotProgress) => void;
}

/** What the status endpoint and metrics show about a task's snapshot. */
export interface SnapshotStatus {
  state: 'running' | 'done' | 'aborted' | 'failed';
  startPosition: BinlogPosition;
  /** Rows read and acknowledged by every sink (saved progress). */
  rowsDone: number;
  /** Rows handed to the pipeline so far (ahead of rowsDone by the chunks in flight). */
  rowsSent: number;
  /** Estimate from information_schema TABLE_ROWS. */
  rowsTotal: number;
  table?: string;
  tablesDone: number;
  tablesTotal: number;
  startedAt: number;
  finishedAt?: number;
  resumed: boolean;
  /** The server's id of the snapshot's connection (SHOW PROCESSLIST), while it has one. */
  connectionId?: number;
}

export type Snapshotter = (runner: TaskRunner, stored: StoredPosition | undefined) => Promise<StoredPosition | undefined>;

const statuses = new WeakMap<TaskRunner, SnapshotStatus>();

/** The snapshot state of a runner, while it runs and after it finished; undefined if it never ran one. */
export function snapshotStatus(runner: TaskRunner): SnapshotStatus | undefined {
  return statuses.get(runner);
}

/**
 * A segment of our own per chunk: TaskRunner counts deliveries on `pending` (++ per event and sink,
 * -- per acknowledgement), so a setter tells when the chunk is acknowledged by every sink.
 */
class ChunkSegment implements Segment {
  readonly timestamp: number;
  readonly settled: Promise<void>;
  private count = 0;
  private closed = false;
  private resolve!: () => void;

  constructor(timestamp: number) {
    this.timestamp = timestamp;
    this.settled = new Promise((resolve) => (this.resolve = resolve));
  }
  get pending(): number {
    return this.count;
  }
  set pending(value: number) {
    this.count = value;
    if (value === 0 && this.closed) this.resolve();
  }
  /** Every row of the chunk was handed over; settles once nothing is pending. */
  close(): void {
    this.closed = true;
    if (this.count === 0) this.resolve();
  }
}

interface ChunkInFlight {
  segment: ChunkSegment;
  /** Progress to save once this chunk (and every one before it) is acknowledged; undefined: save nothing. */
  progress: SnapshotProgress | undefined;
  rows: number;
}

/**
 * The initial snapshot (TaskRunnerDeps['snapshot']): record the binlog position, read every
 * included table in primary-key chunks as `insert` events through the task's hooks and sinks,
 * save progress after each acknowledged chunk, and return the position streaming starts from.
 */
export function createSnapshotter(options: SnapshotterOptions = {}): Snapshotter {
  return (runner, stored) => runSnapshot(runner, stored, options);
}

async function runSnapshot(runner: TaskRunner, stored: StoredPosition | undefined, options: SnapshotterOptions): Promise<StoredPosition | undefined> {
  const { config, logger, signal } = runner;
  const store = options.positionStore ?? runner.positionStore;
  const chunkRows = options.chunkRows ?? config.snapshotChunkRows;
  const maxChunks = Math.max(1, options.maxChunksInFlight ?? 2);
  const log = logger.child({ snapshot: true });
  // A graceful stop drains what is in flight before it aborts: stop reading at once, but keep
  // saving the chunks that are still acknowledged.
  const stopping = () => signal.aborted || runner.stats.state === 'stopping' || runner.stats.state === 'failed';
  let session: SnapshotConnection | undefined;
  /** Runs a query, reconnecting with backoff when the connection drops (the same chunk is read again). */
  const query = async <T>(what: string, fn: (conn: Connection) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!session) {
          session = await connect(runner);
          if (status) status.connectionId = session.core.threadId ?? undefined;
        }
        return await fn(session.conn);
      } catch (error) {
        if (!isConnectionLost(error) || attempt >= MAX_ATTEMPTS || stopping()) throw error;
        const delayMs = backoffDelay(attempt, { initialDelayMs: 500, maxDelayMs: 10_000 });
        log.warn({ err: error, attempt, delayMs }, `snapshot lost its database connection (${what}); reconnecting`);
        session?.core.destroy();
        session = undefined;
        await sleep(delayMs, signal).catch(() => {
          throw new AbortedError('the snapshot was stopped');
        });
      }
    }
  };

  let status: SnapshotStatus | undefined;
  let progressBar: Progress | undefined;
  const window: ChunkInFlight[] = [];
  /** Wait for the oldest chunk's acknowledgement, then save the progress it completes. */
  const settleOldest = async (): Promise<void> => {
    const chunk = window.shift()!;
    await untilSettled(chunk.segment, signal);
    if (status) {
      status.rowsDone += chunk.rows;
      progressBar?.update(status.rowsDone, { total: Math.max(status.rowsTotal, status.rowsDone) });
    }
    if (chunk.progress) {
      await store.save(runner.name, { position: chunk.progress.startPosition, updatedAt: Date.now(), snapshot: chunk.progress });
      options.onChunk?.(chunk.progress);
    }
  };
  const handOver = async (chunk: ChunkInFlight): Promise<void> => {
    window.push(chunk);
    while (window.length > maxChunks || (window.length > 1 && runner.stats.inFlight >= config.maxInFlightEvents)) await settleOldest();
  };

  try {
    let progress: SnapshotProgress;
    const resumed = stored?.snapshot !== undefined;
    if (stored?.snapshot) {
      progress = { ...stored.snapshot, pendingTables: [...stored.snapshot.pendingTables] };
      log.info(
        {
          startPosition: formatPosition(progress.startPosition),
          table: progress.pendingTables[0] ?? null,
          lastKey: progress.lastKey ?? null,
          rowsDone: progress.rowsDone,
        },
        'resuming the snapshot at the last acknowledged chunk',
      );
    } else {
      const { position, method } = await query('record the binlog position', recordStartPosition);
      const include = tableMatcher(config.source.include, config.source.exclude);
      const only = options.tables && options.tables.length > 0 ? tableMatcher(options.tables) : undefined;
      const tables = await query('list tables', (conn) => listTables(conn, (s, t) => include(s, t) && (!only || only(s, t))));
      // A subset of the tables, for a task that already streams: keep its position (nothing is skipped).
      const start = only && stored ? stored.position : position;
      progress = { startPosition: start, pendingTables: tables.map((t) => `${t.schema}.${t.table}`), rowsDone: 0 };
      log.info(
        { startPosition: formatPosition(start), method, tables: progress.pendingTables.length },
        'snapshot starts; binlog streaming will start at the recorded position',
      );
      await store.save(runner.name, { position: start, updatedAt: Date.now(), snapshot: progress });
    }
    const start = progress.startPosition;

    let estimate = progress.rowsDone;
    for (const name of progress.pendingTables) estimate += await query('estimate rows', (conn) => estimateRows(conn, ...splitTableName(name)));
    const live: SnapshotStatus = {
      state: 'running',
      startPosition: start,
      rowsDone: progress.rowsDone,
      rowsSent: progress.rowsDone,
      rowsTotal: estimate,
      tablesDone: 0,
      tablesTotal: progress.pendingTables.length,
      startedAt: Date.now(),
      resumed,
    };
    if (session?.core.threadId) live.connectionId = session.core.threadId;
    status = live;
    statuses.set(runner, live);
    if (options.progress !== 'off') {
      progressBar = createProgress({
        label: `snapshot ${runner.name}`,
        total: estimate,
        mode: options.progress ?? 'auto',
        logger: log,
        ...(options.progressStream ? { stream: options.progressStream } : {}),
        ...(options.progressLogIntervalMs ? { logIntervalMs: options.progressLogIntervalMs } : {}),
      });
      progressBar.update(progress.rowsDone);
    }

    while (progress.pendingTables.length > 0) {
      if (stopping()) throw new AbortedError('the snapshot was stopped');
      const name = progress.pendingTables[0]!;
      const [schema, tableName] = splitTableName(name);
      live.table = name;
      progressBar?.update(live.rowsDone, { detail: name });
      const info = await query('describe a table', (conn) => describeTable(conn, schema, tableName));
      const rest = progress.pendingTables.slice(1);
      if (!info) {
        log.warn({ table: name }, 'table no longer exists; skipped');
      } else {
        const reader = new TableReader(info, chunkRows, start);
        let lastKey = progress.lastKey;
        if (info.chunkKey.length === 0) {
          log.warn(
            { table: name },
            'table has no primary key nor unique NOT NULL key: read in one pass (a crash restarts this table); sinks key its rows by all columns',
          );
          session ??= await connect(runner);
          for await (const rows of reader.onePass(session.core, stopping)) {
            live.rowsSent += rows.length;
            // No resumable key inside the table: progress is saved when the table is done.
            await handOver({ segment: reader.send(runner, rows), progress: undefined, rows: rows.length });
          }
        } else {
          if (info.primaryKey.length === 0)
            log.warn({ table: name, chunkKey: info.chunkKey }, 'table has no primary key: chunked by a unique NOT NULL key; sinks key its rows by all columns');
          for (;;) {
            if (stopping()) throw new AbortedError('the snapshot was stopped');
            const after = lastKey;
            const rows = await query('read a chunk', (conn) => reader.chunk(conn, after));
            if (rows.length === 0) break;
            lastKey = reader.keyOf(rows[rows.length - 1]!);
            live.rowsSent += rows.length;
            const segment = reader.send(runner, rows);
            await handOver({
              segment,
              progress: { startPosition: start, pendingTables: [name, ...rest], lastKey, rowsDone: live.rowsSent },
              rows: rows.length,
            });
            if (rows.length < chunkRows) break;
          }
        }
      }
      // The table is done once its chunks are acknowledged: the next table starts from its first key.
      const next: SnapshotProgress = { startPosition: start, pendingTables: rest, rowsDone: live.rowsSent };
      const marker = new ChunkSegment(Date.now());
      marker.close();
      await handOver({ segment: marker, progress: next, rows: 0 });
      progress = next;
      live.tablesDone++;
    }
    while (window.length > 0) await settleOldest();

    const done: StoredPosition = { position: start, updatedAt: Date.now() };
    await store.save(runner.name, done);
    live.state = 'done';
    live.finishedAt = Date.now();
    delete live.table;
    progressBar?.finish(`snapshot ${runner.name}: ${formatCount(live.rowsDone)} rows in ${((live.finishedAt - live.startedAt) / 1000).toFixed(1)} s`);
    log.info(
      { rows: live.rowsDone, seconds: (live.finishedAt - live.startedAt) / 1000, startPosition: formatPosition(start) },
      'snapshot done; streaming the binlog from the recorded position',
    );
    await untilAbortedWhenStopping(runner);
    return done;
  } catch (error) {
    if (error instanceof AbortedError || stopping()) {
      // Save what the sinks still acknowledge while the task drains, then wait for its abort so
      // that the task does not go on to start its source.
      try {
        while (window.length > 0) await settleOldest();
      } catch {
        // aborted before every chunk was acknowledged: those are read again after the restart
      }
      if (status) status.state = 'aborted';
      progressBar?.finish();
      log.info({ rowsDone: status?.rowsDone ?? 0 }, 'snapshot stopped; it resumes at the last acknowledged chunk');
      await untilAbortedWhenStopping(runner);
      return stored;
    }
    if (status) status.state = 'failed';
    progressBar?.finish();
    if (error instanceof TunnelError) throw error;
    throw new SourceError(`snapshot of task "${runner.name}" failed: ${(error as Error).message}`, {}, { cause: error });
  } finally {
    if (session) {
      const { conn, core } = session;
      // After a stop or an error a streamed read may still be open: end() would wait for it.
      if (status?.state === 'done') await conn.end().catch(() => core.destroy());
      else core.destroy();
    }
  }
}

const MAX_ATTEMPTS = 8;

/** While a graceful stop drains, resolve only once the task aborts (so it does not start its source). */
function untilAbortedWhenStopping(runner: TaskRunner): Promise<void> {
  const { signal } = runner;
  if (signal.aborted || (runner.stats.state !== 'stopping' && runner.stats.state !== 'failed')) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function untilSettled(segment: ChunkSegment, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new AbortedError('the snapshot was stopped'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortedError('the snapshot was stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    void segment.settled.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

interface SnapshotConnection {
  conn: Connection;
  /** The callback-style connection under `conn`, for the streamed one-pass read. */
  core: CoreConnection;
}

async function connect(runner: TaskRunner): Promise<SnapshotConnection> {
  const core = mysqlCore.createConnection(mysqlConnectionOptions(runner.config.source));
  core.on('error', () => undefined); // surfaced by the next query
  const conn = core.promise();
  // TIMESTAMP text in UTC (converted to ISO "Z" values); long pauses while sinks catch up are fine.
  await conn.query("SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600");
  return { conn, core };
}

/**
 * A column in the SELECT list. FLOAT is read widened to DOUBLE (exact), because the server prints
 * FLOAT with 6 significant digits (123456.789 as "123457"); floatValue then gives the shortest
 * decimal of the float32, as the binlog's 4 bytes give.
 */
function selectExpression(column: TableInfo['columns'][number]): string {
  const name = quoteIdentifier(column.name);
  return column.kind === 'float' ? `(${name} + 0e0) AS ${name}` : name;
}

/** Reads one table: keyset chunks by its chunk key, or one streamed pass without one. */
class TableReader {
  private readonly select: string;
  private readonly typeCast: (field: { name: string; string(): string | null; buffer(): Buffer | null }, next: () => unknown) => unknown;
  private readonly keyIndexes: number[];

  constructor(
    private readonly info: TableInfo,
    private readonly chunkRows: number,
    private readonly position: BinlogPosition,
  ) {
    const kinds = new Map(info.columns.map((c) => [c.name, c.kind]));
    this.typeCast = (field) => {
      const kind = kinds.get(field.name) ?? 'text';
      return convertValue(kind, readsBytes(kind) ? field.buffer() : field.string());
    };
    this.select = `SELECT ${info.columns.map(selectExpression).join(', ')} FROM ${qualifiedName(info.schema, info.table)}`;
    this.keyIndexes = info.chunkKey.map((name) => info.columns.findIndex((c) => c.name === name));
  }

  /** The next chunk after `lastKey` (key values as stored), in key order. */
  async chunk(conn: Connection, lastKey: unknown[] | undefined): Promise<ColumnValue[][]> {
    const { chunkKey } = this.info;
    const order = chunkKey.map(quoteIdentifier).join(', ');
    let where = '';
    const params: unknown[] = [];
    if (lastKey && lastKey.length === chunkKey.length) {
      // (a > ?) OR (a = ? AND b > ?) ...: a range scan on the key, also where row comparisons are not optimised.
      const terms: string[] = [];
      for (let i = 0; i < chunkKey.length; i++) {
        const parts: string[] = [];
        for (let j = 0; j < i; j++) {
          parts.push(`${quoteIdentifier(chunkKey[j]!)} = ?`);
          params.push(this.param(j, lastKey[j]));
        }
        parts.push(`${quoteIdentifier(chunkKey[i]!)} > ?`);
        params.push(this.param(i, lastKey[i]));
        terms.push(parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`);
      }
      where = ` WHERE ${terms.join(' OR ')}`;
    }
    const [rows] = (await conn.query(
      {
        sql: `${this.select}${where} ORDER BY ${order} LIMIT ${this.chunkRows}`,
        rowsAsArray: true,
        typeCast: this.typeCast as never,
      },
      params,
    )) as [ColumnValue[][], FieldPacket[]];
    return rows;
  }

  /** A table without a usable key: one query, streamed with back-pressure, cut into chunks. */
  async *onePass(conn: CoreConnection, stopping: () => boolean): AsyncGenerator<ColumnValue[][]> {
    const stream = conn.query({ sql: this.select, rowsAsArray: true, typeCast: this.typeCast as never }).stream({ highWaterMark: this.chunkRows });
    let rows: ColumnValue[][] = [];
    try {
      for await (const row of stream as AsyncIterable<ColumnValue[]>) {
        if (stopping()) throw new AbortedError('the snapshot was stopped');
        rows.push(row);
        if (rows.length >= this.chunkRows) {
          yield rows;
          rows = [];
        }
      }
      if (rows.length > 0) yield rows;
    } finally {
      stream.destroy();
    }
  }

  keyOf(row: ColumnValue[]): unknown[] {
    return this.keyIndexes.map((index) => row[index] ?? null);
  }

  private param(keyIndex: number, value: unknown): unknown {
    const column = this.info.columns[this.keyIndexes[keyIndex]!]!;
    return keyParameter(column, column.kind, value as ColumnValue);
  }

  /** Every row as an `insert` event, in one segment for the chunk. */
  send(runner: TaskRunner, rows: ColumnValue[][]): ChunkSegment {
    const now = Date.now();
    const segment = new ChunkSegment(now);
    const { columns, schema, table, primaryKey } = this.info;
    for (const row of rows) {
      const cells: ValueCell[] = new Array(columns.length);
      for (let i = 0; i < columns.length; i++) cells[i] = { column: columns[i]!.name, value: row[i] ?? null };
      const event: InsertEvent = { schema, table, action: 'insert', rows: [cells], position: this.position, timestamp: now, primaryKey };
      runner.accept(event, segment);
    }
    segment.close();
    return segment;
  }
}
