/**
 * The snapshot's chunks between being read and being acknowledged by every sink. Chunks are read
 * ahead while earlier ones are written; each chunk's progress is saved only once it and every chunk
 * before it are acknowledged, so a restart resumes after the last chunk every sink has.
 */
import type { Segment, SnapshotProgress } from '../checkpoint/index.ts';
import { AbortedError } from '../errors/index.ts';

/**
 * A segment of our own per chunk: TaskRunner counts deliveries on `pending` (++ per event and sink,
 * -- per acknowledgement), so a setter tells when the chunk is acknowledged by every sink.
 */
export class ChunkSegment implements Segment {
  readonly timestamp: number;
  readonly settled: Promise<void>;
  private count = 0;
  private closed = false;
  private resolve!: () => void;

  constructor(timestamp: number) {
    this.timestamp = timestamp;
    this.settled = new Promise((resolve) => (this.resolve = resolve));
  }
  get pending(): number {
    return this.count;
  }
  set pending(value: number) {
    this.count = value;
    if (value === 0 && this.closed) this.resolve();
  }
  /** Every row of the chunk was handed over; settles once nothing is pending. */
  close(): void {
    this.closed = true;
    if (this.count === 0) this.resolve();
  }
}

export interface ChunkInFlight {
  segment: ChunkSegment;
  /** Progress to save once this chunk (and every one before it) is acknowledged; undefined: save nothing. */
  progress: SnapshotProgress | undefined;
  rows: number;
}

export interface ChunkWindowOptions {
  /** Chunks handed over and not yet acknowledged, at most. */
  maxChunks: number;
  /** Whether the task holds as much in flight as it may: then only one chunk stays unacknowledged. */
  busy: () => boolean;
  /** Aborts the wait for an acknowledgement (AbortedError). */
  signal: AbortSignal;
  /** Called for each acknowledged chunk, oldest first: count its rows, save its progress. */
  settled: (chunk: ChunkInFlight) => Promise<void>;
}

export class ChunkWindow {
  private readonly chunks: ChunkInFlight[] = [];

  constructor(private readonly options: ChunkWindowOptions) {}

  /** Takes a chunk whose rows were handed to the task; waits while the window is full. */
  async add(chunk: ChunkInFlight): Promise<void> {
    this.chunks.push(chunk);
    while (this.chunks.length > this.options.maxChunks || (this.chunks.length > 1 && this.options.busy())) await this.settleOldest();
  }

  /** A chunk of no rows: `progress` is saved once every chunk before it is acknowledged. */
  addMarker(progress: SnapshotProgress): Promise<void> {
    const segment = new ChunkSegment(Date.now());
    segment.close();
    return this.add({ segment, progress, rows: 0 });
  }

  /** Waits until every chunk is acknowledged (and its progress saved). */
  async drain(): Promise<void> {
    while (this.chunks.length > 0) await this.settleOldest();
  }

  private async settleOldest(): Promise<void> {
    const chunk = this.chunks.shift()!;
    await untilSettled(chunk.segment, this.options.signal);
    await this.options.settled(chunk);
  }
}

function untilSettled(segment: ChunkSegment, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new AbortedError('the snapshot was stopped'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortedError('the snapshot was stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    void segment.settled.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
