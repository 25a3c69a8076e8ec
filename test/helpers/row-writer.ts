import type { Pool } from 'mysql2/promise';

/**
 * Writes random inserts, updates and deletes to a table `(id INT PRIMARY KEY, note VARCHAR(64),
 * amount DECIMAL(12,2), qty INT, version INT)` until stopped: the load for crash and fault tests.
 * Every statement is its own transaction unless `batch` groups several.
 */
export class RowWriter {
  private stopped = false;
  private running: Promise<void> | undefined;
  statements = 0;
  errors = 0;

  constructor(
    private readonly pool: Pool,
    private readonly table: string,
    private readonly options: { keys?: number; batch?: number; pauseMs?: number } = {},
  ) {}

  static createTableSql(table: string): string {
    return `CREATE TABLE ${table} (id INT PRIMARY KEY, note VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NULL, qty INT NOT NULL, version INT NOT NULL)`;
  }

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    const keys = this.options.keys ?? 500;
    const batch = this.options.batch ?? 5;
    while (!this.stopped) {
      const conn = await this.pool.getConnection();
      try {
        await conn.beginTransaction();
        for (let i = 0; i < batch; i++) {
          const id = 1 + Math.floor(Math.random() * keys);
          const roll = Math.random();
          if (roll < 0.5) {
            await conn.query(
              `INSERT INTO ${this.table} (id, note, amount, qty, version) VALUES (?, ?, ?, ?, 1)
               ON DUPLICATE KEY UPDATE note = VALUES(note), amount = VALUES(amount), qty = qty + 1, version = version + 1`,
              [id, `note-${id}-${this.statements}`, (Math.random() * 10000).toFixed(2), Math.floor(Math.random() * 100)],
            );
          } else if (roll < 0.8) {
            await conn.query(`UPDATE ${this.table} SET qty = qty + 1, version = version + 1, amount = NULL WHERE id = ?`, [id]);
          } else {
            await conn.query(`DELETE FROM ${this.table} WHERE id = ?`, [id]);
          }
          this.statements++;
        }
        await conn.commit();
      } catch {
        this.errors++;
        await conn.rollback().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        conn.release();
      }
      if (this.options.pauseMs) await new Promise((r) => setTimeout(r, this.options.pauseMs));
    }
  }
}
