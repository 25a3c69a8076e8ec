/**
 * What every sink must hold for a table, computed from what the SERVER returns for SELECT, under the
 * value rules of docs/values.md — never from Tunnel's decoder or encoders (nothing here
 * imports core/ or sinks/). Each column is read as text the server formats itself (CAST(... AS CHAR),
 * HEX(), CONVERT(... USING utf8mb4), a UTC session for TIMESTAMP) and turned into the documented JSON
 * form by plain code: base64 of bytes, exact integer strings beyond 2^53, shortest FLOAT digits, ...
 */
import type { Connection } from 'mysql2/promise';
import { exactNumber, parseExactJson, type Json } from './exact-json.ts';
import type { Kind } from './schema.ts';

export type Value = Json;
export type Row = Record<string, Value>;

/** A table as the server describes it (INFORMATION_SCHEMA): what the expected values follow. */
export interface TableShape {
  schema: string;
  name: string;
  flavor: 'mariadb' | 'mysql';
  /** In table order, each with the value rule it falls under. */
  columns: Array<{ name: string; kind: Kind; type: string }>;
  /** Primary key columns in key order; empty without a primary key. */
  key: string[];
}

export interface ExpectedTable {
  shape: TableShape;
  /** Rows by document id (docs/sinks.md, document ids and keys). */
  rows: Map<string, Row>;
  /** Ids seen twice (two rows a keyless table cannot tell apart): a generator error, never expected. */
  duplicateIds: string[];
}

/** The SELECT expression whose text gives `col`'s canonical value. */
export function selectExpression(shape: TableShape, col: { name: string; kind: Kind }): string {
  const c = `\`${col.name}\``;
  switch (col.kind) {
    case 'int':
    case 'decimal':
    case 'date':
    case 'datetime':
    case 'time':
    case 'timestamp':
    case 'uuid':
    case 'inet4':
    case 'inet6':
      return `CAST(${c} AS CHAR)`;
    case 'year':
    case 'bit':
      return `CAST(${c} + 0 AS CHAR)`;
    case 'float':
    case 'double':
      // The column itself, read in the binary protocol (expectedTable uses a prepared statement):
      // its exact 4 or 8 bytes. As text the server may round (MySQL 8 prints -2.2034039162099364e-143
      // as -2.20340391620994e-143).
      return c;
    case 'text':
    case 'enum':
    case 'set':
      return `HEX(CONVERT(${c} USING utf8mb4))`;
    case 'json':
      return shape.flavor === 'mysql' ? `HEX(CONVERT(CAST(${c} AS CHAR) USING utf8mb4))` : `HEX(CONVERT(${c} USING utf8mb4))`;
    case 'binary':
    case 'geometry':
      return `HEX(${c})`;
  }
}

/** The canonical value of `col` from the text its select expression returned (null for NULL). */
export function canonicalValue(col: { kind: Kind }, text: string | number | null): Value {
  if (text === null) return null;
  if (typeof text === 'number') {
    if (col.kind === 'float') return shortestFloat32(text);
    if (col.kind === 'double') return text;
    throw new Error(`a ${col.kind} column read as a number`);
  }
  switch (col.kind) {
    case 'int':
    case 'year':
    case 'bit':
      return exactNumber(text, true);
    case 'decimal':
    case 'date':
    case 'datetime':
    case 'time':
    case 'uuid':
    case 'inet4':
    case 'inet6':
      return text;
    case 'timestamp':
      // the UTC instant, read in a +00:00 session; the zero TIMESTAMP stays as SELECT shows it
      return text.startsWith('0000-00-00') ? text : `${text.replace(' ', 'T')}Z`;
    case 'double':
    case 'float':
      throw new Error(`a ${col.kind} column read as text`);
    case 'text':
    case 'enum':
    case 'set':
      return Buffer.from(text, 'hex').toString('utf8');
    case 'json':
      return parseExactJson(Buffer.from(text, 'hex').toString('utf8'));
    case 'binary':
    case 'geometry':
      return Buffer.from(text, 'hex').toString('base64');
  }
}

/** The shortest decimal that reads back as the 32-bit float `v` (3.14, not 3.140000104904175). */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return candidate;
  }
  return v;
}

/** A document id / key as docs/sinks.md defines it, from canonical values. */
export function documentIdOf(values: Value[]): string {
  if (values.length === 1) return typeof values[0] === 'string' ? values[0] : JSON.stringify(values[0]);
  return JSON.stringify(values);
}

/** The id of `row` in the sinks: its key, or every column in table order for a keyless table. */
export function rowId(shape: Pick<TableShape, 'key' | 'columns'>, row: Row): string {
  const names = shape.key.length > 0 ? shape.key : shape.columns.map((c) => c.name);
  return documentIdOf(names.map((n) => row[n] ?? null));
}

/**
 * The table as the sinks must hold it. `conn` must be a session of its own: its time zone is set
 * to UTC (TIMESTAMP as the UTC instant) and its sql_mode cleared (zero dates read as they are).
 */
export async function expectedTable(conn: Connection, schema: string, name: string): Promise<ExpectedTable> {
  await conn.query("SET SESSION time_zone = '+00:00', SESSION sql_mode = ''");
  const shape = await describeTable(conn, schema, name);
  const exprs = shape.columns.map((c) => selectExpression(shape, c));
  // A prepared statement: results in the binary protocol, so FLOAT and DOUBLE come as their exact bytes.
  const sql = `SELECT ${exprs.join(', ')} FROM \`${schema}\`.\`${name}\``;
  const [result] = (await conn.execute({ sql, rowsAsArray: true })) as unknown as [Array<Array<string | number | Buffer | null>>];
  conn.unprepare(sql);
  const rows = new Map<string, Row>();
  const duplicateIds: string[] = [];
  for (const raw of result) {
    const row: Row = {};
    shape.columns.forEach((c, i) => {
      const v = raw[i];
      row[c.name] = canonicalValue(c, v === null || v === undefined ? null : typeof v === 'number' ? v : String(v));
    });
    const id = rowId(shape, row);
    if (rows.has(id)) duplicateIds.push(id);
    rows.set(id, row);
  }
  return { shape, rows, duplicateIds };
}

const KIND_OF_TYPE: Record<string, Kind> = {
  tinyint: 'int',
  smallint: 'int',
  mediumint: 'int',
  int: 'int',
  bigint: 'int',
  decimal: 'decimal',
  float: 'float',
  double: 'double',
  bit: 'bit',
  year: 'year',
  date: 'date',
  datetime: 'datetime',
  timestamp: 'timestamp',
  time: 'time',
  char: 'text',
  varchar: 'text',
  tinytext: 'text',
  text: 'text',
  mediumtext: 'text',
  longtext: 'text',
  binary: 'binary',
  varbinary: 'binary',
  tinyblob: 'binary',
  blob: 'binary',
  mediumblob: 'binary',
  longblob: 'binary',
  enum: 'enum',
  set: 'set',
  json: 'json',
  geometry: 'geometry',
  point: 'geometry',
  linestring: 'geometry',
  polygon: 'geometry',
  multipoint: 'geometry',
  multilinestring: 'geometry',
  multipolygon: 'geometry',
  geometrycollection: 'geometry',
  geomcollection: 'geometry',
  uuid: 'uuid',
  inet4: 'inet4',
  inet6: 'inet6',
};

/**
 * The table's columns and primary key from INFORMATION_SCHEMA, each column with its value rule. A
 * MariaDB JSON column is a LONGTEXT with a json_valid check; a column of a type outside the rules
 * is an error (the rules say nothing about it).
 */
export async function describeTable(conn: Connection, schema: string, name: string): Promise<TableShape> {
  const [[version]] = (await conn.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
  const flavor = /mariadb/i.test(version.v) ? 'mariadb' : 'mysql';
  const [cols] = (await conn.query(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, COLUMN_KEY AS columnKey
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, name],
  )) as unknown as [Array<{ name: string; dataType: string; columnType: string }>];
  if (cols.length === 0) throw new Error(`table ${schema}.${name} does not exist`);
  const [keys] = (await conn.query(
    `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
    [schema, name],
  )) as unknown as [Array<{ name: string }>];
  const jsonColumns = new Set<string>();
  if (flavor === 'mariadb') {
    const [checks] = (await conn.query(
      `SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`,
      [schema, name],
    )) as unknown as [Array<{ clause: string }>];
    for (const { clause } of checks) {
      const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(clause.trim());
      if (m) jsonColumns.add(m[1]!.replaceAll('``', '`'));
    }
  }
  const columns = cols.map((c) => {
    const dataType = c.dataType.toLowerCase();
    const kind = dataType === 'longtext' && jsonColumns.has(c.name) ? 'json' : KIND_OF_TYPE[dataType];
    if (!kind) throw new Error(`column ${schema}.${name}.${c.name} has type ${c.columnType}, which the value rules do not cover`);
    return { name: c.name, kind, type: c.columnType };
  });
  return { schema, name, flavor, columns, key: keys.map((k) => k.name) };
}
