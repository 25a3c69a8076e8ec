import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { ClusterMember, ZooKeeperPositionStore } from '../../core/cluster/index.ts';
import { resolveConfig, type ResolvedConfig } from '../../core/config/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { createBinlogSource } from '../../core/source/index.ts';
import { collectStatus, formatStatus, startStatusServer, watchClusterView, type StatusServer, type WorkerStatusReport } from '../../core/status/index.ts';
import { redis } from '../../sinks/redis/index.ts';
import { createTestDatabase, mysqlConnection, servers, waitFor } from '../helpers/servers.ts';

// `tunnel status` in a cluster, all real: two workers (ClusterMember on ZooKeeper, binlog source on
// MariaDB, Redis sink), each with its status endpoint advertised in its registry node; collectStatus
// reads the registry and both endpoints.
const TOKEN = 'cluster-status-token-1';
const clusterName = `status-it-${process.pid}-${Date.now()}`;
let db: string;
let conn: Connection;

interface Node {
  id: string;
  config: ResolvedConfig;
  member: ClusterMember;
  worker: Worker;
  server: StatusServer;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function configFor(node: string, port: number): ResolvedConfig {
  const dir = mkdtempSync(join(tmpdir(), `tunnel-status-cluster-${node}-`));
  return resolveConfig({
    cluster: { name: clusterName, group: 'g1', node, zookeeper: { connect: servers.zookeeper.connectString, sessionTimeoutMs: 4000 } },
    positions: { dir },
    deadLetters: { dir },
    status: { host: '127.0.0.1', port, token: TOKEN },
    shutdownTimeoutMs: 5000,
    tasks: ['orders', 'users', 'audit'].map((table, i) => ({
      name: `t-${table}`,
      source: { ...servers.mariadb, serverId: 34_000 + i, include: [`${db}.${table}`], startFrom: 'latest' as const },
      plugins: [redis({ connection: servers.redis.url, value: 'json' })],
      commitIntervalMs: 50,
    })),
  });
}

/**
 * The wiring a worker process does: its registry node advertises the status URL of its config
 * (`statusUrl`), the status endpoint shows the member's view of the registry.
 */
async function startNode(id: string): Promise<Node> {
  const config = configFor(id, await freePort());
  const statusUrl = `http://${config.status.host}:${config.status.port as number}`;
  const member = new ClusterMember({
    connect: servers.zookeeper.connectString,
    cluster: clusterName,
    group: 'g1',
    nodeId: id,
    tasks: config.tasks.map((t) => t.name),
    sessionTimeoutMs: 4000,
    rebalanceDelayMs: 50,
    advertise: { statusUrl },
  });
  const worker = new Worker(config, { createSource: createBinlogSource, positionStore: new ZooKeeperPositionStore(member), logger: silentLogger() });
  const view = watchClusterView(member, { intervalMs: 300, tasks: config.tasks.map((t) => t.name) });
  const server = await startStatusServer(worker, {
    host: config.status.host,
    port: config.status.port as number,
    token: TOKEN,
    cluster: () => view.get(),
    defaultMetrics: false,
  });
  expect(server.url).toBe(statusUrl);
  member.on('taskAcquired', (task) => void worker.startTask(task));
  member.on('taskReleasing', (release) => release.waitUntil(worker.stopTask(release.task)));
  member.on('tasksLost', (lost) => lost.waitUntil(Promise.all(lost.tasks.map((t) => worker.stopTask(t, { abandon: true })))));
  await member.start();
  return {
    id,
    config,
    member,
    worker,
    server,
    async close() {
      view.close();
      await member.close();
      await worker.close();
      await server.close();
    },
  };
}

const nodes: Node[] = [];

beforeAll(async () => {
  db = await createTestDatabase('tunnel_status_cluster');
  conn = await mysqlConnection({ database: db });
  for (const table of ['orders', 'users', 'audit']) await conn.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(20))`);
  nodes.push(await startNode('node-a'), await startNode('node-b'));
});

afterAll(async () => {
  for (const node of nodes) await node.close().catch(() => undefined);
  await conn?.end();
});

describe('tunnel status in a cluster (ZooKeeper, two workers)', () => {
  it('shows the leader, both nodes and every task with its owner, state and position', async () => {
    const running = () =>
      nodes.flatMap((n) =>
        n.worker
          .status()
          .filter((t) => n.worker.tasks.has(t.name) && t.state === 'running')
          .map((t) => t.name),
      );
    await waitFor(() => running().length === 3, { timeoutMs: 30_000, what: 'three tasks running' });
    for (const [i, table] of ['orders', 'users', 'audit'].entries()) await conn.query(`INSERT INTO ${table} VALUES (?, 'x')`, [i + 1]);
    await waitFor(() => nodes.every((n) => [...n.worker.tasks.values()].every((r) => r.stats.committedPosition !== undefined)), {
      timeoutMs: 20_000,
      what: 'positions committed',
    });

    const config = nodes[0]!.config;
    const status = await waitFor(
      async () => {
        const s = await collectStatus({ config });
        return s.nodes.length === 2 && s.tasks.every((t) => t.state === 'running' && t.position && t.lagBytes !== null) ? s : undefined;
      },
      { timeoutMs: 15_000, what: 'status of both workers' },
    );
    expect(status.standalone).toBe(false);
    expect(status.cluster).toBe(clusterName);
    expect(status.group).toBe('g1');
    const leader = nodes.find((n) => n.member.isLeader)!;
    expect(status.leader).toBe(leader.id);
    expect(status.nodes.map((n) => [n.id, n.reachable, n.ready, n.statusUrl])).toEqual(nodes.map((n) => [n.id, true, true, n.server.url]));
    const assignment = leader.member.assignment;
    for (const task of status.tasks) {
      expect(task.owner, task.name).toBe(assignment[task.name]);
      expect(task.lagSeconds).not.toBeNull();
      expect(task.lagBytes).toBeGreaterThanOrEqual(0); // SHOW BINARY LOGS from the worker, every 5 s
    }
    const text = formatStatus(status);
    expect(text).toContain(`cluster ${clusterName}  group g1  leader ${leader.id}`);
    expect(text).toMatch(new RegExp(`${leader.id} \\* +http://127\\.0\\.0\\.1:\\d+ +ready`));
    console.log(`[status-cluster]\n${text}`);

    // each worker's own endpoint shows the group as the registry has it
    const report = (await (await fetch(`${nodes[0]!.server.url}/api/status`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as WorkerStatusReport;
    expect(report.cluster).toMatchObject({ name: clusterName, group: 'g1', leader: leader.id, session: 'connected' });
    expect(report.cluster!.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b']);
  });

  it('lists a worker whose endpoint does not answer as unreachable, its tasks with the position stored in ZooKeeper', async () => {
    const b = nodes.find((n) => n.id === 'node-b')!;
    const owned = [...b.worker.tasks.keys()];
    expect(owned.length).toBeGreaterThan(0);
    await b.server.close(); // the worker still runs and holds its tasks; only its endpoint is gone
    const status = await collectStatus({ config: b.config, timeoutMs: 1000 });
    const nodeB = status.nodes.find((n) => n.id === 'node-b')!;
    expect(nodeB.reachable).toBe(false);
    expect(nodeB.error).toMatch(/ECONNREFUSED/);
    for (const name of owned) {
      const task = status.tasks.find((t) => t.name === name)!;
      expect(task).toMatchObject({ owner: 'node-b', state: 'unknown (owner unreachable)' });
      expect(task.position).toEqual(b.worker.tasks.get(name)!.stats.committedPosition);
    }
    expect(formatStatus(status)).toContain('unreachable: ');
  });
});
