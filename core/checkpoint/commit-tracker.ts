import type { BinlogPosition } from '../event/index.ts';

/**
 * The events of one transaction, counted until every sink they went to acknowledged them.
 * A segment closes at the transaction's commit, which gives it the position to commit.
 */
export interface Segment {
  pending: number;
  position?: BinlogPosition;
  timestamp: number;
}

/**
 * Decides which position may be committed (Redpanda Connect / Vector acknowledgements): a
 * position is committable only when every event before it was acknowledged by every sink it
 * went to, and positions are committed in binlog order. Filtered events never count as pending.
 */
export class CommitTracker {
  private readonly segments: Segment[] = [];
  private head = 0;
  private open: Segment = { pending: 0, timestamp: 0 };
  private committable: { position: BinlogPosition; timestamp: number } | undefined;

  /** The segment new deliveries belong to; `acknowledge(segment)` once per delivery. */
  current(): Segment {
    return this.open;
  }

  /** The source read a transaction's commit: close its segment with the commit position. */
  commit(position: BinlogPosition, timestamp: number): void {
    this.open.position = position;
    this.open.timestamp = timestamp;
    this.segments.push(this.open);
    this.open = { pending: 0, timestamp: 0 };
    this.advance();
  }

  acknowledge(segment: Segment, count = 1): void {
    segment.pending -= count;
    if (segment.pending === 0) this.advance();
  }

  private advance(): void {
    while (this.head < this.segments.length) {
      const segment = this.segments[this.head]!;
      if (segment.pending > 0) break;
      this.committable = { position: segment.position!, timestamp: segment.timestamp };
      this.head++;
    }
    // Compact now and then so the array does not grow with every transaction ever read.
    if (this.head > 1024 && this.head * 2 > this.segments.length) {
      this.segments.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The newest position all of whose preceding deliveries are acknowledged. */
  committablePosition(): { position: BinlogPosition; timestamp: number } | undefined {
    return this.committable;
  }
}
