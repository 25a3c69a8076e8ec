/**
 * The canonical event (docs/architecture.md): `schema`, `table`, `action`, `rows` never change meaning.
 * Metadata travels beside them and is serialized as extra top-level fields.
 */

/** A decoded column value: exact, JSON-safe. BIGINT beyond 2^53 and DECIMAL are strings, BLOBs base64. */
export type ColumnValue = null | boolean | number | string | JsonValue;
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ValueCell {
  column: string;
  value: ColumnValue;
}

export interface ChangeCell {
  column: string;
  before: ColumnValue;
  after: ColumnValue;
}

export type Action = 'insert' | 'update' | 'delete';

/**
 * A column's SQL type as the server describes it, in information_schema's words: `dataType` is
 * DATA_TYPE in lower case ('bigint', 'decimal', 'varchar', 'json', 'point', 'uuid', ...) and
 * `columnType` is COLUMN_TYPE ('bigint unsigned', 'decimal(12,2)', 'datetime(6)', "enum('a','b')").
 * Streamed events take it from the binlog's table map (exact for the row, even when the table has
 * changed since); snapshot rows from information_schema at the snapshot.
 */
export interface ColumnTypeInfo {
  readonly dataType: string;
  readonly columnType: string;
}

/** Column name -> its type; one frozen object shared by every event of a table map. */
export type ColumnTypes = Readonly<Record<string, ColumnTypeInfo>>;

export type Row<A extends Action = Action> = A extends 'update' ? ChangeCell[] : ValueCell[];

/**
 * A resumable binlog position. It always names the end of a committed transaction (after its
 * XID/COMMIT event), so a resume never starts between a table map and its rows events.
 */
export interface BinlogPosition {
  file: string;
  offset: number;
  /** MariaDB GTID (domain-server-seq) or MySQL GTID of the transaction, when the server has one. */
  gtid?: string;
  /**
   * Commit positions: every transaction the binlog holds before this position, in the server's form
   * (MariaDB `0-1-100,1-2-5` as gtid_slave_pos; MySQL `uuid:1-100` as gtid_executed). With it a task
   * resumes on another server of the replication topology (core/source/gtid-set.ts).
   */
  gtidSet?: string;
  /**
   * Commit positions: the server whose binlog `file` and `offset` name (MariaDB @@server_id, MySQL
   * @@server_uuid). File and offset are read on that server only; on any other, from `gtidSet`.
   */
  server?: string;
  /**
   * Which source history the position belongs to (absent: 0). A task that moves to another server
   * (a failover followed by GTID, or `tunnel reset-position --new-history`), or whose server numbers
   * its binlogs from the start again, reads the next generation, so that its positions there order
   * after every earlier one (comparePositions, and the version sinks compare:
   * core/event/position-version.ts).
   */
  generation?: number;
}

interface EventBase {
  schema: string;
  table: string;
  /**
   * Where this event's rows event ends (file, offset) and its transaction's GTID: ordered and unique,
   * but never a resume point. Only a transaction's commit (SourceHandler.onCommit) is resumable, so a
   * transaction of any size is streamed instead of being held until its end is known.
   */
  position: BinlogPosition;
  /** Server timestamp of the binlog event, milliseconds since the epoch. */
  timestamp: number;
  /** Primary-key column names in key order. Empty when the table has none (see keyColumnsOf). */
  primaryKey: string[];
  /**
   * The SQL types of the table's columns, for sinks that map types (Elasticsearch). Not part of the
   * canonical JSON. A plugin that renames or adds columns may leave it as it is: a column it does
   * not describe is left to the sink's defaults.
   */
  columnTypes?: ColumnTypes;
}

export interface InsertEvent extends EventBase {
  action: 'insert';
  rows: ValueCell[][];
}
export interface UpdateEvent extends EventBase {
  action: 'update';
  rows: ChangeCell[][];
}
export interface DeleteEvent extends EventBase {
  action: 'delete';
  rows: ValueCell[][];
}

export type RowEvent = InsertEvent | UpdateEvent | DeleteEvent;

/** The canonical object every sink and webhook receiver sees: the canonical fields first, metadata after. */
export function canonicalObject(event: RowEvent): Record<string, unknown> {
  return {
    schema: event.schema,
    table: event.table,
    action: event.action,
    rows: event.rows,
    position: event.position,
    timestamp: event.timestamp,
    primaryKey: event.primaryKey,
  };
}

export function toCanonicalJson(event: RowEvent): string {
  return JSON.stringify(canonicalObject(event));
}
