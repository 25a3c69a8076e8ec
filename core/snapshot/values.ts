import { BYTE_TYPES, type ColumnValue, type JsonValue } from '../event/index.ts';
import { float32Value } from '../source/decode.ts';
import { parseEnumSetDefinition, parseJsonExact } from '../source/value-text.ts';

/**
 * Column values as the snapshot reads them, in the canonical form every sink sees: exact, and stated
 * once in core/event/value-rules.ts (VALUE_RULES). A row that reaches a sink by the snapshot must equal
 * the same row reaching it by the binlog, so these are the binlog source's rules (core/source/decode.ts,
 * whose float32Value, parseJsonExact and parseEnumSetDefinition are used here as they are). One
 * function per type, each taking what a text-protocol query returns (the server's own text, or bytes
 * for binary types); the binlog decoder reads packed bytes instead, so the two meet in the rules and
 * the shared helpers, and test/integration/snapshot-values.test.ts checks that both paths give the
 * same row.
 */

/** What the snapshot knows about a column (from information_schema.COLUMNS). */
export interface ColumnInfo {
  name: string;
  /** DATA_TYPE, lower case: "int", "varchar", "timestamp", ... */
  dataType: string;
  /** COLUMN_TYPE, lower case: "int(10) unsigned", "enum('a','b')", ... */
  columnType: string;
  /** JSON column (MySQL json, or MariaDB longtext with a json_valid check). */
  json: boolean;
  nullable: boolean;
}

export type ValueKind =
  'int' | 'bigint' | 'decimal' | 'float' | 'double' | 'bit' | 'date' | 'datetime' | 'timestamp' | 'time' | 'year' | 'text' | 'enum' | 'set' | 'binary' | 'json';

/** How a column's values are read: text (the server's text) or bytes (binary types, BIT). */
export function valueKind(column: ColumnInfo): ValueKind {
  if (column.json) return 'json';
  switch (column.dataType) {
    case 'tinyint':
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'integer':
      return 'int';
    case 'bigint':
      return 'bigint';
    case 'decimal':
    case 'numeric':
    case 'dec':
    case 'fixed':
      return 'decimal';
    case 'float':
      return 'float';
    case 'double':
    case 'real':
    case 'double precision':
      return 'double';
    case 'bit':
      return 'bit';
    case 'date':
      return 'date';
    case 'datetime':
      return 'datetime';
    case 'timestamp':
      return 'timestamp';
    case 'time':
      return 'time';
    case 'year':
      return 'year';
    case 'enum':
      return 'enum';
    case 'set':
      return 'set';
    case 'json':
      return 'json';
    default:
      if (BYTE_TYPES.has(column.dataType)) return 'binary';
      // char, varchar, text types, MariaDB uuid/inet4/inet6 (their text form)
      return 'text';
  }
}

/**
 * Whether the value is read as bytes rather than text. JSON too: MySQL labels a JSON column's text
 * with the binary character set, which a text read would decode as latin1; the bytes are the
 * connection's utf8mb4 on both servers.
 */
export function readsBytes(kind: ValueKind): boolean {
  return kind === 'binary' || kind === 'bit' || kind === 'json';
}

// ---- one function per type (the shared rules) --------------------------------------------------

export function intValue(text: string): number {
  return Number(text);
}

/** BIGINT (signed or unsigned): a number when exact in a double, else the decimal text. */
export function bigintValue(text: string | bigint): number | string {
  const big = typeof text === 'bigint' ? text : BigInt(text);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big.toString();
}

/** DECIMAL: the exact decimal text, as the server prints it (scale digits kept). */
export function decimalValue(text: string): string {
  return text;
}

/** FLOAT: the shortest decimal that is the same float32, like the server prints it (1.1, not 1.100000023841858). */
export function floatValue(value: string | number): number {
  return float32Value(Math.fround(typeof value === 'number' ? value : Number(value)));
}

export function doubleValue(text: string | number): number {
  return typeof text === 'number' ? text : Number(text);
}

/** BIT(n): the unsigned value of the big-endian bits; its decimal text beyond 2^53. */
export function bitValue(bytes: Uint8Array): number | string {
  let big = 0n;
  for (const byte of bytes) big = (big << 8n) | BigInt(byte);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
}

/** DATE: "YYYY-MM-DD". */
export function dateValue(text: string): string {
  return text;
}

/** DATETIME: wall clock "YYYY-MM-DD HH:MM:SS[.f]", never shifted by a time zone. */
export function datetimeValue(text: string): string {
  return text;
}

/**
 * TIMESTAMP: UTC ISO "YYYY-MM-DDTHH:MM:SS[.f]Z". Input is the server's text in a session whose
 * time_zone is +00:00 (the snapshot sets it), so the text is already UTC. The zero TIMESTAMP stays
 * "0000-00-00 00:00:00[.f]", as the binlog source gives it.
 */
export function timestampValue(utcText: string): string {
  if (utcText.startsWith('0000-00-00')) return utcText;
  return `${utcText.replace(' ', 'T')}Z`;
}

/** The server's text of a TIMESTAMP value in a +00:00 session, back from its canonical form (key parameters). */
export function timestampText(canonical: string): string {
  return canonical.endsWith('Z') ? canonical.replace('T', ' ').slice(0, -1) : canonical;
}

/** TIME: "[-]HH:MM:SS[.f]" (hours may exceed 24). */
export function timeValue(text: string): string {
  return text;
}

export function yearValue(text: string): number {
  return Number(text);
}

export function textValue(text: string): string {
  return text;
}

/** ENUM: the member's name ("" for the invalid-value index 0). */
export function enumValue(text: string): string {
  return text;
}

/** SET: members comma-separated, in definition order (the server's text). */
export function setValue(text: string): string {
  return text;
}

/** BINARY/VARBINARY/BLOB/GEOMETRY: base64. */
export function binaryValue(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * JSON: parsed, integers beyond 2^53 as decimal strings. MariaDB stores JSON as text; MySQL's
 * binary JSON arrives as its text in a query. Text that does not parse stays text (as the binlog
 * source emits it).
 */
export function jsonValue(text: string): JsonValue {
  try {
    return parseJsonExact(text);
  } catch {
    return text;
  }
}

/** Canonical value from what a text-protocol query gave for the column (string, or Buffer for byte kinds). */
export function convertValue(kind: ValueKind, raw: string | Buffer | null): ColumnValue {
  if (raw === null) return null;
  switch (kind) {
    case 'int':
      return intValue(String(raw));
    case 'bigint':
      return bigintValue(String(raw));
    case 'decimal':
      return decimalValue(String(raw));
    case 'float':
      return floatValue(String(raw));
    case 'double':
      return doubleValue(String(raw));
    case 'bit':
      return bitValue(raw as Buffer);
    case 'date':
      return dateValue(String(raw));
    case 'datetime':
      return datetimeValue(String(raw));
    case 'timestamp':
      return timestampValue(String(raw));
    case 'time':
      return timeValue(String(raw));
    case 'year':
      return yearValue(String(raw));
    case 'enum':
      return enumValue(String(raw));
    case 'set':
      return setValue(String(raw));
    case 'binary':
      return binaryValue(raw as Buffer);
    case 'json':
      return jsonValue(Buffer.isBuffer(raw) ? raw.toString('utf8') : raw);
    case 'text':
    default:
      return textValue(String(raw));
  }
}

/** Kinds usable as keyset pagination keys (compare in SQL the way ORDER BY sorts them). */
export function isKeysetKind(kind: ValueKind): boolean {
  return kind !== 'bit' && kind !== 'set' && kind !== 'json';
}

/**
 * A key value back into an SQL parameter that compares the way the column sorts: base64 back to
 * bytes, TIMESTAMP back to its UTC text, ENUM to its index (ENUM sorts by index, not by name).
 */
export function keyParameter(column: ColumnInfo, kind: ValueKind, value: ColumnValue): unknown {
  if (value === null) return null;
  switch (kind) {
    case 'binary':
      return Buffer.from(String(value), 'base64');
    case 'timestamp':
      return timestampText(String(value));
    case 'enum': {
      const index = enumMembers(column.columnType).indexOf(String(value));
      return index + 1;
    }
    default:
      return value;
  }
}

/** Members of `enum('a','b')` / `set('a','b')`, quotes undone. */
export function enumMembers(columnType: string): string[] {
  return parseEnumSetDefinition(columnType);
}
