import type { RowEvent } from '../event/index.ts';

/** One event a sink rejected permanently, or a plugin failed on, kept for inspection and replay. */
export interface DeadLetter {
  task: string;
  /** The sink that rejected it, or `plugin:<name>` when a plugin threw on it. */
  origin: string;
  reason: string;
  at: string;
  event: RowEvent;
}

/** Where dead letters go: a file (built in), a Redis list or another sink (registered by plugins). */
export interface DeadLetterStore {
  put(letters: readonly DeadLetter[]): Promise<void>;
  /** Newest last; `limit` counts from the end. */
  list(task?: string, limit?: number): Promise<DeadLetter[]>;
  close(): Promise<void>;
}
