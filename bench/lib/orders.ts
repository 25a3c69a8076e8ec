// The 10-column orders table that the live phases (latency, failover) write into while a worker
// follows the binlog: its definition and the SQL of its n-th row.
import { mysqlConnection } from '../../test/helpers/servers.ts';
import { BENCH } from './common.ts';

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
