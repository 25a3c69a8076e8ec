// Redis as it is deployed with Sentinel (scripts/services up redis-sentinel): a primary, its replica and
// three sentinels watching them under the master name "tunnel". A `tunnel start` task writes a table
// with a column of every kind RowWriter has into Redis (value 'json') through the sentinels, while a
// writer inserts, updates and deletes random rows; the primary is killed with SIGKILL, the sentinels
// promote the replica and Tunnel follows it. Once the writes stop, the promoted replica must hold the
// table, row for row and field by field. Duplicates are SETs a node ran from Tunnel's script with a key
// and value already written (MONITOR on both data nodes from the start; what a replica applies from
// its primary is not counted).
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, runServices, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import {
  deleteKeysOfNodes,
  ensureSentinelGroup,
  jsonRowsOfNodes,
  MultiNodeSetCounter,
  roleOf,
  SENTINEL_MASTER,
  sentinelMemberOf,
  sentinelMembers,
  sentinelPorts,
  sentinelPrimaryPort,
  waitForSentinelGroup,
  type SentinelMember,
} from '../helpers/redis-ha.ts';
import {
  CHAOS_BATCH_ROWS,
  describeComparison,
  masterPosition,
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

const DB = 'chaos_sentinel';

describe('chaos: Redis Sentinel, the primary killed under writes', () => {
  const dir = taskDir('sentinel');
  const counter = new MultiNodeSetCounter(`${DB}:`);
  const dataPorts = Object.values(sentinelMembers);
  const sentinels = sentinelPorts.map((port) => `{ host: '127.0.0.1', port: ${port} }`).join(', ');
  let startedGroup = false;
  let killed: SentinelMember | undefined;
  let tunnel: RunningTunnel | undefined;
  let conn: mysql.Connection;
  let pool: mysql.Pool;

  beforeAll(async () => {
    startedGroup = await ensureSentinelGroup();
    for (const port of dataPorts) await counter.watch(port);
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
  });

  afterAll(async () => {
    const code = await stopTunnel(tunnel);
    if (code !== 0) console.log(tunnel?.proc.output.slice(-3000));
    counter.stop();
    // the killed member comes back as the replica of the promoted one: the group is whole for the next run
    if (killed) await runServices(['up', killed]).catch((error: unknown) => console.log(String(error)));
    if (startedGroup) await runServices(['down', 'redis-sentinel']).catch(() => undefined);
    else if (killed) await waitForSentinelGroup().catch((error: unknown) => console.log(String(error)));
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  /**
   * A `tunnel start` of one task writing `table` into Redis through the sentinels (`sinkExtra`: more
   * options of the sink), a writer on the table; after 3 s the primary is killed and, once the replica
   * is promoted, `afterPromotion` runs; 4 s more of writes; then the promoted replica must hold the table.
   */
  async function failover(
    fault: string,
    table: string,
    sinkExtra: string,
    afterPromotion: (facts: Record<string, unknown>, killedAt: number) => Promise<void>,
  ): Promise<{ duplicates: number; retries: Array<Record<string, unknown>> }> {
    // the member an earlier fault killed comes back as the replica of the promoted one
    if (killed) await runServices(['up', killed]);
    killed = undefined;
    const { primary, replica } = await waitForSentinelGroup();
    const task = `sentinel-${table}`;
    // what an earlier run left: the rows, the table registry and the task's epoch key
    for (const pattern of [`${DB}:${table}:*`, `tunnel:*:${DB}.${table}`, `tunnel:epoch:${task}`]) await deleteKeysOfNodes([sentinelMembers[primary]], pattern);
    await conn.query(`DROP TABLE IF EXISTS ${DB}.${table}`);
    await conn.query(RowWriter.createTableSql(`${DB}.${table}`));
    await stopTunnel(tunnel);
    const configFile = writeConfig(
      {
        dir,
        tasks: [
          {
            name: task,
            db: DB,
            serverId: 7950,
            startFrom: await masterPosition(conn),
            plugins: [
              `redis({ name: 'redis', connection: { sentinels: [${sentinels}], name: '${SENTINEL_MASTER}' }, key: '${DB}:{table}:{id}', value: 'json'${sinkExtra} })`,
            ],
          },
        ],
      },
      `${task}.config.ts`,
    );
    tunnel = await startTunnel(configFile);
    const before = { duplicates: counter.duplicates, sets: counter.sets };
    const load = new RowWriter(pool, `${DB}.${table}`, { keys: 400, batch: 4, pauseMs: 5 });
    const facts: Record<string, unknown> = { killed: primary, promoted: replica };
    const logMark = tunnel.proc.logs().length;
    load.start();
    try {
      await sleep(3000);
      expect(counter.sets - before.sets, 'Tunnel writes to the primary before the kill').toBeGreaterThan(100);
      const killedAt = Date.now();
      await runServices(['kill', primary]);
      killed = primary;
      await waitFor(async () => (await sentinelPrimaryPort()) === sentinelMembers[replica] && (await roleOf(sentinelMembers[replica])) === 'master', {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: `the sentinels promoting ${replica}`,
      });
      facts.promotedAfterMs = Date.now() - killedAt;
      await afterPromotion(facts, killedAt);
      await sleep(4000);
    } finally {
      await load.stop();
    }
    const writesStopped = Date.now();
    const expected = await tableRows(conn, `${DB}.${table}`);
    const comparison = await waitUntilEqual(expected, { redis: () => jsonRowsOfNodes([sentinelMembers[replica]], `${DB}:${table}:`) }, 90_000);
    expect(sentinelMemberOf((await sentinelPrimaryPort())!)).toBe(replica);
    const retries = tunnel.proc
      .logs()
      .slice(logMark)
      .filter((l) => l.msg === 'sink write will be retried');
    facts.retries = retries.length;
    facts.eventsSentAgain = retries.reduce((sum, l) => sum + Number(l.events), 0);
    facts.retryReasons = [...new Set(retries.map((l) => String(l.reason).replace(/\d+/g, 'N')))].join(' | ');
    const duplicates = counter.duplicates - before.duplicates;
    reportFault({
      fault,
      lost: comparison.lost,
      duplicates,
      duplicatesBySink: { redis: duplicates },
      recoveryMs: comparison.endedAt - writesStopped,
      rows: expected.size,
      statements: load.statements,
      sets: counter.sets - before.sets,
      ...facts,
    });
    if (comparison.lost > 0) console.log(describeComparison(comparison));
    expect(tunnel.proc.child.exitCode).toBeNull();
    expect(load.statements).toBeGreaterThan(300);
    expect(comparison.lost, describeComparison(comparison)).toBe(0);
    // the loss of the primary reached Tunnel: its writes failed and were sent again
    expect(retries.length).toBeGreaterThan(0);
    return { duplicates, retries };
  }

  it('kill -9 of the primary: the replica is promoted, Tunnel follows, the table arrives whole', async () => {
    const { duplicates } = await failover('Redis Sentinel: kill -9 of the primary under writes (replica promoted)', 'orders', '', async (facts, killedAt) => {
      // Tunnel's first write on the promoted replica (its writes there are SETs from the script)
      const setsAtPromotion = counter.sets;
      await waitFor(() => counter.sets > setsAtPromotion, { timeoutMs: 30_000, intervalMs: 20, what: 'a write of Tunnel on the promoted replica' });
      facts.writingAgainAfterMs = Date.now() - killedAt;
    });
    // the batch under way when the primary died is sent again whole to the promoted replica: at most
    // one batch (batch.maxRows rows, one SET each under this load) is written twice
    expect(duplicates).toBeLessThanOrEqual(CHAOS_BATCH_ROWS);
  });

  it('with waitForReplicas: 1, writes wait while the promoted replica has no replica, and go on once the old primary is back as one', async () => {
    const { duplicates, retries } = await failover(
      'Redis Sentinel with waitForReplicas 1: kill -9 of the primary; the old primary back as a replica 3 s after the promotion',
      'orders_wait',
      ', waitForReplicas: { replicas: 1, timeoutMs: 500 }',
      async (facts, killedAt) => {
        await sleep(3000);
        await runServices(['up', killed!]);
        killed = undefined;
        await waitForSentinelGroup();
        facts.replicaAgainAfterMs = Date.now() - killedAt;
        const setsThen = counter.sets;
        await waitFor(() => counter.sets > setsThen, { timeoutMs: 30_000, intervalMs: 20, what: 'a write of Tunnel once a replica is back' });
      },
    );
    // the promoted replica took the writes, but without a replica of its own WAIT answered 0: the
    // batch was sent again until one was back
    expect(retries.some((l) => /replicas asked for \(waitForReplicas\)/.test(String(l.reason)))).toBe(true);
    // each of those retries writes the batch again: duplicates are bounded by the events sent again
    expect(duplicates).toBeLessThanOrEqual(retries.reduce((sum, l) => sum + Number(l.events), 0));
  });
});
