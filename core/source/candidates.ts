/**
 * Which server of a task's `source.hosts` the binlog source reads, and from where
 * (docs/configuration.md, "Failover"): on start and on every reconnect it asks the server it read
 * last, then the others in the order of `hosts`.
 *
 * A position names a file and offset of one server's binlog (`position.server`, that server's
 * identity), and the GTID state before it (`position.gtidSet`). On that server the source resumes
 * at the file and offset, exactly as without failover. On another server of the topology (a
 * promoted replica; a virtual IP that now leads elsewhere) it resumes from the GTID state, after
 * checking that the server has every transaction the task has read (else the sinks would hold
 * changes the database lost: SourceDivergedError, or a wait while that server still replicates) and
 * has purged none the task has not read (PositionUnavailableError). Each move starts a new source
 * generation, the first part of a position's order and of the version sinks compare
 * (core/event/position-version.ts).
 */
import type { BinlogPosition } from '../event/index.ts';
import { formatPosition, nextGeneration } from '../event/index.ts';
import { PositionUnavailableError, SourceDivergedError, SourceError, TunnelError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { gtidFlavorOf, parseGtidState, type GtidState } from './gtid-set.ts';
import { retold } from './connection-failure.ts';
import { describeError } from './mysql-connection.ts';
import { SourceServer } from './server.ts';
import { executedGtids, gtidStateAt, mayCatchUp, mysqlLogStatus, purgedGtids } from './server-gtids.ts';
import type { SourceOptions, StartFrom } from './source.ts';

/** Where a connection starts reading, and the state the positions it yields carry. */
export interface ReadPlan {
  server: SourceServer;
  /** A file and offset of this server's binlog, or (another server) the GTID state to resume after. */
  start: { kind: 'file'; file: string; offset: number } | { kind: 'gtid'; gtidSet: string };
  /** The GTID state at the start; undefined when the server has no GTIDs (MySQL with gtid_mode OFF). */
  gtids: GtidState | undefined;
  /** The server's identity (MariaDB server_id, MySQL server_uuid). */
  identity: string;
  generation: number;
  /** Resumed from the GTID state on another server than the position was taken on. */
  moved: boolean;
}

/** What the source has read so far, on a reconnect. */
export interface ReadState {
  /** The GTID state at the last commit. */
  gtids: GtidState | undefined;
  /** The GTID of a transaction read in part when the connection dropped: the next server must have it too. */
  openGtid: string | undefined;
  /** The server being read and its generation. */
  identity: string | undefined;
  generation: number;
}

/** Code of the error a plan fails with while every usable server still lacks what was read but replicates. */
export const SERVER_BEHIND = 'TUNNEL_SOURCE_SERVER_BEHIND';

export class ServerCandidates {
  readonly servers: SourceServer[];
  private currentIndex = 0;

  constructor(
    options: SourceOptions,
    private readonly logger: Logger,
  ) {
    const hosts = options.hosts && options.hosts.length > 0 ? options.hosts : [{ host: options.connection.host, port: options.connection.port }];
    this.servers = hosts.map((h) => new SourceServer({ ...options.connection, host: h.host, port: h.port }, logger));
  }

  /** The server read last (the first candidate before any). */
  get current(): SourceServer {
    return this.servers[this.currentIndex]!;
  }

  /**
   * The server to read and where to start on it. Rejects with the reason each candidate gave: a
   * TunnelError when none can be used, a connection error (or SERVER_BEHIND) while one may yet be.
   */
  async plan(from: StartFrom, reading?: ReadState): Promise<ReadPlan> {
    const order = [this.currentIndex, ...this.servers.keys()].filter((i, at, all) => all.indexOf(i) === at);
    const failures: Array<{ server: SourceServer; error: unknown }> = [];
    const others: number[] = [];
    for (const index of order) {
      const server = this.servers[index]!;
      try {
        const info = await server.inspect(true);
        if (from.kind !== 'position') return this.use(index, await this.startPlan(server, from));
        const position = from.position;
        if (position.server !== undefined && position.server !== info.identity) {
          others.push(index);
          continue;
        }
        const logs = await server.binaryLogs();
        const missing = server.missing(position, logs);
        if (missing) {
          // another server of the topology may still have the transactions, by GTID
          failures.push({ server, error: missing });
          continue;
        }
        return this.use(index, await this.filePlan(server, position, reading));
      } catch (error) {
        server.drop();
        failures.push({ server, error });
      }
    }
    if (from.kind === 'position') {
      for (const index of others) {
        const server = this.servers[index]!;
        try {
          return this.use(index, await this.gtidPlan(server, from.position, reading));
        } catch (error) {
          server.drop();
          failures.push({ server, error });
        }
      }
    }
    throw this.failure(failures);
  }

  private use(index: number, plan: ReadPlan): ReadPlan {
    this.currentIndex = index;
    return plan;
  }

  /** `latest` (the end of the newest binlog) or `earliest` (the start of the oldest). */
  private async startPlan(server: SourceServer, from: { kind: 'latest' | 'earliest' }): Promise<ReadPlan> {
    const info = server.info!;
    const control = await server.connection();
    let file: string;
    let offset: number;
    let gtids: GtidState | undefined;
    const status = from.kind === 'latest' && info.gtids && !info.isMariaDb ? await mysqlLogStatus(control) : undefined;
    if (status) {
      ({ file, offset, gtids } = status);
    } else {
      const logs = await server.binaryLogs();
      const log = from.kind === 'latest' ? logs[logs.length - 1]! : logs[0]!;
      file = log.file;
      offset = from.kind === 'latest' ? log.size : 4;
      if (info.gtids) gtids = await this.stateAt(server, file, offset);
    }
    return { server, start: { kind: 'file', file, offset }, gtids, identity: info.identity, generation: 0, moved: false };
  }

  /** The position's own server (or a position of unknown server that this one has): file and offset. */
  private async filePlan(server: SourceServer, position: BinlogPosition, reading: ReadState | undefined): Promise<ReadPlan> {
    const info = server.info!;
    let gtids: GtidState | undefined;
    if (info.gtids) {
      if (reading?.gtids && reading.identity === info.identity) gtids = reading.gtids;
      else if (position.gtidSet !== undefined && position.server === info.identity) gtids = parseGtidState(server.flavor, position.gtidSet, 'position.gtidSet');
      else gtids = await this.stateAt(server, position.file, position.offset);
    }
    const generation = reading && reading.identity === info.identity ? reading.generation : (position.generation ?? 0);
    return { server, start: { kind: 'file', file: position.file, offset: position.offset }, gtids, identity: info.identity, generation, moved: false };
  }

  /** Another server of the topology: resume after the GTID state, if it has all that was read. */
  private async gtidPlan(server: SourceServer, position: BinlogPosition, reading: ReadState | undefined): Promise<ReadPlan> {
    const info = server.info!;
    const where = `${server.where} (server ${info.identity})`;
    const text = reading?.gtids?.toString() ?? position.gtidSet;
    if (text === undefined) {
      throw new SourceError(
        `cannot continue on ${where}: position ${formatPosition(position)} belongs to server ${position.server} and carries no GTID set ` +
          '(a position stored without one, or a server without GTIDs)',
        { position },
      );
    }
    const flavor = gtidFlavorOf(text) ?? server.flavor;
    if (flavor !== server.flavor || !info.gtids) {
      throw new SourceError(
        `cannot continue on ${where}: ${info.gtids ? `it is ${server.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'}, the GTID set is ${flavor === 'mariadb' ? "MariaDB's" : "MySQL's"}` : 'its gtid_mode is not ON'}`,
        { position },
      );
    }
    const state = reading?.gtids?.copy() ?? parseGtidState(flavor, text, 'position.gtidSet');
    const control = await server.connection();
    const read = state.copy();
    if (reading?.openGtid) read.add(reading.openGtid);
    const lacking = read.missingFrom(await executedGtids(control, flavor));
    if (lacking !== undefined) {
      if ((await mayCatchUp(control, flavor, parseGtidState(flavor, lacking))) !== false) {
        throw Object.assign(new Error(`${where} lacks transactions the task has read (${lacking}) and still replicates: waiting for it to catch up`), {
          code: SERVER_BEHIND,
        });
      }
      throw new SourceDivergedError(
        `cannot continue on ${where}: it lacks transactions the task already read from server ${position.server ?? '(unknown)'} ` +
          `and may have delivered (${lacking}). The sinks may hold changes this server does not have: ` +
          'resync the sinks from this server (reset the position and snapshot), or bring back a server that has them',
        { lacking, position, server: info.identity },
      );
    }
    const logs = await server.binaryLogs();
    const lost = (await purgedGtids(control, flavor, logs[0]!.file)).missingFrom(state);
    if (lost !== undefined) {
      throw new PositionUnavailableError(
        `cannot continue on ${where}: it has purged transactions the task has not read (${lost}). Events between them are lost to Tunnel: ` +
          'resync the sinks and restart from "earliest" or "latest" deliberately',
        { purged: lost, position },
      );
    }
    const current = reading?.identity === info.identity ? reading.generation : undefined;
    // the next history, as `tunnel reset-position --new-history` starts it: every position read
    // here orders after every one read before (the versions the sinks compare)
    const generation = current ?? nextGeneration(Math.max(reading?.generation ?? 0, position.generation ?? 0));
    this.logger.warn(
      { server: server.where, identity: info.identity, from: position.server, gtidSet: state.toString(), generation },
      'continuing on another server of the topology from the GTID set',
    );
    return { server, start: { kind: 'gtid', gtidSet: state.toString() }, gtids: state, identity: info.identity, generation, moved: true };
  }

  /** The GTID state at a position of `server`'s binlog (a MySQL binlog file is read up to it). */
  private async stateAt(server: SourceServer, file: string, offset: number): Promise<GtidState> {
    const started = Date.now();
    const { state, read } = await gtidStateAt(await server.connection(), server.flavor, file, offset);
    if (read > 0) this.logger.info({ file, offset, events: read, ms: Date.now() - started }, 'read the GTID set at the start position from the binlog');
    return state;
  }

  /** One error for every candidate's failure: retryable when any of them may yet work. */
  private failure(failures: Array<{ server: SourceServer; error: unknown }>): unknown {
    if (failures.length === 1 && failures[0]!.error instanceof TunnelError) return failures[0]!.error;
    const retryable = failures.find((f) => !(f.error instanceof TunnelError));
    const text = failures.map((f) => `${f.server.where}: ${describeError(f.error)}`).join('; ');
    if (retryable) {
      const e = retryable.error as { code?: string };
      const what = failures.length === 1 ? text : `no source server can be read now (${text})`;
      // the candidates that cannot be used whatever happens: the reason to give when attempts run out
      const refusals = failures.map((f) => f.error).filter((error): error is TunnelError => error instanceof TunnelError);
      return Object.assign(new Error(what, { cause: retryable.error }), { code: e.code, refusals });
    }
    const first = failures[0]!.error as TunnelError;
    return retold(first, `no source server can be read: ${text}`, first);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}
