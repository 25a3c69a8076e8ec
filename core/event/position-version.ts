/**
 * The order of positions as one number, the version a sink compares (docs/architecture.md,
 * "Fencing at the sink"): Elasticsearch documents carry it as their external `_version`, and webhook
 * receivers drop deliveries older than what they have by it.
 *
 *   version = generation × 2^53 + file sequence × 2^32 + offset
 *
 * - `offset` is where the event ends in its binlog file: an event header holds it in 32 bits;
 * - the file sequence is the binlog file's numeric suffix (`mariadb-bin.000042` → 42), so a version
 *   keeps growing across rotations; 21 bits (up to 2,097,151 files);
 * - the generation counts the source histories the task has read (`BinlogPosition.generation`): a
 *   task that moves to another server (a failover: file names and offsets there have nothing to do
 *   with the old ones), or whose server starts its numbering over (RESET MASTER), gets the next
 *   generation, so that every position of the new history orders after every position of the old
 *   one, whatever their files and offsets; 10 bits (up to 1,023).
 *
 * The result stays below 2^63, the largest version Elasticsearch takes. Rows of one binlog rows
 * event share its version (Elasticsearch writes use `external_gte`), and so do the rows of a
 * snapshot (the snapshot's start position).
 */
import { PositionFormatError } from '../errors/errors.ts';
import type { BinlogPosition } from './event.ts';

export const MAX_GENERATION = 2 ** 10 - 1;
export const MAX_FILE_SEQUENCE = 2 ** 21 - 1;
const MAX_OFFSET = 2 ** 32 - 1;

/**
 * The generation that follows `current`: where a task's next source history starts, whether it is
 * another server reached by failover (core/source/candidates.ts) or a position given with
 * `tunnel reset-position --new-history`. PositionFormatError beyond MAX_GENERATION.
 */
export function nextGeneration(current: number | undefined): number {
  const next = (current ?? 0) + 1;
  if (next > MAX_GENERATION) {
    throw new PositionFormatError(`the task is at generation ${current}, the last a position version holds`, { generation: current });
  }
  return next;
}

/** The numeric suffix of a binlog file name (`binlog.000123` → 123); undefined when it has none. */
export function binlogFileSequence(file: string): number | undefined {
  const match = /\.(\d{1,10})$/.exec(file);
  return match ? Number(match[1]) : undefined;
}

const cache = new WeakMap<BinlogPosition, string>();

/** The version of a position, as a bigint. PositionFormatError when the position cannot have one. */
export function positionVersion(position: BinlogPosition): bigint {
  const generation = position.generation ?? 0;
  const sequence = binlogFileSequence(position.file);
  const { offset } = position;
  if (sequence === undefined) {
    throw new PositionFormatError(`binlog file "${position.file}" has no numeric suffix: its positions have no version`, { file: position.file });
  }
  if (sequence > MAX_FILE_SEQUENCE) {
    throw new PositionFormatError(
      `binlog file "${position.file}" is number ${sequence}, beyond the ${MAX_FILE_SEQUENCE} a position version holds: ` +
        'start a new generation (docs/architecture.md, "Fencing at the sink")',
      { file: position.file },
    );
  }
  if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) {
    throw new PositionFormatError(`position generation ${generation} is not an integer from 0 to ${MAX_GENERATION}`, { generation });
  }
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
    throw new PositionFormatError(`binlog offset ${offset} is not an integer from 0 to ${MAX_OFFSET}`, { offset });
  }
  return (BigInt(generation) << 53n) | (BigInt(sequence) << 32n) | BigInt(offset);
}

/**
 * The version as decimal text (how JSON carries it: Elasticsearch reads a version given as a
 * string exactly, and a number beyond 2^53 would not survive JSON.parse). Cached per position
 * object: the events of one rows event share theirs.
 */
export function positionVersionText(position: BinlogPosition): string {
  let text = cache.get(position);
  if (text === undefined) {
    text = positionVersion(position).toString();
    cache.set(position, text);
  }
  return text;
}
