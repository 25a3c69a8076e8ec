import type { BinlogSource, SourceHandler, StartFrom } from '../../core/source/source.ts';
import type { BinlogPosition, RowEvent, SchemaChangeEvent } from '../../core/event/index.ts';

type Emission =
  { kind: 'event'; event: RowEvent } | { kind: 'schema'; change: SchemaChangeEvent } | { kind: 'commit'; position: BinlogPosition; timestamp: number };

/**
 * An in-memory source of our own interface, for unit tests of the runtime (never for a server). It
 * behaves like the binlog source where the runtime depends on it (core/source/source.ts):
 * - every row event has its own position (the end of its rows event), inside its transaction and
 *   before the transaction's commit position, which only the commit carries;
 * - `pause()` takes effect at once, even from inside `onEvent`: nothing more is emitted until
 *   `resume()`, which goes on with what was left (on a later tick, as the real source's socket does).
 */
export class FakeSource implements BinlogSource {
  handler: SourceHandler | undefined;
  from: StartFrom | undefined;
  paused = false;
  pauses = 0;
  stopped = false;
  /** The position of every commit emitted so far, in order: the only positions a task may save. */
  readonly commits: BinlogPosition[] = [];
  /** Row events emitted so far. */
  emitted = 0;
  /** Called at each resume(), before emission goes on (a test reads the runtime's state there). */
  onResume: (() => void) | undefined;
  private readonly backlog: Emission[] = [];
  private draining = false;

  async start(from: StartFrom, handler: SourceHandler): Promise<void> {
    this.from = from;
    this.handler = handler;
  }
  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.onResume?.();
    setImmediate(() => this.drain());
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.backlog.length = 0;
  }

  /** Emissions not delivered yet (held back by pause()). */
  get held(): number {
    return this.backlog.length;
  }

  /**
   * One transaction of single-row inserts into `shop.orders` with the given ids, starting at byte
   * `offset` of the binlog: each rows event is 10 bytes, the i-th ends at offset + 10·(i+1), and the
   * commit (XID) event after them ends at offset + 10·ids.length + 10. Returns the commit position.
   */
  transaction(offset: number, ids: number[], file = 'bin.000001'): BinlogPosition {
    ids.forEach((id, i) => this.backlog.push({ kind: 'event', event: insert(id, { file, offset: offset + 10 * (i + 1) }) }));
    const position = { file, offset: offset + 10 * ids.length + 10 };
    this.backlog.push({ kind: 'commit', position, timestamp: 1_700_000_000_000 + position.offset });
    this.drain();
    return position;
  }

  /**
   * A DDL statement on `shop.orders` starting at `offset`: its schema change ends at offset + 10, and
   * the statement is its own transaction, so the commit follows at the same position. Returns it.
   */
  ddl(offset: number, change: SchemaChangeEvent['change'] = 'truncate', file = 'bin.000001'): BinlogPosition {
    const position = { file, offset: offset + 10 };
    const statement = change === 'truncate' ? 'TRUNCATE TABLE shop.orders' : `${change.toUpperCase()} TABLE shop.orders`;
    this.backlog.push({
      kind: 'schema',
      change: { kind: 'schema', change, schema: 'shop', table: 'orders', statement, position, timestamp: 1_700_000_000_000, index: 0 },
    });
    this.backlog.push({ kind: 'commit', position, timestamp: 1_700_000_000_000 + position.offset });
    this.drain();
    return position;
  }

  /** Commit offsets emitted so far. */
  get commitOffsets(): number[] {
    return this.commits.map((p) => p.offset);
  }

  private drain(): void {
    if (this.draining) return; // a call from inside a handler: the loop below goes on
    this.draining = true;
    try {
      while (!this.paused && !this.stopped && this.backlog.length > 0) {
        const next = this.backlog.shift()!;
        if (next.kind === 'event') {
          this.emitted++;
          this.handler!.onEvent(next.event);
        } else if (next.kind === 'schema') {
          this.handler!.onSchemaChange?.(next.change);
        } else {
          this.commits.push(next.position);
          this.handler!.onCommit(next.position, next.timestamp);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

export function insert(id: number, position: BinlogPosition = { file: 'bin.000001', offset: 4 }, note = `n${id}`): RowEvent {
  return {
    schema: 'shop',
    table: 'orders',
    action: 'insert',
    rows: [
      [
        { column: 'id', value: id },
        { column: 'note', value: note },
      ],
    ],
    position,
    timestamp: 1_700_000_000_000,
    primaryKey: ['id'],
  };
}
