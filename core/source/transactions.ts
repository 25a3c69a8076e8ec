/**
 * Transaction boundaries in the binlog, and the read position. Events mark where a transaction
 * begins (BEGIN, XA START, a MariaDB GTID event of a transactional group) and where it ends (XID,
 * COMMIT, ROLLBACK, XA PREPARE/COMMIT/ROLLBACK, a standalone DDL statement, a rotation between
 * transactions); each end is a `commit` with the position just after it, the only kind of position
 * that may be stored (core/source/source.ts states the contract).
 *
 * Across a reconnect the source resumes from the last commit, so the interrupted transaction is
 * read again from its start: the rows events the handler already has are counted here and skipped
 * on the second read (the binlog is immutable, so they are the same events).
 */
import type { BinlogPosition } from '../event/index.ts';
import type { Logger } from '../log/index.ts';
import type { GtidState } from './gtid-set.ts';
import { EventType } from './rows.ts';
import type { ZEvent } from './zongji-internals.ts';

/** An event the server made up for the dump (not in the file): it takes no room in the binlog. */
const LOG_EVENT_ARTIFICIAL_F = 0x20;

export interface TransactionEvents {
  /** A transaction boundary, with the position just after it and the server time of the event. */
  commit(position: BinlogPosition, timestamp: number): void;
  /**
   * A DDL statement (table metadata read before it may be stale), with the session's database,
   * where it ends (with its GTID) and its server time; its commit follows.
   */
  schemaChange(statement: string, database: string, position: BinlogPosition, timestamp: number): void;
}

export class TransactionTracker {
  /** The binlog file being read. */
  file = '';
  /** End offset of the last event read from `file`. */
  cursor = 0;
  /** The last boundary reported: where a reconnect resumes. */
  lastCommit: BinlogPosition | undefined;
  /** The GTID state at the last commit (every transaction read before it); undefined without GTIDs. */
  gtids: GtidState | undefined;
  /** The identity of the server being read: commit positions name it. */
  server: string | undefined;
  /**
   * The generation of the history being read (BinlogPosition.generation): the start position's, or
   * the next one after a move to another server (core/source/candidates.ts); put on every position
   * reported.
   */
  generation = 0;
  private inTransaction = false;
  private gtid: string | undefined;
  /** Rows events of the open transaction delivered to the handler (or skipped as delivered before). */
  private delivered = 0;
  /** Rows events still to skip in the transaction re-read after a reconnect. */
  private skip = 0;

  constructor(
    private readonly events: TransactionEvents,
    private readonly logger: Logger,
  ) {}

  /**
   * A connection starts reading at a transaction boundary: `at` of server `server`'s binlog, or
   * (`at` undefined) after the GTID state `gtids`, the file and offset following from the stream.
   * A move to another server (`moved`) reads the interrupted transaction again whole: its rows events
   * there need not be the same ones.
   */
  startAt(at: { file: string; offset: number } | undefined, state: { gtids: GtidState | undefined; server: string; generation: number; moved: boolean }): void {
    if (at) {
      this.file = at.file;
      this.cursor = at.offset;
    }
    this.gtids = state.gtids;
    this.server = state.server;
    this.generation = state.generation;
    if (state.moved) {
      this.skip = 0;
      this.delivered = 0;
    }
    this.inTransaction = false;
    this.gtid = undefined;
  }

  /** The GTID of the transaction read in part when the connection dropped, if any. */
  get openGtid(): string | undefined {
    return this.inTransaction ? this.gtid : undefined;
  }

  /** The read position (the end of the last event read), for messages and error details. */
  get position(): { file: string; offset: number } {
    return { file: this.file, offset: this.cursor };
  }

  /**
   * Follows an event's header. Offsets are the header's end position when the server fills it in,
   * else counted from event lengths inside a transaction (MariaDB 11.4+ leaves end_log_pos 0 there).
   */
  advance(type: number, eventLength: number, nextPosition: number, flags: number): void {
    if (type === EventType.ROTATE || type === EventType.HEARTBEAT) return;
    if (nextPosition > 0) this.cursor = nextPosition;
    else if (this.inTransaction && (flags & LOG_EVENT_ARTIFICIAL_F) === 0) this.cursor += eventLength;
  }

  /** Where a rows event ending at `nextPosition` (0: unknown) sits, with its transaction's GTID. */
  rowsEventPosition(nextPosition: number): BinlogPosition {
    return this.eventPosition(nextPosition || this.cursor);
  }

  /** A place in the transaction being read: file, offset, its GTID, and the generation once it is not 0. */
  private eventPosition(offset: number): BinlogPosition {
    const position: BinlogPosition = { file: this.file, offset };
    if (this.gtid !== undefined) position.gtid = this.gtid;
    if (this.generation > 0) position.generation = this.generation;
    return position;
  }

  /** For each rows event of an included table: true when the handler had it before the connection dropped. */
  skipDelivered(): boolean {
    if (this.skip === 0) return false;
    this.skip -= 1;
    this.delivered += 1;
    return true;
  }

  /** A rows event went to the handler. */
  rowsEventDelivered(): void {
    this.delivered += 1;
  }

  /** The connection dropped: the open transaction is read again from its start, minus what was delivered. */
  interrupted(): void {
    this.skip += this.delivered;
    this.delivered = 0;
  }

  /** Rows events the next read of the interrupted transaction skips. */
  get skipping(): number {
    return this.skip;
  }

  /** An event zongji decoded (every kind but table maps and rows events). */
  onEvent(event: ZEvent): void {
    switch (event.getTypeName()) {
      case 'Rotate': {
        const binlogName = String(event.binlogName);
        const real = event.nextPosition > 0; // the rotate written at the end of a file, not the dump's first
        this.file = binlogName;
        this.cursor = Number(event.position);
        if (real && !this.inTransaction) {
          // a boundary too: the new file's start, so an idle task's position leaves purgeable files
          this.commit({ file: binlogName, offset: this.cursor }, event.timestamp, this.lastCommit?.gtid, false);
        }
        return;
      }
      case 'MariadbGtid':
        this.gtid = String(event.gtid);
        // standalone groups (DDL) have no BEGIN/COMMIT: their single statement ends them
        this.inTransaction = event.standalone !== true;
        return;
      case 'Gtid':
        this.gtid = String(event.gtid);
        return;
      case 'AnonymousGtid':
        this.gtid = undefined;
        return;
      case 'Query':
        this.onQuery(event);
        return;
      case 'Xid':
      case 'XaPrepare':
        this.commitEvent(event);
        return;
      default:
        return;
    }
  }

  private onQuery(event: ZEvent): void {
    const query = String(event.query);
    const head = query.slice(0, 24).trimStart().toUpperCase();
    if (head.startsWith('BEGIN') || head.startsWith('START TRANSACTION') || head.startsWith('XA START') || head.startsWith('XA BEGIN')) {
      this.inTransaction = true;
      return;
    }
    if (head.startsWith('COMMIT') || head.startsWith('XA COMMIT') || head.startsWith('XA ROLLBACK')) {
      this.commitEvent(event);
      return;
    }
    if (head.startsWith('ROLLBACK')) {
      if (!/^ROLLBACK\s+(WORK\s+)?TO\b/.test(head)) this.commitEvent(event);
      return;
    }
    if (head.startsWith('SAVEPOINT') || head.startsWith('RELEASE') || head.startsWith('XA END') || head.startsWith('XA PREPARE')) return;
    // DDL (or a statement logged as such): column lists may change, so table metadata is re-read.
    const at = this.eventPosition(event.nextPosition > 0 ? event.nextPosition : this.cursor);
    this.events.schemaChange(query, String(event.schema ?? ''), at, event.timestamp);
    if (!this.inTransaction) this.commitEvent(event);
  }

  private commitEvent(event: ZEvent): void {
    const offset = event.nextPosition > 0 ? event.nextPosition : this.cursor;
    this.commit({ file: this.file, offset }, event.timestamp, this.gtid);
  }

  /**
   * A transaction boundary: its GTID joins the state, and the position carries the state, the
   * server's identity and the generation, which is what a resume anywhere in the topology needs.
   */
  private commit(at: { file: string; offset: number }, timestamp: number, gtid: string | undefined, newTransaction = true): void {
    const position: BinlogPosition = { file: at.file, offset: at.offset };
    if (gtid !== undefined) {
      position.gtid = gtid;
      if (newTransaction) this.gtids?.add(gtid);
    }
    if (this.gtids) position.gtidSet = this.gtids.toString();
    if (this.server !== undefined) position.server = this.server;
    if (this.generation > 0) position.generation = this.generation;
    if (this.skip > 0) {
      this.logger.warn({ position, skip: this.skip }, 'transaction re-read after a reconnect had fewer rows events than delivered');
    }
    this.lastCommit = position;
    this.inTransaction = false;
    this.gtid = undefined;
    this.delivered = 0;
    this.skip = 0;
    this.events.commit(position, timestamp);
  }
}
