// Chaos: sink outages while a writer inserts, updates and deletes random rows. One task writes to
// Redis (value 'json'), a webhook receiver and Elasticsearch; in turn the receiver answers 500 for
// 30 s, Redis is stopped and started, Elasticsearch is stopped for 30 s and started. After each
// fault the writes stop and every sink must equal the table, row for row.
//
// Redis is a redis-server of this test (append-only file fsynced per write): the shared one of
// scripts/services keeps nothing across a restart (save "", appendonly no), so its contents would be
// gone whatever Tunnel did. Elasticsearch is the shared server, stopped with scripts/services.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, esClient, mysqlConnection, runServices, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { EsCountingProxy, PrivateRedis, RedisSetCounter } from '../helpers/chaos-servers.ts';
import {
  describeComparison,
  esRows,
  masterPosition,
  redisRows,
  removeDir,
  runFault,
  sinkText,
  startTunnel,
  stopTunnel,
  taskDir,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_sinks';
const INDEX = `${DB}_orders`;
const SECRET = 'chaos-sinks-webhook-secret-0123';

describe('chaos: sink outages', () => {
  const dir = taskDir('sinks');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  const es = esClient();
  const proxy = new EsCountingProxy(servers.elasticsearch.url, DB);
  let redisCounter: RedisSetCounter;
  let conn: mysql.Connection;
  let pool: mysql.Pool;
  let tunnel: RunningTunnel | undefined;

  const readers = () => {
    const redis = redisServer.client({ maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    return {
      sinks: {
        redis: () => redisRows(redis, `${DB}:orders:`),
        webhook: async () => receiver.rows(`${DB}.orders`),
        elasticsearch: () => esRows(es, INDEX),
      },
      close: () => redis.disconnect(),
    };
  };

  const counters = {
    webhook: { duplicates: () => receiver.duplicates, writes: () => receiver.eventsReceived },
    redis: { duplicates: () => redisCounter.duplicates, writes: () => redisCounter.sets },
    elasticsearch: { duplicates: () => proxy.duplicates, writes: () => proxy.acknowledged },
  };

  async function underFault(name: string, inject: () => Promise<void>, holdMs: number, heal: () => Promise<void>, extra: Record<string, unknown> = {}) {
    const result = await runFault({
      name,
      load: () => new RowWriter(pool, `${DB}.orders`, { keys: 400, batch: 4, pauseMs: 5 }),
      inject,
      holdMs,
      heal,
      expected: () => tableRows(conn, `${DB}.orders`),
      sinks: () => {
        const { sinks, close } = readers();
        return { readers: sinks, close };
      },
      counters,
      extra,
    });
    expect(result.statements).toBeGreaterThan(300);
    expect(result.comparison.lost, describeComparison(result.comparison)).toBe(0);
    // docs/reliability.md: a sink outage costs no duplicates (a refused write is sent again only from
    // the first refused event on)
    expect(result.outcome.duplicatesBySink).toEqual({ redis: 0, webhook: 0, elasticsearch: 0 });
    expect(tunnel!.proc.child.exitCode).toBeNull();
  }

  beforeAll(async () => {
    await redisServer.start();
    redisCounter = new RedisSetCounter(redisServer, `${DB}:`);
    await redisCounter.start();
    await receiver.start();
    await proxy.start();
    await es.indices.delete({ index: INDEX, ignore_unavailable: true });
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
    const configFile = writeConfig({
      dir,
      tasks: [
        {
          name: 'sinks',
          db: DB,
          serverId: 7902,
          startFrom: await masterPosition(conn),
          plugins: [sinkText.redis(redisServer.port, `${DB}:{table}:{id}`), sinkText.webhook(receiver.url, SECRET), sinkText.elasticsearch(proxy.url)],
        },
      ],
    });
    tunnel = await startTunnel(configFile);
  });

  afterAll(async () => {
    const code = await stopTunnel(tunnel);
    if (code !== 0) console.log(tunnel?.proc.output.slice(-3000));
    // whatever happened, leave the shared Elasticsearch running
    await runServices(['up', 'elasticsearch']).catch((error: unknown) => console.log(String(error)));
    redisCounter?.stop();
    await redisServer.stop();
    await receiver.close();
    await proxy.close();
    await es.close();
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  it('the webhook receiver answers 500 for 30 s', async () => {
    const requestsBefore = receiver.requests;
    await underFault(
      'webhook receiver answering 500 for 30 s',
      async () => {
        receiver.failing = true;
      },
      30_000,
      async () => {
        receiver.failing = false;
      },
    );
    expect(receiver.requests - requestsBefore).toBeGreaterThan(10);
  });

  it('Redis is stopped for 10 s and started', async () => {
    await underFault(
      'Redis stopped for 10 s, then started',
      () => redisServer.stop('SIGTERM'),
      10_000,
      async () => {
        await redisServer.start();
        await redisCounter.restart();
      },
    );
  });

  it('Elasticsearch is stopped for 30 s and started', async () => {
    const extra: Record<string, unknown> = {};
    await underFault(
      'Elasticsearch stopped for 30 s, then started',
      async () => {
        await runServices(['down', 'elasticsearch']);
      },
      30_000,
      async () => {
        const t = Date.now();
        await runServices(['up', 'elasticsearch']);
        await waitFor(async () => (await es.cluster.health({ index: INDEX, wait_for_status: 'yellow', timeout: '1s' })).status !== 'red', {
          timeoutMs: 60_000,
          what: 'the index is yellow',
        });
        extra.esStartSeconds = ((Date.now() - t) / 1000).toFixed(1);
      },
      extra,
    );
  });
});
