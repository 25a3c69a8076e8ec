// The soak run's load: mixed writes paced to a rate (statements per second over all tables), in
// transactions of 1-4 statements — upserts, updates, deletes, and now and then an update of a range of
// rows in one statement — spread over the soak's tables; and a heartbeat per table set, a row whose
// `at_ms` is the time it was written, so that a sink's copy of it says how far behind the sink is.
import type { Pool } from 'mysql2/promise';
import { sleep } from './common.ts';

export const SOAK_TABLE_SQL = (table: string) =>
  `CREATE TABLE ${table} (id INT PRIMARY KEY, note VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NULL, qty INT NOT NULL, version INT NOT NULL)`;
export const BEAT_TABLE_SQL = (table: string) => `CREATE TABLE ${table} (id INT PRIMARY KEY, at_ms BIGINT NOT NULL)`;

export interface SoakWriterOptions {
  /** Qualified tables written at random. */
  tables: string[];
  /** Qualified heartbeat tables, one row (id 1) each, rewritten every `beatMs`. */
  beats: string[];
  /** Statements per second, all tables together. */
  rate: number;
  keys: number;
  beatMs: number;
}

export class SoakWriter {
  statements = 0;
  transactions = 0;
  errors = 0;
  private stopped = false;
  private running: Promise<void>[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly options: SoakWriterOptions,
  ) {}

  start(): void {
    this.running = [this.writes(), this.heartbeats()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private async writes(): Promise<void> {
    const { tables, rate, keys } = this.options;
    const t0 = performance.now();
    let due = 0;
    while (!this.stopped) {
      const size = 1 + Math.floor(Math.random() * 4);
      const wait = t0 + (due * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      due += size;
      const conn = await this.pool.getConnection();
      try {
        await conn.beginTransaction();
        for (let i = 0; i < size; i++) {
          const table = tables[Math.floor(Math.random() * tables.length)]!;
          const id = 1 + Math.floor(Math.random() * keys);
          const roll = Math.random();
          if (roll < 0.45) {
            await conn.query(
              `INSERT INTO ${table} (id, note, amount, qty, version) VALUES (?, ?, ?, ?, 1)
               ON DUPLICATE KEY UPDATE note = VALUES(note), amount = VALUES(amount), qty = qty + 1, version = version + 1`,
              [id, `soak-${id}-${this.statements}`, (Math.random() * 10000).toFixed(2), Math.floor(Math.random() * 100)],
            );
          } else if (roll < 0.75) {
            await conn.query(`UPDATE ${table} SET qty = qty + 1, version = version + 1, amount = NULL WHERE id = ?`, [id]);
          } else if (roll < 0.8) {
            await conn.query(`UPDATE ${table} SET version = version + 1, note = CONCAT('range-', ?) WHERE id BETWEEN ? AND ?`, [this.statements, id, id + 20]);
          } else {
            await conn.query(`DELETE FROM ${table} WHERE id = ?`, [id]);
          }
          this.statements++;
        }
        await conn.commit();
        this.transactions++;
      } catch {
        this.errors++;
        await conn.rollback().catch(() => undefined);
        await sleep(100);
      } finally {
        conn.release();
      }
    }
  }

  private async heartbeats(): Promise<void> {
    const { beats, beatMs } = this.options;
    while (!this.stopped) {
      const at = Date.now();
      for (const table of beats) {
        await this.pool.query(`INSERT INTO ${table} (id, at_ms) VALUES (1, ?) ON DUPLICATE KEY UPDATE at_ms = VALUES(at_ms)`, [at]).catch(() => this.errors++);
      }
      await sleep(Math.max(0, at + beatMs - Date.now()));
    }
  }
}
