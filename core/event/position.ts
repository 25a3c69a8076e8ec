import type { BinlogPosition } from './event.ts';

/** `file:offset`, with `@gtid` when the position has one: the form `tunnel reset-position --to` reads back. */
export function formatPosition(position: BinlogPosition): string {
  return `${position.file}:${position.offset}${position.gtid ? `@${position.gtid}` : ''}`;
}

/** The same place in the binlog: file and offset (a GTID only names the transaction that ends there). */
export function samePosition(a: BinlogPosition, b: BinlogPosition | undefined): boolean {
  return b !== undefined && a.file === b.file && a.offset === b.offset;
}

/** A `{file, offset[, gtid]}` object with a finite offset. */
export function isBinlogPosition(value: unknown): value is BinlogPosition {
  if (!value || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return typeof p.file === 'string' && typeof p.offset === 'number' && Number.isFinite(p.offset) && (p.gtid === undefined || typeof p.gtid === 'string');
}
