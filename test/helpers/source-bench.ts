// Throughput of the binlog source against a bare zongji listener on the same binlog range.
//
//   npx tsx test/helpers/source-bench.ts [rows=500000] [runs=3] [rowsPerTransaction=10000]
//
// Writes `rows` rows (transactions of `rowsPerTransaction`) of a typical table into database tunnel_source_bench on
// the test MariaDB, then reads that range alternately with (a) zongji with a 'binlog' listener that
// counts rows and (b) createBinlogSource with a handler that counts rows, and prints rows/s of each
// and the source's overhead. Both decode every column of every row.
import ZongJi from '@vlasky/zongji';
import type { BinlogPosition } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { createBinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, mysqlConnection, servers } from './servers.ts';
import { binlogEnd, uniqueServerId } from './source-harness.ts';

const DB = 'tunnel_source_bench';
const ROWS = Number(process.argv[2] ?? 500_000);
const RUNS = Number(process.argv[3] ?? 3);
const PER_TRANSACTION = Number(process.argv[4] ?? 10_000);

const reached = (p: { file: string; offset: number }, end: BinlogPosition) => p.file > end.file || (p.file === end.file && p.offset >= end.offset);

async function prepare(): Promise<{ from: BinlogPosition; end: BinlogPosition }> {
  await createTestDatabase(DB);
  const conn = await mysqlConnection();
  await conn.query('SET SESSION max_recursive_iterations = 10000000');
  await conn.query(`CREATE TABLE \`${DB}\`.orders (
    id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(20) NOT NULL,
    amount DECIMAL(12,2) NOT NULL, note VARCHAR(100), created_at DATETIME(6) NOT NULL, flags TINYINT UNSIGNED NOT NULL)`);
  const from = await binlogEnd();
  // 8 writers in parallel, so that small transactions do not take all day
  const writers = await Promise.all(Array.from({ length: 8 }, () => mysqlConnection()));
  const transactions = ROWS / PER_TRANSACTION;
  let next = 0;
  await Promise.all(
    writers.map(async (w) => {
      await w.query('SET SESSION max_recursive_iterations = 10000000');
      for (let k = next++; k < transactions; k = next++) {
        await w.query(
          `INSERT INTO \`${DB}\`.orders (customer_id, status, amount, note, created_at, flags)
           WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${PER_TRANSACTION})
           SELECT n % 977, ELT(1 + n % 3, 'new', 'paid', 'shipped'), n * 1.25, CONCAT('note ', n), '2024-05-01 10:00:00.123456' + INTERVAL n SECOND, n % 256 FROM s`,
        );
      }
      await w.end();
    }),
  );
  const end = await binlogEnd();
  await conn.end();
  return { from, end };
}

function bareZongji(from: BinlogPosition, end: BinlogPosition): Promise<{ rows: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const zongji = new ZongJi({ ...servers.mariadb });
    let rows = 0;
    let started = 0;
    let file = from.file;
    zongji.on('ready', () => (started = performance.now()));
    zongji.on('binlog', (event) => {
      const e = event as unknown as { rows?: unknown[]; nextPosition: number; binlogName?: string; getTypeName(): string };
      if (e.rows) rows += e.rows.length;
      else if (e.getTypeName() === 'Rotate') file = e.binlogName!;
      else if (e.getTypeName() === 'Xid' && reached({ file, offset: e.nextPosition }, end)) {
        const ms = performance.now() - started;
        zongji.stop();
        resolve({ rows, ms });
      }
    });
    zongji.on('error', reject);
    zongji.start({
      serverId: uniqueServerId(),
      filename: from.file,
      position: from.offset,
      includeEvents: ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
      includeSchema: { [DB]: true },
    });
  });
}

async function tunnelSource(from: BinlogPosition, end: BinlogPosition): Promise<{ rows: number; ms: number }> {
  const source = createBinlogSource({ connection: { ...servers.mariadb }, serverId: uniqueServerId(), include: [`${DB}.*`], exclude: [] }, silentLogger());
  let rows = 0;
  let done!: (ms: number) => void;
  const finished = new Promise<number>((r) => (done = r));
  const started = performance.now();
  await source.start(
    { kind: 'position', position: from },
    {
      onEvent: (event) => void (rows += event.rows.length),
      onCommit: (position) => {
        if (reached(position, end)) done(performance.now() - started);
      },
      onError: (error) => {
        throw error;
      },
    },
  );
  const ms = await finished;
  await source.stop();
  return { rows, ms };
}

const { from, end } = await prepare();
console.log(`binlog range ${from.file}:${from.offset} .. ${end.file}:${end.offset}, ${ROWS} rows in transactions of ${PER_TRANSACTION}, 7 columns`);
const results: { zongji: number[]; source: number[] } = { zongji: [], source: [] };
for (let run = 0; run < RUNS; run++) {
  const z = await bareZongji(from, end);
  const s = await tunnelSource(from, end);
  if (z.rows !== ROWS || s.rows !== ROWS) throw new Error(`row counts differ: zongji ${z.rows}, source ${s.rows}, expected ${ROWS}`);
  results.zongji.push(ROWS / (z.ms / 1000));
  results.source.push(ROWS / (s.ms / 1000));
  console.log(`run ${run + 1}: bare zongji ${Math.round(ROWS / (z.ms / 1000))} rows/s, Tunnel source ${Math.round(ROWS / (s.ms / 1000))} rows/s`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const z = median(results.zongji);
const s = median(results.source);
console.log(
  `median: bare zongji ${Math.round(z)} rows/s, Tunnel source ${Math.round(s)} rows/s, ` +
    `source/zongji = ${(s / z).toFixed(2)} (${s >= z ? 'faster' : `${(((z - s) / z) * 100).toFixed(1)}% slower`})`,
);
process.exit(0);
