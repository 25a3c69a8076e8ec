/**
 * Fencing at each sink, against the real servers: a write of an older owner (an older epoch), or of
 * an older change (an older binlog position), never replaces what a newer one wrote. Elasticsearch
 * compares external versions, Redis the task's epoch inside the script that writes, the webhook
 * receiver helper both. Expected contents and versions are written in the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { Client } from '@elastic/elasticsearch';
import type { BinlogPosition, RowEvent, SchemaChangeEvent } from '../../core/event/index.ts';
import { FencedError } from '../../core/errors/index.ts';
import type { DeliveryResult, SinkBatch } from '../../core/sink/index.ts';
import { elasticsearch, type ElasticsearchSink } from '../../sinks/elasticsearch/index.ts';
import { redis, type RedisSink } from '../../sinks/redis/index.ts';
import { createWebhookReceiver, webhook, type WebhookDelivery, type WebhookVerdict } from '../../sinks/http/index.ts';
import { servers, waitFor } from '../helpers/servers.ts';
import { freePort } from '../helpers/chaos-harness.ts';

const RUN = `fence_${process.pid}_${Date.now().toString(36)}`;
const signal = new AbortController().signal;
const TASK = 'orders';

const pos = (file: string, offset: number): BinlogPosition => ({ file, offset });

function event(action: 'insert' | 'delete', table: string, position: BinlogPosition, rows: Array<Record<string, string | number>>): RowEvent {
  return {
    schema: RUN,
    table,
    action,
    rows: rows.map((row) => Object.entries(row).map(([column, value]) => ({ column, value }))),
    position,
    timestamp: 1_700_000_000_000,
    primaryKey: ['id'],
  } as RowEvent;
}

function update(table: string, position: BinlogPosition, changes: Array<[Record<string, string | number>, Record<string, string | number>]>): RowEvent {
  return {
    schema: RUN,
    table,
    action: 'update',
    rows: changes.map(([before, after]) => Object.keys(after).map((column) => ({ column, before: before[column]!, after: after[column]! }))),
    position,
    timestamp: 1_700_000_000_000,
    primaryKey: ['id'],
  };
}

function schemaChange(change: 'truncate' | 'rename', table: string, position: BinlogPosition, to?: string, index = 0): SchemaChangeEvent {
  return {
    kind: 'schema',
    change,
    schema: RUN,
    table,
    ...(to ? { to: { schema: RUN, table: to } } : {}),
    statement: `${change} ${table}`,
    position,
    timestamp: 1_700_000_000_000,
    index,
  };
}

const batch = (events: RowEvent[], epoch: number): SinkBatch => ({ events, attempt: 1, signal, task: TASK, epoch });

describe('elasticsearch: external versions from binlog positions', () => {
  const es = new Client({ node: servers.elasticsearch.url });
  const sinks: ElasticsearchSink[] = [];
  const sink = (options: Parameters<typeof elasticsearch>[0] = { node: servers.elasticsearch.url }) => {
    const s = elasticsearch({ refresh: 'wait_for', index: '{schema}_{table}', ...options }).sink;
    sinks.push(s);
    return s;
  };
  const doc = async (table: string, id: string) => {
    const found = await es.get<Record<string, unknown>>({ index: `${RUN}_${table}`, id }, { ignore: [404] });
    return found.found ? { version: found._version, source: found._source } : undefined;
  };
  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await es.indices.delete({ index: `${RUN}_*` }, { ignore: [404] });
    await es.close();
  });

  it('a write older than the document is refused by ES and counted as done; _version is the position version', async () => {
    const s = sink();
    // mariadb-bin.000002:500 = 2 × 2^32 + 500
    expect(await s.write(batch([event('insert', 'a', pos('mariadb-bin.000002', 500), [{ id: 1, v: 'new' }])], 1))).toEqual([{ status: 'ok' }]);
    // an older change of the same row, from any sender (another epoch or not): ES keeps the newer one
    expect(await s.write(batch([event('insert', 'a', pos('mariadb-bin.000001', 900_000), [{ id: 1, v: 'old' }])], 2))).toEqual([{ status: 'ok' }]);
    expect(s.olderWritesSkipped).toBe(1);
    expect(await doc('a', '1')).toEqual({ version: 8589935092, source: { id: 1, v: 'new' } });
    // the same change again (a retry, a replay): equal versions are taken
    expect(await s.write(batch([event('insert', 'a', pos('mariadb-bin.000002', 500), [{ id: 1, v: 'new' }])], 1))).toEqual([{ status: 'ok' }]);
    expect(s.olderWritesSkipped).toBe(1);
  });

  it('a delete leaves a tombstone that refuses older writes (the index keeps them 5 minutes: gcDeletes)', async () => {
    const s = sink();
    await s.write(batch([event('insert', 'b', pos('mariadb-bin.000003', 100), [{ id: 7, v: 'x' }])], 1));
    await s.write(batch([event('delete', 'b', pos('mariadb-bin.000003', 300), [{ id: 7, v: 'x' }])], 1));
    // a stale owner's insert from between the two arrives late
    expect(await s.write(batch([event('insert', 'b', pos('mariadb-bin.000003', 200), [{ id: 7, v: 'stale' }])], 1))).toEqual([{ status: 'ok' }]);
    expect(await doc('b', '7')).toBeUndefined();
    const settings = await es.indices.getSettings({ index: `${RUN}_b`, name: 'index.gc_deletes' });
    expect(Object.values(settings)[0]!.settings).toEqual({ index: { gc_deletes: '5m' } });
  });

  it('indices of the `indices` option get gcDeletes too, unless their settings name gc_deletes', async () => {
    const s = sink({
      node: servers.elasticsearch.url,
      indices: { [`${RUN}_plain`]: { settings: { number_of_replicas: 0 } }, [`${RUN}_own`]: { settings: { index: { gc_deletes: '30s' } } } },
    });
    await s.start(signal);
    const gc = async (index: string) =>
      Object.values(await es.indices.getSettings({ index, name: 'index.gc_deletes' }))[0]!.settings as Record<string, unknown>;
    expect(await gc(`${RUN}_plain`)).toEqual({ index: { gc_deletes: '5m' } });
    expect(await gc(`${RUN}_own`)).toEqual({ index: { gc_deletes: '30s' } });
  });

  it('the rows of one rows event share its version: a chain of key changes in one UPDATE lands (external_gte)', async () => {
    const s = sink();
    await s.write(
      batch(
        [
          event('insert', 'c', pos('mariadb-bin.000004', 100), [
            { id: 1, v: 'one' },
            { id: 2, v: 'two' },
          ]),
        ],
        1,
      ),
    );
    // UPDATE c SET id = id + 1 (descending): 2 -> 3, then 1 -> 2, one rows event
    const chain = update('c', pos('mariadb-bin.000004', 200), [
      [
        { id: 2, v: 'two' },
        { id: 3, v: 'two' },
      ],
      [
        { id: 1, v: 'one' },
        { id: 2, v: 'one' },
      ],
    ]);
    expect(await s.write(batch([chain], 1))).toEqual([{ status: 'ok' }]);
    expect(await doc('c', '1')).toBeUndefined();
    expect((await doc('c', '2'))!.source).toEqual({ id: 2, v: 'one' });
    expect((await doc('c', '3'))!.source).toEqual({ id: 3, v: 'two' });
  });

  it('a TRUNCATE or RENAME applied late leaves the documents written after it alone', async () => {
    const s = sink();
    await s.write(batch([event('insert', 'd', pos('mariadb-bin.000005', 100), [{ id: 1, v: 'before' }])], 1));
    // the statement at 000005:200; a row written after it (000005:300) is there when the stale owner applies it
    await s.write(batch([event('insert', 'd', pos('mariadb-bin.000005', 300), [{ id: 2, v: 'after' }])], 1));
    expect(await s.applySchemaChange(schemaChange('truncate', 'd', pos('mariadb-bin.000005', 200)), { attempt: 1, signal, task: TASK, epoch: 1 })).toEqual({
      status: 'ok',
    });
    expect(await doc('d', '1')).toBeUndefined();
    expect((await doc('d', '2'))!.source).toEqual({ id: 2, v: 'after' });

    // RENAME e TO f at 000006:200 applied after f's row 1 was written at 000006:300: f keeps it
    await s.write(
      batch(
        [
          event('insert', 'e', pos('mariadb-bin.000006', 100), [
            { id: 1, v: 'from e' },
            { id: 2, v: 'e2' },
          ]),
        ],
        1,
      ),
    );
    await s.write(batch([event('insert', 'f', pos('mariadb-bin.000006', 300), [{ id: 1, v: 'newer in f' }])], 1));
    expect(await s.applySchemaChange(schemaChange('rename', 'e', pos('mariadb-bin.000006', 200), 'f'), { attempt: 1, signal, task: TASK, epoch: 1 })).toEqual({
      status: 'ok',
    });
    await es.indices.refresh({ index: `${RUN}_f` });
    // 6 × 2^32 + 300 and 6 × 2^32 + 200 (the statement's)
    expect(await doc('f', '1')).toEqual({ version: 25769804076, source: { id: 1, v: 'newer in f' } });
    expect(await doc('f', '2')).toEqual({ version: 25769803976, source: { id: 2, v: 'e2' } });
    expect(await doc('e', '2')).toBeUndefined();
  });

  it("operation 'update' merges without versions (ES refuses them on updates): the document keeps other writers' fields", async () => {
    const s = sink({ node: servers.elasticsearch.url, operation: 'update' });
    await es.index({ index: `${RUN}_g`, id: '1', document: { id: 1, extra: 'kept' }, refresh: true });
    expect(await s.write(batch([event('insert', 'g', pos('mariadb-bin.000007', 100), [{ id: 1, v: 'merged' }])], 1))).toEqual([{ status: 'ok' }]);
    expect(await doc('g', '1')).toEqual({ version: 2, source: { id: 1, extra: 'kept', v: 'merged' } });
  });
});

describe('redis: the epoch check runs in the script that writes', () => {
  const admin = new Redis(servers.redis.url);
  const sinks: RedisSink[] = [];
  const sink = () => {
    const s = redis({
      connection: servers.redis.url,
      key: `${RUN}:{table}:{id}`,
      value: 'json',
      registry: { prefix: `${RUN}:reg:` },
      fence: { keyPrefix: `${RUN}:epoch:` },
    }).sink;
    sinks.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    const keys = await admin.keys(`${RUN}:*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it('stores the newest epoch; a batch of an older one is refused whole (FencedError), a newer one goes through', async () => {
    const older = sink();
    const newer = sink();
    expect(await older.write(batch([event('insert', 't', pos('b.000001', 10), [{ id: 1, v: 'epoch 3' }])], 3))).toEqual([{ status: 'ok' }]);
    expect(await admin.get(`${RUN}:epoch:${TASK}`)).toBe('3');
    expect(await newer.write(batch([event('insert', 't', pos('b.000001', 20), [{ id: 1, v: 'epoch 4' }])], 4))).toEqual([{ status: 'ok' }]);
    expect(await admin.get(`${RUN}:epoch:${TASK}`)).toBe('4');

    const stale = batch(
      [event('insert', 't', pos('b.000001', 15), [{ id: 1, v: 'stale' }]), event('insert', 't', pos('b.000001', 16), [{ id: 9, v: 'stale too' }])],
      3,
    );
    const refused = await older.write(stale).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(FencedError);
    expect((refused as Error).message).toMatch(/holds epoch 4 .*newer than this worker's 3/);
    expect(JSON.parse((await admin.get(`${RUN}:t:1`))!)).toEqual({ id: 1, v: 'epoch 4' });
    expect(await admin.exists(`${RUN}:t:9`)).toBe(0);
    // nor the registry: it is written in the same script
    expect(await admin.smembers(`${RUN}:reg:ids:${RUN}.t`)).toEqual(['1']);
    // another task has an epoch of its own
    const other = await older.write({ ...batch([event('insert', 'u', pos('b.000001', 30), [{ id: 1, v: 'task 2' }])], 1), task: 'other' });
    expect(other).toEqual([{ status: 'ok' }]);
  });

  // a task of their own: the epochs here are not the other tests' epochs
  const ownTask = (events: RowEvent[], epoch: number): SinkBatch => ({ ...batch(events, epoch), task: `${TASK}-resp` });

  it('writes again, still fenced, after Redis lost the script (SCRIPT FLUSH)', async () => {
    const s = sink();
    expect(await s.write(ownTask([event('insert', 'f', pos('b.000003', 10), [{ id: 1, v: 'before flush' }])], 7))).toEqual([{ status: 'ok' }]);
    await admin.call('SCRIPT', 'FLUSH');
    expect(await s.write(ownTask([event('insert', 'f', pos('b.000003', 20), [{ id: 1, v: 'after flush' }])], 7))).toEqual([{ status: 'ok' }]);
    expect(JSON.parse((await admin.get(`${RUN}:f:1`))!)).toEqual({ id: 1, v: 'after flush' });
    await admin.call('SCRIPT', 'FLUSH');
    const refused = await s.write(ownTask([event('insert', 'f', pos('b.000003', 30), [{ id: 1, v: 'stale' }])], 6)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FencedError);
    expect(JSON.parse((await admin.get(`${RUN}:f:1`))!)).toEqual({ id: 1, v: 'after flush' });
  });

  it('a hash of more fields than the script unpacks at once is written whole, in parts of the same command', async () => {
    const s = redis({ connection: servers.redis.url, key: `${RUN}:{table}:{id}`, registry: false, fence: { keyPrefix: `${RUN}:epoch:` } }).sink;
    sinks.push(s);
    const row: Record<string, string | number> = { id: 1 };
    for (let c = 0; c < 2500; c++) row[`c${c}`] = `v${c}`;
    expect(await s.write(ownTask([event('insert', 'wide', pos('b.000004', 10), [row])], 7))).toEqual([{ status: 'ok' }]);
    const hash = await admin.hgetall(`${RUN}:wide:1`);
    expect(Object.keys(hash)).toHaveLength(2501);
    expect(hash['id']).toBe('1');
    expect(hash['c0']).toBe('v0');
    expect(hash['c2499']).toBe('v2499');
  });

  it('a schema change of an older owner changes nothing', async () => {
    const s = sink();
    await s.write(batch([event('insert', 'w', pos('b.000002', 10), [{ id: 1, v: 'kept' }])], 6));
    const refused = await s
      .applySchemaChange(schemaChange('truncate', 'w', pos('b.000002', 20)), { attempt: 1, signal, task: TASK, epoch: 5 })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FencedError);
    expect(JSON.parse((await admin.get(`${RUN}:w:1`))!)).toEqual({ id: 1, v: 'kept' });
    expect(await s.applySchemaChange(schemaChange('truncate', 'w', pos('b.000002', 20)), { attempt: 1, signal, task: TASK, epoch: 6 })).toEqual({
      status: 'ok',
    });
    expect(await admin.exists(`${RUN}:w:1`)).toBe(0);
  });
});

describe('redis cluster: each slot checks an epoch key of its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-fence-cluster-'));
  const procs: ChildProcess[] = [];
  let ports: number[] = [];
  let admin: Cluster;
  const sinks: RedisSink[] = [];

  beforeAll(async () => {
    ports = [await freePort(), await freePort(), await freePort()];
    for (const port of ports) {
      const proc = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      );
      procs.push(proc);
    }
    await waitFor(
      async () => {
        for (const port of ports) {
          const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
          probe.on('error', () => undefined);
          try {
            await probe.connect();
            await probe.ping();
          } catch {
            return false;
          } finally {
            probe.disconnect();
          }
        }
        return true;
      },
      { timeoutMs: 15_000, what: 'three redis-server nodes' },
    );
    await new Promise<void>((resolve, reject) => {
      const create = spawn('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
        stdio: 'ignore',
      });
      create.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create exited ${code}`))));
    });
    admin = new Cluster([{ host: '127.0.0.1', port: ports[0]! }]);
    await waitFor(async () => ((await admin.cluster('INFO')) as string).includes('cluster_state:ok'), { timeoutMs: 15_000, what: 'the cluster ok' });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    admin?.disconnect();
    for (const proc of procs) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('groups a batch by slot (one script per slot) and refuses an older epoch on every node', async () => {
    const s = redis({ connection: { cluster: [{ host: '127.0.0.1', port: ports[0]! }] }, key: '{table}:{id}', value: 'json' }).sink;
    sinks.push(s);
    await s.start();
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    const rows = ids.map((id) => ({ id, v: `epoch 2 #${id}` }));
    expect(await s.write(batch([event('insert', 't', pos('b.000001', 10), rows)], 2))).toEqual([{ status: 'ok' }]);
    // the keys spread over the three nodes
    const sizes = await Promise.all(admin.nodes('master').map((node) => node.dbsize()));
    expect(sizes.length).toBe(3);
    for (const size of sizes) expect(size).toBeGreaterThan(0);
    for (const id of ids) expect(JSON.parse((await admin.get(`t:${id}`))!)).toEqual({ id, v: `epoch 2 #${id}` });

    const refused = await s
      .write(
        batch(
          [
            event(
              'insert',
              't',
              pos('b.000001', 5),
              ids.map((id) => ({ id, v: 'stale' })),
            ),
          ],
          1,
        ),
      )
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FencedError);
    for (const id of ids) expect(JSON.parse((await admin.get(`t:${id}`))!)).toEqual({ id, v: `epoch 2 #${id}` });
    expect(await s.write(batch([event('delete', 't', pos('b.000001', 20), [{ id: 1, v: 'epoch 2 #1' }])], 3))).toEqual([{ status: 'ok' }]);
    expect(await admin.exists('t:1')).toBe(0);
  });
});

describe('webhook: fence headers, signed, and the receiver helper', () => {
  const SECRET = 'fence-webhook-secret-0123456789';
  const verdicts: Array<{ epoch: number; status: string; events: number; skipped: number }> = [];
  const applied: Array<RowEvent | SchemaChangeEvent> = [];
  const requests: Array<{ headers: Record<string, string | string[] | undefined>; raw: Buffer }> = [];
  const receiver = createWebhookReceiver({
    secret: SECRET,
    onDelivery: (delivery: WebhookDelivery) => void applied.push(...delivery.events),
    onVerdict: (v: WebhookVerdict) =>
      verdicts.push({
        epoch: 'epoch' in v ? v.epoch : -1,
        status: v.status,
        events: 'events' in v ? v.events.length : 0,
        skipped: 'skipped' in v ? v.skipped : 0,
      }),
  });
  let server: Server;
  let url = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      // the raw request, recorded beside the helper's own reading of it
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => requests.push({ headers: req.headers, raw: Buffer.concat(chunks) }));
      receiver.handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const write = (sink: ReturnType<typeof webhook>['sink'], events: RowEvent[], epoch: number): Promise<DeliveryResult[]> => sink.write(batch(events, epoch));
  const e = (offset: number, id: number, v: string) => event('insert', 'h', pos('mariadb-bin.000009', offset), [{ id, v }]);

  it('signs task, epoch, position and version (v2): the test computes the HMAC itself', async () => {
    const sink = webhook({ url, secret: SECRET, retries: 0 }).sink;
    expect(await write(sink, [e(100, 1, 'a'), e(200, 2, 'b')], 1)).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    const { headers: h, raw } = requests.at(-1)!;
    expect(h['x-tunnel-task']).toBe(TASK);
    expect(h['x-tunnel-epoch']).toBe('1');
    expect(h['x-tunnel-position']).toBe('mariadb-bin.000009:200');
    // 9 × 2^32 + 100 and 9 × 2^32 + 200
    expect(h['x-tunnel-version']).toBe('38654705764-38654705864');
    const v2 = createHmac('sha256', SECRET)
      .update(`v2\n${String(h['x-tunnel-timestamp'])}\n${TASK}\n1\nmariadb-bin.000009:200\n38654705764-38654705864\n`)
      .update(raw)
      .digest('hex');
    expect(String(h['x-tunnel-signature']).split(',')).toContain(`v2=${v2}`);
    await sink.close();
  });

  it('drops what was delivered before and everything of an older owner once a newer one delivered', async () => {
    applied.length = 0;
    verdicts.length = 0;
    const first = webhook({ url, secret: SECRET, retries: 0 }).sink;
    const second = webhook({ url, secret: SECRET, retries: 0 }).sink;
    // epoch 1 delivers 300 and 400
    expect(await write(first, [e(300, 3, 'c'), e(400, 4, 'd')], 1)).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    // the same body again (an answer lost): a duplicate
    expect(await write(first, [e(300, 3, 'c'), e(400, 4, 'd')], 1)).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    // epoch 2 takes over, replays from its committed position (300) and goes on (500)
    expect(await write(second, [e(300, 3, 'c'), e(400, 4, 'd'), e(500, 5, 'e')], 2)).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }]);
    // epoch 1 wakes up and sends what it had: refused, and its sink stops the task
    const stale = await write(first, [e(500, 5, 'e'), e(600, 6, 'stale')], 1).catch((x: unknown) => x);
    expect(stale).toBeInstanceOf(FencedError);
    expect((stale as Error).message).toMatch(/has had epoch 2, newer than this worker's 1/);
    expect(verdicts.map(({ epoch, status, events, skipped }) => [epoch, status, events, skipped])).toEqual([
      [1, 'fresh', 2, 0],
      [1, 'duplicate', 0, 2],
      // the replay's 300 is left out; 400, the newest version delivered, passes again: a change of
      // the same version may be new (a snapshot's rows share one), so at most one rows event is
      // delivered twice at a takeover
      [2, 'fresh', 2, 1],
      [1, 'stale', 0, 0],
    ]);
    expect(applied.map((x) => ((x as RowEvent).rows[0]![1] as { value: unknown }).value)).toEqual(['c', 'd', 'd', 'e']);
    await first.close();
    await second.close();
  });

  it('passes the later changes of a multi-table statement once, and refuses a tampered epoch header', async () => {
    applied.length = 0;
    verdicts.length = 0;
    const sink = webhook({ url, secret: SECRET, retries: 0 }).sink;
    const at = pos('mariadb-bin.000010', 100);
    const fence = { attempt: 1, signal, task: TASK, epoch: 2 };
    expect(await sink.applySchemaChange!(schemaChange('rename', 'a', at, 'tmp', 0), fence)).toEqual({ status: 'ok' });
    expect(await sink.applySchemaChange!(schemaChange('rename', 'b', at, 'a', 1), fence)).toEqual({ status: 'ok' });
    // a replay of the first change of the statement: delivered before
    expect(await sink.applySchemaChange!(schemaChange('rename', 'a', at, 'tmp', 0), fence)).toEqual({ status: 'ok' });
    expect(verdicts.map((v) => [v.status, v.events])).toEqual([
      ['fresh', 1],
      ['fresh', 1],
      ['duplicate', 0],
    ]);
    const { headers: h, raw } = requests.at(-1)!;
    expect((await receiver.verifyAndDedupe({ ...h, 'x-tunnel-epoch': '99' }, raw)).status).toBe('invalid');
    // the untouched request is recognised (as delivered before)
    expect((await receiver.verifyAndDedupe(h, raw)).status).toBe('duplicate');
    await sink.close();
  });
});
