// Chaos: database failover by GTID, on each source server with its replica from scripts/services.
// A task reads the primary with `source.hosts` listing the primary and the replica, into Redis
// (value 'json'), a webhook receiver and Elasticsearch (external versions: a write of the promoted
// server lands only because the move starts a new source generation, whose versions order after
// every earlier one). The primary is killed (kill -9) and the replica promoted,
// the way a failover tool does it (the replica applies what it received, then stops replicating);
// the writes go on against the promoted replica. Tunnel must continue there from the GTID set: every
// sink equals the promoted server's table, duplicates counted. A promoted replica that lacks
// transactions the task already delivered must be refused with a SourceDivergedError instead.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  createTestDatabase,
  esClient,
  runForGtid,
  runServices,
  serverGtids,
  servers,
  sourceConnection,
  sourceServers,
  waitFor,
  type SourceServer,
} from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { EsCountingProxy, PrivateRedis, RedisSetCounter } from '../helpers/chaos-servers.ts';
import { executedOn, replicaOf, replicationSql, waitApplied, waitReceived, type ReplicaOf } from '../helpers/replication.ts';
import {
  apiStatus,
  esRows,
  masterPosition,
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

const SECRET = 'chaos-failover-webhook-secret-01';
/** Statements per transaction of the write load. */
const TRANSACTION_STATEMENTS = 4;

/** A pool for RowWriter that writes to whichever server is the primary now, waiting (up to 60 s) while there is none. */
class PrimaryPool {
  constructor(public target: mysql.Pool) {}

  asPool(): mysql.Pool {
    return {
      getConnection: async () => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            return await this.target.getConnection();
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await sleep(200);
          }
        }
      },
    } as unknown as mysql.Pool;
  }
}

describe.each(sourceServers)('chaos: database failover by GTID ($label)', (server: SourceServer) => {
  const pair: ReplicaOf = replicaOf(server);
  const dir = taskDir(`failover-${server.name}`);
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const es = esClient();
  const proxy = new EsCountingProxy(servers.elasticsearch.url, `failover_${server.flavor}`);
  const redisServer = new PrivateRedis(`${dir}/redis`);
  let redisCounter: RedisSetCounter;
  let primaryPool: mysql.Pool;
  let replicaPool: mysql.Pool;
  let tunnel: RunningTunnel | undefined;
  let serverId = server.flavor === 'mariadb' ? 7950 : 7960;

  const counters = {
    webhook: { duplicates: () => receiver.duplicates, writes: () => receiver.eventsReceived },
    redis: { duplicates: () => redisCounter.duplicates, writes: () => redisCounter.sets },
    elasticsearch: { duplicates: () => proxy.duplicates, writes: () => proxy.acknowledged },
  };

  /** A database on the primary (replicated), and a tunnel start reading it with both servers as candidates. */
  async function begin(db: string, reconnect = ''): Promise<{ tunnel: RunningTunnel; primary: mysql.Connection; replica: mysql.Connection }> {
    await createTestDatabase(db, server);
    await es.indices.delete({ index: `${db}_*`, ignore_unavailable: true, allow_no_indices: true });
    const primary = await sourceConnection(server);
    await primary.query(RowWriter.createTableSql(`${db}.orders`));
    const replica = await sourceConnection(pair.replica);
    await waitApplied(server, replica, await executedOn(server, primary));
    const start = await masterPosition(primary);
    const hosts = [server.connection, pair.replica.connection].map((c) => `'${c.host}:${c.port}'`).join(', ');
    const id = serverId++;
    const configFile = writeConfig(
      {
        dir,
        tasks: [
          {
            name: db,
            db,
            serverId: id,
            source: `{ hosts: [${hosts}], user: '${server.connection.user}', password: '${server.connection.password}', serverId: ${id}, include: ['${db}.*'], startFrom: ${JSON.stringify(start)}${reconnect} }`,
            plugins: [sinkText.redis(redisServer.port, `${db}:{table}:{id}`), sinkText.webhook(receiver.url, SECRET), sinkText.elasticsearch(proxy.url)],
          },
        ],
      },
      `${db}.config.ts`,
    );
    tunnel = await startTunnel(configFile);
    const started = tunnel;
    onTestFailed(() => {
      const lines = started.proc.logs().filter((l) => l.msg !== 'sink write will be retried');
      console.log(
        `tunnel log (last lines, without sink retries):\n${lines
          .slice(-40)
          .map((l) => JSON.stringify(l).slice(0, 800))
          .join('\n')}`,
      );
    });
    return { tunnel, primary, replica };
  }

  /** The primary is killed; the replica becomes the primary once it has applied `applied` (as a failover tool waits for it). */
  async function killPrimary(): Promise<number> {
    const t = Date.now();
    await runServices(['kill', server.name]);
    return Date.now() - t;
  }

  async function promote(replica: mysql.Connection): Promise<void> {
    for (const sql of replicationSql.promote(server)) await replica.query(sql);
  }

  beforeAll(async () => {
    await runServices(['up', pair.service]);
    await redisServer.start();
    redisCounter = new RedisSetCounter(redisServer, 'failover_');
    await redisCounter.start();
    await receiver.start();
    await proxy.start();
    primaryPool = mysql.createPool({ ...server.connection, connectionLimit: 4 });
    replicaPool = mysql.createPool({ ...pair.replica.connection, connectionLimit: 4 });
  });

  afterAll(async () => {
    const code = await stopTunnel(tunnel);
    if (code !== 0 && tunnel) console.log(tunnel.proc.output.slice(-3000));
    redisCounter?.stop();
    await redisServer.stop();
    await receiver.close();
    await proxy.close();
    await es.close();
    await primaryPool?.end().catch(() => undefined);
    await replicaPool?.end().catch(() => undefined);
    // the primary again for the tests after this one; the replica (promoted) stops
    await runServices(['up', server.name]);
    await runServices(['down', pair.service]);
    removeDir(dir);
  });

  it('the primary is killed under writes, the replica promoted: Tunnel waits for the replica to apply what it read, then continues there from the GTID set', async () => {
    const db = `failover_${server.flavor}_kill`;
    const { tunnel: running, primary, replica } = await begin(db);
    const writes = new PrimaryPool(primaryPool);
    const extra: Record<string, unknown> = {};
    let replicaGtids = { executed: '', identity: '' };
    const result = await runFault({
      name: `${server.label}: primary killed (kill -9) under writes, replica promoted`,
      load: () => new RowWriter(writes.asPool(), `${db}.orders`, { keys: 400, batch: TRANSACTION_STATEMENTS, pauseMs: 4 }),
      inject: async () => {
        // the webhook refuses everything until Tunnel reads the promoted server: no position is
        // committed over the move (the source resumes after what it read, not what was committed)
        receiver.failing = true;
        // the replica receives but does not apply for a while: when the primary is gone it lacks
        // transactions Tunnel has read, so Tunnel must wait for it
        await replica.query(replicationSql.stopApplying(server));
        await sleep(1500);
        // no more commits on the primary, so the replica receives all it has (a failover tool's
        // catch-up step; a transaction no replica received would be lost by the database itself)
        await primary.query('FLUSH TABLES WITH READ LOCK');
        const executed = await executedOn(server, primary);
        try {
          await waitReceived(server, replica, executed);
        } catch (error) {
          // the writes blocked by the lock must end for the test to report
          await primary.query('UNLOCK TABLES');
          throw error;
        }
        extra.killMs = await killPrimary();
        const killedAt = Date.now();
        await running.proc.waitForLog(
          (l) => l.msg === 'binlog connection lost; reconnecting' && String(l.error).includes('waiting for it to catch up'),
          30_000,
        );
        extra.waitedForReplica = true;
        await replica.query(replicationSql.startApplying(server));
        await waitApplied(server, replica, executed);
        extra.appliedAt = Date.now();
        extra.killedAt = killedAt;
        await promote(replica);
        writes.target = replicaPool;
      },
      holdMs: 0,
      heal: async () => {
        const moved = await running.proc.waitForLog((l) => l.msg === 'binlog connection re-established' && l.moved === true, 60_000);
        extra.generation = moved.generation;
        // from the kill to Tunnel reading the replica (includes the replica's held-back applier), and
        // from the replica having applied all Tunnel read (a failover tool's promotion point) to it
        extra.movedAfterKillMs = Number(moved.time) - Number(extra.killedAt);
        extra.movedAfterAppliedMs = Number(moved.time) - Number(extra.appliedAt);
        delete extra.killedAt;
        delete extra.appliedAt;
        receiver.failing = false;
        // writes go on against the promoted server for a while
        await sleep(3000);
      },
      expected: async () => {
        replicaGtids = await serverGtids(pair.replica);
        return tableRows(replica, `${db}.orders`);
      },
      sinks: () => {
        const redis = redisServer.client();
        return {
          readers: {
            redis: () => redisRows(redis, `${db}:orders:`),
            webhook: async () => receiver.rows(`${db}.orders`),
            elasticsearch: () => esRows(es, `${db}_orders`),
          },
          close: () => redis.disconnect(),
        };
      },
      counters,
      extra,
    });
    expect(result.statements).toBeGreaterThan(300);
    expect(result.comparison.lost).toBe(0);
    expect(extra.generation).toBe(1);
    // the source resumes after what it read, not after the committed position: at most the
    // transaction open when the connection dropped is read again whole, one write per statement
    expect(Object.keys(result.outcome.duplicatesBySink ?? {}).sort()).toEqual(['elasticsearch', 'redis', 'webhook']);
    for (const [sink, duplicates] of Object.entries(result.outcome.duplicatesBySink!)) {
      expect(duplicates, `${sink} duplicates`).toBeLessThanOrEqual(TRANSACTION_STATEMENTS);
    }
    // the committed position is the promoted server's: its identity, its GTIDs, generation 1
    const status = await waitFor(
      async () => {
        const task = (await apiStatus(running)).tasks[0]!;
        const position = task.committedPosition as Record<string, unknown> | null;
        return position?.gtidSet === replicaGtids.executed ? position : undefined;
      },
      { timeoutMs: 20_000, what: 'the committed position reaching the promoted server end' },
    );
    expect(status).toMatchObject({ server: replicaGtids.identity, generation: 1 });
    expect(running.proc.child.exitCode).toBeNull();
    await stopTunnel(running);
    await primary.end().catch(() => undefined);
    await replica.end();
  });

  it('a promoted replica that lacks transactions the task delivered is refused: SourceDivergedError naming them, nothing read from it', async () => {
    // the primary back, the replica replicating it again (scripts/services points a replica that
    // does not replicate at the primary's current position)
    await runServices(['up', server.name, pair.service]);
    const db = `failover_${server.flavor}_diverged`;
    // few quick attempts: the primary does not come back
    const { tunnel: running, primary, replica } = await begin(db, ', reconnect: { maxAttempts: 6, maxDelayMs: 1000 }');
    await primary.query(`INSERT INTO ${db}.orders (id, note, amount, qty, version) VALUES (1, 'both', 1.00, 1, 1)`);
    await waitApplied(server, replica, await executedOn(server, primary));
    // the replica stops receiving; five transactions reach the primary and Tunnel only
    await replica.query(replicationSql.stopReceiving(server));
    const gtids: string[] = [];
    for (let id = 2; id <= 6; id++) {
      gtids.push(await runForGtid(server, primary, `INSERT INTO ${db}.orders (id, note, amount, qty, version) VALUES (?, 'primary only', 2.00, 1, 1)`, [id]));
    }
    // what the promoted server will lack, as the server names GTIDs: MariaDB the domain's last, MySQL the interval
    const number = (gtid: string) => gtid.slice(gtid.lastIndexOf(':') + 1);
    const lacking = server.flavor === 'mariadb' ? gtids[4]! : `${gtids[0]!.slice(0, gtids[0]!.lastIndexOf(':'))}:${number(gtids[0]!)}-${number(gtids[4]!)}`;
    const executed = await executedOn(server, primary);
    await waitFor(async () => ((await apiStatus(running)).tasks[0]!.committedPosition as { gtidSet?: string } | null)?.gtidSet === executed, {
      timeoutMs: 30_000,
      what: 'Tunnel committed the transactions the replica lacks',
    });
    const redis = redisServer.client();
    try {
      await waitFor(async () => ((await redisRows(redis, `${db}:orders:`)).size === 6 ? true : undefined), {
        timeoutMs: 10_000,
        what: 'the six rows in Redis',
      });
    } finally {
      redis.disconnect();
    }
    await killPrimary();
    await promote(replica);
    const [[{ n }]] = (await replica.query(`SELECT COUNT(*) AS n FROM ${db}.orders`)) as unknown as [[{ n: number }]];
    expect(Number(n)).toBe(1);
    // while the primary might come back, Tunnel says why the replica cannot be used, and waits
    const refused = await running.proc.waitForLog(
      (l) => l.msg === 'binlog connection lost; reconnecting' && String(l.error).includes('TUNNEL_ERR_SOURCE_DIVERGED'),
      30_000,
    );
    expect(String(refused.error)).toContain(`(${lacking})`);
    const failed = await running.proc.waitForLog((l) => l.msg === 'task failed and stops', 60_000);
    const err = failed.err as { type: string; code: string; message: string };
    expect(err.type).toBe('SourceDivergedError');
    expect(err.code).toBe('TUNNEL_ERR_SOURCE_DIVERGED');
    expect(err.message).toContain(`${pair.replica.connection.host}:${pair.replica.connection.port}`);
    expect(err.message).toContain('lacks transactions the task already read');
    expect(err.message).toContain(`(${lacking})`);
    // nothing of the diverged server was read: the position stays the primary's
    const task = (await apiStatus(running)).tasks[0]!;
    expect(task.state).toBe('failed');
    expect((task.committedPosition as { gtidSet?: string }).gtidSet).toBe(executed);
    await stopTunnel(running);
    await primary.end().catch(() => undefined);
    await replica.end();
  });
});
