// The prepared binlog every decoder and catch-up reads (issue 16's dataset): into
// t(id BIGINT PK, a INT, b VARCHAR(64), c DECIMAL(12,2), d DATETIME(6), e JSON, f DOUBLE),
// `inserts` rows inserted in transactions of 1,000, then `inserts / 5` of them updated (every column
// but the key) and `inserts / 10` deleted, also 1,000 per transaction: 650,000 row changes for the
// default 500,000. Written once per server before anything is measured; every tool then reads the
// same range [from, end) from the same start position.
//
// After `end` comes one more transaction, a one-row insert into the marker table t_end: a reader
// that sees no commits (Debezium emits a record per row change, none per commit) knows it has every
// change of the range once the marker's row arrives.
import type { BinlogPosition } from '../../core/event/index.ts';
import { BENCH } from './common.ts';
import { binlogEndOf, connectTo, gtidPosition, rangeBytes, serverVersion, type SourceName, type SourceServer } from './source-servers.ts';

export const PER_TRANSACTION = 1_000;
export const COLUMNS = 7;

export interface DatasetShape {
  inserts: number;
  updates: number;
  deletes: number;
}

export function shapeOf(inserts: number): DatasetShape {
  const round = (n: number) => Math.floor(n / PER_TRANSACTION) * PER_TRANSACTION;
  if (inserts < 10 * PER_TRANSACTION || inserts % PER_TRANSACTION !== 0) {
    throw new Error(`BENCH_ROWS=${inserts}: expected a multiple of ${PER_TRANSACTION} of at least ${10 * PER_TRANSACTION}`);
  }
  return { inserts, updates: round(inserts / 5), deletes: round(inserts / 10) };
}

export interface Dataset {
  server: SourceName;
  version: string;
  shape: DatasetShape;
  /** Row changes in the range: inserts + updates + deletes. */
  changes: number;
  /** Rows the table holds at the end (what every sink must hold after a catch-up). */
  finalRows: number;
  from: BinlogPosition;
  /** The end of the last transaction on t. */
  end: BinlogPosition;
  /** The GTID position at `from` (MariaDB's gtid_binlog_pos, MySQL's gtid_executed), when the server has one. */
  gtids?: string;
  binlogBytes: number;
  prepareMs: number;
}

export const datasetDdl = (table: string) => `CREATE TABLE ${table} (
  id BIGINT PRIMARY KEY,
  a INT NOT NULL,
  b VARCHAR(64) NULL,
  c DECIMAL(12,2) NOT NULL,
  d DATETIME(6) NOT NULL,
  e JSON NULL,
  f DOUBLE NOT NULL)`;

/** The 7 columns of the n-th inserted row, as SQL expressions over `n`. */
const insertValuesSql = (n: string) =>
  `${n}, (${n} * 7919) % 1000003, IF(${n} % 10 = 0, NULL, CONCAT('name ', ${n}, ' ', REPEAT('x', ${n} % 40))), ` +
  `(${n} - 250000) * 1.25, CAST('2024-01-01 00:00:00' AS DATETIME(6)) + INTERVAL ${n} SECOND + INTERVAL (${n} % 1000000) MICROSECOND, ` +
  `JSON_OBJECT('n', ${n}, 'tag', CONCAT('t', ${n} % 100), 'list', JSON_ARRAY(${n} % 7, ${n} % 11)), ${n} / 7e0`;

const UPDATE_SET = `a = a + 1, b = CONCAT('updated ', id), c = c + 0.5, d = d + INTERVAL 1 DAY, e = JSON_SET(e, '$.v', 2), f = f * 1.5`;

export async function prepareDataset(server: SourceServer, inserts: number, onProgress?: (text: string) => void): Promise<Dataset> {
  const started = performance.now();
  const shape = shapeOf(inserts);
  const db = `\`${BENCH.database}\``;
  const t = `${db}.\`${BENCH.table}\``;
  const conn = await connectTo(server);
  try {
    const version = await serverVersion(conn);
    await conn.query(`DROP DATABASE IF EXISTS ${db}`);
    await conn.query(`CREATE DATABASE ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
    await conn.query(datasetDdl(t));
    await conn.query(`CREATE TABLE ${db}.\`${BENCH.markerTable}\` (id INT PRIMARY KEY)`);
    // a recursive CTE of 1,000 rows: MariaDB's and MySQL's recursion limits, whichever this server has
    for (const setting of ['max_recursive_iterations', 'cte_max_recursion_depth']) {
      await conn.query(`SET SESSION ${setting} = 100000`).catch(() => undefined);
    }
    const from = await binlogEndOf(conn);
    const gtids = await gtidPosition(conn, server);
    const expectAffected = async (sql: string, rows: number) => {
      const [result] = (await conn.query(sql)) as unknown as [{ affectedRows: number }];
      if (result.affectedRows !== rows) throw new Error(`dataset: ${sql.slice(0, 60)}... changed ${result.affectedRows} rows, not ${rows}`);
    };
    for (let done = 0; done < shape.inserts; done += PER_TRANSACTION) {
      await expectAffected(
        `INSERT INTO ${t} (id, a, b, c, d, e, f)
         WITH RECURSIVE s(n) AS (SELECT ${done + 1} UNION ALL SELECT n + 1 FROM s WHERE n < ${done + PER_TRANSACTION})
         SELECT ${insertValuesSql('n')} FROM s`,
        PER_TRANSACTION,
      );
      if ((done + PER_TRANSACTION) % 100_000 === 0) onProgress?.(`${server.name}: ${done + PER_TRANSACTION} rows inserted`);
    }
    for (let done = 0; done < shape.updates; done += PER_TRANSACTION) {
      await expectAffected(`UPDATE ${t} SET ${UPDATE_SET} WHERE id BETWEEN ${done + 1} AND ${done + PER_TRANSACTION}`, PER_TRANSACTION);
    }
    const firstDeleted = shape.inserts - shape.deletes + 1;
    for (let done = 0; done < shape.deletes; done += PER_TRANSACTION) {
      await expectAffected(`DELETE FROM ${t} WHERE id BETWEEN ${firstDeleted + done} AND ${firstDeleted + done + PER_TRANSACTION - 1}`, PER_TRANSACTION);
    }
    const end = await binlogEndOf(conn);
    await conn.query(`INSERT INTO ${db}.\`${BENCH.markerTable}\` VALUES (1)`);
    const finalRows = shape.inserts - shape.deletes;
    const [count] = (await conn.query(`SELECT COUNT(*) AS n FROM ${t}`)) as unknown as [{ n: number | string }[]];
    if (Number(count[0]!.n) !== finalRows) throw new Error(`dataset: t holds ${count[0]!.n} rows, not ${finalRows}`);
    return {
      server: server.name,
      version,
      shape,
      changes: shape.inserts + shape.updates + shape.deletes,
      finalRows,
      from,
      end,
      ...(gtids ? { gtids } : {}),
      binlogBytes: await rangeBytes(conn, from, end),
      prepareMs: performance.now() - started,
    };
  } finally {
    await conn.end();
  }
}

export function reached(p: BinlogPosition, end: BinlogPosition): boolean {
  return p.file > end.file || (p.file === end.file && p.offset >= end.offset);
}
