/**
 * Exact decoding of binlog row images into canonical column values.
 *
 * One decoder function is built per column when a table map arrives; decoding a row is then a loop
 * over those functions reading straight from the packet buffer. The value each column type decodes to
 * is stated once, in core/event/value-rules.ts (VALUE_RULES: per type the JSON type and form, with
 * examples that test/integration/value-rules.test.ts checks against the server).
 */
import { JsonText, type ColumnValue, type StoredValue } from '../event/index.ts';
import { DecodeError } from '../errors/index.ts';
import { inflateRawSync, inflateSync } from 'node:zlib';
import type { TextReader } from './charset-decoders.ts';
import { decimalBinarySize, readDecimal } from './decimal.ts';
import { formatInet4, formatInet6, formatUuid } from './logical-types.ts';
import { decodeMysqlJson } from './mysql-json.ts';
import { parseJsonExact } from './value-text.ts';
import { fractionBytes, readDate, readDatetime2, readTime2, readTimestamp2 } from './temporal.ts';

export { decimalBinarySize, readDecimal };

/** Binlog column type codes (include/mysql_com.h enum_field_types, plus MariaDB's compressed types). */
export const ColumnType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  BLOB_COMPRESSED: 140,
  VARCHAR_COMPRESSED: 141,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** A read position in a packet buffer; decoders advance `pos` past the value they read. */
export class Cursor {
  constructor(
    public buf: Buffer,
    public pos: number,
  ) {}
}

/** A column's decoder: its value, or for a JSON column kept as text (MariaDB) a JsonText parsed when needed. */
export type Decoder = (c: Cursor) => StoredValue;

/** Column type metadata from the table map (per type: precision/decimals, max_length, length_size, bits, size). */
export interface ColumnMetadata {
  precision?: number;
  decimals?: number;
  max_length?: number;
  length_size?: number;
  bits?: number;
  size?: number;
}

/** What a decoder needs to know about one column. */
export interface ColumnSpec {
  name: string;
  /** The real binlog type (ENUM/SET resolved from the STRING metadata). */
  type: number;
  metadata: ColumnMetadata;
  unsigned: boolean;
  /** Character set name for text columns; null for binary ones. */
  charset: string | null;
  /** ENUM/SET labels, as the server's SELECT gives them. */
  enumValues?: readonly string[];
  setValues?: readonly string[];
  /** A text column declared JSON (MariaDB: LONGTEXT with CHECK (json_valid(col))). */
  json?: boolean;
  /** MariaDB UUID/INET4/INET6 columns, binlogged as BINARY(16)/BINARY(4)/BINARY(16): their text form. */
  logical?: LogicalType;
  /** Opaque to this module: what DecodeSupport.fallback needs (zongji's column description). */
  native?: unknown;
}

export type LogicalType = 'uuid' | 'inet4' | 'inet6';

/** What decoding needs from outside: the server's character sets, zongji for legacy types, a log. */
export interface DecodeSupport {
  /** The reader of a character set (charset-tables.ts); throws DecodeError for one it cannot read. */
  textReader(charset: string): TextReader;
  /** Decode a value of a type this module does not handle (pre-5.6 temporal types, legacy DECIMAL); advances c.pos. */
  fallback(c: Cursor, spec: ColumnSpec): unknown;
  /** Called once per column whose JSON text does not parse (the raw text is emitted instead). */
  warn(message: string, detail: Record<string, unknown>): void;
}

// ------------------------------------------------------------------------------------------------
// number helpers

const TWO_32 = 4294967296;

/** A 64-bit value as a number when it is a safe integer, otherwise its exact decimal string. */
function int64At(buf: Buffer, pos: number, unsigned: boolean): number | string {
  const lo = buf.readUInt32LE(pos);
  const hi = unsigned ? buf.readUInt32LE(pos + 4) : buf.readInt32LE(pos + 4);
  const value = hi * TWO_32 + lo;
  if (Number.isSafeInteger(value)) return value;
  return (unsigned ? buf.readBigUInt64LE(pos) : buf.readBigInt64LE(pos)).toString();
}

/** The shortest decimal that reads back as the same 32-bit float. */
export function float32Value(x: number): number {
  if (!Number.isFinite(x) || (Number.isInteger(x) && Math.abs(x) < 16777216)) return x;
  for (let precision = 1; precision < 10; precision++) {
    const candidate = Number(x.toPrecision(precision));
    if (Math.fround(candidate) === x) return candidate;
  }
  return x;
}

// ------------------------------------------------------------------------------------------------
// per-column decoders

function normalizeFallback(value: unknown, spec: ColumnSpec): ColumnValue {
  if (value === undefined) {
    throw new DecodeError(`column "${spec.name}" has binlog type ${spec.type}, which Tunnel cannot decode`);
  }
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  return value as ColumnValue;
}

/** Builds the decoder of one column; called once per column per table map. */
export function columnDecoder(spec: ColumnSpec, support: DecodeSupport): Decoder {
  const md = spec.metadata;
  switch (spec.type) {
    case ColumnType.TINY:
      return spec.unsigned
        ? (c) => c.buf[c.pos++]!
        : (c) => {
            const v = c.buf.readInt8(c.pos);
            c.pos += 1;
            return v;
          };
    case ColumnType.SHORT:
      return spec.unsigned
        ? (c) => {
            const v = c.buf.readUInt16LE(c.pos);
            c.pos += 2;
            return v;
          }
        : (c) => {
            const v = c.buf.readInt16LE(c.pos);
            c.pos += 2;
            return v;
          };
    case ColumnType.INT24:
      return spec.unsigned
        ? (c) => {
            const v = c.buf.readUIntLE(c.pos, 3);
            c.pos += 3;
            return v;
          }
        : (c) => {
            const v = c.buf.readIntLE(c.pos, 3);
            c.pos += 3;
            return v;
          };
    case ColumnType.LONG:
      return spec.unsigned
        ? (c) => {
            const v = c.buf.readUInt32LE(c.pos);
            c.pos += 4;
            return v;
          }
        : (c) => {
            const v = c.buf.readInt32LE(c.pos);
            c.pos += 4;
            return v;
          };
    case ColumnType.LONGLONG: {
      const unsigned = spec.unsigned;
      return (c) => {
        const v = int64At(c.buf, c.pos, unsigned);
        c.pos += 8;
        return v;
      };
    }
    case ColumnType.FLOAT:
      return (c) => {
        const v = c.buf.readFloatLE(c.pos);
        c.pos += 4;
        return float32Value(v);
      };
    case ColumnType.DOUBLE:
      return (c) => {
        const v = c.buf.readDoubleLE(c.pos);
        c.pos += 8;
        return v;
      };
    case ColumnType.NEWDECIMAL: {
      const precision = md.precision ?? 10;
      const scale = md.decimals ?? 0;
      const size = decimalBinarySize(precision, scale);
      return (c) => {
        const v = readDecimal(c.buf, c.pos, precision, scale);
        c.pos += size;
        return v;
      };
    }
    case ColumnType.YEAR:
      return (c) => {
        const v = c.buf[c.pos++]!;
        return v === 0 ? 0 : 1900 + v;
      };
    case ColumnType.DATE:
      return (c) => {
        const v = readDate(c.buf, c.pos);
        c.pos += 3;
        return v;
      };
    case ColumnType.DATETIME2: {
      const fsp = md.decimals ?? 0;
      const size = 5 + fractionBytes(fsp);
      return (c) => {
        const v = readDatetime2(c.buf, c.pos, fsp);
        c.pos += size;
        return v;
      };
    }
    case ColumnType.TIME2: {
      const fsp = md.decimals ?? 0;
      const size = 3 + fractionBytes(fsp);
      return (c) => {
        const v = readTime2(c.buf, c.pos, fsp);
        c.pos += size;
        return v;
      };
    }
    case ColumnType.TIMESTAMP2: {
      const fsp = md.decimals ?? 0;
      const size = 4 + fractionBytes(fsp);
      return (c) => {
        const v = readTimestamp2(c.buf, c.pos, fsp);
        c.pos += size;
        return v;
      };
    }
    case ColumnType.BIT: {
      const size = ((md.bits ?? 1) + 7) >> 3;
      return (c) => {
        const pos = c.pos;
        c.pos += size;
        if (size <= 6) return c.buf.readUIntBE(pos, size);
        let v = 0n;
        for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(c.buf[pos + i]!);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
      };
    }
    case ColumnType.ENUM: {
      const size = md.size ?? 1;
      const labels = spec.enumValues ?? [];
      return (c) => {
        const index = size === 1 ? c.buf[c.pos]! : c.buf.readUInt16LE(c.pos);
        c.pos += size;
        return index === 0 ? '' : (labels[index - 1] ?? String(index));
      };
    }
    case ColumnType.SET: {
      const size = md.size ?? 1;
      const labels = spec.setValues ?? [];
      return (c) => {
        const pos = c.pos;
        c.pos += size;
        const low = size >= 4 ? c.buf.readUInt32LE(pos) : c.buf.readUIntLE(pos, size);
        const high = size > 4 ? c.buf.readUIntLE(pos + 4, size - 4) : 0;
        let out = '';
        for (let i = 0; i < 32 && low >>> i !== 0; i++) {
          if ((low >>> i) & 1) out = out === '' ? (labels[i] ?? '') : `${out},${labels[i] ?? ''}`;
        }
        for (let i = 0; i < 32 && high >>> i !== 0; i++) {
          if ((high >>> i) & 1) out = out === '' ? (labels[i + 32] ?? '') : `${out},${labels[i + 32] ?? ''}`;
        }
        return out;
      };
    }
    case ColumnType.VARCHAR:
    case ColumnType.STRING: {
      const maxLength = md.max_length ?? 0;
      const prefix = maxLength > 255 ? 2 : 1;
      if (spec.charset === null || spec.charset === 'binary') {
        if (spec.logical !== undefined) {
          const kind = spec.logical;
          const width = kind === 'inet4' ? 4 : 16;
          const format = kind === 'uuid' ? formatUuid : kind === 'inet4' ? formatInet4 : formatInet6;
          return (c) => {
            const len = prefix === 1 ? c.buf[c.pos]! : c.buf.readUInt16LE(c.pos);
            const start = c.pos + prefix;
            c.pos = start + len;
            const bytes = Buffer.alloc(width);
            c.buf.copy(bytes, 0, start, start + Math.min(len, width));
            return format(bytes);
          };
        }
        if (spec.type === ColumnType.STRING && maxLength > 0) {
          // BINARY(n): the row image drops trailing zero bytes; SELECT returns all n bytes.
          return (c) => {
            const len = prefix === 1 ? c.buf[c.pos]! : c.buf.readUInt16LE(c.pos);
            const start = c.pos + prefix;
            c.pos = start + len;
            if (len >= maxLength) return c.buf.toString('base64', start, start + len);
            const padded = Buffer.alloc(maxLength);
            c.buf.copy(padded, 0, start, start + len);
            return padded.toString('base64');
          };
        }
        return (c) => {
          const len = prefix === 1 ? c.buf[c.pos]! : c.buf.readUInt16LE(c.pos);
          const start = c.pos + prefix;
          c.pos = start + len;
          return c.buf.toString('base64', start, start + len);
        };
      }
      const read = support.textReader(spec.charset);
      const json = spec.json === true ? jsonParser(spec, support) : undefined;
      return (c) => {
        const len = prefix === 1 ? c.buf[c.pos]! : c.buf.readUInt16LE(c.pos);
        const start = c.pos + prefix;
        c.pos = start + len;
        const text = read(c.buf, start, start + len);
        return json ? new JsonText(text, json) : text;
      };
    }
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.GEOMETRY: {
      const lengthSize = md.length_size ?? 2;
      const binary = spec.type === ColumnType.GEOMETRY || spec.charset === null || spec.charset === 'binary';
      if (binary) {
        return (c) => {
          const len = c.buf.readUIntLE(c.pos, lengthSize);
          const start = c.pos + lengthSize;
          c.pos = start + len;
          return c.buf.toString('base64', start, start + len);
        };
      }
      const read = support.textReader(spec.charset!);
      const json = spec.json === true ? jsonParser(spec, support) : undefined;
      return (c) => {
        const len = c.buf.readUIntLE(c.pos, lengthSize);
        const start = c.pos + lengthSize;
        c.pos = start + len;
        const text = read(c.buf, start, start + len);
        return json ? new JsonText(text, json) : text;
      };
    }
    case ColumnType.JSON: {
      // MySQL's binary JSON (MariaDB's JSON is a text column)
      const lengthSize = md.length_size ?? 4;
      return (c) => {
        const len = c.buf.readUIntLE(c.pos, lengthSize);
        const start = c.pos + lengthSize;
        c.pos = start + len;
        return decodeMysqlJson(c.buf, start, start + len);
      };
    }
    case ColumnType.VARCHAR_COMPRESSED:
    case ColumnType.BLOB_COMPRESSED: {
      // MariaDB's COMPRESSED columns: a VARCHAR's or BLOB's length prefix, then the value in a
      // compression envelope (uncompressColumn)
      const lengthSize = spec.type === ColumnType.BLOB_COMPRESSED ? (md.length_size ?? 2) : (md.max_length ?? 0) > 255 ? 2 : 1;
      const read = spec.charset === null || spec.charset === 'binary' ? undefined : support.textReader(spec.charset);
      const json = read && spec.json === true ? jsonParser(spec, support) : undefined;
      return (c) => {
        const len = c.buf.readUIntLE(c.pos, lengthSize);
        const start = c.pos + lengthSize;
        c.pos = start + len;
        const bytes = uncompressColumn(c.buf.subarray(start, start + len), spec);
        if (!read) return bytes.toString('base64');
        const text = read(bytes, 0, bytes.length);
        return json ? new JsonText(text, json) : text;
      };
    }
    default:
      // pre-5.6 temporal formats, legacy DECIMAL: zongji's own decoder, normalized to the same rules.
      return (c) => normalizeFallback(support.fallback(c, spec), spec);
  }
}

/**
 * The value inside MariaDB's per-value column compression envelope (sql/field_comp.cc): an empty
 * value has none; otherwise a header byte whose high nibble is the method (0: stored as is, 8:
 * zlib) and, for zlib, whose bits 0-2 give the size of the original-length field that follows and
 * bit 3 says the stream has no zlib wrapper.
 */
function uncompressColumn(bytes: Buffer, spec: ColumnSpec): Buffer {
  if (bytes.length === 0) return bytes;
  const header = bytes[0]!;
  const method = header >> 4;
  if (method === 0) return bytes.subarray(1);
  if (method !== 8) throw new DecodeError(`column "${spec.name}" holds a value compressed by method ${method}, which Tunnel cannot decode`);
  const stream = bytes.subarray(1 + (header & 0x07));
  try {
    return header & 0x08 ? inflateRawSync(stream) : inflateSync(stream);
  } catch (error) {
    throw new DecodeError(`column "${spec.name}" holds a compressed value that does not inflate: ${(error as Error).message}`);
  }
}

function jsonParser(spec: ColumnSpec, support: DecodeSupport): (text: string) => ColumnValue {
  let warned = false;
  return (text) => {
    try {
      return parseJsonExact(text);
    } catch {
      if (!warned) {
        warned = true;
        support.warn('a JSON column holds text that does not parse as JSON; emitting the raw text', { column: spec.name });
      }
      return text;
    }
  };
}
