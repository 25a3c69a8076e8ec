import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition, ColumnTypes } from '../event/index.ts';
import { SourceError } from '../errors/index.ts';
import { gtidStateAt, gtidsOn, jsonCheckColumn, serverIdentity, type GtidFlavor } from '../source/index.ts';
import { isKeysetKind, valueKind, type ColumnInfo, type ValueKind } from './values.ts';

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

export interface TableRef {
  schema: string;
  table: string;
  /** information_schema TABLE_ROWS: an estimate (InnoDB samples it). */
  estimatedRows: number;
}

export interface TableInfo {
  schema: string;
  table: string;
  columns: Array<ColumnInfo & { kind: ValueKind }>;
  /** Primary-key column names in key order (what events carry as `primaryKey`); empty without one. */
  primaryKey: string[];
  /**
   * Columns the snapshot pages by: the primary key, else the first unique index whose columns are
   * all NOT NULL; empty when there is none (the table is read in one pass).
   */
  chunkKey: string[];
  /** The columns' SQL types as events carry them (one frozen object per table). */
  columnTypes: ColumnTypes;
}

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
}

/** "shop.orders" → ["shop", "orders"]; the first dot splits (schema names rarely hold dots). */
export function splitTableName(name: string): [string, string] {
  const dot = name.indexOf('.');
  return dot < 0 ? ['', name] : [name.slice(0, dot), name.slice(dot + 1)];
}

export async function listTables(conn: Connection, matches: (schema: string, table: string) => boolean): Promise<TableRef[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, TABLE_ROWS AS n FROM information_schema.TABLES
     WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN (?)
     ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [SYSTEM_SCHEMAS],
  );
  return rows
    .map((row) => ({ schema: String(row.s), table: String(row.t), estimatedRows: Number(row.n ?? 0) }))
    .filter((ref) => matches(ref.schema, ref.table));
}

export async function estimateRows(conn: Connection, schema: string, table: string): Promise<number> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
    schema,
    table,
  ]);
  return Number(rows[0]?.n ?? 0);
}

/** Columns (in table order, invisible ones included: the binlog has them), keys and JSON columns. */
export async function describeTable(conn: Connection, schema: string, table: string): Promise<TableInfo | undefined> {
  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  if (columnRows.length === 0) return undefined;
  const jsonColumns = await mariadbJsonColumns(conn, schema, table);
  const columns = columnRows.map((row) => {
    const info: ColumnInfo = {
      name: String(row.name),
      dataType: String(row.dataType).toLowerCase(),
      columnType: String(row.columnType).toLowerCase(),
      json: String(row.dataType).toLowerCase() === 'json' || jsonColumns.has(String(row.name)),
      nullable: row.nullable === 'YES',
    };
    return { ...info, kind: valueKind(info) };
  });

  const [indexRows] = await conn.query<RowDataPacket[]>(
    `SELECT INDEX_NAME AS name, COLUMN_NAME AS col, NON_UNIQUE AS nonUnique, SEQ_IN_INDEX AS seq
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
     ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const indexes = new Map<string, { unique: boolean; columns: string[] }>();
  for (const row of indexRows) {
    const name = String(row.name);
    const index = indexes.get(name) ?? { unique: Number(row.nonUnique) === 0, columns: [] };
    index.columns.push(String(row.col));
    indexes.set(name, index);
  }
  const byName = new Map(columns.map((c) => [c.name, c]));
  const primaryKey = indexes.get('PRIMARY')?.columns ?? [];
  const usable = (names: string[]): boolean =>
    names.length > 0 && names.every((n) => byName.has(n) && !byName.get(n)!.nullable && isKeysetKind(byName.get(n)!.kind));
  let chunkKey: string[] = [];
  if (usable(primaryKey)) chunkKey = primaryKey;
  else {
    for (const [name, index] of indexes) {
      if (name !== 'PRIMARY' && index.unique && usable(index.columns)) {
        chunkKey = index.columns;
        break;
      }
    }
  }
  const columnTypes: ColumnTypes = Object.freeze(
    Object.fromEntries(columns.map((c) => [c.name, { dataType: c.json ? 'json' : c.dataType, columnType: c.json ? 'json' : c.columnType }])),
  );
  return { schema, table, columns, primaryKey, chunkKey, columnTypes };
}

/** MariaDB's JSON is LONGTEXT with a `json_valid(col)` check constraint; MySQL reports DATA_TYPE json. */
async function mariadbJsonColumns(conn: Connection, schema: string, table: string): Promise<Set<string>> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?',
      [schema, table],
    );
    const out = new Set<string>();
    for (const row of rows) {
      const column = jsonCheckColumn(String(row.clause));
      if (column !== undefined) out.add(column);
    }
    return out;
  } catch {
    return new Set(); // MySQL: no TABLE_NAME column there, and JSON is its own type
  }
}

/**
 * The binlog position streaming resumes from after the snapshot: every transaction before it must
 * be visible to the snapshot's reads, which start after it is recorded (a transaction after it may
 * be in the snapshot too: streaming applies it again, as any replay does).
 *
 * MariaDB: taken inside `START TRANSACTION WITH CONSISTENT SNAPSHOT` from
 * `binlog_snapshot_file/position`: every transaction before it is committed in the storage engine.
 * A plain SHOW MASTER STATUS can name a position whose last transaction is written to the binlog but
 * not yet committed, so not yet visible to readers: a snapshot would miss it and streaming would
 * skip it.
 *
 * MySQL has no such status. Rotating the binlog waits until every transaction written to the old
 * files is committed in the engine (the new file's Previous_gtids event must be exact), so the start
 * of the newest file after FLUSH BINARY LOGS is such a position (needs RELOAD; it holds the binlog
 * only while commits in progress finish). Without RELOAD: the start of the current file, where the
 * same holds for every earlier file, and the current file's transactions are read again.
 */
export async function recordStartPosition(conn: Connection): Promise<{ position: BinlogPosition; method: string }> {
  const [versionRows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  const mariadb = /mariadb/i.test(String(versionRows[0]?.v ?? ''));
  if (!mariadb) return mysqlStartPosition(conn);
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
  let file: string | undefined;
  let offset: number | undefined;
  try {
    const [rows] = await conn.query<RowDataPacket[]>("SHOW STATUS LIKE 'binlog_snapshot_%'");
    for (const row of rows) {
      if (row.Variable_name === 'Binlog_snapshot_file') file = String(row.Value);
      if (row.Variable_name === 'Binlog_snapshot_position') offset = Number(row.Value);
    }
  } finally {
    await conn.query('COMMIT');
  }
  let method = 'mariadb consistent snapshot (binlog_snapshot_file/position)';
  if (!file || offset === undefined) {
    method = 'SHOW MASTER STATUS';
    const [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
    const row = rows[0];
    if (!row) throw new SourceError('the server has no binary log (SHOW MASTER STATUS is empty): enable log_bin with binlog_format=ROW');
    file = String(row.File);
    offset = Number(row.Position);
  }
  const position: BinlogPosition = { file, offset };
  const gtid = await gtidAt(conn, file, offset);
  if (gtid) position.gtid = gtid;
  return { position: await withGtidState(conn, 'mariadb', position), method };
}

/**
 * The position with the server's identity and the GTID state before it, as a commit position has
 * them, so that streaming after the snapshot may start on another server of the topology.
 */
async function withGtidState(conn: Connection, flavor: GtidFlavor, position: BinlogPosition): Promise<BinlogPosition> {
  const out: BinlogPosition = { ...position, server: await serverIdentity(conn, flavor) };
  if (await gtidsOn(conn, flavor)) out.gtidSet = (await gtidStateAt(conn, flavor, position.file, position.offset)).state.toString();
  return out;
}

/** MySQL: the start of the binlog file FLUSH BINARY LOGS opens, else of the current file (see above). */
async function mysqlStartPosition(conn: Connection): Promise<{ position: BinlogPosition; method: string }> {
  let method = 'FLUSH BINARY LOGS (the start of the new binlog file)';
  try {
    await conn.query('FLUSH BINARY LOGS');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ER_SPECIFIC_ACCESS_DENIED_ERROR') throw error;
    method = 'the start of the current binlog file, read again (FLUSH BINARY LOGS needs the RELOAD privilege)';
  }
  const [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
  const last = rows[rows.length - 1];
  if (!last) throw new SourceError('the server has no binary log (SHOW BINARY LOGS is empty): enable log_bin with binlog_format=ROW');
  return { position: await withGtidState(conn, 'mysql', { file: String(last.Log_name), offset: 4 }), method };
}

/** MariaDB's GTID position at a binlog file and offset (BINLOG_GTID_POS), when it has one. */
async function gtidAt(conn: Connection, file: string, offset: number): Promise<string | undefined> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT BINLOG_GTID_POS(?, ?) AS g', [file, offset]);
    const gtid = rows[0]?.g;
    return typeof gtid === 'string' && gtid.length > 0 ? gtid : undefined;
  } catch {
    return undefined;
  }
}
