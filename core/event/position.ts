import type { BinlogPosition } from './event.ts';

/** `file:offset`, with `@gtid` when the position has one: the form `tunnel reset-position --to` reads back. */
export function formatPosition(position: BinlogPosition): string {
  return `${position.file}:${position.offset}${position.gtid ? `@${position.gtid}` : ''}`;
}

/** The same place in the binlog: file and offset (a GTID only names the transaction that ends there). */
export function samePosition(a: BinlogPosition, b: BinlogPosition | undefined): boolean {
  return b !== undefined && a.file === b.file && a.offset === b.offset;
}

/** A `{file, offset[, gtid][, generation]}` object with a finite offset. */
export function isBinlogPosition(value: unknown): value is BinlogPosition {
  if (!value || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p.file === 'string' &&
    typeof p.offset === 'number' &&
    Number.isFinite(p.offset) &&
    (p.gtid === undefined || typeof p.gtid === 'string') &&
    (p.generation === undefined || (typeof p.generation === 'number' && Number.isInteger(p.generation) && p.generation >= 0))
  );
}

/** A copy of the position's fields (file, offset, and gtid and generation where it has them). */
export function copyPosition(p: BinlogPosition): BinlogPosition {
  const out: BinlogPosition = { file: p.file, offset: p.offset };
  if (p.gtid !== undefined) out.gtid = p.gtid;
  if (p.generation) out.generation = p.generation;
  return out;
}
