/**
 * The binlog source on @vlasky/zongji (docs/architecture.md, "source").
 *
 * zongji does the replication handshake, the dump request, the event framing and the table maps
 * (with binlog_row_metadata=FULL it takes column names, types, charsets and the primary key from the
 * table map itself). Rows events never reach zongji's decoder: the source reads them straight from
 * the packet with decoders built once per table map (decode.ts), which is exact for every type and
 * faster than zongji's generic path. Rows of excluded tables are never decoded: their table maps
 * are dropped by the filter and their rows events are recognised by table id and skipped.
 *
 * Positions: the source follows rotate events for the file name and emits `commit` with the end
 * offset of each transaction's commit event, the GTID state before it and the server's identity.
 * After a dropped connection it reconnects with backoff from the last commit it delivered and skips
 * the rows events of the interrupted transaction that the handler already has, so the handler sees
 * each event exactly once. Which server it reads, and whether by file and offset or by GTID (another
 * server of `source.hosts`), candidates.ts decides; what a connection failure means,
 * connection-failure.ts.
 *
 * Over 500 lines on purpose: what is left here is one job, the life of the replication connection
 * (connect, packets to handlers, pause, reconnect, stop), whose steps share its state; the rules it
 * applies live in the files named above and in transactions.ts, table-plans.ts and rows.ts.
 */
import ZongJi from '@vlasky/zongji';
import { createRowEvent, schemaMatcher, tableMatcher, type BinlogPosition, type TableMatcher } from '../event/index.ts';
import { AbortedError, DecodeError, SourceError, TunnelError } from '../errors/index.ts';
import { fatalConnectionError, reconnectsExhausted } from './connection-failure.ts';
import type { Logger } from '../log/index.ts';
import { Cursor } from './decode.ts';
import { FlowControl } from './flow-control.ts';
import { describeError, mysqlConnectionOptions } from './mysql-connection.ts';
import { EventType, ROWS_EVENTS, bitmapIsFull, decodeChangeRows, decodeValueRows, lengthEncoded } from './rows.ts';
import { ReconnectSchedule, Watchdog } from './reconnect.ts';
import { ServerCandidates, type ReadPlan } from './candidates.ts';
import type { SourceServer } from './server.ts';
import type { BinlogSource, SourceHandler, SourceOptions, StartFrom } from './source.ts';
import { TablePlans } from './table-plans.ts';
import { TransactionTracker } from './transactions.ts';
import { parseDdl } from './ddl.ts';
import { schemaEvents } from './schema-events.ts';
import { zongjiUncompress, type BinlogData, type ZEvent, type ZPacket, type ZTableMapEvent, type ZongJiInternal } from './zongji-internals.ts';

type State = 'idle' | 'starting' | 'running' | 'stopped' | 'failed';

class ZongjiBinlogSource implements BinlogSource {
  private readonly filter: TableMatcher;
  private readonly heartbeatMs: number;

  private state: State = 'idle';
  private failure: Error | undefined;
  private handler: SourceHandler | undefined;
  private readonly candidates: ServerCandidates;

  // the current zongji instance and its number: events of an older instance are ignored (a count of
  // connections, not the source generation of the positions)
  private zongji: ZongJiInternal | undefined;
  private instance = 0;
  /** Rejects the connect() in progress, if any (stop() or a failure while connecting). */
  private abortConnect: ((error: Error) => void) | undefined;

  // position tracking
  private startPosition: BinlogPosition | undefined;
  private readonly tracker: TransactionTracker;

  private readonly tables: TablePlans;
  private readonly flow = new FlowControl();

  private readonly reconnects: ReconnectSchedule;
  /** Whether a database may hold tables the task follows (DROP DATABASE). */
  private readonly schemaFilter: (schema: string) => boolean;
  private readonly watchdog: Watchdog;

  constructor(
    private readonly options: SourceOptions,
    private readonly logger: Logger,
  ) {
    this.filter = tableMatcher(options.include, options.exclude);
    this.schemaFilter = schemaMatcher(options.include, options.exclude);
    this.candidates = new ServerCandidates(options, logger);
    this.tables = new TablePlans(this.filter, () => this.server, logger);
    this.tracker = new TransactionTracker(
      {
        commit: (position, timestamp) => this.onCommit(position, timestamp),
        schemaChange: (statement, database, position, timestamp) => {
          this.tables.schemaChanged();
          this.onDdl(statement, database, position, timestamp);
        },
      },
      logger,
    );
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.reconnects = new ReconnectSchedule(options.reconnect);
    this.watchdog = new Watchdog(
      this.heartbeatMs,
      () => this.state !== 'running' || this.flow.quiet,
      (error) => this.onConnectionError(error),
    );
  }

  /** The server being read (or to be read next). */
  private get server(): SourceServer {
    return this.candidates.current;
  }

  // ----------------------------------------------------------------------------------------------
  // public API

  async start(from: StartFrom, handler: SourceHandler): Promise<void> {
    if (this.state !== 'idle') throw new SourceError(`the source was already started (state ${this.state})`);
    this.state = 'starting';
    this.handler = handler;
    try {
      const plan = await this.candidates.plan(from);
      this.startPosition = from.kind === 'position' ? from.position : planPosition(plan);
      this.logger.info({ position: this.startPosition, from: from.kind, server: plan.server.where }, 'binlog source starting');
      await this.connect(plan);
      if (this.failure) throw this.failure;
      if (this.state !== 'starting') return; // stopped meanwhile
      this.state = 'running';
      this.watchdog.start();
    } catch (error) {
      if ((this.state as State) === 'stopped') {
        await this.teardown();
        return;
      }
      this.state = 'failed';
      await this.teardown();
      throw error instanceof TunnelError ? error : new SourceError(`binlog source could not start: ${describeError(error)}`, {}, { cause: error });
    }
  }

  pause(): void {
    this.flow.pause();
  }

  resume(): void {
    this.flow.resume();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    await this.teardown();
    this.logger.info({ lastCommit: this.tracker.lastCommit }, 'binlog source stopped');
  }

  // ----------------------------------------------------------------------------------------------
  // the replication connection

  private connect(plan: ReadPlan): Promise<void> {
    const instance = ++this.instance;
    this.reconnects.connecting();
    const { start } = plan;
    this.tracker.startAt(start.kind === 'file' ? start : undefined, {
      gtids: plan.gtids,
      server: plan.identity,
      generation: plan.generation,
      moved: plan.moved,
    });
    // another server: its table metadata is read again before its rows are decoded
    if (plan.moved) this.tables.schemaChanged();
    this.tables.newConnection();
    this.flow.detach();

    const zongji = new ZongJi(mysqlConnectionOptions(plan.server.options) as ConstructorParameters<typeof ZongJi>[0]) as unknown as ZongJiInternal;
    this.zongji = zongji;
    // Table maps of excluded tables are dropped inside zongji, before their columns are parsed.
    zongji._skipSchema = (schema, table) => !this.filter(schema, table);

    return new Promise<void>((resolve, reject) => {
      let ready = false;
      this.abortConnect = (error) => {
        if (ready) return;
        ready = true;
        reject(error);
      };
      zongji.on('ready', () => {
        if (instance !== this.instance || ready) return;
        this.abortConnect = undefined;
        try {
          this.hookZongji(zongji, instance, start.kind === 'gtid');
        } catch (error) {
          ready = true;
          reject(error);
          return;
        }
        ready = true;
        this.reconnects.connected();
        const { host, port } = plan.server.options;
        this.handler?.onServer?.({ host, port, identity: plan.identity, generation: plan.generation });
        resolve();
      });
      zongji.on('binlog', (event: ZEvent) => {
        if (instance !== this.instance) return;
        try {
          this.onZongjiEvent(event);
        } catch (error) {
          this.fail(error);
        }
      });
      zongji.on('error', (error: Error) => {
        if (instance !== this.instance) return;
        if (!ready) {
          ready = true;
          this.abortConnect = undefined;
          reject(error);
          return;
        }
        this.onConnectionError(error);
      });
      zongji.start(
        start.kind === 'file'
          ? { serverId: this.options.serverId, filename: start.file, position: start.offset }
          : { serverId: this.options.serverId, gtidSet: start.gtidSet },
      );
    });
  }

  /** Runs on 'ready', right before zongji sends the dump request on its binlog connection. */
  private hookZongji(zongji: ZongJiInternal, instance: number, byGtid: boolean): void {
    const connection = zongji.connection;
    const Binlog = zongji.BinlogClass;
    if (!connection || !Binlog) throw new SourceError('zongji internals changed: no binlog connection/command at ready');

    // Ask for heartbeats (nanoseconds) so that a dead connection shows; queued before the dump.
    connection.query(`SET @master_heartbeat_period = ${Math.max(1, this.heartbeatMs) * 1_000_000}`, () => {});
    // MariaDB resumes by GTID skipping event groups by sequence number; strict mode makes it refuse
    // (rather than start after) a GTID of the state its binlog does not hold.
    if (byGtid && zongji.isMariaDb) connection.query('SET @slave_gtid_strict_mode = 1', () => {});

    this.flow.attach(connection);

    const proto = Binlog.prototype;
    const original: BinlogData = proto.binlogData;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const source = this;
    proto.binlogData = function binlogData(this: unknown, packet: ZPacket, conn: unknown): unknown {
      if (instance !== source.instance) return original.call(this, packet, conn);
      return source.onPacket(this, original, packet, conn, zongji);
    };
  }

  // ----------------------------------------------------------------------------------------------
  // packets

  private onPacket(command: unknown, original: BinlogData, packet: ZPacket, conn: unknown, zongji: ZongJiInternal): unknown {
    if (this.state !== 'running' && this.state !== 'starting') return zongji.BinlogClass!.prototype.binlogData;
    if (packet.isEOF() || packet.isError()) return original.call(command, packet, conn);
    this.watchdog.activity();
    const buf = packet.buffer;
    const p = packet.offset + 1; // after the OK marker: the event header
    const type = buf[p + 4]!;
    const eventLength = buf.readUInt32LE(p + 9);
    const nextPosition = buf.readUInt32LE(p + 13);
    const flags = buf.readUInt16LE(p + 17);
    this.tracker.advance(type, eventLength, nextPosition, flags);
    this.flow.inPacket = true;
    try {
      const kind = ROWS_EVENTS[type];
      if (kind !== undefined) {
        const end = packet.end - (zongji.useChecksum ? 4 : 0);
        this.onRows(buf, p, end, kind.action, kind.v2, kind.compressed);
        return zongji.BinlogClass!.prototype.binlogData;
      }
      if (type === EventType.TRANSACTION_PAYLOAD) {
        throw new SourceError(
          `${this.tracker.file}:${this.tracker.cursor} holds a compressed transaction (MySQL binlog_transaction_compression=ON), ` +
            'which Tunnel cannot decode; set binlog_transaction_compression=OFF on the server. Stopping rather than skipping its rows',
          { position: this.tracker.position },
        );
      }
      if (type === EventType.PARTIAL_UPDATE_ROWS) {
        // of a table the task does not read: skipped undecoded, like that table's other rows events
        if (this.tables.get(buf.readUIntLE(p + 19, 6)) === null) return zongji.BinlogClass!.prototype.binlogData;
        throw new SourceError(
          `${this.tracker.file}:${this.tracker.cursor} holds a partial JSON update (MySQL binlog_row_value_options=PARTIAL_JSON), ` +
            'which Tunnel cannot decode; set binlog_row_value_options to empty. Stopping rather than skipping its rows',
          { position: this.tracker.position },
        );
      }
      if (type === EventType.TABLE_MAP && this.tables.beforeTableMap(buf, p + 19, packet.end - (zongji.useChecksum ? 4 : 0))) {
        return zongji.BinlogClass!.prototype.binlogData;
      }
      return original.call(command, packet, conn);
    } catch (error) {
      this.fail(error);
      return zongji.BinlogClass!.prototype.binlogData;
    } finally {
      this.flow.inPacket = false;
    }
  }

  private onRows(buf: Buffer, p: number, end: number, action: 'insert' | 'update' | 'delete', v2: boolean, compressed: boolean): void {
    const timestamp = buf.readUInt32LE(p) * 1000;
    const nextPosition = buf.readUInt32LE(p + 13);
    let q = p + 19;
    const tableId = buf.readUIntLE(q, 6);
    q += 8; // table id, flags
    const plan = this.tables.get(tableId);
    if (plan === null) return; // an excluded table
    if (plan === undefined) {
      throw new SourceError(`rows event for table id ${tableId} without its table map at ${this.tracker.file}:${this.tracker.cursor}`, {
        position: this.tracker.position,
      });
    }
    if (this.tracker.skipDelivered()) return;
    if (v2) q += buf.readUInt16LE(q);
    const [columnCount, used] = lengthEncoded(buf, q);
    q += used;
    if (columnCount !== plan.decoders.length) {
      throw new SourceError(`rows event for ${plan.schema}.${plan.table} has ${columnCount} columns, its table map ${plan.decoders.length}`, {
        position: this.tracker.position,
      });
    }
    const bitmapBytes = (columnCount + 7) >>> 3;
    const images = action === 'update' ? 2 : 1;
    for (let i = 0; i < images; i++) {
      if (!bitmapIsFull(buf, q + i * bitmapBytes, columnCount)) {
        throw new SourceError(
          `rows event for ${plan.schema}.${plan.table} at ${this.tracker.file}:${this.tracker.cursor} has a partial row image ` +
            '(binlog_row_image=MINIMAL or NOBLOB when it was written); Tunnel needs FULL row images',
          { position: this.tracker.position },
        );
      }
    }
    q += images * bitmapBytes;

    let cursor: Cursor;
    let rowsEnd: number;
    if (compressed) {
      const inflated = zongjiUncompress(buf.subarray(q, end));
      cursor = new Cursor(inflated, 0);
      rowsEnd = inflated.length;
    } else {
      cursor = new Cursor(buf, q);
      rowsEnd = end;
    }
    let rows;
    try {
      rows = action === 'update' ? decodeChangeRows(plan, cursor, rowsEnd) : decodeValueRows(plan, cursor, rowsEnd);
    } catch (error) {
      const reason = error instanceof DecodeError || error instanceof RangeError ? error.message : describeError(error);
      throw new SourceError(
        `cannot decode a rows event of ${plan.schema}.${plan.table} at ${this.tracker.file}:${nextPosition || this.tracker.cursor}: ${reason}`,
        { position: { file: this.tracker.file, offset: nextPosition || this.tracker.cursor } },
        { cause: error },
      );
    }
    const event = createRowEvent(
      {
        schema: plan.schema,
        table: plan.table,
        action,
        position: this.tracker.rowsEventPosition(nextPosition),
        timestamp,
        primaryKey: plan.primaryKey,
        columnTypes: plan.columnTypes,
      },
      { shape: plan.shape, count: rows.count, values: rows.values, before: rows.before },
    );
    this.tracker.rowsEventDelivered();
    this.handler!.onEvent(event);
  }

  // ----------------------------------------------------------------------------------------------
  // events decoded by zongji

  private onZongjiEvent(event: ZEvent): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    if (event.getTypeName() === 'TableMap') this.onTableMap(event as ZTableMapEvent);
    else this.tracker.onEvent(event);
  }

  /** A DDL statement: the schema events of the tables it changes that the task follows. */
  private onDdl(statement: string, database: string, position: BinlogPosition, timestamp: number): void {
    if (!this.handler?.onSchemaChange) return;
    const events = schemaEvents(parseDdl(statement, database), this.filter, this.schemaFilter, statement, position, timestamp);
    for (const event of events) this.handler.onSchemaChange(event);
  }

  /** A transaction ended (TransactionTracker): state of the transaction goes, the handler gets the position. */
  private onCommit(position: BinlogPosition, timestamp: number): void {
    this.reconnects.committed();
    this.tables.endTransaction(this.zongji?.tableMap);
    this.handler!.onCommit(position, timestamp);
  }

  // ----------------------------------------------------------------------------------------------
  // table maps

  private onTableMap(event: ZTableMapEvent): void {
    const zongji = this.zongji;
    const entry = zongji?.tableMap[event.tableId];
    if (!entry?.columns) {
      throw new SourceError(`zongji kept no columns for ${event.schemaName}.${event.tableName} (table id ${event.tableId})`);
    }
    const reading = this.tables.prepare(event, entry);
    if (!reading) {
      this.tables.add(event, entry);
      return;
    }
    // First sight of the table (or first after a DDL), or of a character set: read what the table
    // map lacks, with the stream paused; the packets behind this one wait in mysql2's queue.
    const instance = this.instance;
    this.flow.hold();
    reading.then(
      () => {
        if (instance !== this.instance) return;
        try {
          this.tables.add(event, entry);
        } catch (error) {
          this.fail(error);
          return;
        }
        this.flow.release();
      },
      (error: unknown) => {
        if (instance !== this.instance) return;
        this.server.drop();
        this.onConnectionError(error);
      },
    );
  }

  // ----------------------------------------------------------------------------------------------
  // failures, reconnects, liveness

  private onConnectionError(error: unknown): void {
    if (this.state !== 'running') return;
    const fatal = fatalConnectionError(error, this.server.where, this.tracker.lastCommit ?? this.startPosition);
    if (fatal === undefined) this.scheduleReconnect(error);
    else this.fail(fatal);
  }

  private scheduleReconnect(error: unknown): void {
    const delay = this.reconnects.nextDelay();
    this.stopZongji();
    // The interrupted transaction is read again from its start; skip what the handler already has.
    this.tracker.interrupted();
    if (delay === undefined) {
      this.fail(reconnectsExhausted(error, this.server.where, this.reconnects.attempts, this.tracker.lastCommit));
      return;
    }
    const from = this.tracker.lastCommit ?? this.startPosition;
    this.logger.warn(
      { error: describeError(error), attempt: this.reconnects.attempts, delayMs: delay, resumeFrom: from, skipRowsEvents: this.tracker.skipping },
      'binlog connection lost; reconnecting',
    );
    this.reconnects.schedule(delay, () => void this.reconnect());
  }

  private async reconnect(): Promise<void> {
    if (this.state !== 'running') return;
    const from = this.tracker.lastCommit ?? this.startPosition!;
    try {
      const plan = await this.candidates.plan(
        { kind: 'position', position: from },
        { gtids: this.tracker.gtids, openGtid: this.tracker.openGtid, identity: this.tracker.server, generation: this.tracker.generation },
      );
      if (this.state !== 'running') return;
      await this.connect(plan);
      this.logger.info(
        { position: from, server: plan.server.where, moved: plan.moved, generation: plan.generation, skipRowsEvents: this.tracker.skipping },
        'binlog connection re-established',
      );
    } catch (error) {
      if (this.state !== 'running') return;
      if (error instanceof TunnelError) {
        this.fail(error);
        return;
      }
      this.server.drop();
      this.scheduleReconnect(error);
    }
  }

  private fail(error: unknown): void {
    if (this.state === 'stopped' || this.state === 'failed') return;
    // A decode error names the column, not the binlog position: it is reported at the read position.
    const wrapped =
      error instanceof TunnelError && !(error instanceof DecodeError)
        ? error
        : new SourceError(
            `binlog source failed at ${this.tracker.file}:${this.tracker.cursor}: ${error instanceof DecodeError ? error.message : describeError(error)}`,
            { position: this.tracker.position },
            { cause: error },
          );
    const starting = this.state === 'starting';
    this.state = 'failed';
    this.failure = wrapped;
    this.logger.error({ err: wrapped, lastCommit: this.tracker.lastCommit }, 'binlog source stopped on an error');
    void this.teardown();
    if (!starting) this.handler?.onError(wrapped);
  }

  private stopZongji(): Promise<void> {
    const zongji = this.zongji;
    this.zongji = undefined;
    const abort = this.abortConnect;
    this.abortConnect = undefined;
    abort?.(new AbortedError('the binlog connection was closed while it was being established'));
    this.instance += 1; // events still buffered in the old instance are ignored
    this.flow.detach();
    if (!zongji) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      zongji.once('stopped', () => {
        clearTimeout(timer);
        resolve();
      });
      zongji.removeAllListeners('error');
      zongji.on('error', () => {});
      try {
        zongji.stop();
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private async teardown(): Promise<void> {
    this.reconnects.cancel();
    this.watchdog.stop();
    await this.stopZongji();
    await this.candidates.close();
  }
}

/** Where a file plan starts, as a position (a GTID plan has none before its first event). */
function planPosition(plan: ReadPlan): BinlogPosition {
  const position: BinlogPosition = plan.start.kind === 'file' ? { file: plan.start.file, offset: plan.start.offset } : { file: '', offset: 4 };
  if (plan.gtids) position.gtidSet = plan.gtids.toString();
  position.server = plan.identity;
  return position;
}

/** A binlog source for one task; `logger` gets connection, reconnect and schema warnings. */
export function createBinlogSource(options: SourceOptions, logger: Logger): BinlogSource {
  return new ZongjiBinlogSource(options, logger);
}
