import type { RowEvent, SchemaChangeEvent } from '../event/index.ts';

/**
 * What a sink says about one event of a batch. A bulk can half-fail, so results are per event,
 * in the batch's order (Vector-style acknowledgements).
 */
export type DeliveryResult =
  | { status: 'ok' }
  /** Transient (429, 5xx, timeout, connection lost): the runtime retries it with backoff, in order. */
  | { status: 'retry'; reason: string }
  /** Permanent (mapping conflict, 4xx): the runtime dead-letters it with the reason and goes on. */
  | { status: 'rejected'; reason: string };

/**
 * The epoch of a task that runs without a cluster: a constant, below every ZooKeeper epoch (those
 * start at 1), so a task taken over by a cluster fences off a standalone worker still writing.
 */
export const STANDALONE_EPOCH = 0;

/**
 * Who writes: the task and the epoch of its current ownership (cluster: the ZooKeeper version of
 * the task's ownership, docs/cluster.md; standalone: STANDALONE_EPOCH). A sink that keeps state of
 * its own refuses writes of an epoch older than the newest it has seen for the task
 * (docs/architecture.md, "Fencing at the sink"); each event's `position` orders what it writes.
 */
export interface WriteFence {
  readonly task: string;
  readonly epoch: number;
}

export interface SinkBatch extends WriteFence {
  readonly events: readonly RowEvent[];
  /** 1 for the first try of these events, higher on retries (sinks may treat version conflicts differently). */
  readonly attempt: number;
  /** Aborted on shutdown past its deadline or on loss of task ownership: stop work and reject. */
  readonly signal: AbortSignal;
}

export interface BatchLimits {
  /** Most row changes in one batch (a binlog event of a multi-row statement counts each of its rows). */
  maxRows: number;
  /** Most estimated bytes in one batch. */
  maxBytes: number;
  /** Longest a non-empty batch waits before it is written, so quiet tables still flush promptly. */
  maxWaitMs: number;
}

export interface SchemaChangeContext extends WriteFence {
  /** 1 for the first try, higher on retries. */
  readonly attempt: number;
  /** Aborted on shutdown past its deadline or on loss of task ownership: stop work and reject. */
  readonly signal: AbortSignal;
}

/**
 * A destination. The runtime calls `write` for one batch at a time per sink, in binlog order, so
 * changes to one primary key arrive in order; a sink may parallelise inside a batch as long as
 * it keeps per-key order (e.g. lanes by a hash of the document id).
 *
 * `write` resolves once every event is durably written or definitively rejected, with one result
 * per event. A thrown error means "nothing is known to be written": every event is retried; a thrown
 * FencedError (core/errors) means the sink refused the write because a newer owner of the task wrote
 * there (the batch's `epoch` is older): the task stops at once and commits nothing more.
 */
export interface Sink {
  /** Connect, create indexes/templates; called once before the first write. */
  start?(signal: AbortSignal): Promise<void>;
  write(batch: SinkBatch): Promise<DeliveryResult[]>;
  /**
   * A thrown FencedError (core/errors) says the sink refused the write because a newer owner of
   * the task wrote there: the task stops at once, committing nothing more.
   *
   * A schema change at its place in the stream: called after every batch before it was written and
   * before any batch after it (docs/schema-changes.md). `truncate`, `drop` and `drop-database`
   * remove the table's (or database's) documents or keys; `rename` moves them to the new name;
   * `alter` and `create` let a sink that maps types prepare. Must be idempotent: after a crash it is
   * called again. `retry` is tried again with backoff; `rejected` is recorded as a dead letter and
   * the task goes on. A sink without this method is not told (a warning says so once per task).
   */
  applySchemaChange?(event: SchemaChangeEvent, context: SchemaChangeContext): Promise<DeliveryResult>;
  /** Release connections; called once after the last write resolved. */
  close(): Promise<void>;
  /**
   * Batch limits this sink prefers; a field the task's `batch` config sets overrides it, a field
   * neither gives is the default (core/runtime/batch-limits.ts).
   */
  readonly batchLimits?: Partial<BatchLimits> & {
    /** @deprecated The old name of `maxRows`. */
    maxEvents?: number;
  };
}
