/**
 * The initial snapshot of a task: record the binlog position, read every included table in
 * key-ordered chunks as `insert` events through the task's hooks and sinks, save progress after each
 * chunk every sink acknowledged, and return the position binlog streaming starts from. A stopped or
 * crashed snapshot resumes after its last acknowledged chunk.
 */
import type { PositionStore, SnapshotProgress, StoredPosition } from '../checkpoint/index.ts';
import { formatPosition } from '../checkpoint/index.ts';
import { tableMatcher, type BinlogPosition } from '../event/index.ts';
import { AbortedError, SourceError, TunnelError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { createProgress, formatCount, type Progress, type ProgressOptions } from '../progress/index.ts';
import type { TaskRunner } from '../runtime/task-runner.ts';
import { ChunkWindow, type ChunkInFlight } from './chunk-window.ts';
import { SnapshotSession } from './session.ts';
import type { SnapshotStatus } from './status.ts';
import { TableReader } from './table-reader.ts';
import { describeTable, estimateRows, listTables, recordStartPosition, splitTableName, type TableInfo } from './tables.ts';

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

export type Snapshotter = (runner: TaskRunner, stored: StoredPosition | undefined) => Promise<StoredPosition | undefined>;

/** The snapshot state of a runner, while it runs and after it finished; undefined if it never ran one. */
export function snapshotStatus(runner: TaskRunner): SnapshotStatus | undefined {
  return runner.snapshotStatus;
}

/** The snapshot for TaskRunnerDeps['snapshot']: one Snapshot per run, with these options. */
export function createSnapshotter(options: SnapshotterOptions = {}): Snapshotter {
  return (runner, stored) => new Snapshot(runner, stored, options).run();
}

/** One run of the snapshot of one task. */
class Snapshot {
  private readonly log: Logger;
  private readonly store: PositionStore;
  private readonly chunkRows: number;
  private readonly session: SnapshotSession;
  private readonly window: ChunkWindow;
  private status: SnapshotStatus | undefined;
  private progressBar: Progress | undefined;

  constructor(
    private readonly runner: TaskRunner,
    /** What the position store held when the task started: a snapshot to resume, or a position. */
    private readonly stored: StoredPosition | undefined,
    private readonly options: SnapshotterOptions,
  ) {
    const { config, signal } = runner;
    this.log = runner.logger.child({ snapshot: true });
    this.store = options.positionStore ?? runner.positionStore;
    this.chunkRows = options.chunkRows ?? config.snapshotChunkRows;
    this.session = new SnapshotSession({
      connection: config.source,
      logger: this.log,
      signal,
      stopping: () => this.stopping(),
      onConnect: (threadId) => {
        if (this.status) this.status.connectionId = threadId;
      },
    });
    this.window = new ChunkWindow({
      maxChunks: Math.max(1, options.maxChunksInFlight ?? 2),
      busy: () => runner.stats.inFlight >= config.maxInFlightRows,
      signal,
      settled: (chunk) => this.settled(chunk),
    });
  }

  /**
   * A graceful stop drains what is in flight before it aborts: stop reading at once, but keep
   * saving the chunks that are still acknowledged.
   */
  private stopping(): boolean {
    const { signal, stats } = this.runner;
    return signal.aborted || stats.state === 'stopping' || stats.state === 'failed';
  }

  async run(): Promise<StoredPosition | undefined> {
    try {
      let progress = await this.begin();
      const live = await this.track(progress);
      while (progress.pendingTables.length > 0) {
        if (this.stopping()) throw new AbortedError('the snapshot was stopped');
        progress = await this.readTable(progress, live);
        live.tablesDone++;
      }
      await this.window.drain();
      return await this.finish(progress.startPosition, live);
    } catch (error) {
      return await this.end(error);
    } finally {
      await this.session.close(this.status?.state === 'done');
    }
  }

  /** The progress to start from: the stored one of an unfinished snapshot, or a new one with its binlog position recorded. */
  private async begin(): Promise<SnapshotProgress> {
    const { config, name } = this.runner;
    const { stored, options } = this;
    if (stored?.snapshot) {
      const progress = { ...stored.snapshot, pendingTables: [...stored.snapshot.pendingTables] };
      this.log.info(
        {
          startPosition: formatPosition(progress.startPosition),
          table: progress.pendingTables[0] ?? null,
          lastKey: progress.lastKey ?? null,
          rowsDone: progress.rowsDone,
        },
        'resuming the snapshot at the last acknowledged chunk',
      );
      return progress;
    }
    const { position, method } = await this.session.query('record the binlog position', recordStartPosition);
    const include = tableMatcher(config.source.include, config.source.exclude);
    const only = options.tables && options.tables.length > 0 ? tableMatcher(options.tables) : undefined;
    const tables = await this.session.query('list tables', (conn) => listTables(conn, (s, t) => include(s, t) && (!only || only(s, t))));
    // A subset of the tables, for a task that already streams: keep its position (nothing is skipped).
    // The task's generation goes on (core/event/position-version.ts): the same history, read anew.
    const generation = stored?.position.generation;
    const start = only && stored ? stored.position : generation ? { ...position, generation } : position;
    const progress: SnapshotProgress = { startPosition: start, pendingTables: tables.map((t) => `${t.schema}.${t.table}`), rowsDone: 0 };
    this.log.info(
      { startPosition: formatPosition(start), method, tables: progress.pendingTables.length },
      'snapshot starts; binlog streaming will start at the recorded position',
    );
    await this.store.save(name, { position: start, updatedAt: Date.now(), snapshot: progress });
    return progress;
  }

  /** The live status (held by the task) and the progress display, from the row estimates of the pending tables. */
  private async track(progress: SnapshotProgress): Promise<SnapshotStatus> {
    const { options, runner } = this;
    let estimate = progress.rowsDone;
    for (const name of progress.pendingTables) estimate += await this.session.query('estimate rows', (conn) => estimateRows(conn, ...splitTableName(name)));
    const live: SnapshotStatus = {
      state: 'running',
      startPosition: progress.startPosition,
      rowsDone: progress.rowsDone,
      rowsSent: progress.rowsDone,
      rowsTotal: estimate,
      tablesDone: 0,
      tablesTotal: progress.pendingTables.length,
      startedAt: Date.now(),
      resumed: this.stored?.snapshot !== undefined,
    };
    if (this.session.threadId) live.connectionId = this.session.threadId;
    this.status = live;
    runner.snapshotStatus = live;
    if (options.progress !== 'off') {
      this.progressBar = createProgress({
        label: `snapshot ${runner.name}`,
        total: estimate,
        mode: options.progress ?? 'auto',
        logger: this.log,
        ...(options.progressStream ? { stream: options.progressStream } : {}),
        ...(options.progressLogIntervalMs ? { logIntervalMs: options.progressLogIntervalMs } : {}),
      });
      this.progressBar.update(progress.rowsDone);
    }
    return live;
  }

  /** Reads the first pending table; returns the progress after it (saved once its chunks are acknowledged). */
  private async readTable(progress: SnapshotProgress, live: SnapshotStatus): Promise<SnapshotProgress> {
    const start = progress.startPosition;
    const name = progress.pendingTables[0]!;
    const [schema, tableName] = splitTableName(name);
    live.table = name;
    this.progressBar?.update(live.rowsDone, { detail: name });
    const info = await this.session.query('describe a table', (conn) => describeTable(conn, schema, tableName));
    const rest = progress.pendingTables.slice(1);
    if (!info) {
      this.log.warn({ table: name }, 'table no longer exists; skipped');
    } else if (info.chunkKey.length === 0) {
      await this.readInOnePass(info, name, start, live);
    } else {
      await this.readInChunks(info, progress, live);
    }
    // The table is done once its chunks are acknowledged: the next table starts from its first key.
    const next: SnapshotProgress = { startPosition: start, pendingTables: rest, rowsDone: live.rowsSent };
    await this.window.addMarker(next);
    return next;
  }

  /** Keyset chunks after the stored last key, each saved as progress once acknowledged. */
  private async readInChunks(info: TableInfo, progress: SnapshotProgress, live: SnapshotStatus): Promise<void> {
    const { startPosition: start, pendingTables } = progress;
    const [name, ...rest] = pendingTables as [string, ...string[]];
    if (info.primaryKey.length === 0) {
      this.log.warn({ table: name, chunkKey: info.chunkKey }, 'table has no primary key: chunked by a unique NOT NULL key; sinks key its rows by all columns');
    }
    const reader = new TableReader(info, this.chunkRows, start);
    let lastKey = progress.lastKey;
    for (;;) {
      if (this.stopping()) throw new AbortedError('the snapshot was stopped');
      const after = lastKey;
      const rows = await this.session.query('read a chunk', (conn) => reader.chunk(conn, after));
      if (rows.length === 0) break;
      lastKey = reader.keyOf(rows[rows.length - 1]!);
      live.rowsSent += rows.length;
      const segment = reader.send(this.runner, rows);
      await this.window.add({
        segment,
        progress: { startPosition: start, pendingTables: [name, ...rest], lastKey, rowsDone: live.rowsSent },
        rows: rows.length,
      });
      if (rows.length < this.chunkRows) break;
    }
  }

  /** A table without a usable key: one streamed pass; no resumable key inside it, so progress is saved when it is done. */
  private async readInOnePass(info: TableInfo, name: string, start: BinlogPosition, live: SnapshotStatus): Promise<void> {
    this.log.warn(
      { table: name },
      'table has no primary key nor unique NOT NULL key: read in one pass (a crash restarts this table); sinks key its rows by all columns',
    );
    const reader = new TableReader(info, this.chunkRows, start);
    const connection = await this.session.streaming();
    for await (const rows of reader.onePass(connection, () => this.stopping())) {
      live.rowsSent += rows.length;
      await this.window.add({ segment: reader.send(this.runner, rows), progress: undefined, rows: rows.length });
    }
  }

  /** A chunk every sink acknowledged: count its rows, save the progress it completes. */
  private async settled(chunk: ChunkInFlight): Promise<void> {
    const { status } = this;
    if (status) {
      status.rowsDone += chunk.rows;
      this.progressBar?.update(status.rowsDone, { total: Math.max(status.rowsTotal, status.rowsDone) });
    }
    if (chunk.progress) {
      await this.store.save(this.runner.name, { position: chunk.progress.startPosition, updatedAt: Date.now(), snapshot: chunk.progress });
      this.options.onChunk?.(chunk.progress);
    }
  }

  private async finish(start: BinlogPosition, live: SnapshotStatus): Promise<StoredPosition> {
    const { name } = this.runner;
    const done: StoredPosition = { position: start, updatedAt: Date.now() };
    await this.store.save(name, done);
    live.state = 'done';
    live.finishedAt = Date.now();
    delete live.table;
    const seconds = (live.finishedAt - live.startedAt) / 1000;
    this.progressBar?.finish(`snapshot ${name}: ${formatCount(live.rowsDone)} rows in ${seconds.toFixed(1)} s`);
    this.log.info({ rows: live.rowsDone, seconds, startPosition: formatPosition(start) }, 'snapshot done; streaming the binlog from the recorded position');
    await untilAbortedWhenStopping(this.runner);
    return done;
  }

  /** After a stop: what the sinks still acknowledge is saved, and the stored position returned. Otherwise the error, as a TunnelError. */
  private async end(error: unknown): Promise<StoredPosition | undefined> {
    const { status } = this;
    if (error instanceof AbortedError || this.stopping()) {
      // Save what the sinks still acknowledge while the task drains, then wait for its abort so
      // that the task does not go on to start its source.
      try {
        await this.window.drain();
      } catch {
        // aborted before every chunk was acknowledged: those are read again after the restart
      }
      if (status) status.state = 'aborted';
      this.progressBar?.finish();
      this.log.info({ rowsDone: status?.rowsDone ?? 0 }, 'snapshot stopped; it resumes at the last acknowledged chunk');
      await untilAbortedWhenStopping(this.runner);
      return this.stored;
    }
    if (status) status.state = 'failed';
    this.progressBar?.finish();
    if (error instanceof TunnelError) throw error;
    throw new SourceError(`snapshot of task "${this.runner.name}" failed: ${(error as Error).message}`, {}, { cause: error });
  }
}

/** While a graceful stop drains, resolve only once the task aborts (so it does not start its source). */
function untilAbortedWhenStopping(runner: TaskRunner): Promise<void> {
  const { signal } = runner;
  if (signal.aborted || (runner.stats.state !== 'stopping' && runner.stats.state !== 'failed')) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
