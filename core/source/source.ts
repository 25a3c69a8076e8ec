import type { BinlogPosition, RowEvent } from '../event/index.ts';

export interface SourceConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  /** TLS options as mysql2 takes them (ca, cert, key, rejectUnauthorized). */
  ssl?: Record<string, unknown>;
}

export interface SourceOptions {
  connection: SourceConnection;
  /** Replication server id; unique among the server's replicas. */
  serverId: number;
  /** `schema.table` glob patterns (`*` matches any run of characters); empty means every table. */
  include: readonly string[];
  exclude: readonly string[];
}

/** Where to start reading: a stored position, the server's current end, or its oldest binlog. */
export type StartFrom = { kind: 'latest' } | { kind: 'earliest' } | { kind: 'position'; position: BinlogPosition };

/**
 * What a source pushes, in binlog order. `event` carries rows; `commit` marks the end of a
 * transaction and carries the only kind of position that may be committed (a transaction
 * boundary). A transaction whose tables are all excluded still yields its `commit`, so the
 * position keeps moving on a busy server whose changes are all filtered.
 */
export interface SourceHandler {
  onEvent(event: RowEvent): void;
  onCommit(position: BinlogPosition, timestamp: number): void;
  /** A fatal error: the source has stopped. Recoverable connection drops are retried inside. */
  onError(error: Error): void;
}

export interface BinlogSource {
  start(from: StartFrom, handler: SourceHandler): Promise<void>;
  /** Stop reading from the server (back-pressure); events already decoded may still arrive. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}
