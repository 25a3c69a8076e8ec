/**
 * MySQL's binary JSON (sql-common/json_binary.h), as a JSON column's value in a rows event, decoded
 * into the value the README's rule gives the server's own text of the document: what JSON.parse
 * returns for `SELECT CAST(col AS CHAR)`, with integers beyond 2^53 as their exact decimal strings
 * (the BIGINT rule). The snapshot reads that text, so a row has the same value by either path.
 *
 *   doc       ::= type value
 *   object    ::= count size key-entry* value-entry* key* value*     (count/size/offsets: 2 bytes in
 *   array     ::= count size value-entry* value*                     the small forms, 4 in the large)
 *   key-entry ::= offset key-length(2)
 *   value-entry ::= type offset-or-inlined-value     offsets count from the container's first byte
 *   string    ::= length(varint, 7 bits a byte) utf8mb4
 *   opaque    ::= field-type(1) length(varint) bytes                 a typed SQL value kept as is
 *
 * Opaque values are printed by the server the way this decoder returns them: DECIMAL as a JSON
 * number with its scale ("1.50", parsed: 1.5); DATE "YYYY-MM-DD"; TIME "[-]HH:MM:SS.ffffff";
 * DATETIME/TIMESTAMP "YYYY-MM-DD HH:MM:SS.ffffff" (always six fraction digits); any other type
 * "base64:type<field type>:<base64 of the bytes>".
 */
import { DecodeError } from '../errors/index.ts';
import type { JsonValue } from '../event/index.ts';
import { readDecimal } from './decimal.ts';

const SMALL_OBJECT = 0x00;
const LARGE_OBJECT = 0x01;
const SMALL_ARRAY = 0x02;
const LARGE_ARRAY = 0x03;
const LITERAL = 0x04;
const INT16 = 0x05;
const UINT16 = 0x06;
const INT32 = 0x07;
const UINT32 = 0x08;
const INT64 = 0x09;
const UINT64 = 0x0a;
const DOUBLE = 0x0b;
const STRING = 0x0c;
const OPAQUE = 0x0f;

/** enum_field_types of the opaque values the server prints as numbers or date/time strings. */
const FIELD_DECIMAL = 0;
const FIELD_TIMESTAMP = 7;
const FIELD_DATE = 10;
const FIELD_TIME = 11;
const FIELD_DATETIME = 12;
const FIELD_NEWDATE = 14;
const FIELD_NEWDECIMAL = 246;

/** The value of a JSON column's bytes buf[start, end); an empty value is JSON null, as the server reads it. */
export function decodeMysqlJson(buf: Buffer, start: number, end: number): JsonValue {
  if (end <= start) return null;
  return new JsonReader(buf, end).value(buf[start]!, start + 1);
}

class JsonReader {
  constructor(
    private readonly buf: Buffer,
    private readonly end: number,
  ) {}

  value(type: number, pos: number): JsonValue {
    switch (type) {
      case SMALL_OBJECT:
        return this.object(pos, false);
      case LARGE_OBJECT:
        return this.object(pos, true);
      case SMALL_ARRAY:
        return this.array(pos, false);
      case LARGE_ARRAY:
        return this.array(pos, true);
      case LITERAL:
        return this.literal(pos);
      case INT16:
        return this.buf.readInt16LE(this.check(pos, 2));
      case UINT16:
        return this.buf.readUInt16LE(this.check(pos, 2));
      case INT32:
        return this.buf.readInt32LE(this.check(pos, 4));
      case UINT32:
        return this.buf.readUInt32LE(this.check(pos, 4));
      case INT64:
        return exactInteger(this.buf.readBigInt64LE(this.check(pos, 8)));
      case UINT64:
        return exactInteger(this.buf.readBigUInt64LE(this.check(pos, 8)));
      case DOUBLE:
        return this.buf.readDoubleLE(this.check(pos, 8));
      case STRING: {
        const [length, at] = this.varLength(pos);
        return this.buf.toString('utf8', at, this.check(at, length) + length);
      }
      case OPAQUE:
        return this.opaque(pos);
      default:
        throw new DecodeError(`binary JSON value of unknown type ${type} at byte ${pos}`);
    }
  }

  private object(pos: number, large: boolean): Record<string, JsonValue> {
    const width = large ? 4 : 2;
    const count = this.uint(pos, width);
    const keyEntries = pos + 2 * width;
    const valueEntries = keyEntries + count * (width + 2);
    const out: Record<string, JsonValue> = {};
    for (let i = 0; i < count; i++) {
      const keyEntry = keyEntries + i * (width + 2);
      const keyAt = pos + this.uint(keyEntry, width);
      const keyLength = this.buf.readUInt16LE(this.check(keyEntry + width, 2));
      const key = this.buf.toString('utf8', keyAt, this.check(keyAt, keyLength) + keyLength);
      out[key] = this.entry(pos, valueEntries + i * (1 + width), large);
    }
    return out;
  }

  private array(pos: number, large: boolean): JsonValue[] {
    const width = large ? 4 : 2;
    const count = this.uint(pos, width);
    const valueEntries = pos + 2 * width;
    const out: JsonValue[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = this.entry(pos, valueEntries + i * (1 + width), large);
    return out;
  }

  /** A value entry: literals and 16-bit integers (32-bit too in the large forms) sit in the entry itself. */
  private entry(container: number, entry: number, large: boolean): JsonValue {
    const type = this.buf[this.check(entry, 1)]!;
    const inlined = type === LITERAL || type === INT16 || type === UINT16 || (large && (type === INT32 || type === UINT32));
    if (inlined) return this.value(type, entry + 1);
    return this.value(type, container + this.uint(entry + 1, large ? 4 : 2));
  }

  private literal(pos: number): JsonValue {
    const code = this.buf[this.check(pos, 1)]!;
    if (code === 0) return null;
    if (code === 1) return true;
    if (code === 2) return false;
    throw new DecodeError(`binary JSON literal of unknown value ${code} at byte ${pos}`);
  }

  private opaque(pos: number): JsonValue {
    const fieldType = this.buf[this.check(pos, 1)]!;
    const [length, at] = this.varLength(pos + 1);
    this.check(at, length);
    switch (fieldType) {
      case FIELD_NEWDECIMAL:
      case FIELD_DECIMAL: {
        const text = readDecimal(this.buf, at + 2, this.buf[at]!, this.buf[at + 1]!);
        return jsonNumber(text);
      }
      case FIELD_DATE:
      case FIELD_NEWDATE:
        return formatPackedDatetime(this.buf.readBigInt64LE(this.check(at, 8)), false);
      case FIELD_DATETIME:
      case FIELD_TIMESTAMP:
        return formatPackedDatetime(this.buf.readBigInt64LE(this.check(at, 8)), true);
      case FIELD_TIME:
        return formatPackedTime(this.buf.readBigInt64LE(this.check(at, 8)));
      default:
        return `base64:type${fieldType}:${this.buf.toString('base64', at, at + length)}`;
    }
  }

  /** A length of 7 bits a byte, low bits first, high bit set while more bytes follow. */
  private varLength(pos: number): [length: number, after: number] {
    let length = 0;
    for (let i = 0; i < 5; i++) {
      const byte = this.buf[this.check(pos + i, 1)]!;
      length += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) return [length, pos + i + 1];
    }
    throw new DecodeError(`binary JSON length too long at byte ${pos}`);
  }

  private uint(pos: number, width: number): number {
    this.check(pos, width);
    return width === 2 ? this.buf.readUInt16LE(pos) : this.buf.readUInt32LE(pos);
  }

  private check(pos: number, length: number): number {
    if (pos < 0 || pos + length > this.end) throw new DecodeError(`binary JSON reads past its end (byte ${pos}, ${length} bytes, end ${this.end})`);
    return pos;
  }
}

function exactInteger(value: bigint): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value.toString();
}

/** What JSON.parse gives for a number the server prints as `text`; integers beyond 2^53 stay exact. */
function jsonNumber(text: string): number | string {
  if (!text.includes('.')) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  }
  return Number(text);
}

const pad = (n: number | bigint, width: number): string => String(n).padStart(width, '0');

/** A packed DATETIME (sql-common/my_time.cc TIME_from_longlong_datetime_packed), as the server prints it in JSON. */
function formatPackedDatetime(packed: bigint, withTime: boolean): string {
  const tmp = packed < 0n ? -packed : packed;
  const micros = tmp % (1n << 24n);
  const ymdhms = tmp >> 24n;
  const ymd = ymdhms >> 17n;
  const ym = ymd >> 5n;
  const hms = ymdhms % (1n << 17n);
  const date = `${pad(ym / 13n, 4)}-${pad(ym % 13n, 2)}-${pad(ymd % (1n << 5n), 2)}`;
  if (!withTime) return date;
  return `${date} ${pad(hms >> 12n, 2)}:${pad((hms >> 6n) % (1n << 6n), 2)}:${pad(hms % (1n << 6n), 2)}.${pad(micros, 6)}`;
}

/** A packed TIME (TIME_from_longlong_time_packed), as the server prints it in JSON. */
function formatPackedTime(packed: bigint): string {
  const negative = packed < 0n;
  const tmp = negative ? -packed : packed;
  const micros = tmp % (1n << 24n);
  const hms = tmp >> 24n;
  const hours = (hms >> 12n) % (1n << 10n);
  return `${negative ? '-' : ''}${pad(hours, 2)}:${pad((hms >> 6n) % (1n << 6n), 2)}:${pad(hms % (1n << 6n), 2)}.${pad(micros, 6)}`;
}
