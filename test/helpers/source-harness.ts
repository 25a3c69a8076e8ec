// Helpers for the binlog source's integration tests: options for a test source server (MariaDB
// unless given), a recording handler, and the server's current binlog end.
import type { Connection } from 'mysql2/promise';
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import type { SourceHandler, SourceOptions } from '../../core/source/index.ts';
import { mariadbServer, sourceConnection, waitFor, type SourceServer } from './servers.ts';

export { silentLogger };

let serverIdCounter = 100_000 + Math.floor(Math.random() * 1_000_000) * 10;

/** A replication server id no other test uses at the same time. */
export function uniqueServerId(): number {
  serverIdCounter += 1;
  return serverIdCounter;
}

export function sourceOptions(include: string[], extra: Partial<SourceOptions> = {}, server: SourceServer = mariadbServer): SourceOptions {
  return {
    connection: { ...server.connection },
    serverId: uniqueServerId(),
    include,
    exclude: [],
    ...extra,
  };
}

export interface Commit {
  position: BinlogPosition;
  timestamp: number;
}

/**
 * Records what a source delivers. `committed` holds the events of transactions whose commit
 * arrived; `pending` those of the transaction in progress (re-delivered by a source started from
 * the last commit, so a consumer only trusts `committed`).
 */
export class Recorder implements SourceHandler {
  readonly events: RowEvent[] = [];
  readonly committed: RowEvent[] = [];
  pending: RowEvent[] = [];
  readonly commits: Commit[] = [];
  readonly errors: Error[] = [];

  constructor(private readonly hooks: { onEvent?: (e: RowEvent) => void; onCommit?: (c: Commit) => void } = {}) {}

  onEvent(event: RowEvent): void {
    this.events.push(event);
    this.pending.push(event);
    this.hooks.onEvent?.(event);
  }

  onCommit(position: BinlogPosition, timestamp: number): void {
    this.committed.push(...this.pending);
    this.pending = [];
    const commit = { position, timestamp };
    this.commits.push(commit);
    this.hooks.onCommit?.(commit);
  }

  onError(error: Error): void {
    this.errors.push(error);
  }

  get lastCommit(): BinlogPosition | undefined {
    return this.commits[this.commits.length - 1]?.position;
  }

  /** Waits until a commit at or after `position` (same file order as the server's) arrived. */
  async waitForCommitAt(position: BinlogPosition, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => {
        if (this.errors.length > 0) throw this.errors[0];
        return this.commits.some((c) => comparePositions(c.position, position) >= 0);
      },
      { timeoutMs, what: `a commit at ${position.file}:${position.offset}` },
    );
  }

  /** Waits until the commit of the transaction with this GTID (server.gtidPattern's form) arrived. */
  async waitForCommitOf(gtid: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => {
        if (this.errors.length > 0) throw this.errors[0];
        return this.commits.some((c) => c.position.gtid === gtid);
      },
      { timeoutMs, what: `the commit of transaction ${gtid} (last commit seen: ${JSON.stringify(this.lastCommit ?? null)})` },
    );
  }
}

/**
 * The GTID of the last transaction `conn` committed, in the form the source gives positions. A
 * binlog's end is no target to wait for: after a rotation MariaDB writes a Binlog checkpoint event
 * past the last transaction, so no commit ever lands at the end of the file. MariaDB tells the
 * session its own GTID (@@last_gtid); on MySQL it is the newest of the server's own executed GTIDs
 * (the tests write from one session at a time).
 */
export async function lastWrittenGtid(conn: Connection, server: SourceServer): Promise<string> {
  if (server.flavor === 'mariadb') {
    const [[row]] = (await conn.query('SELECT @@last_gtid AS gtid')) as unknown as [[{ gtid: string }]];
    if (!row.gtid) throw new Error('this session has committed no transaction yet');
    return row.gtid;
  }
  const [[row]] = (await conn.query('SELECT @@server_uuid AS uuid, @@global.gtid_executed AS executed')) as unknown as [[{ uuid: string; executed: string }]];
  const own = row.executed
    .replace(/\s+/g, '')
    .split(',')
    .find((set) => set.toLowerCase().startsWith(`${row.uuid.toLowerCase()}:`));
  const last = own?.split(':').at(-1)?.split('-').at(-1);
  if (!last) throw new Error(`no executed GTID of ${row.uuid} in ${row.executed}`);
  return `${row.uuid}:${last}`;
}

/** Orders positions: binlog file names sort by their numeric suffix. */
export function comparePositions(a: BinlogPosition, b: BinlogPosition): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.offset - b.offset;
}

/** The end of the server's binlog now (what `latest` resolves to). */
export async function binlogEnd(server: SourceServer = mariadbServer): Promise<BinlogPosition> {
  const conn = await sourceConnection(server);
  try {
    const [rows] = await conn.query('SHOW BINARY LOGS');
    const list = rows as { Log_name: string; File_size: number | string }[];
    const last = list[list.length - 1]!;
    return { file: last.Log_name, offset: Number(last.File_size) };
  } finally {
    await conn.end();
  }
}

/** The canonical fields of an event, without position and timestamp (which vary run to run). */
export function canonical(event: RowEvent): Pick<RowEvent, 'schema' | 'table' | 'action' | 'rows' | 'primaryKey'> {
  return { schema: event.schema, table: event.table, action: event.action, rows: event.rows, primaryKey: event.primaryKey } as Pick<
    RowEvent,
    'schema' | 'table' | 'action' | 'rows' | 'primaryKey'
  >;
}
