/**
 * The snapshot's connection to the source database, opened on first use and again, with backoff,
 * when it drops: a query that fails on a lost connection is run again on a new one (the same chunk
 * is read again; keyset chunks make that exact).
 */
import mysqlCore, { type Connection as CoreConnection } from 'mysql2';
import type { Connection } from 'mysql2/promise';
import { AbortedError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { backoffDelay, sleep } from '../runtime/backoff.ts';
import { isConnectionLost, mysqlConnectionOptions, type SourceConnection } from '../source/index.ts';

/** Attempts per query, the first included, before a lost connection fails the snapshot. */
const MAX_ATTEMPTS = 8;

interface OpenConnection {
  conn: Connection;
  /** The callback-style connection under `conn`, for the streamed one-pass read. */
  core: CoreConnection;
}

export interface SnapshotSessionOptions {
  connection: SourceConnection;
  logger: Logger;
  signal: AbortSignal;
  /** Whether the task is stopping: a lost connection is not worth a retry then. */
  stopping: () => boolean;
  /** A connection was opened for a query (its server thread id, for the status). */
  onConnect: (threadId: number | undefined) => void;
}

export class SnapshotSession {
  private open: OpenConnection | undefined;

  constructor(private readonly options: SnapshotSessionOptions) {}

  /** The server's id of the current connection, if there is one. */
  get threadId(): number | undefined {
    return this.open?.core.threadId ?? undefined;
  }

  /** Runs a query, reconnecting with backoff when the connection drops. */
  async query<T>(what: string, fn: (conn: Connection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!this.open) {
          this.open = await this.connect();
          this.options.onConnect(this.threadId);
        }
        return await fn(this.open.conn);
      } catch (error) {
        if (!isConnectionLost(error) || attempt >= MAX_ATTEMPTS || this.options.stopping()) throw error;
        const delayMs = backoffDelay(attempt, { initialDelayMs: 500, maxDelayMs: 10_000 });
        this.options.logger.warn({ err: error, attempt, delayMs }, `snapshot lost its database connection (${what}); reconnecting`);
        this.open?.core.destroy();
        this.open = undefined;
        await sleep(delayMs, this.options.signal).catch(() => {
          throw new AbortedError('the snapshot was stopped');
        });
      }
    }
  }

  /** The callback-style connection, for a streamed read (which is not retried: it cannot resume). */
  async streaming(): Promise<CoreConnection> {
    this.open ??= await this.connect();
    return this.open.core;
  }

  /** Ends the connection; `graceful` false destroys it, for a streamed read may still be open (end() would wait for it). */
  async close(graceful: boolean): Promise<void> {
    const open = this.open;
    this.open = undefined;
    if (!open) return;
    if (graceful) await open.conn.end().catch(() => open.core.destroy());
    else open.core.destroy();
  }

  private async connect(): Promise<OpenConnection> {
    const core = mysqlCore.createConnection(mysqlConnectionOptions(this.options.connection));
    core.on('error', () => undefined); // surfaced by the next query
    const conn = core.promise();
    // TIMESTAMP text in UTC (converted to ISO "Z" values); long pauses while sinks catch up are fine.
    await conn.query("SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600");
    // MySQL 8 answers information_schema.TABLES from statistics cached for a day, so a table filled
    // since they were cached would show its old row count as the progress total: read them fresh.
    // MariaDB has no such cache (nor the variable).
    await conn.query('SET SESSION information_schema_stats_expiry = 0').catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'ER_UNKNOWN_SYSTEM_VARIABLE') throw error;
    });
    return { conn, core };
  }
}
