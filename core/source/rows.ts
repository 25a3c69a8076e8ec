/**
 * Table plans (the per-table decoders built once per table map) and the decoding of a rows event's
 * row images into canonical rows.
 */
import type { ColumnTypes, RowShape, StoredValue } from '../event/index.ts';
import { DecodeError } from '../errors/index.ts';
import { Cursor, type Decoder } from './decode.ts';

export interface TablePlan {
  schema: string;
  table: string;
  /** Column names in table order, as the binlog (or INFORMATION_SCHEMA) gives them. */
  names: string[];
  /** The names as the events' decoded rows carry them. */
  shape: RowShape;
  decoders: Decoder[];
  primaryKey: string[];
  /** The columns' SQL types, shared by every event of the table map. */
  columnTypes: ColumnTypes;
}

/** Binlog event type codes the source handles itself. */
export const EventType = {
  QUERY: 0x02,
  ROTATE: 0x04,
  FORMAT_DESCRIPTION: 0x0f,
  XID: 0x10,
  TABLE_MAP: 0x13,
  WRITE_ROWS_V1: 0x17,
  UPDATE_ROWS_V1: 0x18,
  DELETE_ROWS_V1: 0x19,
  HEARTBEAT: 0x1b,
  WRITE_ROWS_V2: 0x1e,
  UPDATE_ROWS_V2: 0x1f,
  DELETE_ROWS_V2: 0x20,
  PARTIAL_UPDATE_ROWS: 0x27,
  TRANSACTION_PAYLOAD: 0x28,
  WRITE_ROWS_COMPRESSED_V1: 0xa6,
  UPDATE_ROWS_COMPRESSED_V1: 0xa7,
  DELETE_ROWS_COMPRESSED_V1: 0xa8,
  WRITE_ROWS_COMPRESSED: 0xa9,
  UPDATE_ROWS_COMPRESSED: 0xaa,
  DELETE_ROWS_COMPRESSED: 0xab,
} as const;

export interface RowsEventKind {
  action: 'insert' | 'update' | 'delete';
  /** v2 events carry an extra-data block after the flags. */
  v2: boolean;
  /** MariaDB log_bin_compress: the row images are a compressed envelope. */
  compressed: boolean;
}

/** Indexed by event type code; undefined for events that are not rows events. */
export const ROWS_EVENTS: (RowsEventKind | undefined)[] = [];
const kinds: [number, RowsEventKind][] = [
  [EventType.WRITE_ROWS_V1, { action: 'insert', v2: false, compressed: false }],
  [EventType.UPDATE_ROWS_V1, { action: 'update', v2: false, compressed: false }],
  [EventType.DELETE_ROWS_V1, { action: 'delete', v2: false, compressed: false }],
  [EventType.WRITE_ROWS_V2, { action: 'insert', v2: true, compressed: false }],
  [EventType.UPDATE_ROWS_V2, { action: 'update', v2: true, compressed: false }],
  [EventType.DELETE_ROWS_V2, { action: 'delete', v2: true, compressed: false }],
  [EventType.WRITE_ROWS_COMPRESSED_V1, { action: 'insert', v2: false, compressed: true }],
  [EventType.UPDATE_ROWS_COMPRESSED_V1, { action: 'update', v2: false, compressed: true }],
  [EventType.DELETE_ROWS_COMPRESSED_V1, { action: 'delete', v2: false, compressed: true }],
  [EventType.WRITE_ROWS_COMPRESSED, { action: 'insert', v2: true, compressed: true }],
  [EventType.UPDATE_ROWS_COMPRESSED, { action: 'update', v2: true, compressed: true }],
  [EventType.DELETE_ROWS_COMPRESSED, { action: 'delete', v2: true, compressed: true }],
];
for (const [code, kind] of kinds) ROWS_EVENTS[code] = kind;

/** A length-encoded integer at buf[pos]: [value, bytes used]. */
export function lengthEncoded(buf: Buffer, pos: number): [number, number] {
  const first = buf[pos]!;
  if (first < 251) return [first, 1];
  if (first === 252) return [buf.readUInt16LE(pos + 1), 3];
  if (first === 253) return [buf.readUIntLE(pos + 1, 3), 4];
  if (first === 254) return [buf.readUInt32LE(pos + 1) + buf.readUInt32LE(pos + 5) * 4294967296, 9];
  throw new DecodeError(`invalid length-encoded integer 0x${first.toString(16)}`);
}

/** Whether a columns-present bitmap names all `count` columns (a FULL row image). */
export function bitmapIsFull(buf: Buffer, pos: number, count: number): boolean {
  const whole = count >>> 3;
  for (let i = 0; i < whole; i++) if (buf[pos + i] !== 0xff) return false;
  const rest = count & 7;
  if (rest === 0) return true;
  const mask = (1 << rest) - 1;
  return (buf[pos + whole]! & mask) === mask;
}

/** Decoded row images of a rows event: `width` values per row, columns in table order. */
export interface DecodedRows {
  count: number;
  values: StoredValue[];
  /** Updates: the before images, laid out as `values`. */
  before: StoredValue[] | undefined;
}

/** Insert/delete row images from c.pos up to `end`, one after the other in one flat array. */
export function decodeValueRows(plan: TablePlan, c: Cursor, end: number): DecodedRows {
  const { decoders } = plan;
  const n = decoders.length;
  const nullBytes = (n + 7) >>> 3;
  const values: StoredValue[] = [];
  let count = 0;
  while (c.pos < end) {
    const buf = c.buf;
    const nulls = c.pos;
    c.pos += nullBytes;
    for (let i = 0; i < n; i++) {
      values.push((buf[nulls + (i >>> 3)]! & (1 << (i & 7))) !== 0 ? null : decoders[i]!(c));
    }
    count++;
  }
  return { count, values, before: undefined };
}

/** Update row image pairs (before, after) from c.pos up to `end`: the after images and the before images. */
export function decodeChangeRows(plan: TablePlan, c: Cursor, end: number): DecodedRows {
  const { decoders } = plan;
  const n = decoders.length;
  const nullBytes = (n + 7) >>> 3;
  const values: StoredValue[] = [];
  const before: StoredValue[] = [];
  let count = 0;
  while (c.pos < end) {
    const buf = c.buf;
    let nulls = c.pos;
    c.pos += nullBytes;
    for (let i = 0; i < n; i++) {
      before.push((buf[nulls + (i >>> 3)]! & (1 << (i & 7))) !== 0 ? null : decoders[i]!(c));
    }
    nulls = c.pos;
    c.pos += nullBytes;
    for (let i = 0; i < n; i++) {
      values.push((buf[nulls + (i >>> 3)]! & (1 << (i & 7))) !== 0 ? null : decoders[i]!(c));
    }
    count++;
  }
  return { count, values, before };
}
