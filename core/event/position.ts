import type { BinlogPosition } from './event.ts';

/** `file:offset`, with `@gtid` when the position has one: the form `tunnel reset-position --to` reads back. */
export function formatPosition(position: BinlogPosition): string {
  return `${position.file}:${position.offset}${position.gtid ? `@${position.gtid}` : ''}`;
}

/**
 * The same place in the binlog: generation, file and offset (a GTID only names the transaction that
 * ends there; after a move to another server the same file and offset name another place).
 */
export function samePosition(a: BinlogPosition, b: BinlogPosition | undefined): boolean {
  return b !== undefined && a.file === b.file && a.offset === b.offset && (a.generation ?? 0) === (b.generation ?? 0);
}

/**
 * Binlog order of two positions of one task: by generation (a move to another server starts a new
 * one), then file name (zero-padded sequence numbers sort as text), then offset. Negative when `a`
 * comes first.
 */
export function comparePositions(a: BinlogPosition, b: BinlogPosition): number {
  const generation = (a.generation ?? 0) - (b.generation ?? 0);
  if (generation !== 0) return generation;
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.offset - b.offset;
}

/** A `{file, offset[, gtid, gtidSet, server, generation]}` object with a finite offset. */
export function isBinlogPosition(value: unknown): value is BinlogPosition {
  if (!value || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p.file === 'string' &&
    typeof p.offset === 'number' &&
    Number.isFinite(p.offset) &&
    (p.gtid === undefined || typeof p.gtid === 'string') &&
    (p.gtidSet === undefined || typeof p.gtidSet === 'string') &&
    (p.server === undefined || typeof p.server === 'string') &&
    (p.generation === undefined || (typeof p.generation === 'number' && Number.isInteger(p.generation) && p.generation >= 0))
  );
}

/** A copy with only the fields of a BinlogPosition (stored positions carry nothing else). */
export function copyPosition(p: BinlogPosition): BinlogPosition {
  const out: BinlogPosition = { file: p.file, offset: p.offset };
  if (p.gtid !== undefined) out.gtid = p.gtid;
  if (p.gtidSet !== undefined) out.gtidSet = p.gtidSet;
  if (p.server !== undefined) out.server = p.server;
  if (p.generation) out.generation = p.generation;
  return out;
}
