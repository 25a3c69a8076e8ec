import type { BinlogPosition, RowEvent, SchemaChangeEvent } from '../event/index.ts';

export interface SourceConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  /** TLS options as mysql2 takes them (ca, cert, key, rejectUnauthorized). */
  ssl?: Record<string, unknown>;
}

export interface SourceOptions {
  /** How to connect; `host` and `port` name the one server unless `hosts` lists several. */
  connection: SourceConnection;
  /**
   * The servers of one replication topology the source may read, in order of preference (each with
   * the user, password and TLS options of `connection`); see core/source/candidates.ts.
   */
  hosts?: ReadonlyArray<{ host: string; port: number }>;
  /** Replication server id; unique among the server's replicas. */
  serverId: number;
  /** `schema.table` glob patterns (`*` matches any run of characters); empty means every table. */
  include: readonly string[];
  exclude: readonly string[];
  /**
   * Reconnection after a dropped connection: exponential backoff from `initialDelayMs` doubling up to
   * `maxDelayMs`, giving up (handler.onError with a SourceError) after `maxAttempts` consecutive
   * failures. Defaults: 100 ms, 10 s, 20 attempts.
   */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /**
   * The server is asked for a heartbeat after this long without events; a connection that delivers
   * nothing (no event, no heartbeat) for three periods while not paused is treated as dropped.
   * Default 5000 ms.
   */
  heartbeatMs?: number;
}

/** The server a source reads: its address and identity (MariaDB server_id, MySQL server_uuid). */
export interface SourceServerInfo {
  host: string;
  port: number;
  identity: string;
  generation: number;
}

/** Where to start reading: a stored position, the server's current end, or its oldest binlog. */
export type StartFrom = { kind: 'latest' } | { kind: 'earliest' } | { kind: 'position'; position: BinlogPosition };

/**
 * What a source pushes, in binlog order. `event` carries rows; `commit` marks the end of a
 * transaction and carries the only kind of position that may be committed (a transaction
 * boundary). A transaction whose tables are all excluded still yields its `commit`, so the
 * position keeps moving on a busy server whose changes are all filtered.
 *
 * `commit` fires after the XID event (transactional engines), the COMMIT/ROLLBACK query
 * (non-transactional engines), a DDL statement (its own transaction), an XA PREPARE, and a
 * server-side binlog rotation seen between transactions (position = start of the new file), each
 * with the position just after it. `event.position` of a row event is the end of its own rows
 * event (with the transaction's GTID): informational and ordered, never a resume point.
 *
 * Every event reaches the handler exactly once per source, across reconnects to the same server. A
 * new source started from a committed position re-delivers the events of a transaction whose commit
 * the previous source had not delivered (at-least-once across restarts), and so does a move to
 * another server of `hosts` for the transaction it interrupted.
 */
export interface SourceHandler {
  onEvent(event: RowEvent): void;
  onCommit(position: BinlogPosition, timestamp: number): void;
  /**
   * A schema change of a followed table (TRUNCATE, DROP, RENAME, ALTER, CREATE, DROP DATABASE), at its
   * place: after the rows before it, before the statement's `commit`. A statement that changes several
   * tables gives one call per table, in its order.
   */
  onSchemaChange?(event: SchemaChangeEvent): void;
  /** A fatal error: the source has stopped. Recoverable connection drops are retried inside. */
  onError(error: Error): void;
  /** A replication connection was established: the server it reads, and the source generation. */
  onServer?(server: SourceServerInfo): void;
}

export interface BinlogSource {
  /**
   * Resolves once the server accepted the replication request; rejects with
   * PositionUnavailableError when `from` names a binlog file the server no longer has, or with a
   * SourceError when the server cannot be used (binlog off, binlog_format not ROW, binlog_row_image
   * not FULL, no access). May be called once per source.
   */
  start(from: StartFrom, handler: SourceHandler): Promise<void>;
  /**
   * Stop reading from the server (back-pressure). Effective immediately: the handler gets no
   * further call until resume(), even when called from inside onEvent.
   */
  pause(): void;
  resume(): void;
  /** Stops reading and closes the connections; no handler call happens after it resolves. */
  stop(): Promise<void>;
}
