// Chaos in cluster mode: two `tunnel start` workers in one ZooKeeper group share one task, which
// writes to Redis (value 'json') and a webhook receiver while a writer inserts, updates and deletes
// random rows. Faults: kill -9 of the task's owner, five times (the killed worker comes back each
// time); ZooKeeper stopped for longer than the session timeout; the owner SIGSTOPped past its
// session (it must not write after losing the task). After each, the writes stop and both sinks
// must equal the table, row for row.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, runServices, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { PrivateRedis, RedisSetCounter } from '../helpers/chaos-servers.ts';
import { ensureZooKeeper, Registry, zkConnect } from '../helpers/cluster-harness.ts';
import { registryPaths, ZkConnection } from '../../core/cluster/index.ts';
import {
  CHAOS_BATCH_ROWS,
  describeComparison,
  isReading,
  masterPosition,
  redisRows,
  removeDir,
  reportFault,
  sleep,
  startTunnel,
  stopTunnel,
  TASK_READING,
  taskDir,
  waitUntilEqual,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_cluster';
const SECRET = 'chaos-cluster-webhook-secret-01';
const TASK = 'ha';
const SESSION_TIMEOUT_MS = 4000;
const cluster = `chaos_${process.pid}`;
const paths = registryPaths(cluster, 'g');

describe('chaos: cluster mode', () => {
  const dir = taskDir('cluster');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  const workers = new Map<string, RunningTunnel>();
  let redisCounter: RedisSetCounter;
  let redis: ReturnType<PrivateRedis['client']>;
  let zk: ZkConnection;
  let conn: mysql.Connection;
  let pool: mysql.Pool;
  let configFile: string;

  const startWorker = async (node: string) => {
    const worker = await startTunnel(configFile, { CHAOS_NODE: node });
    workers.set(node, worker);
    return worker;
  };
  const ownerOf = async (): Promise<string | undefined> => (await zk.getData(paths.owner(TASK)).catch(() => undefined))?.data.toString('utf8');
  const running = (node: string) => isReading(workers.get(node));
  const counters = () => ({ webhook: receiver.duplicates, redis: redisCounter.duplicates });
  const readers = () => ({ redis: () => redisRows(redis, `${DB}:orders:`), webhook: async () => receiver.rows(`${DB}.orders`) });
  const writer = () => new RowWriter(pool, `${DB}.orders`, { keys: 400, batch: 4, pauseMs: 5 });

  beforeAll(async () => {
    await ensureZooKeeper();
    zk = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 10_000 });
    await zk.start();
    await redisServer.start();
    redis = redisServer.client();
    // one Redis user per worker, so that MONITOR's writes can be told apart by connection
    for (const node of ['n1', 'n2']) await redis.call('ACL', 'SETUSER', node, 'on', `>pw-${node}`, '~*', '&*', '+@all');
    redisCounter = new RedisSetCounter(redisServer, `${DB}:`, { attribute: true });
    await redisCounter.start();
    await receiver.start();
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
    configFile = writeConfig({
      dir,
      extra: `cluster: { name: '${cluster}', group: 'g', node: fromEnv('CHAOS_NODE'), zookeeper: { connect: '${zkConnect}', sessionTimeoutMs: ${SESSION_TIMEOUT_MS} } },`,
      tasks: [
        {
          name: TASK,
          db: DB,
          serverId: 7930,
          startFrom: await masterPosition(conn),
          plugins: [
            `redis({ name: 'redis', connection: { host: '127.0.0.1', port: ${redisServer.port}, username: fromEnv('CHAOS_NODE'), password: 'pw-' + fromEnv('CHAOS_NODE') }, key: '${DB}:{table}:{id}', value: 'json' })`,
            // the query names the sending worker, so the receiver can tell who wrote when
            `webhook({ name: 'webhook', url: '${receiver.url}?node=' + fromEnv('CHAOS_NODE'), secret: '${SECRET}', retries: 1 })`,
          ],
        },
      ],
    });
    await startWorker('n1');
    await startWorker('n2');
    await waitFor(
      async () => {
        const owner = await ownerOf();
        return owner && running(owner) ? owner : undefined;
      },
      { timeoutMs: 30_000, what: 'the task owned and running' },
    );
  });

  afterAll(async () => {
    for (const worker of workers.values()) {
      process.kill(worker.proc.child.pid!, 'SIGCONT');
      await stopTunnel(worker, 'SIGKILL');
    }
    await runServices(['up', 'zookeeper']).catch((error: unknown) => console.log(String(error)));
    const cleaner = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 10_000 });
    await cleaner
      .start()
      .then(() => new Registry(cleaner, cluster, 'g', []).removeCluster())
      .catch(() => undefined);
    await cleaner.close().catch(() => undefined);
    await zk?.close().catch(() => undefined);
    redisCounter?.stop();
    redis?.disconnect();
    await redisServer.stop();
    await receiver.close();
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  async function compareAndReport(fault: string, before: ReturnType<typeof counters>, faultEnded: number, extra: Record<string, unknown>) {
    const expected = await tableRows(conn, `${DB}.orders`);
    const comparison = await waitUntilEqual(expected, readers(), 90_000);
    const now = counters();
    const duplicatesBySink = { webhook: now.webhook - before.webhook, redis: now.redis - before.redis };
    reportFault({
      fault,
      lost: comparison.lost,
      duplicates: duplicatesBySink.webhook + duplicatesBySink.redis,
      duplicatesBySink,
      recoveryMs: comparison.endedAt - faultEnded,
      rows: expected.size,
      ...extra,
    });
    if (comparison.lost > 0) {
      console.log(describeComparison(comparison));
      const actual = { redis: await readers().redis(), webhook: receiver.rows(`${DB}.orders`) };
      for (const [sink, d] of Object.entries(comparison.bySink)) {
        for (const id of [...d.missing, ...d.extra, ...d.different].slice(0, 5)) {
          console.log(`${sink} ${id}: table ${JSON.stringify(expected.get(id))} sink ${JSON.stringify(actual[sink as 'redis' | 'webhook'].get(id))}`);
          console.log(
            `  redis writes of ${id}: ${JSON.stringify(
              redisCounter.writes
                .filter((w) => w.key.endsWith(`:${id}`))
                .slice(-6)
                .map((w) => [w.at, redisCounter.users.get(w.addr), w.command]),
            )}`,
          );
        }
      }
    }
    return { ...comparison, duplicatesBySink };
  }

  it('kill -9 of the task owner, 5 times; the other worker takes over each time', async () => {
    const before = counters();
    const load = writer();
    load.start();
    const failoverMs: number[] = [];
    let lastTakeover = 0;
    try {
      for (let kill = 0; kill < 5; kill++) {
        await sleep(1500 + Math.random() * 1000);
        const owner = await waitFor(ownerOf, { timeoutMs: 30_000, what: 'an owner' });
        const victim = workers.get(owner)!;
        victim.proc.kill('SIGKILL');
        await victim.proc.exited;
        const killedAt = Date.now();
        const next = await waitFor(
          async () => {
            const o = await ownerOf();
            return o && o !== owner && running(o) ? o : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 50, what: `another worker than ${owner} owning and running the task` },
        );
        lastTakeover = Date.now();
        failoverMs.push(lastTakeover - killedAt);
        expect(next).not.toBe(owner);
        await startWorker(owner); // the killed worker comes back, as a supervisor would restart it
      }
      await sleep(1500);
    } finally {
      await load.stop();
    }
    const comparison = await compareAndReport('kill -9 of the task owner in a cluster x5', before, lastTakeover, {
      failoverSeconds: failoverMs.map((ms) => (ms / 1000).toFixed(1)).join('/'),
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      statements: load.statements,
    });
    expect(comparison.lost, describeComparison(comparison)).toBe(0);
    // the next owner resumes from the last committed position: at most the batch in flight per sink per kill
    const now = counters();
    expect(now.webhook - before.webhook).toBeLessThanOrEqual(5 * CHAOS_BATCH_ROWS);
    expect(now.redis - before.redis).toBeLessThanOrEqual(5 * CHAOS_BATCH_ROWS);
  });

  it('ZooKeeper stopped for longer than the session timeout', async () => {
    const before = counters();
    const logsBefore = new Map([...workers].map(([node, w]) => [node, w.proc.logs().length]));
    const load = writer();
    load.start();
    let upAt = 0;
    let resumedAt = 0;
    try {
      await sleep(2000);
      await runServices(['down', 'zookeeper']);
      const downAt = Date.now();
      await sleep(SESSION_TIMEOUT_MS * 2.5);
      await runServices(['up', 'zookeeper']);
      upAt = Date.now();
      expect(upAt - downAt).toBeGreaterThan(SESSION_TIMEOUT_MS * 2);
      // the task runs again on some worker
      await waitFor(
        () =>
          [...workers].some(([node, w]) =>
            w.proc
              .logs()
              .slice(logsBefore.get(node))
              .some((l) => l.msg === TASK_READING),
          )
            ? true
            : undefined,
        { timeoutMs: 60_000, what: 'the task started again after ZooKeeper came back' },
      );
      resumedAt = Date.now();
      await sleep(2000);
    } finally {
      await load.stop();
    }
    const lost = [...workers].flatMap(([node, w]) =>
      w.proc
        .logs()
        .slice(logsBefore.get(node))
        .filter((l) => l.msg === 'ZooKeeper session lost: stopping these tasks at once')
        .map(() => node),
    );
    const comparison = await compareAndReport('ZooKeeper stopped for longer than the session timeout', before, upAt, {
      zookeeperDownSeconds: ((SESSION_TIMEOUT_MS * 2.5) / 1000).toFixed(0),
      taskStoppedOnSessionLossBy: lost.join(',') || 'none',
      taskRunningAgainAfterMs: resumedAt - upAt,
      statements: load.statements,
    });
    expect(lost.length).toBeGreaterThanOrEqual(1);
    expect(comparison.lost).toBe(0);
    // While the session was disconnected nothing new went to the sinks (positions could not be
    // stored): what the next owner delivers again is at most the batch each sink had under way.
    expect(comparison.duplicatesBySink.webhook).toBeLessThanOrEqual(CHAOS_BATCH_ROWS);
    expect(comparison.duplicatesBySink.redis).toBeLessThanOrEqual(CHAOS_BATCH_ROWS);
  });

  it('the owner SIGSTOPped past its session: the other takes over, and the paused one writes nothing after it wakes', async () => {
    const before = counters();
    const load = writer();
    load.start();
    let owner = '';
    let continuedAt = 0;
    let takeoverMs = 0;
    try {
      await sleep(2000);
      owner = await waitFor(
        async () => {
          const o = await ownerOf();
          return o && running(o) ? o : undefined;
        },
        { timeoutMs: 30_000, what: 'an owner' },
      );
      const paused = workers.get(owner)!;
      const logsAtStop = paused.proc.logs().length;
      process.kill(paused.proc.child.pid!, 'SIGSTOP');
      const stoppedAt = Date.now();
      await waitFor(
        async () => {
          const o = await ownerOf();
          return o && o !== owner ? o : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50, what: 'another worker owning the task' },
      );
      takeoverMs = Date.now() - stoppedAt;
      await sleep(Math.max(0, stoppedAt + SESSION_TIMEOUT_MS * 2.5 - Date.now()));
      process.kill(paused.proc.child.pid!, 'SIGCONT');
      continuedAt = Date.now();
      await waitFor(
        () =>
          paused.proc
            .logs()
            .slice(logsAtStop)
            .some((l) => l.msg === 'ZooKeeper session lost: stopping these tasks at once'),
        {
          timeoutMs: 10_000,
          what: 'the paused worker noticing it lost its session',
        },
      );
      await sleep(3000);
    } finally {
      await load.stop();
    }
    // Deliveries from the paused worker after it woke, before it (maybe) owned the task again.
    const paused = workers.get(owner)!;
    const reacquired = paused.proc
      .logs()
      .filter((l) => l.msg === 'task acquired: starting it from its stored position' && Number(l.time) > continuedAt)
      .map((l) => Number(l.time))[0];
    const lateRedisWrites = redisCounter.writesBy(owner, continuedAt, reacquired ?? Infinity);
    const lateWrites = receiver.requestLog.filter(
      (r) => r.url.includes(`node=${owner}`) && r.at >= continuedAt && (reacquired === undefined || r.at < reacquired) && r.status < 300,
    );
    const comparison = await compareAndReport('owner SIGSTOPped past its session in a cluster', before, continuedAt, {
      pausedSeconds: ((SESSION_TIMEOUT_MS * 2.5) / 1000).toFixed(0),
      takeoverSeconds: (takeoverMs / 1000).toFixed(1),
      webhookWritesByThePausedWorkerAfterWaking: lateWrites.length,
      redisWritesByThePausedWorkerAfterWaking: lateRedisWrites.length,
      statements: load.statements,
    });
    expect(lateWrites).toEqual([]);
    expect(lateRedisWrites).toEqual([]);
    expect(comparison.lost).toBe(0);
  });
});
