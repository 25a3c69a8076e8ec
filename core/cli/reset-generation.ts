/**
 * The generation of a position set by `tunnel reset-position` (core/event/position-version.ts): the
 * sinks order writes by position version, so a position given by hand must not order before the
 * changes they hold unless it is meant to.
 *
 * - By default the stored generation goes on (the same server's history), and a position before the
 *   stored one is refused: a replay of the same binlog is said with `--rewind` (the sinks keep the
 *   newer versions they hold, which the replay reaches again); another server's binlog, or the same
 *   server's after RESET MASTER, with `--new-history`, which takes the next generation so that every
 *   change from there orders after everything written before.
 * - A generation written in the position (JSON `{"file", "offset", "generation"}`) is taken as given.
 */
import { ConfigError } from '../errors/index.ts';
import { MAX_GENERATION, formatPosition, nextGeneration, positionVersion, type BinlogPosition } from '../event/index.ts';

export interface ResetChoice {
  /** The position is of another history (another server, a RESET MASTER): the next generation. */
  newHistory?: boolean;
  /** The position is earlier in the same history: replay from there. */
  rewind?: boolean;
}

/** The position to store for a reset of `stored` to `requested`; ConfigError when the choice is missing or contradictory. */
export function resetTarget(stored: BinlogPosition | undefined, requested: BinlogPosition, choice: ResetChoice): BinlogPosition {
  if (choice.newHistory && choice.rewind) throw new ConfigError('choose one of --new-history and --rewind');
  if (requested.generation !== undefined) return requested;
  const current = stored?.generation ?? 0;
  if (choice.newHistory) {
    if (current >= MAX_GENERATION) throw new ConfigError(`the task is at generation ${current}, the last a position version holds`);
    return { ...requested, generation: nextGeneration(current) };
  }
  const target: BinlogPosition = current ? { ...requested, generation: current } : { ...requested };
  if (stored && !choice.rewind && isBefore(target, stored)) {
    throw new ConfigError(
      `${formatPosition(requested)} is before the stored position ${formatPosition(stored)}: add --rewind to replay the same server's binlog from there, ` +
        'or --new-history if it is another server, or this server after RESET MASTER (sinks refuse writes that order before what they hold)',
    );
  }
  return target;
}

function isBefore(a: BinlogPosition, b: BinlogPosition): boolean {
  try {
    return positionVersion(a) < positionVersion(b);
  } catch {
    return false; // positions without a version (no numeric file suffix) are not compared
  }
}
