import type { Pool } from 'mysql2/promise';

/**
 * Writes random inserts, updates and deletes to a table of `createTableSql` until stopped: the load
 * for crash, fault and end-to-end tests. Besides `id INT PRIMARY KEY, note, amount DECIMAL(12,2),
 * qty, version` the table has a column of each kind whose value Tunnel must carry exactly (docs/values.md):
 * BIGINT UNSIGNED beyond 2^53, DOUBLE, DATETIME(6), TIMESTAMP(3), DATE, TIME(3), JSON, VARBINARY,
 * BIT, ENUM, SET and 4-byte UTF-8 text; a test compares the sinks with them as the server reads them
 * (compare-rows.ts, tableRows). Every statement is its own transaction unless `batch` groups several.
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
    return (
      `CREATE TABLE ${table} (id INT PRIMARY KEY, note VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL, amount DECIMAL(12,2) NULL, qty INT NOT NULL, ` +
      'version INT NOT NULL, big BIGINT UNSIGNED NULL, ratio DOUBLE NULL, at DATETIME(6) NULL, ts TIMESTAMP(3) NULL DEFAULT NULL, day DATE NULL, ' +
      "dur TIME(3) NULL, doc JSON NULL, bin VARBINARY(16) NULL, flags BIT(5) NULL, state ENUM('new','paid','gone') NULL, tags SET('a','b','c') NULL)"
    );
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
            const wide = wideValues(id, this.statements);
            await conn.query(
              `INSERT INTO ${this.table} (id, note, amount, qty, version, big, ratio, at, ts, day, dur, doc, bin, flags, state, tags)
               VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, b'${wide.flags}', ?, ?)
               ON DUPLICATE KEY UPDATE note = VALUES(note), amount = VALUES(amount), qty = qty + 1, version = version + 1, big = VALUES(big),
                 ratio = VALUES(ratio), at = VALUES(at), ts = VALUES(ts), day = VALUES(day), dur = VALUES(dur), doc = VALUES(doc),
                 bin = VALUES(bin), flags = VALUES(flags), state = VALUES(state), tags = VALUES(tags)`,
              [
                id,
                `note-${id}-${this.statements} ✓😀`,
                (Math.random() * 10000).toFixed(2),
                Math.floor(Math.random() * 100),
                wide.big,
                wide.ratio,
                wide.at,
                wide.ts,
                wide.day,
                wide.dur,
                wide.doc,
                wide.bin,
                wide.state,
                wide.tags,
              ],
            );
          } else if (roll < 0.8) {
            const wide = wideValues(id, this.statements);
            await conn.query(
              `UPDATE ${this.table} SET qty = qty + 1, version = version + 1, amount = NULL, ratio = ?, ts = NULL, doc = ?, bin = ?, flags = b'${wide.flags}' WHERE id = ?`,
              [wide.ratio, wide.doc, wide.bin, id],
            );
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

/** Random values of the wide columns, a NULL now and then; `n` makes the text unique per write. */
function wideValues(id: number, n: number) {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(Math.random() * values.length)]!;
  const sometimesNull = <T>(value: T): T | null => (Math.random() < 0.1 ? null : value);
  const digits = (count: number) => Array.from({ length: count }, () => Math.floor(Math.random() * 10)).join('');
  const two = (v: number) => String(v).padStart(2, '0');
  const year = 1971 + Math.floor(Math.random() * 60);
  const date = `${year}-${two(1 + Math.floor(Math.random() * 12))}-${two(1 + Math.floor(Math.random() * 28))}`;
  const time = `${two(Math.floor(Math.random() * 24))}:${two(Math.floor(Math.random() * 60))}:${two(Math.floor(Math.random() * 60))}`;
  return {
    // beyond 2^53 (exact only as a string) or small, sometimes the largest
    big: sometimesNull(pick([String(9007199254740993n + BigInt(Math.floor(Math.random() * 1e15)) * 9973n), '18446744073709551615', String(id)])),
    ratio: sometimesNull(pick([Math.random() * 1e6 - 5e5, 0.1, 1e-300, Math.random()])),
    at: sometimesNull(`${date} ${time}.${digits(6)}`),
    ts: sometimesNull(`${Math.min(year, 2037)}${date.slice(4)} ${time}.${digits(3)}`),
    day: sometimesNull(date),
    dur: sometimesNull(
      `${pick(['-', ''])}${Math.floor(Math.random() * 838)}:${two(Math.floor(Math.random() * 60))}:${two(Math.floor(Math.random() * 60))}.${digits(3)}`,
    ),
    doc: sometimesNull(JSON.stringify({ n, id, s: `ü ${digits(3)} "q"`, list: [Math.random() < 0.5, null, Number(digits(4))], deep: { k: digits(2) } })),
    bin: sometimesNull(Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 16) }, () => Math.floor(Math.random() * 256)))),
    flags: Array.from({ length: 5 }, () => (Math.random() < 0.5 ? '1' : '0')).join(''),
    state: sometimesNull(pick(['new', 'paid', 'gone'])),
    tags: sometimesNull(pick(['', 'a', 'b,c', 'a,b,c'])),
  };
}
