// Chaos: kill -9 of a standalone worker, five times in one run, while a writer inserts, updates and
// deletes random rows. After the last restart the writes stop; Redis and the webhook must end equal
// to the table, row for row. Duplicates are counted where they land (the receiver, Redis MONITOR).
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, servers } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { PrivateRedis, RedisSetCounter } from '../helpers/chaos-servers.ts';
import {
  CHAOS_BATCH_ROWS,
  describeComparison,
  masterPosition,
  redisRows,
  removeDir,
  reportFault,
  sinkText,
  sleep,
  startTunnel,
  stopTunnel,
  taskDir,
  waitUntilEqual,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_kill';
const SECRET = 'chaos-kill-webhook-secret-0123';
const KILLS = 5;

describe('chaos: kill -9 of a standalone worker', () => {
  const dir = taskDir('kill');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  let redisCounter: RedisSetCounter;
  let conn: mysql.Connection;
  let pool: mysql.Pool;
  let tunnel: RunningTunnel | undefined;

  beforeAll(async () => {
    await redisServer.start();
    redisCounter = new RedisSetCounter(redisServer, `${DB}:`);
    await redisCounter.start();
    await receiver.start();
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
  });

  afterAll(async () => {
    await stopTunnel(tunnel, 'SIGKILL');
    redisCounter?.stop();
    await redisServer.stop();
    await receiver.close();
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  it(`kill -9 ${KILLS} times under writes; Redis and the webhook end equal to the table`, async () => {
    const configFile = writeConfig({
      dir,
      tasks: [
        {
          name: 'kill',
          db: DB,
          serverId: 7901,
          startFrom: await masterPosition(conn),
          plugins: [sinkText.redis(redisServer.port, `${DB}:{table}:{id}`), sinkText.webhook(receiver.url, SECRET)],
        },
      ],
    });
    const writer = new RowWriter(pool, `${DB}.orders`, { keys: 400, batch: 4, pauseMs: 3 });
    writer.start();
    const restartMs: number[] = [];
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const spawnedAt = Date.now();
        tunnel = await startTunnel(configFile);
        restartMs.push(Date.now() - spawnedAt);
        // Let it stream (and commit) a while, then crash it at a random moment.
        await sleep(1200 + Math.random() * 1300);
        tunnel.proc.kill('SIGKILL');
        await tunnel.proc.exited;
      }
      const spawnedAt = Date.now();
      tunnel = await startTunnel(configFile);
      restartMs.push(Date.now() - spawnedAt);
    } finally {
      await writer.stop();
    }
    const faultEnded = tunnel!.startedAt;

    const compareStart = Date.now();
    const expected = await tableRows(conn, `${DB}.orders`);
    const redis = redisServer.client();
    const comparison = await waitUntilEqual(expected, {
      redis: () => redisRows(redis, `${DB}:orders:`),
      webhook: async () => receiver.rows(`${DB}.orders`),
    });
    redis.disconnect();
    const exitCode = await stopTunnel(tunnel);

    reportFault({
      fault: `kill -9 of a standalone worker x${KILLS}`,
      lost: comparison.lost,
      duplicates: receiver.duplicates + redisCounter.duplicates,
      duplicatesBySink: { webhook: receiver.duplicates, redis: redisCounter.duplicates },
      recoveryMs: compareStart - faultEnded + comparison.waitedMs,
      restartToStartedMs: restartMs.join('/'),
      rows: expected.size,
      statements: writer.statements,
      webhookEvents: receiver.eventsReceived,
    });
    if (comparison.lost > 0) console.log(describeComparison(comparison));
    expect(writer.statements).toBeGreaterThan(1000);
    expect(comparison.lost, describeComparison(comparison)).toBe(0);
    // at most the batch in flight per sink per kill
    expect(receiver.duplicates).toBeLessThanOrEqual(KILLS * CHAOS_BATCH_ROWS);
    expect(redisCounter.duplicates).toBeLessThanOrEqual(KILLS * CHAOS_BATCH_ROWS);
    expect(receiver.badSignatures).toBe(0);
    expect(exitCode).toBe(0);
  });
});
