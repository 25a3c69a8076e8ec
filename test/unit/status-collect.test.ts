import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FilePositionStore } from '../../core/checkpoint/index.ts';
import { resolveConfig, type ResolvedConfig } from '../../core/config/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { bytesBehind, collectStatus, formatStatus, redactText, startStatusServer, type ClusterView } from '../../core/status/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';

const TOKEN = 'collect-token-123456';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function makeConfig(dir: string, port: number, names = ['orders', 'users']): ResolvedConfig {
  return resolveConfig({
    positions: { dir: join(dir, 'positions') },
    deadLetters: { dir: join(dir, 'dl') },
    status: { host: '127.0.0.1', port, token: TOKEN },
    shutdownTimeoutMs: 200,
    tasks: names.map((name, i) => ({
      name,
      source: { host: '127.0.0.1', port: 1, user: 'cdc', password: 'db-password-xyz', serverId: 200 + i },
      plugins: [memorySinkPlugin('mem', new MemorySink())],
      batch: { maxWaitMs: 1 },
      commitIntervalMs: 10,
    })),
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe('collectStatus / formatStatus', () => {
  it('standalone: reads the local worker from config.status and prints a table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-collect-'));
    const port = await freePort();
    const config = makeConfig(dir, port);
    const sources: FakeSource[] = [];
    const worker = new Worker(config, { createSource: () => (sources.push(new FakeSource()), sources.at(-1)!), logger: silentLogger() });
    await worker.startAll();
    const server = await startStatusServer(worker, { host: '127.0.0.1', port, token: TOKEN, serverPositionIntervalMs: 0, defaultMetrics: false });
    closers.push(
      () => worker.close(),
      () => server.close(),
    );
    sources[0]!.transaction(1204, [1, 2]); // rows events end at 1214 and 1224, its commit at 1234
    await new Promise((r) => setTimeout(r, 100));

    const status = await collectStatus({ config });
    expect(status.standalone).toBe(true);
    expect(status.nodes).toHaveLength(1);
    expect(status.nodes[0]).toMatchObject({ reachable: true, ready: true });
    expect(status.tasks.map((t) => t.state)).toEqual(['running', 'running']);
    expect(status.tasks.find((t) => t.position?.offset === 1234)).toBeDefined();
    const text = formatStatus(status);
    expect(text).toMatch(/^TASK +OWNER +STATE +POSITION +LAG +BEHIND +EVENTS\/S +LAST ERROR$/m);
    expect(text).toContain('bin.000001:1234');
    expect(text).not.toContain('db-password-xyz');
    expect(JSON.stringify(status)).not.toContain('db-password-xyz');

    // a wrong token is reported, not thrown
    const refused = await collectStatus({ config, token: 'wrong' });
    expect(refused.nodes[0]).toMatchObject({ reachable: false });
    expect(refused.nodes[0]!.error).toContain('401');
  });

  it('standalone with the worker down: positions from the position files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-collect-down-'));
    const config = makeConfig(dir, await freePort());
    await new FilePositionStore(config.positions.dir).save('users', { position: { file: 'mariadb-bin.000003', offset: 77 }, updatedAt: 1 });
    const status = await collectStatus({ config, timeoutMs: 500 });
    expect(status.nodes[0]!.reachable).toBe(false);
    expect(status.tasks.find((t) => t.name === 'users')).toMatchObject({
      state: 'unknown (worker unreachable)',
      position: { file: 'mariadb-bin.000003', offset: 77 },
    });
    expect(formatStatus(status)).toContain('not reachable');
  });

  it('cluster: merges ZooKeeper view and every reachable worker; unreachable nodes and their tasks are flagged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-collect-cluster-'));
    const config = resolveConfig({
      ...makeConfig(dir, 0, ['orders', 'users', 'audit']),
      cluster: { name: 'prod', group: 'dc1', node: 'node-a', zookeeper: { connect: '127.0.0.1:1' } },
    } as unknown as Parameters<typeof resolveConfig>[0]);
    const worker = new Worker(config, { createSource: () => new FakeSource(), logger: silentLogger() });
    await worker.startTask('orders');
    const view: ClusterView = {
      cluster: 'prod',
      group: 'dc1',
      node: 'node-a',
      leader: 'node-a',
      session: 'connected',
      nodes: [{ id: 'node-a' }, { id: 'node-b', statusUrl: `http://127.0.0.1:${await freePort()}` }],
      assignment: { orders: 'node-a', users: 'node-b' },
      positions: { users: { file: 'mariadb-bin.000009', offset: 99 } },
    };
    const server = await startStatusServer(worker, {
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      cluster: () => view,
      serverPositionIntervalMs: 0,
      defaultMetrics: false,
    });
    view.nodes[0]!.statusUrl = server.url;
    closers.push(
      () => worker.close(),
      () => server.close(),
    );

    const status = await collectStatus({ config, cluster: async () => view, timeoutMs: 500 });
    expect(status).toMatchObject({ standalone: false, cluster: 'prod', group: 'dc1', leader: 'node-a' });
    expect(status.nodes.map((n) => [n.id, n.reachable, n.leader])).toEqual([
      ['node-a', true, true],
      ['node-b', false, false],
    ]);
    const byName = Object.fromEntries(status.tasks.map((t) => [t.name, t]));
    expect(byName.orders).toMatchObject({ owner: 'node-a', state: 'running' });
    expect(byName.users).toMatchObject({ owner: 'node-b', state: 'unknown (owner unreachable)', position: { offset: 99 } });
    expect(byName.audit).toMatchObject({ owner: null, state: 'unassigned' });
    const text = formatStatus(status);
    expect(text).toContain('cluster prod  group dc1  leader node-a');
    expect(text).toMatch(/node-a \* +http/);
  });
});

describe('redaction and lag bytes', () => {
  it('removes known secrets, URL credentials and password-like pairs', () => {
    expect(redactText('connect mysql://cdc:hunter2@db:3306 failed', [])).toBe('connect mysql://cdc:[redacted]@db:3306 failed');
    expect(redactText('auth failed: password=hunter2; apiKey: "abc123"', [])).toBe('auth failed: password=[redacted]; apiKey: "[redacted]"');
    expect(redactText('header Authorization: Bearer abc.def', [])).toBe('header Authorization: Bearer [redacted]');
    expect(redactText('the value s3cr3t-value leaked', ['s3cr3t-value'])).toBe('the value [redacted] leaked');
  });

  it('counts the bytes from a position to the end of the binlog', () => {
    const files = [
      { name: 'b.000001', size: 1000 },
      { name: 'b.000002', size: 500 },
      { name: 'b.000003', size: 300 },
    ];
    expect(bytesBehind(files, { file: 'b.000002', offset: 200 })).toBe(300 + 300);
    expect(bytesBehind(files, { file: 'b.000003', offset: 300 })).toBe(0);
    expect(bytesBehind(files, { file: 'b.000000', offset: 4 })).toBeNull();
  });
});
