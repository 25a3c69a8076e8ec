// Chaos: the source side, while a writer inserts, updates and deletes random rows. One task writes
// to Redis (value 'json') and a webhook receiver; in turn its replication connection is KILLed
// (found as the `Binlog Dump` thread of a MariaDB user only this task uses), the binlog is rotated
// with FLUSH BINARY LOGS every 200 ms for 10 s, and MariaDB is restarted with scripts/services.
// After each fault the writes stop and both sinks must equal the table, row for row.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, runServices, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { PrivateRedis, RedisSetCounter } from '../helpers/chaos-servers.ts';
import {
  describeComparison,
  masterPosition,
  patientPool,
  redisRows,
  removeDir,
  runFault,
  sinkText,
  sleep,
  startTunnel,
  stopTunnel,
  taskDir,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_mariadb';
const SECRET = 'chaos-mariadb-webhook-secret-01';
const USER = 'chaos_repl';
const PASSWORD = 'chaos-repl-password';

describe('chaos: MariaDB faults', () => {
  const dir = taskDir('mariadb');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  let redisCounter: RedisSetCounter;
  let conn: mysql.Connection;
  let pool: mysql.Pool;
  let tunnel: RunningTunnel | undefined;

  const counters = {
    webhook: { duplicates: () => receiver.duplicates, writes: () => receiver.eventsReceived },
    redis: { duplicates: () => redisCounter.duplicates, writes: () => redisCounter.sets },
  };

  /** The ids of this task's replication threads. */
  async function dumpThreads(): Promise<number[]> {
    const [rows] = (await conn.query(`SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND LIKE 'Binlog Dump%'`, [
      USER,
    ])) as unknown as [Array<{ id: number }>];
    return rows.map((r) => Number(r.id));
  }

  const reconnects = () => tunnel!.proc.logs().filter((l) => l.msg === 'binlog connection re-established').length;

  async function underFault(name: string, inject: () => Promise<void>, holdMs: number, heal: () => Promise<void>, extra: Record<string, unknown> = {}) {
    const reconnectsBefore = reconnects();
    const result = await runFault({
      name,
      load: () => new RowWriter(patientPool(pool), `${DB}.orders`, { keys: 400, batch: 4, pauseMs: 4 }),
      inject,
      holdMs,
      heal: async () => {
        await heal();
        extra.reconnects = reconnects() - reconnectsBefore;
      },
      expected: () => tableRows(conn, `${DB}.orders`),
      sinks: () => {
        const redis = redisServer.client();
        return {
          readers: { redis: () => redisRows(redis, `${DB}:orders:`), webhook: async () => receiver.rows(`${DB}.orders`) },
          close: () => redis.disconnect(),
        };
      },
      counters,
      extra,
    });
    expect(result.statements).toBeGreaterThan(300);
    expect(result.comparison.lost, describeComparison(result.comparison)).toBe(0);
    // docs/reliability.md: a source fault costs no duplicates (the source resumes a dropped connection
    // inside the transaction it was in)
    expect(result.outcome.duplicatesBySink).toEqual({ webhook: 0, redis: 0 });
    expect(tunnel!.proc.child.exitCode).toBeNull();
    return extra;
  }

  beforeAll(async () => {
    await redisServer.start();
    redisCounter = new RedisSetCounter(redisServer, `${DB}:`);
    await redisCounter.start();
    await receiver.start();
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    for (const host of ['%', '127.0.0.1', 'localhost']) {
      await conn.query(`CREATE USER IF NOT EXISTS '${USER}'@'${host}' IDENTIFIED BY '${PASSWORD}'`);
      await conn.query(`GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR ON *.* TO '${USER}'@'${host}'`);
    }
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
    const start = await masterPosition(conn);
    const configFile = writeConfig({
      dir,
      tasks: [
        {
          name: 'mariadb',
          db: DB,
          serverId: 7903,
          source: `{ host: '${servers.mariadb.host}', port: ${servers.mariadb.port}, user: '${USER}', password: '${PASSWORD}', serverId: 7903, include: ['${DB}.*'], startFrom: ${JSON.stringify(start)} }`,
          plugins: [sinkText.redis(redisServer.port, `${DB}:{table}:{id}`), sinkText.webhook(receiver.url, SECRET)],
        },
      ],
    });
    tunnel = await startTunnel(configFile);
  });

  afterAll(async () => {
    const code = await stopTunnel(tunnel);
    if (code !== 0) console.log(tunnel?.proc.output.slice(-3000));
    redisCounter?.stop();
    await redisServer.stop();
    await receiver.close();
    await pool?.end();
    await conn?.end().catch(() => undefined);
    removeDir(dir);
  });

  it('the replication connection is KILLed 4 times', async () => {
    const extra: Record<string, unknown> = {};
    await underFault(
      'replication connection KILLed x4',
      async () => {
        const killed: number[] = [];
        for (let i = 0; i < 4; i++) {
          const threads = await waitFor(
            async () => {
              const ids = (await dumpThreads()).filter((id) => !killed.includes(id));
              return ids.length > 0 ? ids : undefined;
            },
            { timeoutMs: 30_000, what: 'the task reconnected (a new Binlog Dump thread)' },
          );
          for (const id of threads) {
            await conn.query(`KILL ${id}`);
            killed.push(id);
          }
          await sleep(2500);
        }
        extra.killedThreads = killed.length;
      },
      0,
      async () => {
        // healed once the task has a replication thread again
        await waitFor(async () => ((await dumpThreads()).length > 0 ? true : undefined), { timeoutMs: 30_000, what: 'a Binlog Dump thread' });
      },
      extra,
    );
    expect(extra.reconnects).toBeGreaterThanOrEqual(4);
  });

  it('the binlog is rotated every 200 ms for 10 s', async () => {
    const extra: Record<string, unknown> = {};
    const firstFile = (await masterPosition(conn)).file;
    await underFault(
      'binlog rotated (FLUSH BINARY LOGS) every 200 ms for 10 s',
      async () => {
        let rotations = 0;
        const end = Date.now() + 10_000;
        while (Date.now() < end) {
          await conn.query('FLUSH BINARY LOGS');
          rotations++;
          await sleep(200);
        }
        extra.rotations = rotations;
      },
      0,
      async () => {},
      extra,
    );
    const lastFile = (await masterPosition(conn)).file;
    expect(Number(lastFile.split('.').pop()) - Number(firstFile.split('.').pop())).toBeGreaterThanOrEqual(30);
  });

  it('MariaDB is restarted', async () => {
    const extra: Record<string, unknown> = {};
    await underFault(
      'MariaDB restarted (scripts/services restart mariadb)',
      async () => {
        const t = Date.now();
        await runServices(['restart', 'mariadb']);
        extra.restartSeconds = ((Date.now() - t) / 1000).toFixed(1);
      },
      0,
      async () => {
        await conn.end().catch(() => undefined);
        conn = await waitFor(() => mysqlConnection(), { timeoutMs: 60_000, what: 'MariaDB answering' });
        const [[uptime]] = (await conn.query(`SHOW GLOBAL STATUS LIKE 'Uptime'`)) as unknown as [[{ Value: string }]];
        extra.serverUptimeSeconds = Number(uptime.Value);
        // writes go on against the restarted server for a while before they stop
        await sleep(3000);
      },
      extra,
    );
    expect(extra.serverUptimeSeconds).toBeLessThan(30);
    expect(extra.reconnects).toBeGreaterThanOrEqual(1);
  });
});
