import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, redisClient, repoRoot, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { TunnelProcess } from '../helpers/tunnel-process.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { redisJsonRows, tableRows, waitUntilSinksEqual } from '../helpers/compare-rows.ts';
import { ensureZooKeeper, Registry } from '../helpers/cluster-harness.ts';

const CLUSTER = `e2e${process.pid}`;
const GROUP = 'g1';
const TASKS = Array.from({ length: 6 }, (_, i) => `t${i + 1}`);
const dbOf = (task: string) => `cluster_e2e_${task}`;
const SECRET = 'cluster-e2e-webhook-secret-012345';
const PORTS = [18191, 18192, 18193];

function configText(dir: string, start: { file: string; offset: number }, hookUrl: string): string {
  const tasks = TASKS.map(
    (task, i) => `{
      name: '${task}',
      source: { host: '127.0.0.1', port: ${servers.mariadb.port}, user: '${servers.mariadb.user}', password: '${servers.mariadb.password}',
        serverId: ${7400 + i}, include: ['${dbOf(task)}.*'], startFrom: ${JSON.stringify(start)} },
      commitIntervalMs: 50,
      plugins: [
        redis({ name: 'cache', connection: { host: '127.0.0.1', port: ${servers.redis.port} }, key: '{schema}:{table}:{id}', value: 'json' }),
        webhook({ name: 'hook', url: '${hookUrl}', secret: '${SECRET}' }),
      ],
    }`,
  );
  return `
import { defineConfig } from '${repoRoot}/core/index.ts';
import { redis } from '${repoRoot}/sinks/redis/index.ts';
import { webhook } from '${repoRoot}/sinks/http/index.ts';
const port = Number(process.env.STATUS_PORT);
export default defineConfig({
  cluster: { name: '${CLUSTER}', group: '${GROUP}', node: 'worker-' + port, zookeeper: { connect: '${servers.zookeeper.connectString}', sessionTimeoutMs: 4000 } },
  status: { port },
  positions: { dir: '${dir}/positions' },
  deadLetters: { dir: '${dir}/dead-letters' },
  shutdownTimeoutMs: 10000,
  tasks: [${tasks.join(',')}],
});
`;
}

describe('cluster of three workers streaming six tasks', () => {
  const receiver = new WebhookReceiver(SECRET);
  const redis = redisClient();
  const workers = new Map<number, TunnelProcess>();
  let registry: Registry;
  let conn: mysql.Connection;
  afterAll(async () => {
    for (const w of workers.values()) w.kill('SIGKILL');
    await registry?.removeCluster().catch(() => undefined);
    await registry?.close();
    await receiver.close();
    redis.disconnect();
    await conn?.end();
  });

  it('spreads 2/2/2, survives kill -9 of the leader, hands over on SIGTERM, and every sink equals its table', async () => {
    await ensureZooKeeper();
    conn = await mysqlConnection();
    for (const task of TASKS) {
      await createTestDatabase(dbOf(task));
      await conn.query(RowWriter.createTableSql(`${dbOf(task)}.orders`));
      const stale = await redis.keys(`${dbOf(task)}:*`);
      if (stale.length) await redis.del(...stale);
    }
    const [[master]] = (await conn.query('SHOW MASTER STATUS')) as unknown as [[{ File: string; Position: number }]];
    const dir = mkdtempSync(join(repoRoot, '.data', 'cluster-e2e-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const configFile = join(dir, 'tunnel.config.ts');
    writeFileSync(configFile, configText(dir, { file: master.File, offset: Number(master.Position) }, await receiver.start()));

    registry = await Registry.open(CLUSTER, GROUP, TASKS);
    for (const port of PORTS) workers.set(port, new TunnelProcess(configFile, { STATUS_PORT: String(port) }));
    const spread = (s: Awaited<ReturnType<Registry['snapshot']>>) =>
      Object.values(Object.values(s.owners).reduce<Record<string, number>>((acc, node) => (node ? { ...acc, [node]: (acc[node] ?? 0) + 1 } : acc), {})).sort();
    // The first worker up takes every task; the leader rebalances as the others join.
    let snap = await waitFor(
      async () => {
        const s = await registry.snapshot();
        return s.nodes.length === 3 && spread(s).join() === '2,2,2' ? s : undefined;
      },
      { timeoutMs: 60_000, what: 'six tasks spread 2/2/2 over three workers' },
    );

    // The fixed layout, the leader's address in `election`, and a 2/2/2 spread.
    expect(snap.groupChildren).toEqual(expect.arrayContaining(['election', 'nodes', 'task']));
    expect(snap.nodes).toEqual(PORTS.map((p) => `worker-${p}`));
    expect(PORTS.map((p) => `http://127.0.0.1:${p}`)).toContain(snap.election);
    expect(spread(snap)).toEqual([2, 2, 2]);

    const pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 6 });
    const writers = TASKS.map((task) => new RowWriter(pool, `${dbOf(task)}.orders`, { keys: 200, batch: 3, pauseMs: 20 }));
    writers.forEach((w) => w.start());
    await new Promise((r) => setTimeout(r, 3000));

    // kill -9 of the leader, which also runs two tasks.
    const leaderPort = Number(new URL(snap.election!).port);
    const leaderNode = `worker-${leaderPort}`;
    const orphans = TASKS.filter((t) => snap.owners[t] === leaderNode);
    const before = Object.fromEntries(orphans.map((t) => [t, snap.positions[t]?.version ?? -1]));
    const killedAt = Date.now();
    workers.get(leaderPort)!.kill('SIGKILL');
    workers.delete(leaderPort);
    snap = await waitFor(
      async () => {
        const s = await registry.snapshot();
        const moved = orphans.every(
          (t) => s.owners[t] && s.owners[t] !== leaderNode && (s.positions[t]?.version ?? -1) > before[t]! && s.positions[t]?.writtenBy === s.owners[t],
        );
        return moved ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'orphaned tasks committing on a survivor' },
    );
    const failoverMs = Date.now() - killedAt;
    expect(snap.election).toBeDefined();
    expect(snap.election).not.toBe(`http://127.0.0.1:${leaderPort}`);

    await new Promise((r) => setTimeout(r, 2000));
    // Graceful SIGTERM of one survivor: its tasks drain, commit, and move at once.
    const [leavingPort] = [...workers.keys()];
    const leaving = workers.get(leavingPort!)!;
    const leavingTasks = TASKS.filter((t) => snap.owners[t] === `worker-${leavingPort}`);
    // duplicates so far come from the kill -9 (replayed by the survivors); a graceful hand-over adds none
    const duplicatesBeforeHandover = receiver.duplicates;
    const termAt = Date.now();
    leaving.kill('SIGTERM');
    await waitFor(
      async () => {
        const s = await registry.snapshot();
        return leavingTasks.every((t) => s.owners[t] && s.owners[t] !== `worker-${leavingPort}`) ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 20, what: 'tasks of the stopped worker owned by the last one' },
    );
    const handoverMs = Date.now() - termAt;
    const leavingExit = await leaving.exited;
    workers.delete(leavingPort!);

    await Promise.all(writers.map((w) => w.stop()));
    await pool.end();
    const waited: string[] = [];
    for (const task of TASKS) {
      const expected = await tableRows(conn, `${dbOf(task)}.orders`);
      const { waitedMs } = await waitUntilSinksEqual(`cluster e2e, task ${task}`, {
        redis: { expected, read: () => redisJsonRows(redis, `${dbOf(task)}:orders:`) },
        webhook: { expected, read: () => receiver.rows(`${dbOf(task)}.orders`) },
      });
      waited.push(`${task} ${expected.size} rows, equal after ${waitedMs} ms`);
    }
    const statements = writers.reduce((n, w) => n + w.statements, 0);
    const handoverDuplicates = receiver.duplicates - duplicatesBeforeHandover;
    // the timings are reported, not asserted: a 2-core machine shared with three workers and the
    // servers cannot promise them (the waits above bound them at 30 s and 15 s)
    console.log(
      `cluster e2e: ${statements} statements over 6 tasks; kill -9 of the leader -> orphaned tasks committing on a survivor after ${failoverMs} ms (session timeout 4000 ms); ` +
        `SIGTERM hand-over ${handoverMs} ms; duplicates delivered ${receiver.duplicates} (${handoverDuplicates} after the graceful hand-over); ${waited.join('; ')}`,
    );
    expect(leavingExit.code).toBe(0);
    // the leaving worker drained and committed before it let go: its tasks' next owners send nothing twice
    expect(handoverDuplicates).toBe(0);
    expect(receiver.badSignatures).toBe(0);
  });
});
