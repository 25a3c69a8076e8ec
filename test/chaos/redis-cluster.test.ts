// Redis Cluster as it is deployed (scripts/services up redis-cluster: three primaries sharing the 16384
// slots, no replicas, append-only files fsynced per write). A `tunnel start` task writes a table with a
// column of every kind RowWriter has into the cluster (value 'json'; keys hash over all three nodes)
// while a writer inserts, updates and deletes random rows. First a TRUNCATE in the middle of the
// writes; then one primary killed with SIGKILL and started again: without a replica its slots are
// unserved meanwhile (and the cluster refuses every write once it sees the node fail), so Tunnel must
// retry, lose nothing and catch up once the node is back. After each, the three nodes together hold
// the table, row for row and field by field. Duplicates are SETs a node ran from Tunnel's script with
// a key and value already written (MONITOR on every node).
import { Cluster } from 'ioredis';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, runServices, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import {
  clusterMembers,
  clusterSeeds,
  clusterStateOk,
  deleteKeysOfNodes,
  ensureRedisCluster,
  jsonRowsOfNodes,
  MultiNodeSetCounter,
  type ClusterMember,
} from '../helpers/redis-ha.ts';
import {
  describeComparison,
  masterPosition,
  patientPool,
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

const DB = 'chaos_rcluster';
const TASK = 'rcluster';
const PREFIX = `${DB}:orders:`;
/** Row ids 1..KEYS: their keys fall in slots all over the 16384, on all three nodes. */
const KEYS = 2000;

describe('chaos: Redis Cluster of three primaries', () => {
  const dir = taskDir('rcluster');
  const counter = new MultiNodeSetCounter(`${DB}:`);
  const ports = Object.values(clusterMembers);
  let startedCluster = false;
  let killed: ClusterMember | undefined;
  let tunnel: RunningTunnel | undefined;
  let conn: mysql.Connection;
  let pool: mysql.Pool;

  const rows = () => jsonRowsOfNodes(ports, PREFIX);

  beforeAll(async () => {
    startedCluster = await ensureRedisCluster();
    // what an earlier run left: the rows, the table registry and the task's epoch keys (one per slot)
    for (const pattern of [`${DB}:*`, `tunnel:*:${DB}*`, `tunnel:epoch:${TASK}*`]) await deleteKeysOfNodes(ports, pattern);
    for (const port of ports) await counter.watch(port);
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
    const seeds = clusterSeeds.map((s) => `{ host: '${s.host}', port: ${s.port} }`).join(', ');
    const configFile = writeConfig({
      dir,
      tasks: [
        {
          name: TASK,
          db: DB,
          serverId: 7960,
          startFrom: await masterPosition(conn),
          plugins: [`redis({ name: 'redis', connection: { cluster: [${seeds}] }, key: '${DB}:{table}:{id}', value: 'json' })`],
        },
      ],
    });
    tunnel = await startTunnel(configFile);
  });

  afterAll(async () => {
    const code = await stopTunnel(tunnel);
    if (code !== 0) console.log(tunnel?.proc.output.slice(-3000));
    counter.stop();
    if (killed) await runServices(['up', killed]).catch((error: unknown) => console.log(String(error)));
    if (startedCluster) await runServices(['down', 'redis-cluster']).catch(() => undefined);
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  /** Stops the writes, waits until the nodes hold the table; reports and asserts lost 0. */
  async function settle(fault: string, load: RowWriter, before: { duplicates: number; sets: number }, facts: Record<string, unknown>) {
    await load.stop();
    const writesStopped = Date.now();
    const expected = await tableRows(conn, `${DB}.orders`);
    const comparison = await waitUntilEqual(expected, { redis: rows }, 120_000);
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
    expect(tunnel!.proc.child.exitCode).toBeNull();
    expect(load.statements).toBeGreaterThan(300);
    expect(comparison.lost, describeComparison(comparison)).toBe(0);
    // every node holds some of the rows: the keys are spread over the cluster
    for (const port of ports) expect((await jsonRowsOfNodes([port], PREFIX)).size, `rows on 127.0.0.1:${port}`).toBeGreaterThan(0);
    return { duplicates, expected };
  }

  it('inserts, updates and deletes over all three nodes, a TRUNCATE in the middle: the nodes hold the table', async () => {
    const before = { duplicates: counter.duplicates, sets: counter.sets };
    const load = new RowWriter(pool, `${DB}.orders`, { keys: KEYS, batch: 4, pauseMs: 5 });
    load.start();
    let rowsBeforeTruncate = 0;
    try {
      await sleep(3000);
      rowsBeforeTruncate = (await rows()).size;
      await conn.query(`TRUNCATE TABLE ${DB}.orders`);
      await sleep(3000);
    } catch (error) {
      await load.stop();
      throw error;
    }
    expect(rowsBeforeTruncate).toBeGreaterThan(100);
    const { duplicates, expected } = await settle('Redis Cluster (3 primaries): writes with a TRUNCATE in the middle', load, before, { rowsBeforeTruncate });
    expect(duplicates).toBe(0);
    // the table registry (which TRUNCATE walks) names exactly the rows left
    const client = new Cluster(clusterSeeds, { redisOptions: { maxRetriesPerRequest: 1 } });
    client.on('error', () => undefined);
    try {
      const registered = await client.smembers(`tunnel:ids:${DB}.orders`);
      expect(registered.sort()).toEqual([...expected.keys()].sort());
    } finally {
      client.disconnect();
    }
  });

  it('kill -9 of one primary for 6 s, then started again: Tunnel retries, loses nothing, catches up', async () => {
    const victim: ClusterMember = 'cluster-redis2';
    const before = { duplicates: counter.duplicates, sets: counter.sets };
    const load = new RowWriter(patientPool(pool), `${DB}.orders`, { keys: KEYS, batch: 4, pauseMs: 5 });
    const victimPort = clusterMembers[victim];
    const facts: Record<string, unknown> = { killed: victim };
    const logMark = tunnel!.proc.logs().length;
    load.start();
    try {
      await sleep(3000);
      const killedAt = Date.now();
      await runServices(['kill', victim]);
      killed = victim;
      await sleep(6000);
      await runServices(['up', victim]);
      killed = undefined;
      const upAt = Date.now();
      facts.downSeconds = ((upAt - killedAt) / 1000).toFixed(1);
      await waitFor(async () => (await Promise.all(ports.map(clusterStateOk))).every(Boolean), {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'cluster_state:ok on every node',
      });
      facts.clusterOkAfterStartMs = Date.now() - upAt;
      // Tunnel writing to the restarted node again (the counter's MONITOR follows it back)
      const setsThere = counter.setsByPort.get(victimPort) ?? 0;
      await waitFor(() => (counter.setsByPort.get(victimPort) ?? 0) > setsThere, {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: `a write of Tunnel on ${victim} after its start`,
      });
      facts.writingThereAfterStartMs = Date.now() - upAt;
      await sleep(3000);
    } catch (error) {
      await load.stop();
      throw error;
    }
    const retries = tunnel!.proc
      .logs()
      .slice(logMark)
      .filter((l) => l.msg === 'sink write will be retried');
    // every retry sends the batch again from its first event that did not land: what landed after
    // that event is written twice, so the events sent again bound the duplicates
    const eventsSentAgain = retries.reduce((sum, l) => sum + Number(l.events), 0);
    facts.retries = retries.length;
    facts.eventsSentAgain = eventsSentAgain;
    facts.retryReasons = [...new Set(retries.map((l) => String(l.reason).replace(/\d+/g, 'N')))].join(' | ');
    const { duplicates } = await settle('Redis Cluster (3 primaries, no replicas): kill -9 of one primary for 6 s, started again', load, before, facts);
    // the node's outage reached Tunnel: its writes were refused and sent again
    expect(retries.length).toBeGreaterThan(0);
    expect(duplicates).toBeLessThanOrEqual(eventsSentAgain);
  });
});
