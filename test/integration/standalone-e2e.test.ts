import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allowRecursion,
  createTestDatabase,
  redisClient,
  repoRoot,
  servers,
  sourceConnection,
  sourcePool,
  sourceServers,
  type SourceServer,
} from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { TunnelProcess } from '../helpers/tunnel-process.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { redisJsonRows, tableRows, waitUntilSinksEqual, type Row } from '../helpers/compare-rows.ts';

const SECRET = 'e2e-webhook-secret-0123456789';
/** batch.maxRows of the task: the most a kill can deliver twice to a sink (one batch in flight, one row per event here). */
const BATCH_ROWS = 200;

/** A team's own plugin, in its own file: drops orders whose id ends in 0, stamps the rest. */
const PLUGIN = `
import { definePlugin, rowImage, type RowEvent } from '${repoRoot}/core/index.ts';

export const dropTensAndStamp = definePlugin({
  name: 'drop-tens-and-stamp',
  apply(hooks) {
    hooks.filter.tap('drop-tens', (event) => (event.rows.every((_, i) => Number(rowImage(event, i).id) % 10 === 0) ? false : undefined));
    hooks.transform.tap('stamp', (event): RowEvent =>
      event.action === 'update'
        ? { ...event, rows: event.rows.map((row) => [...row, { column: 'origin', before: 'tunnel', after: 'tunnel' }]) }
        : ({ ...event, rows: event.rows.map((row) => [...row, { column: 'origin', value: 'tunnel' }]) } as RowEvent),
    );
  },
});
`;

function configText(server: SourceServer, db: string, dir: string, start: { file: string; offset: number }, hookUrl: string): string {
  const source = server.connection;
  return `
import { defineConfig } from '${repoRoot}/core/index.ts';
import { redis } from '${repoRoot}/sinks/redis/index.ts';
import { webhook } from '${repoRoot}/sinks/http/index.ts';
import { dropTensAndStamp } from './plugin.ts';

export default defineConfig({
  positions: { dir: '${dir}/positions' },
  deadLetters: { dir: '${dir}/dead-letters' },
  status: { port: 0 },
  shutdownTimeoutMs: 10000,
  tasks: [{
    name: 'e2e',
    source: { host: '${source.host}', port: ${source.port}, user: '${source.user}', password: '${source.password}',
      serverId: 7301, include: ['${db}.*'], startFrom: ${JSON.stringify(start)} },
    commitIntervalMs: 50,
    batch: { maxRows: ${BATCH_ROWS}, maxWaitMs: 20 },
    plugins: [
      dropTensAndStamp,
      redis({ name: 'cache', connection: { host: '127.0.0.1', port: ${servers.redis.port} }, key: '${db}:{table}:{id}', value: 'json' }),
      webhook({ name: 'hook', url: '${hookUrl}', secret: '${SECRET}' }),
    ],
  }],
});
`;
}

describe.each(sourceServers)('standalone runtime end to end on $label', (server) => {
  const DB = `e2e_standalone_${server.name}`;
  const receiver = new WebhookReceiver(SECRET);
  const redis = redisClient();
  let conn: mysql.Connection;
  afterAll(async () => {
    await receiver.close();
    redis.disconnect();
    await conn?.end();
  });

  it('a plugin from a test file filters and transforms; kill -9 twice mid-stream; the sinks end equal to the table', async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server);
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    const stale = await redis.keys(`${DB}:*`);
    if (stale.length) await redis.del(...stale);
    const [[master]] = (await conn.query('SHOW MASTER STATUS')) as unknown as [[{ File: string; Position: number }]];

    const dir = mkdtempSync(join(repoRoot, '.data', 'e2e-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir, 'plugin.ts'), PLUGIN);
    const configFile = join(dir, 'tunnel.config.ts');
    writeFileSync(configFile, configText(server, DB, dir, { file: master.File, offset: Number(master.Position) }, await receiver.start()));

    const pool = sourcePool(server);
    const writer = new RowWriter(pool, `${DB}.orders`, { keys: 300, batch: 4, pauseMs: 2 });
    writer.start();
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      const tunnel = new TunnelProcess(configFile);
      await tunnel.waitForLog((l) => l.msg === 'tunnel started');
      await new Promise((r) => setTimeout(r, 2500));
      if (round < 2) {
        tunnel.kill('SIGKILL');
        await tunnel.exited;
        kills++;
        continue;
      }
      await writer.stop();
      // the table as the server reads it (every column of every kind), minus what the plugin drops, plus its stamp
      const table = await tableRows(conn, `${DB}.orders`);
      const expected = new Map<string, Row>();
      for (const [id, row] of table) if (Number(id) % 10 !== 0) expected.set(id, { ...row, origin: 'tunnel' });
      const { waitedMs } = await waitUntilSinksEqual(`standalone e2e on ${server.name}`, {
        redis: { expected, read: () => redisJsonRows(redis, `${DB}:orders:`) },
        webhook: { expected, read: () => receiver.rows(`${DB}.orders`) },
      });
      tunnel.kill('SIGTERM');
      const exit = await tunnel.exited;

      console.log(
        `standalone e2e (${server.name}): ${writer.statements} statements, ${table.size} rows, ${kills} kill -9, webhook events ${receiver.events.length}, duplicates delivered ${receiver.duplicates}, sinks equal ${waitedMs} ms after the writes stopped`,
      );
      expect(writer.statements).toBeGreaterThan(200);
      expect(receiver.badSignatures).toBe(0);
      // At-least-once (docs/architecture.md, the commit rule): a kill delivers again what was sent
      // after the last commit, at most the batch in flight per sink.
      expect(receiver.duplicates).toBeLessThanOrEqual(kills * BATCH_ROWS);
      expect(exit.code).toBe(0);
    }
    await pool.end();
  });

  it('SIGTERM under load exits 0 within the deadline and a restart delivers nothing twice', async () => {
    const receiverAfter = new WebhookReceiver(SECRET);
    const db2 = `${DB}_term`;
    await createTestDatabase(db2, server);
    await conn.query(RowWriter.createTableSql(`${db2}.orders`));
    const stale = await redis.keys(`${DB}:*`);
    if (stale.length) await redis.del(...stale);
    const [[master]] = (await conn.query('SHOW MASTER STATUS')) as unknown as [[{ File: string; Position: number }]];
    const dir = mkdtempSync(join(repoRoot, '.data', 'e2e-term-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir, 'plugin.ts'), PLUGIN);
    const configFile = join(dir, 'tunnel.config.ts');
    writeFileSync(
      configFile,
      configText(server, db2, dir, { file: master.File, offset: Number(master.Position) }, await receiverAfter.start()).replaceAll(
        `'${db2}:{table}`,
        `'${DB}:{table}`,
      ),
    );

    const pool = sourcePool(server);
    // Transactions of 50 statements, so a SIGTERM nearly always lands inside one.
    const writer = new RowWriter(pool, `${db2}.orders`, { keys: 300, batch: 50 });
    writer.start();
    const first = new TunnelProcess(configFile);
    await first.waitForLog((l) => l.msg === 'tunnel started');
    await new Promise((r) => setTimeout(r, 2500));
    // A 100,000-row transaction just committed: the SIGTERM lands while it is being read.
    await conn.query(`CREATE TABLE ${db2}.bulk (id INT PRIMARY KEY, note VARCHAR(20))`);
    await allowRecursion(server, conn, 100_000);
    await conn.query(
      `INSERT INTO ${db2}.bulk (id, note) WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100000) SELECT n, 'bulk' FROM s`,
    );
    await new Promise((r) => setTimeout(r, 50));
    const termAt = Date.now();
    first.kill('SIGTERM');
    const exit = await first.exited;
    const stopMs = Date.now() - termAt;
    const deliveredBefore = receiverAfter.events.length;

    const second = new TunnelProcess(configFile);
    await second.waitForLog((l) => l.msg === 'tunnel started');
    await new Promise((r) => setTimeout(r, 1500));
    await writer.stop();
    await pool.end();
    const expected = new Map<string, Row>();
    for (const [id, row] of await tableRows(conn, `${db2}.orders`)) if (Number(id) % 10 !== 0) expected.set(id, { ...row, origin: 'tunnel' });
    await waitUntilSinksEqual(`after the graceful stop on ${server.name}`, { webhook: { expected, read: () => receiverAfter.rows(`${db2}.orders`) } });
    second.kill('SIGTERM');
    await second.exited;
    await receiverAfter.close();

    console.log(
      `graceful stop (${server.name}): exit ${exit.code} after ${stopMs} ms under load; ${deliveredBefore} events before, ${receiverAfter.events.length} in all; duplicates after the restart ${receiverAfter.duplicates}`,
    );
    expect(exit.code).toBe(0);
    expect(stopMs).toBeLessThan(10_000);
    expect(deliveredBefore).toBeGreaterThan(0);
    expect(receiverAfter.rows(`${db2}.bulk`).size).toBe(100_000);
    expect(receiverAfter.duplicates).toBe(0);
  });
});
