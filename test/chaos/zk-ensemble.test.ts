// ZooKeeper as it is deployed: a three-server ensemble (scripts/services up zookeeper-ensemble) and two
// `tunnel start` workers given its three-host connect string, sharing one task that writes to Redis
// (value 'json') and a webhook receiver while a writer inserts, updates and deletes random rows.
// Faults: kill -9 of the ZooKeeper leader, kill -9 of a follower (the one the task owner's session is
// on), and a rolling restart of all three members. A worker whose server goes away reconnects to
// another one within its session, so after each: the task never changed owner (same owner node,
// same epoch, no session lost), no sink got anything twice, and both sinks equal the table.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, runServices, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { PrivateRedis, RedisSetCounter } from '../helpers/chaos-servers.ts';
import { Registry } from '../helpers/cluster-harness.ts';
import {
  ENSEMBLE_MEMBERS,
  ensembleConnect,
  ensembleModes,
  ensureEnsemble,
  leaderOf,
  memberOfSession,
  waitForQuorumOfThree,
  type EnsembleMember,
} from '../helpers/zk-ensemble.ts';
import { registryPaths, sessionIdHex, ZkConnection } from '../../core/cluster/index.ts';
import {
  describeComparison,
  isReading,
  masterPosition,
  redisRows,
  removeDir,
  reportFault,
  sleep,
  startTunnel,
  stopTunnel,
  taskDir,
  waitUntilEqual,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_ensemble';
const SECRET = 'chaos-ensemble-webhook-secret-01';
const TASK = 'ha';
const SESSION_TIMEOUT_MS = 6000;
const cluster = `chaos_ensemble_${process.pid}`;
const paths = registryPaths(cluster, 'g');

interface Ownership {
  node: string;
  /** The owner node's creation zxid: a new acquisition creates a new node. */
  czxid: string;
  sessionId: string;
  /** task/{task}'s data version, bumped by every acquisition. */
  epoch: number;
}

describe('chaos: a three-server ZooKeeper ensemble', () => {
  const dir = taskDir('ensemble');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  const workers = new Map<string, RunningTunnel>();
  let startedEnsemble = false;
  let redisCounter: RedisSetCounter;
  let redis: ReturnType<PrivateRedis['client']>;
  let zk: ZkConnection;
  let conn: mysql.Connection;
  let pool: mysql.Pool;

  const ownership = async (): Promise<Ownership | undefined> => {
    const owner = await zk.getData(paths.owner(TASK));
    const task = await zk.getData(paths.task(TASK));
    if (!owner || !task) return undefined;
    return {
      node: owner.data.toString('utf8'),
      czxid: owner.stat.czxid.toString('hex'),
      sessionId: sessionIdHex(owner.stat.ephemeralOwner),
      epoch: task.stat.version,
    };
  };
  const running = (node: string) => isReading(workers.get(node));
  const counters = () => ({ webhook: receiver.duplicates, redis: redisCounter.duplicates });
  const logsSince = (marks: Map<string, number>, msg: string) =>
    [...workers].flatMap(([node, w]) =>
      w.proc
        .logs()
        .slice(marks.get(node))
        .filter((l) => l.msg === msg)
        .map((l): Record<string, unknown> & { node: string } => ({ ...l, node })),
    );

  beforeAll(async () => {
    startedEnsemble = await ensureEnsemble();
    zk = new ZkConnection({ connect: ensembleConnect, sessionTimeoutMs: 20_000 });
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
    const configFile = writeConfig({
      dir,
      extra: `cluster: { name: '${cluster}', group: 'g', node: fromEnv('CHAOS_NODE'), zookeeper: { connect: '${ensembleConnect}', sessionTimeoutMs: ${SESSION_TIMEOUT_MS} } },`,
      tasks: [
        {
          name: TASK,
          db: DB,
          serverId: 7940,
          startFrom: await masterPosition(conn),
          plugins: [
            `redis({ name: 'redis', connection: { host: '127.0.0.1', port: ${redisServer.port}, username: fromEnv('CHAOS_NODE'), password: 'pw-' + fromEnv('CHAOS_NODE') }, key: '${DB}:{table}:{id}', value: 'json' })`,
            `webhook({ name: 'webhook', url: '${receiver.url}?node=' + fromEnv('CHAOS_NODE'), secret: '${SECRET}', retries: 1 })`,
          ],
        },
      ],
    });
    for (const node of ['n1', 'n2']) workers.set(node, await startTunnel(configFile, { CHAOS_NODE: node }));
    await waitFor(
      async () => {
        const owner = await ownership();
        return owner && running(owner.node) ? owner : undefined;
      },
      { timeoutMs: 30_000, what: 'the task owned and running' },
    );
  });

  afterAll(async () => {
    for (const worker of workers.values()) await stopTunnel(worker, 'SIGKILL');
    await runServices(['up', 'zookeeper-ensemble']).catch((error: unknown) => console.log(String(error)));
    await new Registry(zk, cluster, 'g', []).removeCluster().catch(() => undefined);
    await zk?.close().catch(() => undefined);
    if (startedEnsemble) await runServices(['down', 'zookeeper-ensemble']).catch(() => undefined);
    redisCounter?.stop();
    redis?.disconnect();
    await redisServer.stop();
    await receiver.close();
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  /**
   * Writes for 2 s, runs the fault (which returns once the ensemble serves with all three again), writes
   * for 3 s more, then compares; asserts one owner throughout, no duplicate and no loss. Recovery is
   * from the moment the writes stopped to every sink equal.
   */
  async function underWrites(fault: string, inject: () => Promise<Record<string, unknown>>) {
    const before = counters();
    const marks = new Map([...workers].map(([node, w]) => [node, w.proc.logs().length]));
    const load = new RowWriter(pool, `${DB}.orders`, { keys: 400, batch: 4, pauseMs: 5 });
    const owned = await waitFor(ownership, { what: 'an owner' });
    load.start();
    let extra: Record<string, unknown> = {};
    try {
      await sleep(2000);
      extra = await inject();
      await sleep(3000);
    } finally {
      await load.stop();
    }
    const writesStopped = Date.now();
    const expected = await tableRows(conn, `${DB}.orders`);
    const comparison = await waitUntilEqual(
      expected,
      { redis: () => redisRows(redis, `${DB}:orders:`), webhook: async () => receiver.rows(`${DB}.orders`) },
      90_000,
    );
    const now = counters();
    const duplicatesBySink = { webhook: now.webhook - before.webhook, redis: now.redis - before.redis };
    const owner = workers.get(owned.node)!;
    const held = logsSince(marks, 'positions can be stored again: the sinks and the source go on').filter((l) => l.node === owned.node);
    const disconnects = logsSince(marks, 'zookeeper disconnected; the session holds until its timeout').filter((l) => l.node === owned.node);
    reportFault({
      fault,
      lost: comparison.lost,
      duplicates: duplicatesBySink.webhook + duplicatesBySink.redis,
      duplicatesBySink,
      recoveryMs: comparison.endedAt - writesStopped,
      rows: expected.size,
      statements: load.statements,
      ownerDisconnects: disconnects.length,
      ownerWritesHeldMs: held.map((l) => Number(l.waitedMs)).join('/') || '0',
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      ...extra,
    });
    if (comparison.lost > 0) console.log(describeComparison(comparison));
    expect(owner.proc.child.exitCode).toBeNull();
    expect(logsSince(marks, 'ZooKeeper session lost: stopping these tasks at once')).toEqual([]);
    expect(logsSince(marks, 'task acquired: starting it from its stored position')).toEqual([]);
    expect(await ownership()).toEqual(owned);
    expect(duplicatesBySink).toEqual({ webhook: 0, redis: 0 });
    expect(comparison.lost).toBe(0);
  }

  /** kill -9 of `member`, the ensemble serving with two; `member` started again after `downMs`. */
  async function killAndRestart(member: EnsembleMember, downMs: number): Promise<Record<string, unknown>> {
    await runServices(['kill', member]);
    const killedAt = Date.now();
    const others = ENSEMBLE_MEMBERS.filter((m) => m !== member);
    await waitFor(
      async () => {
        const modes = await ensembleModes();
        return others.some((m) => modes[m] === 'leader') && others.every((m) => modes[m]) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'the other two members serving' },
    );
    const servingAgainMs = Date.now() - killedAt;
    await sleep(Math.max(0, killedAt + downMs - Date.now()));
    await runServices(['up', member]);
    await waitForQuorumOfThree();
    return { killed: member, quorumOfTwoAfterMs: servingAgainMs, downSeconds: ((Date.now() - killedAt) / 1000).toFixed(1) };
  }

  it('kill -9 of the ZooKeeper leader: the task keeps its owner, no duplicate, sinks equal the table', async () => {
    await underWrites('kill -9 of the ZooKeeper leader (3-server ensemble)', async () => {
      const leader = await leaderOf();
      const owner = (await ownership())!;
      const ownerWasOn = await memberOfSession(owner.sessionId);
      return { ...(await killAndRestart(leader, 4000)), ownerSessionWasOn: ownerWasOn === leader ? 'the leader' : 'a follower' };
    });
  });

  it('kill -9 of a follower (the one the owner is connected to, when it is on one)', async () => {
    await underWrites('kill -9 of a ZooKeeper follower (3-server ensemble)', async () => {
      const leader = await leaderOf();
      const owner = (await ownership())!;
      const ownerWasOn = await memberOfSession(owner.sessionId);
      // the owner's own server when it is a follower; else the other worker's, so that a session moves
      const other = [...workers.keys()].find((node) => node !== owner.node)!;
      const otherSession = workers
        .get(other)!
        .proc.logs()
        .filter((l) => l.msg === 'zookeeper session established')
        .at(-1)?.sessionId;
      const otherWasOn = typeof otherSession === 'string' ? await memberOfSession(otherSession) : undefined;
      const follower = [ownerWasOn, otherWasOn].find((m) => m !== undefined && m !== leader) ?? ENSEMBLE_MEMBERS.find((m) => m !== leader)!;
      const whose = follower === ownerWasOn ? "the owner's" : follower === otherWasOn ? "the other worker's" : 'no worker';
      return { ...(await killAndRestart(follower, 4000)), sessionsOnTheKilledFollower: whose };
    });
  });

  it('rolling restart of all three members, followers first', async () => {
    await underWrites('rolling restart of a 3-server ZooKeeper ensemble', async () => {
      const leader = await leaderOf();
      const order = [...ENSEMBLE_MEMBERS.filter((m) => m !== leader), leader];
      const restartMs: number[] = [];
      for (const member of order) {
        const started = Date.now();
        await runServices(['restart', member]);
        await waitForQuorumOfThree();
        restartMs.push(Date.now() - started);
        await sleep(1000);
      }
      return { order: order.join(','), restartSeconds: restartMs.map((ms) => (ms / 1000).toFixed(1)).join('/') };
    });
  });
});
