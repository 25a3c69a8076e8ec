import type { BinlogPosition } from '../event/index.ts';

/**
 * What the status endpoint and metrics show about a task's snapshot. The snapshot writes it as it
 * goes; the task holds it (TaskRunner.snapshotStatus), so it lives and goes with the task.
 */
export interface SnapshotStatus {
  state: 'running' | 'done' | 'aborted' | 'failed';
  startPosition: BinlogPosition;
  /** Rows read and acknowledged by every sink (saved progress). */
  rowsDone: number;
  /** Rows handed to the pipeline so far (ahead of rowsDone by the chunks in flight). */
  rowsSent: number;
  /** Estimate from information_schema TABLE_ROWS. */
  rowsTotal: number;
  table?: string;
  tablesDone: number;
  tablesTotal: number;
  startedAt: number;
  finishedAt?: number;
  resumed: boolean;
  /** The server's id of the snapshot's connection (SHOW PROCESSLIST), while it has one. */
  connectionId?: number;
}
