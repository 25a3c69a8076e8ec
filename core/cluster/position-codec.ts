/**
 * The bytes of `task/{task}/position`: StoredPosition as JSON, plus who wrote it. Shared by the
 * ZooKeeper position store and the position admin API.
 */
import type { StoredPosition } from '../checkpoint/position-store.ts';
import { copyPosition, isBinlogPosition } from '../event/index.ts';
import { PositionFormatError } from '../errors/index.ts';

/** What the position node holds: a StoredPosition and, beside it, where the write came from. */
export interface PositionRecord extends StoredPosition {
  /** Node id of the worker that wrote it (or `admin` for reset-position). */
  writtenBy?: string;
  /** Fencing epoch of the ownership the write was made under. */
  epoch?: number;
}

export function encodePosition(stored: StoredPosition, writtenBy: string, epoch?: number): Buffer {
  const record: PositionRecord = { position: stored.position, updatedAt: stored.updatedAt };
  if (stored.snapshot !== undefined) record.snapshot = stored.snapshot;
  if (stored.schemaChange !== undefined) record.schemaChange = stored.schemaChange;
  record.writtenBy = writtenBy;
  if (epoch !== undefined) record.epoch = epoch;
  return Buffer.from(JSON.stringify(record));
}

/** Parse the node's bytes; PositionFormatError when they are not a stored position. */
export function decodePosition(data: Buffer, where: string): PositionRecord {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new PositionFormatError(`the position at ${where} is not JSON`, { path: where }, { cause: err });
  }
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v !== 'object' || !isBinlogPosition(v.position)) {
    throw new PositionFormatError(`the position at ${where} has no valid "position" {file, offset[, gtid, gtidSet, server, generation]}`, { path: where });
  }
  const record: PositionRecord = {
    position: copyPosition(v.position),
    updatedAt: typeof v.updatedAt === 'number' ? v.updatedAt : 0,
  };
  if (v.snapshot !== undefined) record.snapshot = v.snapshot as StoredPosition['snapshot'];
  if (v.schemaChange !== undefined) record.schemaChange = v.schemaChange as StoredPosition['schemaChange'];
  if (typeof v.writtenBy === 'string') record.writtenBy = v.writtenBy;
  if (typeof v.epoch === 'number') record.epoch = v.epoch;
  return record;
}

/** The StoredPosition part of a record (what PositionStore.load returns). */
export function storedOnly(record: PositionRecord): StoredPosition {
  const out: StoredPosition = { position: record.position, updatedAt: record.updatedAt };
  if (record.snapshot !== undefined) out.snapshot = record.snapshot;
  if (record.schemaChange !== undefined) out.schemaChange = record.schemaChange;
  return out;
}
