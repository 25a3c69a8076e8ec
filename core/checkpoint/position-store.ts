import type { BinlogPosition } from '../event/index.ts';

/** Progress of an initial snapshot, stored with the position so a crash resumes at the last finished chunk. */
export interface SnapshotProgress {
  /** Binlog position recorded before the first chunk was read; streaming starts here afterwards. */
  startPosition: BinlogPosition;
  /** Tables still to read, in order; the first is in progress. */
  pendingTables: string[];
  /** Key of the last row of the last acknowledged chunk of the table in progress (JSON values). */
  lastKey?: unknown[];
  rowsDone: number;
}

/**
 * Progress of a DDL statement that changes several tables, stored with the position before it: how
 * many of its changes each sink has applied, so that after a crash no sink applies one twice.
 */
export interface SchemaChangeProgress {
  /** Where the statement ends. */
  at: BinlogPosition;
  /** Sink name -> changes of the statement it has applied. */
  applied: Record<string, number>;
}

export interface StoredPosition {
  position: BinlogPosition;
  /** Milliseconds since the epoch of the commit. */
  updatedAt: number;
  snapshot?: SnapshotProgress;
  schemaChange?: SchemaChangeProgress;
}

/**
 * Whether a store can save positions now. What reaches a sink while positions cannot be stored is
 * delivered again by whoever runs the task next, so the task stops handing batches to its sinks
 * (and holds its source) until saves can succeed again.
 */
export interface SaveAvailability {
  readonly canSave: boolean;
  /** Calls `listener` on every change of `canSave`; returns the function that unsubscribes it. */
  onChange(listener: (canSave: boolean) => void): () => void;
}

/**
 * Where committed positions live: a local file standalone, ZooKeeper in a cluster. `save` of a
 * store that lost the task's ownership must fail with FencedError and change nothing.
 */
export interface PositionStore {
  load(task: string): Promise<StoredPosition | undefined>;
  save(task: string, stored: StoredPosition): Promise<void>;
  /** Left out by a store that can always save (the local file). */
  readonly availability?: SaveAvailability;
  /** Remove a task's position (reset-position to a fresh start). */
  clear?(task: string): Promise<void>;
  close(): Promise<void>;
}
