// Bounded memory: a binlog of 500,000 rows read by a real TaskRunner into a sink that is deliberately
// slower than the source; the runtime pauses the source at its in-flight cap (maxInFlightRows, the
// default 20,000) and resumes it at half. The reading process (a child, so its RSS is the task's
// alone) stays under RSS_BOUND and never holds more than the cap plus one rows event in flight;
// without pausing, the same read holds the whole backlog in memory.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import type { BinlogPosition } from '../../core/event/index.ts';
import { createTestDatabase, mysqlConnection, repoRoot } from '../helpers/servers.ts';
import { binlogEnd, sourceOptions } from '../helpers/source-harness.ts';
import { WORKER_NODE_FLAGS } from '../helpers/node-flags.ts';

const DB = 'tunnel_source_memory';
const ROWS = 500_000;
const PER_TRANSACTION = 10_000;
const MB = 1024 * 1024;
/** The stated bound for the paused read: the process's peak resident set size. */
const RSS_BOUND = 300 * MB;
/** The runtime's in-flight cap under test: the default maxInFlightRows (docs/architecture.md, back-pressure). */
const HIGH_WATER = 20_000;

interface ChildResult {
  mode: string;
  rows: number;
  peakRss: number;
  baselineRss: number;
  maxInFlightRows: number;
  pauses: number;
  resumes?: number;
  durationMs: number;
}

function runChild(mode: 'runtime' | 'unbounded', from: BinlogPosition, end: BinlogPosition): Promise<ChildResult> {
  const options = sourceOptions([`${DB}.*`]);
  const args = {
    connection: options.connection,
    serverId: options.serverId,
    include: options.include,
    from,
    end,
    mode,
    highWater: HIGH_WATER,
    // 1,000 rows per 10 ms: about 100,000 rows/s at best, slower than the source decodes
    drainRowsPerTick: 1_000,
    tickMs: 10,
  };
  const child = spawn(
    process.execPath,
    [...WORKER_NODE_FLAGS, '--import', 'tsx', resolve(repoRoot, 'test/helpers/source-memory-child.ts'), JSON.stringify(args)],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return fail(new Error(`memory child (${mode}) exited ${code}: ${stderr}`));
      done(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

describe('binlog source memory under back-pressure', () => {
  let conn: Connection;
  let from: BinlogPosition;
  let end: BinlogPosition;

  beforeAll(async () => {
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query('SET SESSION max_recursive_iterations = 10000000');
    await conn.query(`CREATE TABLE \`${DB}\`.t (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, payload VARCHAR(200) NOT NULL, at DATETIME(6) NOT NULL)`);
    from = await binlogEnd();
    for (let k = 0; k < ROWS / PER_TRANSACTION; k++) {
      await conn.query(
        `INSERT INTO \`${DB}\`.t (k, payload, at)
         WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${PER_TRANSACTION})
         SELECT ${k}, CONCAT('payload-', n, '-', REPEAT('p', 80)), '2024-01-01 00:00:00.000001' + INTERVAL n SECOND FROM s`,
      );
    }
    end = await binlogEnd();
  }, 180_000);

  afterAll(async () => {
    await conn?.end();
  });

  it(`the runtime's in-flight cap keeps a task reading into a slow sink under ${RSS_BOUND / MB} MB for ${ROWS} rows`, async () => {
    const paused = await runChild('runtime', from, end);
    const unbounded = await runChild('unbounded', from, end);
    const mb = (n: number) => Math.round(n / MB);
    console.log(
      `source memory: paused peak RSS ${mb(paused.peakRss)} MB (baseline ${mb(paused.baselineRss)} MB, ` +
        `max ${paused.maxInFlightRows} rows in flight, ${paused.pauses} pauses, ${paused.resumes} resumes, ${paused.durationMs} ms); ` +
        `without pausing ${mb(unbounded.peakRss)} MB (max ${unbounded.maxInFlightRows} rows in flight, ${unbounded.durationMs} ms)`,
    );
    expect(paused.rows).toBe(ROWS);
    expect(unbounded.rows).toBe(ROWS);
    expect(paused.pauses).toBeGreaterThan(5);
    expect(paused.resumes).toBeGreaterThan(5);
    // the cap holds: the event that reaches it is the last one in (a rows event is ~8 KB, < 100 rows here)
    expect(paused.maxInFlightRows).toBeLessThan(HIGH_WATER + 100);
    expect(paused.peakRss).toBeLessThan(RSS_BOUND);
    expect(unbounded.peakRss).toBeGreaterThan(paused.peakRss);
  }, 240_000);
});
