import { PositionFormatError } from '../errors/index.ts';
import { MAX_GENERATION, copyPosition, type BinlogPosition } from '../event/index.ts';
import type { StoredPosition } from './position-store.ts';

/**
 * Parse a position typed by a person (`mysql-bin.000042:1234`, optionally `@0-1-99` for a GTID)
 * or stored as JSON. Bad input is a PositionFormatError naming what was expected, never a crash.
 */
export function parsePosition(text: string): BinlogPosition {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new PositionFormatError(`position is not valid JSON: ${preview(trimmed)}`);
    }
    return checkPosition(parsed, 'position');
  }
  const match = /^([^\s:@/\\]+):(\d{1,15})(?:@(\S+))?$/.exec(trimmed);
  if (!match) {
    throw new PositionFormatError(`position must look like "<binlog file>:<offset>" (e.g. mariadb-bin.000001:4), got ${preview(trimmed)}`);
  }
  const position: BinlogPosition = { file: match[1]!, offset: Number(match[2]) };
  if (match[3]) position.gtid = match[3];
  return position;
}

export function checkPosition(value: unknown, what: string): BinlogPosition {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PositionFormatError(`${what} must be an object {file, offset}, got ${preview(JSON.stringify(value) ?? String(value))}`);
  }
  const { file, offset, gtid, gtidSet, server, generation } = value as Record<string, unknown>;
  if (typeof file !== 'string' || file.length === 0 || /[\s/\\]/.test(file)) {
    throw new PositionFormatError(`${what}.file must be a binlog file name, got ${preview(JSON.stringify(file) ?? 'nothing')}`);
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new PositionFormatError(`${what}.offset must be a non-negative integer, got ${preview(JSON.stringify(offset) ?? 'nothing')}`);
  }
  if (gtid !== undefined && typeof gtid !== 'string') {
    throw new PositionFormatError(`${what}.gtid must be a string, got ${preview(JSON.stringify(gtid))}`);
  }
  if (gtidSet !== undefined && typeof gtidSet !== 'string') {
    throw new PositionFormatError(`${what}.gtidSet must be a string (a GTID set), got ${preview(JSON.stringify(gtidSet))}`);
  }
  if (server !== undefined && (typeof server !== 'string' || server.length === 0)) {
    throw new PositionFormatError(`${what}.server must be a server id or uuid, got ${preview(JSON.stringify(server))}`);
  }
  if (generation !== undefined && (typeof generation !== 'number' || !Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION)) {
    throw new PositionFormatError(`${what}.generation must be an integer from 0 to ${MAX_GENERATION}, got ${preview(JSON.stringify(generation))}`);
  }
  return copyPosition({ file, offset, gtid, gtidSet, server, generation } as BinlogPosition);
}

/** Decode the bytes a position store holds; a damaged record is an error naming its origin. */
export function decodeStoredPosition(bytes: string | Buffer, origin: string): StoredPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString());
  } catch {
    throw new PositionFormatError(`stored position in ${origin} is not valid JSON: ${preview(bytes.toString())}`);
  }
  if (parsed === null || typeof parsed !== 'object') {
    throw new PositionFormatError(`stored position in ${origin} must be a JSON object, got ${preview(bytes.toString())}`);
  }
  const record = parsed as Record<string, unknown>;
  const position = checkPosition(record.position, `stored position in ${origin}`);
  const updatedAt = typeof record.updatedAt === 'number' ? record.updatedAt : 0;
  const stored: StoredPosition = { position, updatedAt };
  if (record.snapshot !== undefined) stored.snapshot = record.snapshot as StoredPosition['snapshot'];
  if (record.schemaChange !== undefined) stored.schemaChange = record.schemaChange as StoredPosition['schemaChange'];
  return stored;
}

export function encodeStoredPosition(stored: StoredPosition): string {
  return JSON.stringify(stored);
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return JSON.stringify(oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine);
}
