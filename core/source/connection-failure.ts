/**
 * What a failure of the replication connection means for the binlog source: lost (reconnect, with
 * backoff), or the end of the task with a coded error that says why a retry cannot help — a
 * certificate that does not verify (TlsError), a binlog the server has purged
 * (PositionUnavailableError), a GTID set the server cannot continue after (SourceDivergedError).
 * And, when the reconnect attempts have run out, the error that stops the task.
 */
import type { BinlogPosition } from '../event/index.ts';
import { PositionUnavailableError, SourceDivergedError, SourceError, TunnelError, tlsError } from '../errors/index.ts';
import { describeError, isConnectionLost, type MysqlError } from './mysql-connection.ts';

type TunnelErrorKind = new (message: string, detail: Record<string, unknown>, options: { cause: unknown }) => TunnelError;

/** The same kind of TunnelError (same class, code and detail) with another message. */
export function retold(error: TunnelError, message: string, cause: unknown): TunnelError {
  const Kind = error.constructor as TunnelErrorKind;
  return new Kind(message, error.detail, { cause });
}

/**
 * Undefined when the connection to `where` was merely lost (the source reconnects); else the error
 * the source stops with. `at` is where it was reading from (the last commit, or the start).
 */
export function fatalConnectionError(error: unknown, where: string, at: BinlogPosition | undefined): unknown {
  const refused = tlsError(`the source database ${where}`, error);
  if (refused) return refused;
  if (isConnectionLost(error)) return undefined;
  const e = error as MysqlError;
  if (e.errno === 1236 && /could not find|purged|first log file/i.test(e.message)) {
    return new PositionUnavailableError(`${where} no longer has the binlog at ${at?.file}:${at?.offset}: ${e.message}`, { requested: at }, { cause: error });
  }
  if (e.errno === 1236 && /GTID/i.test(e.message)) {
    return new SourceDivergedError(`${where} cannot continue after the GTID set ${at?.gtidSet ?? '(none)'}: ${e.message}`, { requested: at }, { cause: error });
  }
  return error;
}

/**
 * The error that stops the source when `attempts` reconnects in a row failed with `error`. A server
 * of `source.hosts` that answered but cannot be used (diverged, purged: the candidates' `refusals`)
 * says more than the ones that did not answer.
 */
export function reconnectsExhausted(error: unknown, where: string, attempts: number, lastCommit: BinlogPosition | undefined): TunnelError {
  const refusal = (error as { refusals?: TunnelError[] }).refusals?.[0];
  if (refusal) return retold(refusal, `${refusal.message} (no other server could be read in ${attempts} attempts)`, error);
  return new SourceError(
    `lost the binlog connection to ${where} and could not reconnect after ${attempts} attempts: ${describeError(error)}`,
    { lastCommit },
    { cause: error },
  );
}
