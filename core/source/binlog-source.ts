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
 * offset of each transaction's commit event. After a dropped connection it reconnects with backoff
 * from the last commit it delivered and skips the rows events of the interrupted transaction that
 * the handler already has, so the handler sees each event exactly once.
 */
import mysql from 'mysql2/promise';
import ZongJi from '@vlasky/zongji';
import type { BinlogPosition, RowEvent } from '../event/index.ts';
import { AbortedError, DecodeError, PositionUnavailableError, SourceError, TunnelError } from '../errors/index.ts';
import { FlowControl } from './flow-control.ts';
import { SourceServer } from './server.ts';
import { TransactionTracker } from './transactions.ts';
import type { Logger } from '../log/index.ts';
import { ColumnType, Cursor, columnDecoder, parseEnumSetDefinition, type ColumnSpec, type DecodeSupport, type LogicalType } from './decode.ts';
import { EventType, ROWS_EVENTS, bitmapIsFull, decodeChangeRows, decodeValueRows, lengthEncoded, type TablePlan } from './rows.ts';
import type { BinlogSource, SourceHandler, SourceOptions, StartFrom } from './source.ts';
import { describeError, isConnectionLost, mysqlConnectionOptions, type MysqlError } from './mysql-connection.ts';
import { tableMatcher, type TableMatcher } from '../event/index.ts';
import {
  zongjiDecodeText,
  zongjiFormatLogical,
  zongjiReadValue,
  zongjiUncompress,
  type BinlogData,
  type ZColumn,
  type ZColumnSchema,
  type ZEvent,
  type ZPacket,
  type ZTableMapEntry,
  type ZTableMapEvent,
  type ZongJiInternal,
} from './zongji-internals.ts';

/** What INFORMATION_SCHEMA adds to a table map: JSON columns (MariaDB) and the primary key. */
interface TableExtras {
  jsonColumns: Set<string>;
  logical: Map<string, LogicalType>;
  primaryKey: string[];
}

const BINARY_COLLATION = 63;

type State = 'idle' | 'starting' | 'running' | 'stopped' | 'failed';

class ZongjiBinlogSource implements BinlogSource {
  private readonly filter: TableMatcher;
  private readonly heartbeatMs: number;
  private readonly retry: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number };

  private state: State = 'idle';
  private failure: Error | undefined;
  private handler: SourceHandler | undefined;
  private readonly server: SourceServer;

  // the current zongji instance; events of older generations are ignored
  private zongji: ZongJiInternal | undefined;
  private generation = 0;
  private packets = 0;
  /** When the current connection became ready, and whether it delivered a commit since. */
  private connectedAt = 0;
  private committedSinceConnect = false;
  /** Rejects the connect() in progress, if any (stop() or a failure while connecting). */
  private abortConnect: ((error: Error) => void) | undefined;

  // position tracking
  private startPosition: BinlogPosition | undefined;
  private readonly tracker: TransactionTracker;

  // tables
  private readonly plans = new Map<number, TablePlan | null>();
  private readonly extras = new Map<string, TableExtras>();
  private readonly warnedNoKey = new Set<string>();
  /** Plans by table id, with the table-map bytes they were built from and the DDL epoch. */
  private readonly planCache = new Map<number, { body: Buffer; epoch: number; plan: TablePlan }>();
  private readonly pendingTableMaps = new Map<number, { body: Buffer; epoch: number }>();
  /** Incremented by every DDL statement: metadata read from INFORMATION_SCHEMA is stale after it. */
  private schemaEpoch = 0;
  private commitsSinceSweep = 0;

  private readonly flow = new FlowControl();

  // reconnect and liveness
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private idleTicks = 0;
  private lastPacketCount = -1;

  private readonly support: DecodeSupport;

  constructor(
    private readonly options: SourceOptions,
    private readonly logger: Logger,
  ) {
    this.filter = tableMatcher(options.include, options.exclude);
    this.server = new SourceServer(options.connection, logger);
    this.tracker = new TransactionTracker(
      { commit: (position, timestamp) => this.onCommit(position, timestamp), schemaChange: () => this.onSchemaChange() },
      logger,
    );
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.retry = {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 100,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 10_000,
      maxAttempts: options.reconnect?.maxAttempts ?? 20,
    };
    this.support = {
      decodeText: zongjiDecodeText,
      formatLogical: zongjiFormatLogical,
      fallback: (c, spec) => {
        const native = spec.native as { column: ZColumn; schema: ZColumnSchema; table: ZTableMapEntry };
        const { value, end } = zongjiReadValue(c.buf, c.pos, native.column, native.schema, native.table);
        c.pos = end;
        // classic TIMESTAMP: zongji gives 'YYYY-MM-DD HH:MM:SS[.f]' in UTC; make it the instant form
        if (spec.type === ColumnType.TIMESTAMP && typeof value === 'string' && !value.startsWith('0000-00-00')) {
          return `${value.replace(' ', 'T')}Z`;
        }
        return value;
      },
      warn: (message, detail) => this.logger.warn(detail, message),
    };
  }

  // ----------------------------------------------------------------------------------------------
  // public API

  async start(from: StartFrom, handler: SourceHandler): Promise<void> {
    if (this.state !== 'idle') throw new SourceError(`the source was already started (state ${this.state})`);
    this.state = 'starting';
    this.handler = handler;
    try {
      await this.server.inspect();
      const position = await this.server.resolveStart(from);
      this.startPosition = position;
      this.logger.info({ position, from: from.kind }, 'binlog source starting');
      await this.connect(position);
      if (this.failure) throw this.failure;
      if (this.state !== 'starting') return; // stopped meanwhile
      this.state = 'running';
      this.startWatchdog();
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

  private connect(position: BinlogPosition): Promise<void> {
    const generation = ++this.generation;
    this.connectedAt = Number.POSITIVE_INFINITY;
    this.committedSinceConnect = false;
    this.tracker.startAt(position);
    this.plans.clear();
    this.pendingTableMaps.clear();
    this.flow.detach();

    const zongji = new ZongJi(mysqlConnectionOptions(this.options.connection) as ConstructorParameters<typeof ZongJi>[0]) as unknown as ZongJiInternal;
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
        if (generation !== this.generation || ready) return;
        this.abortConnect = undefined;
        try {
          this.hookZongji(zongji, generation);
        } catch (error) {
          ready = true;
          reject(error);
          return;
        }
        ready = true;
        this.connectedAt = Date.now();
        resolve();
      });
      zongji.on('binlog', (event: ZEvent) => {
        if (generation !== this.generation) return;
        try {
          this.onZongjiEvent(event);
        } catch (error) {
          this.fail(error);
        }
      });
      zongji.on('error', (error: Error) => {
        if (generation !== this.generation) return;
        if (!ready) {
          ready = true;
          this.abortConnect = undefined;
          reject(error);
          return;
        }
        this.onConnectionError(error);
      });
      zongji.start({ serverId: this.options.serverId, filename: position.file, position: position.offset });
    });
  }

  /** Runs on 'ready', right before zongji sends the dump request on its binlog connection. */
  private hookZongji(zongji: ZongJiInternal, generation: number): void {
    const connection = zongji.connection;
    const Binlog = zongji.BinlogClass;
    if (!connection || !Binlog) throw new SourceError('zongji internals changed: no binlog connection/command at ready');

    // Ask for heartbeats (nanoseconds) so that a dead connection shows; queued before the dump.
    connection.query(`SET @master_heartbeat_period = ${Math.max(1, this.heartbeatMs) * 1_000_000}`, () => {});

    this.flow.attach(connection);

    const proto = Binlog.prototype;
    const original: BinlogData = proto.binlogData;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const source = this;
    proto.binlogData = function binlogData(this: unknown, packet: ZPacket, conn: unknown): unknown {
      if (generation !== source.generation) return original.call(this, packet, conn);
      return source.onPacket(this, original, packet, conn, zongji);
    };
  }

  // ----------------------------------------------------------------------------------------------
  // packets

  private onPacket(command: unknown, original: BinlogData, packet: ZPacket, conn: unknown, zongji: ZongJiInternal): unknown {
    if (this.state !== 'running' && this.state !== 'starting') return zongji.BinlogClass!.prototype.binlogData;
    if (packet.isEOF() || packet.isError()) return original.call(command, packet, conn);
    this.packets += 1;
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
        throw new SourceError(
          `${this.tracker.file}:${this.tracker.cursor} holds a partial JSON update (MySQL binlog_row_value_options=PARTIAL_JSON), ` +
            'which Tunnel cannot decode; set binlog_row_value_options to empty. Stopping rather than skipping its rows',
          { position: this.tracker.position },
        );
      }
      if (type === EventType.TABLE_MAP && this.beforeTableMap(buf, p + 19, packet.end - (zongji.useChecksum ? 4 : 0))) {
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

  /**
   * Sets up the table id of a table map before zongji sees it. Returns true when the table map is
   * handled here and zongji need not parse it: the table is excluded (its rows are then skipped
   * undecoded), or the table map is byte for byte the one a cached plan was built from.
   */
  private beforeTableMap(buf: Buffer, body: number, end: number): boolean {
    const tableId = buf.readUIntLE(body, 6);
    let q = body + 8;
    const schemaLength = buf[q]!;
    const schema = buf.toString('utf8', q + 1, q + 1 + schemaLength);
    q += 1 + schemaLength + 1;
    const tableLength = buf[q]!;
    const table = buf.toString('utf8', q + 1, q + 1 + tableLength);
    if (!this.filter(schema, table)) {
      this.plans.set(tableId, null);
      return true;
    }
    const bytes = buf.subarray(body, end);
    const cached = this.planCache.get(tableId);
    if (cached && cached.epoch === this.schemaEpoch && cached.body.equals(bytes)) {
      this.plans.set(tableId, cached.plan);
      return true;
    }
    this.plans.delete(tableId);
    this.pendingTableMaps.set(tableId, { body: Buffer.from(bytes), epoch: this.schemaEpoch });
    return false;
  }

  /** Keeps a plan for identical table maps of later transactions (every transaction repeats them). */
  private rememberPlan(tableId: number, plan: TablePlan): void {
    this.plans.set(tableId, plan);
    const pending = this.pendingTableMaps.get(tableId);
    this.pendingTableMaps.delete(tableId);
    if (!pending) return;
    if (this.planCache.size >= 10_000) this.planCache.clear();
    this.planCache.set(tableId, { ...pending, plan });
  }

  private onRows(buf: Buffer, p: number, end: number, action: 'insert' | 'update' | 'delete', v2: boolean, compressed: boolean): void {
    const timestamp = buf.readUInt32LE(p) * 1000;
    const nextPosition = buf.readUInt32LE(p + 13);
    let q = p + 19;
    const tableId = buf.readUIntLE(q, 6);
    q += 8; // table id, flags
    const plan = this.plans.get(tableId);
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
    const event = {
      schema: plan.schema,
      table: plan.table,
      action,
      rows,
      position: this.tracker.rowsEventPosition(nextPosition),
      timestamp,
      primaryKey: plan.primaryKey,
    } as RowEvent;
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

  /** A transaction ended (TransactionTracker): state of the transaction goes, the handler gets the position. */
  private onCommit(position: BinlogPosition, timestamp: number): void {
    this.committedSinceConnect = true;
    // Table maps never outlive their transaction: keep the per-table-id state from growing with the
    // server's table ids (a long-running task sees new ones after every DDL and table-cache reload).
    this.plans.clear();
    const tableMap = this.zongji?.tableMap;
    if (tableMap && ++this.commitsSinceSweep >= 10_000) {
      this.commitsSinceSweep = 0;
      // zongji keeps one entry per table id forever; drop them now and then (the next table map of a
      // table rebuilds its entry; without FULL metadata that is one INFORMATION_SCHEMA read).
      if (Object.keys(tableMap).length > 1_000) for (const id of Object.keys(tableMap)) delete tableMap[Number(id)];
    }
    this.handler!.onCommit(position, timestamp);
  }

  /** A DDL statement: column lists may have changed, so table metadata is read again. */
  private onSchemaChange(): void {
    this.extras.clear();
    this.schemaEpoch += 1;
  }

  // ----------------------------------------------------------------------------------------------
  // table maps

  private onTableMap(event: ZTableMapEvent): void {
    const zongji = this.zongji;
    const entry = zongji?.tableMap[event.tableId];
    if (!entry?.columns) {
      throw new SourceError(`zongji kept no columns for ${event.schemaName}.${event.tableName} (table id ${event.tableId})`);
    }
    const key = `${event.schemaName}.${event.tableName}`;
    const extras = this.extras.get(key);
    if (extras) {
      this.rememberPlan(event.tableId, this.buildPlan(event, entry, extras));
      return;
    }
    // First sight of the table (or first after a DDL): read what the table map lacks, with the
    // stream paused; the packets behind this one wait in mysql2's queue.
    const generation = this.generation;
    this.flow.hold();
    this.withTimeout(this.fetchExtras(event.schemaName, event.tableName), 30_000, `reading the metadata of ${key}`).then(
      (fetched) => {
        if (generation !== this.generation) return;
        this.extras.set(key, fetched);
        try {
          this.rememberPlan(event.tableId, this.buildPlan(event, entry, fetched));
        } catch (error) {
          this.fail(error);
          return;
        }
        this.flow.release();
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.server.drop();
        this.onConnectionError(error);
      },
    );
  }

  private withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`${what} took longer than ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  private async fetchExtras(schema: string, table: string): Promise<TableExtras> {
    const control = await this.server.connection();
    const keyQuery = control.query<mysql.RowDataPacket[]>(
      "SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
      [schema, table],
    );
    const checkQuery = this.server.info?.isMariaDb
      ? control.query<mysql.RowDataPacket[]>(
          'SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?',
          [schema, table],
        )
      : undefined;
    const typeQuery = this.server.info?.isMariaDb
      ? control.query<mysql.RowDataPacket[]>(
          "SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE IN ('uuid', 'inet4', 'inet6')",
          [schema, table],
        )
      : undefined;
    const [[keyRows], checks, types] = await Promise.all([keyQuery, checkQuery, typeQuery]);
    const logical = new Map<string, LogicalType>();
    for (const row of types?.[0] ?? []) logical.set(String(row.name), String(row.type).toLowerCase() as LogicalType);
    const jsonColumns = new Set<string>();
    for (const row of checks?.[0] ?? []) {
      const match = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(row.clause).trim());
      if (match) jsonColumns.add(match[1]!.replace(/``/g, '`'));
    }
    return { jsonColumns, logical, primaryKey: keyRows.map((r) => String(r.name)) };
  }

  private buildPlan(event: ZTableMapEvent, entry: ZTableMapEntry, extras: TableExtras): TablePlan {
    const columns = entry.columns!;
    const key = `${event.schemaName}.${event.tableName}`;
    if (!event.columnNames && entry.columnSchemas.length !== event.columnCount) {
      // Without FULL metadata the names come from the table's current definition, by position; when
      // the column count differs, the binlog predates a schema change and names would be guessed.
      throw new SourceError(
        `the binlog's table map of ${key} has ${event.columnCount} columns, the table now has ${entry.columnSchemas.length}: ` +
          'this binlog was written before a schema change and names cannot be known without binlog_row_metadata=FULL',
        { table: key },
      );
    }
    // The binlog's own names (FULL metadata) win over INFORMATION_SCHEMA's, which zongji uses for
    // tables it must describe from there (MariaDB's ambiguous pre-5.6 temporal columns).
    const names = columns.map((c, i) => event.columnNames?.[i] ?? c.name);
    const decoders = columns.map((column, i) => {
      const schema = entry.columnSchemas[i] ?? ({ COLUMN_NAME: column.name, CHARACTER_SET_NAME: null, COLUMN_TYPE: '' } as ZColumnSchema);
      const spec: ColumnSpec = {
        name: names[i]!,
        type: column.type,
        metadata: column.metadata ?? {},
        unsigned: schema.UNSIGNED ?? /unsigned/i.test(schema.COLUMN_TYPE),
        charset: this.charsetOf(event, i, column),
        json: extras.jsonColumns.has(names[i]!),
        native: { column, schema, table: entry },
      };
      const logical = extras.logical.get(names[i]!);
      if (logical !== undefined && spec.charset === null) spec.logical = logical;
      if (column.type === ColumnType.ENUM) spec.enumValues = schema.ENUM_VALUES ?? parseEnumSetDefinition(schema.COLUMN_TYPE);
      if (column.type === ColumnType.SET) spec.setValues = schema.SET_VALUES ?? parseEnumSetDefinition(schema.COLUMN_TYPE);
      return columnDecoder(spec, this.support);
    });
    let primaryKey: string[];
    if (event.primaryKey && event.primaryKey.length > 0) {
      primaryKey = event.primaryKey.map((i) => names[i]!).filter((n) => n !== undefined);
    } else {
      primaryKey = extras.primaryKey.filter((n) => names.includes(n));
    }
    if (primaryKey.length === 0 && !this.warnedNoKey.has(key)) {
      this.warnedNoKey.add(key);
      this.logger.warn({ table: key }, 'table has no primary key: sinks key its rows by all columns');
    }
    // shared by every event of the table map: frozen so a plugin cannot change it for the others
    return { schema: event.schemaName, table: event.tableName, names, decoders, primaryKey: Object.freeze(primaryKey) as string[] };
  }

  /** A column's character set: the table map's collation id mapped by the server's own table. */
  private charsetOf(event: ZTableMapEvent, index: number, column: ZColumn): string | null {
    const id = event._columnCharsetIds?.[index];
    if (id !== undefined) {
      if (id === BINARY_COLLATION) return null;
      return this.server.info?.collations.get(id) ?? column.charset;
    }
    return column.charset;
  }

  // ----------------------------------------------------------------------------------------------
  // failures, reconnects, liveness

  private onConnectionError(error: unknown): void {
    if (this.state !== 'running') return;
    if (!isConnectionLost(error)) {
      const e = error as MysqlError;
      if (e.errno === 1236 && /could not find|purged|first log file/i.test(e.message)) {
        const at = this.tracker.lastCommit ?? this.startPosition;
        this.fail(
          new PositionUnavailableError(`the server no longer has the binlog at ${at?.file}:${at?.offset}: ${e.message}`, { requested: at }, { cause: error }),
        );
        return;
      }
      this.fail(error);
      return;
    }
    this.scheduleReconnect(error);
  }

  private scheduleReconnect(error: unknown): void {
    // A connection that made progress (a commit) or lived a while starts the backoff over; one that
    // drops again at once keeps counting towards maxAttempts.
    if (this.committedSinceConnect || Date.now() - this.connectedAt > 30_000) this.attempts = 0;
    this.connectedAt = Number.POSITIVE_INFINITY;
    this.committedSinceConnect = false;
    this.stopZongji();
    // The interrupted transaction is read again from its start; skip what the handler already has.
    this.tracker.interrupted();
    if (this.attempts >= this.retry.maxAttempts) {
      this.fail(
        new SourceError(
          `lost the binlog connection to ${this.server.where} and could not reconnect after ${this.attempts} attempts: ${describeError(error)}`,
          {
            lastCommit: this.tracker.lastCommit,
          },
          { cause: error },
        ),
      );
      return;
    }
    const base = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** this.attempts);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempts += 1;
    const from = this.tracker.lastCommit ?? this.startPosition;
    this.logger.warn(
      { error: describeError(error), attempt: this.attempts, delayMs: delay, resumeFrom: from, skipRowsEvents: this.tracker.skipping },
      'binlog connection lost; reconnecting',
    );
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (this.state !== 'running') return;
    const from = this.tracker.lastCommit ?? this.startPosition!;
    try {
      await this.server.checkAvailable(from);
      if (this.state !== 'running') return;
      await this.connect(from);
      this.logger.info({ position: from, skipRowsEvents: this.tracker.skipping }, 'binlog connection re-established');
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

  private startWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      if (this.state !== 'running' || this.flow.quiet) {
        this.idleTicks = 0;
        this.lastPacketCount = this.packets;
        return;
      }
      if (this.packets !== this.lastPacketCount) {
        this.lastPacketCount = this.packets;
        this.idleTicks = 0;
        return;
      }
      this.idleTicks += 1;
      if (this.idleTicks >= 3) {
        this.idleTicks = 0;
        const error = Object.assign(new Error(`no event or heartbeat for ${3 * this.heartbeatMs} ms`), { code: 'TUNNEL_HEARTBEAT_TIMEOUT' });
        this.onConnectionError(error);
      }
    }, this.heartbeatMs);
    this.watchdog.unref();
  }

  private fail(error: unknown): void {
    if (this.state === 'stopped' || this.state === 'failed') return;
    // a decode error names the column, not the binlog position: it is reported at the read position
    const wrapped =
      error instanceof TunnelError && !(error instanceof DecodeError)
        ? error
        : new SourceError(
            `binlog source failed at ${this.tracker.file}:${this.tracker.cursor}: ${describeError(error)}`,
            { position: this.tracker.position },
            {
              cause: error,
            },
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
    this.generation += 1; // events still buffered in the old instance are ignored
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
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    await this.stopZongji();
    await this.server.close();
  }
}

/** A binlog source for one task; `logger` gets connection, reconnect and schema warnings. */
export function createBinlogSource(options: SourceOptions, logger: Logger): BinlogSource {
  return new ZongjiBinlogSource(options, logger);
}
