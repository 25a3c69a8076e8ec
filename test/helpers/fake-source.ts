import type { BinlogSource, SourceHandler, StartFrom } from '../../core/source/source.ts';
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';

/** An in-memory source of our own interface, for unit tests of the runtime (never for a server). */
export class FakeSource implements BinlogSource {
  handler: SourceHandler | undefined;
  from: StartFrom | undefined;
  paused = false;
  pauses = 0;
  stopped = false;

  async start(from: StartFrom, handler: SourceHandler): Promise<void> {
    this.from = from;
    this.handler = handler;
  }
  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }

  /** Emit one transaction of inserts into `shop.orders` with the given ids. */
  transaction(offset: number, ids: number[], file = 'bin.000001'): BinlogPosition {
    const position = { file, offset };
    for (const id of ids) this.handler!.onEvent(insert(id, position));
    this.handler!.onCommit(position, 1_700_000_000_000 + offset);
    return position;
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
