// The prepared binlog: ROWS rows of a 10-column table inserted in transactions of 10,000
// (INSERT ... SELECT from a recursive CTE, as in test/helpers/source-bench.ts), and the binlog range
// they occupy. Every decode and catch-up run reads this same range.
import type { BinlogPosition } from '../../core/event/index.ts';
import { createTestDatabase, mysqlConnection } from '../../test/helpers/servers.ts';
import { binlogEnd } from '../../test/helpers/source-harness.ts';
import { BENCH } from './common.ts';

export const PER_TRANSACTION = 10_000;
export const COLUMNS = 10;

export interface Dataset {
  rows: number;
  from: BinlogPosition;
  end: BinlogPosition;
  binlogBytes: number;
  /** Rows events in the range (rows are packed into events of up to ~8 KB by the server). */
  rowsEvents: number;
  prepareMs: number;
}

export const ordersDdl = (table: string) => `CREATE TABLE ${table} (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NOT NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  note VARCHAR(100) NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at TIMESTAMP NULL,
  flags TINYINT UNSIGNED NOT NULL,
  score DOUBLE NOT NULL,
  attrs JSON NULL)`;

/** The 9 non-key columns of n-th row, as SQL expressions over `n` (a CTE counter or a literal). */
export const rowValuesSql = (n: string) =>
  `${n} % 977, ELT(1 + ${n} % 4, 'new', 'paid', 'shipped', 'cancelled'), ${n} * 1.25, ` +
  `IF(${n} % 10 = 0, NULL, CONCAT('order note ', ${n})), '2024-05-01 10:00:00.123456' + INTERVAL ${n} SECOND, ` +
  `'2024-06-01 00:00:00' + INTERVAL ${n} SECOND, ${n} % 256, ${n} / 7, JSON_OBJECT('tier', ${n} % 5, 'tags', JSON_ARRAY('a', 'b'))`;

export const INSERT_COLUMNS = '(customer_id, status, amount, note, created_at, updated_at, flags, score, attrs)';

/** A fresh `table` (10 columns) in the bench database, created if missing. */
export async function freshTable(conn: Awaited<ReturnType<typeof mysqlConnection>>, table: string): Promise<string> {
  const qualified = `\`${BENCH.database}\`.\`${table}\``;
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${BENCH.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
  await conn.query(`DROP TABLE IF EXISTS ${qualified}`);
  await conn.query(ordersDdl(qualified));
  return qualified;
}

export async function prepareDataset(rows: number): Promise<Dataset> {
  const started = performance.now();
  const db = BENCH.database;
  await createTestDatabase(db);
  const conn = await mysqlConnection();
  try {
    await conn.query('SET SESSION max_recursive_iterations = 10000000');
    await conn.query(ordersDdl(`\`${db}\`.\`${BENCH.table}\``));
    const from = await binlogEnd();
    for (let done = 0; done < rows; done += PER_TRANSACTION) {
      const count = Math.min(PER_TRANSACTION, rows - done);
      await conn.query(
        `INSERT INTO \`${db}\`.\`${BENCH.table}\` ${INSERT_COLUMNS}
         WITH RECURSIVE s(n) AS (SELECT ${done + 1} UNION ALL SELECT n + 1 FROM s WHERE n < ${done + count})
         SELECT ${rowValuesSql('n')} FROM s`,
      );
    }
    const end = await binlogEnd();
    const binlogBytes = await rangeBytes(conn, from, end);
    return { rows, from, end, binlogBytes, rowsEvents: 0, prepareMs: performance.now() - started };
  } finally {
    await conn.end();
  }
}

async function rangeBytes(conn: Awaited<ReturnType<typeof mysqlConnection>>, from: BinlogPosition, end: BinlogPosition): Promise<number> {
  if (from.file === end.file) return end.offset - from.offset;
  const [list] = (await conn.query('SHOW BINARY LOGS')) as unknown as [{ Log_name: string; File_size: string | number }[]];
  let bytes = 0;
  for (const { Log_name: name, File_size: size } of list) {
    if (name < from.file || name > end.file) continue;
    const start = name === from.file ? from.offset : 0;
    const stop = name === end.file ? end.offset : Number(size);
    bytes += stop - start;
  }
  return bytes;
}

export function reached(p: BinlogPosition, end: BinlogPosition): boolean {
  return p.file > end.file || (p.file === end.file && p.offset >= end.offset);
}
