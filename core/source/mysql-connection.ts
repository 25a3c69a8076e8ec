/**
 * How Tunnel connects to the source database, in one place: the mysql2 options every connection to
 * it uses (the binlog source's control and replication connections, the snapshot's, the status lag
 * probe's), and which errors mean "the connection is gone, try again" rather than "this cannot work".
 */
import type { ConnectionOptions, SslOptions } from 'mysql2';
import { TunnelError } from '../errors/index.ts';
import type { SourceConnection } from './source.ts';

/**
 * mysql2 options for a connection to the source database.
 *
 * - `charset` utf8mb4_general_ci (id 45): a collation every supported server knows in the handshake
 *   (MySQL 5.7 and 8, MariaDB; MySQL 8's default utf8mb4_0900_ai_ci is unknown to MariaDB before
 *   11.4). Text comes back as utf8mb4 whatever the collation, and comparisons with a column (the
 *   snapshot's keyset WHERE) use the column's collation, so the connection's never shows in values.
 * - `connectTimeout` 10 s (mysql2's default): long enough for a loaded server or a TLS handshake
 *   over a slow link, short enough that a dead address fails within one reconnect step. The status
 *   probe runs in the background, so its wait never delays a status answer.
 * - `supportBigNumbers`/`bigNumberStrings`/`dateStrings`/`timezone: 'Z'`: values no query reads
 *   through a typeCast of its own come back exact (BIGINT and DECIMAL as strings, dates as the
 *   server prints them, nothing shifted into the client's time zone); zongji decodes its fallback
 *   column types under the same settings.
 * - `ssl`: a copy, because mysql2 writes `rejectUnauthorized` into it and the resolved config is
 *   frozen.
 *
 * Authentication: mysql2 speaks mysql_native_password and MySQL 8's caching_sha2_password itself
 * (fast auth from the server's cache; full auth over TLS, or over plain TCP with the server's RSA
 * key, which mysql2 requests). Options a server's auth plugin needs belong here.
 */
export function mysqlConnectionOptions(connection: SourceConnection): ConnectionOptions {
  const { host, port, user, password, ssl } = connection;
  return {
    host,
    port,
    user,
    password,
    ...(ssl ? { ssl: { ...ssl } as SslOptions } : {}),
    charset: 'utf8mb4_general_ci',
    connectTimeout: 10_000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
  };
}

/** What mysql2 and the MySQL server put on an error. */
export interface MysqlError extends Error {
  code?: string;
  errno?: number;
  fatal?: boolean;
  sqlMessage?: string;
}

/** Codes that mean "the connection is gone" (network, server restart, KILL, timeouts), not "this cannot work". */
const CONNECTION_LOST_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CONNECTION_KILLED',
  'ER_SERVER_SHUTDOWN',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_READ_ERROR',
  'ER_NET_WRITE_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
  'ER_NET_PACKETS_OUT_OF_ORDER',
  'ER_QUERY_INTERRUPTED',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  // the binlog source's watchdog: no event and no heartbeat for three heartbeat periods
  'TUNNEL_HEARTBEAT_TIMEOUT',
]);

/**
 * Whether an error means the connection to the source database was lost, so reconnecting and
 * repeating the work may succeed. Tunnel's own errors, and server errors that will not change on a
 * retry (access denied, unknown table, bad SQL), are not.
 */
export function isConnectionLost(error: unknown): boolean {
  if (error instanceof TunnelError) return false;
  const e = error as MysqlError | undefined;
  if (e?.code !== undefined && CONNECTION_LOST_CODES.has(e.code)) return true;
  // zongji reports a control connection lost during a metadata fetch without a code; mysql2 a
  // query on a connection that already closed ("... in closed state"), the server "gone away".
  if (typeof e?.message === 'string' && /connection (lost|unavailable)|closed the connection|closed state|server has gone away|socket/i.test(e.message)) {
    return true;
  }
  // mysql2 marks network-level failures fatal; server errors (auth refused, ...) carry an errno.
  return e?.fatal === true && e.errno === undefined;
}

/** An error as log and message text: `CODE: message` when it has a code. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as MysqlError).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
