// A paced writer: every `intervalMs`, one autocommitted multi-row INSERT of `rowsPerTx` rows with
// explicit ids 1, 2, 3, ... into the bench table; `onCommit(ids, at)` gets the wall-clock time at
// which the COMMIT returned. A late tick is not skipped: the writer catches up on its schedule.
import type { Connection } from 'mysql2/promise';
import { INSERT_COLUMNS, rowValuesSql } from './orders.ts';
import { sleep } from './common.ts';

export class PacedWriter {
  nextId = 1;
  committedRows = 0;
  private stopped = false;
  private running: Promise<void> | undefined;
  startedAt = 0;
  stoppedAt = 0;

  constructor(
    private readonly conn: Connection,
    private readonly qualifiedTable: string,
    private readonly options: { rate: number; rowsPerTx: number; onCommit?: (ids: number[], at: number) => void },
  ) {}

  get intervalMs(): number {
    return (1000 * this.options.rowsPerTx) / this.options.rate;
  }

  /** Writes for `seconds` (or until stop()). */
  start(seconds = Infinity): Promise<void> {
    this.running = this.loop(seconds);
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(seconds: number): Promise<void> {
    const { rowsPerTx, onCommit } = this.options;
    const t0 = performance.now();
    this.startedAt = Date.now();
    const ticks = Number.isFinite(seconds) ? Math.round((seconds * 1000) / this.intervalMs) : Infinity;
    for (let k = 0; k < ticks && !this.stopped; k++) {
      const wait = t0 + k * this.intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      const ids: number[] = [];
      const values: string[] = [];
      for (let j = 0; j < rowsPerTx; j++) {
        const id = this.nextId++;
        ids.push(id);
        values.push(`(${id}, ${rowValuesSql(String(id))})`);
      }
      await this.conn.query(`INSERT INTO ${this.qualifiedTable} (id, ${INSERT_COLUMNS.slice(1)} VALUES ${values.join(',')}`);
      const at = Date.now();
      this.committedRows += rowsPerTx;
      onCommit?.(ids, at);
    }
    this.stoppedAt = Date.now();
  }
}
