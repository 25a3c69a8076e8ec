/**
 * Each sink applies TRUNCATE, DROP, DROP DATABASE and RENAME to what it holds of the table, and
 * leaves every other table (and every other program's keys and documents) alone. Real Redis,
 * Elasticsearch and an HTTP receiver; expected contents written in the test.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Client } from '@elastic/elasticsearch';
import type { BinlogPosition, RowEvent, SchemaChangeEvent, SchemaChangeKind, TableName } from '../../core/event/index.ts';
import { redis, type RedisSink } from '../../sinks/redis/index.ts';
import { elasticsearch, type ElasticsearchSink } from '../../sinks/elasticsearch/index.ts';
import { webhook } from '../../sinks/http/index.ts';
import { STANDALONE_EPOCH } from '../../core/sink/index.ts';
import { servers } from '../helpers/servers.ts';

const RUN = `tsk_ddl_${process.pid}_${Date.now().toString(36)}`;
const signal = new AbortController().signal;
let offset = 1000;
/** What the runtime passes a standalone task's sinks with every write. */
const fence = { task: 'test', epoch: STANDALONE_EPOCH };
const at = (): BinlogPosition => ({ file: 'binlog.000007', offset: (offset += 100) });

function insert(schema: string, table: string, rows: Array<Record<string, string | number>>): RowEvent {
  return {
    schema,
    table,
    action: 'insert',
    rows: rows.map((row) => Object.entries(row).map(([column, value]) => ({ column, value }))),
    position: at(),
    timestamp: 1_700_000_000_000,
    primaryKey: ['id'],
    columnTypes: {
      id: { dataType: 'int', columnType: 'int' },
      name: { dataType: 'varchar', columnType: 'varchar(20)' },
      score: { dataType: 'double', columnType: 'double' },
    },
  };
}

function change(kind: SchemaChangeKind, schema: string, table: string, to?: TableName): SchemaChangeEvent {
  return {
    kind: 'schema',
    change: kind,
    schema,
    table,
    ...(to ? { to } : {}),
    statement: `${kind} ${table}`,
    position: at(),
    timestamp: 1_700_000_000_000,
    index: 0,
  };
}

const rowsOf = (prefix: string, ids: number[]) => ids.map((id) => ({ id, name: `${prefix}${id}`, score: id / 2 }));

describe('redis sink: schema changes through the table registry', () => {
  let admin: Redis;
  let sink: RedisSink;
  const s = `${RUN}_r`;

  beforeAll(async () => {
    admin = new Redis(servers.redis.url, { maxRetriesPerRequest: 1 });
    sink = redis({
      connection: servers.redis.url,
      key: `${RUN}:{schema}:{table}:{id}`,
      registry: { prefix: `${RUN}:reg:` },
      indexes: [
        { type: 'set', column: 'name', key: `${RUN}:{schema}:{table}:by-name:{value}` },
        { type: 'zset', column: 'score', key: `${RUN}:{schema}:{table}:by-score` },
      ],
    }).sink;
    await sink.start();
    await admin.set(`${RUN}:other-program`, 'untouched');
  });

  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${RUN}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
    await sink.close();
    admin.disconnect();
  });

  async function keys(): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await admin.scan(cursor, 'MATCH', `${RUN}:${s}*`, 'COUNT', 1000);
      cursor = next;
      out.push(...page);
    } while (cursor !== '0');
    return out.sort();
  }

  it('TRUNCATE removes exactly the table’s rows and index keys, a page at a time; the other table and other keys stay', async () => {
    const many = Array.from({ length: 1234 }, (_, i) => i + 1);
    expect(await sink.write({ events: [insert(s, 'a', rowsOf('a', many)), insert(s, 'b', rowsOf('b', [1, 2]))], attempt: 1, signal, ...fence })).toEqual([
      { status: 'ok' },
      { status: 'ok' },
    ]);
    expect(await admin.scard(`${RUN}:reg:ids:${s}.a`)).toBe(1234);
    expect(await sink.applySchemaChange(change('truncate', s, 'a'), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(await keys()).toEqual([`${RUN}:${s}:b:1`, `${RUN}:${s}:b:2`, `${RUN}:${s}:b:by-name:b1`, `${RUN}:${s}:b:by-name:b2`, `${RUN}:${s}:b:by-score`]);
    expect(await admin.get(`${RUN}:other-program`)).toBe('untouched');
    // again (a run after a crash): nothing left to do, nothing else touched
    expect(await sink.applySchemaChange(change('truncate', s, 'a'), { attempt: 2, signal, ...fence })).toEqual({ status: 'ok' });
    expect((await keys()).length).toBe(5);
  });

  it('RENAME moves the rows under the new name and rebuilds their indexes there', async () => {
    expect(await sink.applySchemaChange(change('rename', s, 'b', { schema: s, table: 'c' }), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(await keys()).toEqual([`${RUN}:${s}:c:1`, `${RUN}:${s}:c:2`, `${RUN}:${s}:c:by-name:b1`, `${RUN}:${s}:c:by-name:b2`, `${RUN}:${s}:c:by-score`]);
    expect(await admin.hgetall(`${RUN}:${s}:c:2`)).toEqual({ id: '2', name: 'b2', score: '1' });
    expect(await admin.smembers(`${RUN}:${s}:c:by-name:b1`)).toEqual(['1']);
    expect(await admin.zrange(`${RUN}:${s}:c:by-score`, 0, -1, 'WITHSCORES')).toEqual(['1', '0.5', '2', '1']);
    expect(await admin.smembers(`${RUN}:reg:ids:${s}.c`).then((m) => m.sort())).toEqual(['1', '2']);
    expect(await admin.exists(`${RUN}:reg:ids:${s}.b`)).toBe(0);
  });

  it('DROP DATABASE removes every table of the schema, DROP one table', async () => {
    await sink.write({ events: [insert(s, 'd', rowsOf('d', [7]))], attempt: 1, signal, ...fence });
    expect(await sink.applySchemaChange(change('drop', s, 'd'), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect((await keys()).filter((k) => k.includes(':d:'))).toEqual([]);
    await sink.write({ events: [insert(s, 'e', rowsOf('e', [8]))], attempt: 1, signal, ...fence });
    expect(await sink.applySchemaChange(change('drop-database', s, ''), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(await keys()).toEqual([]);
    expect(await admin.get(`${RUN}:other-program`)).toBe('untouched');
  });
});

describe('elasticsearch sink: schema changes', () => {
  const es = new Client({ node: servers.elasticsearch.url });
  const s = `${RUN}_e`;
  const sinks: ElasticsearchSink[] = [];
  const make = (index?: string) => {
    const sink = elasticsearch({ node: servers.elasticsearch.url, ...(index ? { index } : {}) }).sink;
    sinks.push(sink);
    return sink;
  };

  afterAll(async () => {
    await es.indices.delete({ index: `${RUN}*`, ignore_unavailable: true, allow_no_indices: true });
    await Promise.all(sinks.map((x) => x.close()));
    await es.close();
  });

  async function docs(index: string): Promise<Array<{ id: string; source: unknown }>> {
    await es.indices.refresh({ index });
    const found = await es.search({ index, size: 10_000, query: { match_all: {} } });
    return found.hits.hits.map((h) => ({ id: h._id!, source: h._source })).sort((x, y) => x.id.localeCompare(y.id, 'en', { numeric: true }));
  }

  it('per-table indices: TRUNCATE empties the table’s index; RENAME moves its documents and their mapping to the new table’s index', async () => {
    const sink = make();
    const ids = Array.from({ length: 1100 }, (_, i) => i + 1);
    await sink.write({ events: [insert(s, 'a', rowsOf('a', ids)), insert(s, 'b', rowsOf('b', [1, 2]))], attempt: 1, signal, ...fence });
    expect(await sink.applySchemaChange(change('truncate', s, 'a'), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(await docs(`${s}_a`)).toEqual([]);
    expect((await docs(`${s}_b`)).length).toBe(2);

    expect(await sink.applySchemaChange(change('rename', s, 'b', { schema: s, table: 'c' }), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(await docs(`${s}_b`)).toEqual([]);
    expect(await docs(`${s}_c`)).toEqual([
      { id: '1', source: { id: 1, name: 'b1', score: 0.5 } },
      { id: '2', source: { id: 2, name: 'b2', score: 1 } },
    ]);
    const mapping = await es.indices.getMapping({ index: `${s}_c` });
    expect(mapping[`${s}_c`]!.mappings.properties!.score).toEqual({ type: 'double' });
    expect(mapping[`${s}_c`]!.mappings._meta).toEqual({ tunnel_tables: [`${s}.c`] });
  });

  it('a shared index: TRUNCATE and RENAME touch only the documents whose table field names the table', async () => {
    const index = `${RUN}_shared`;
    const sink = make(index);
    await sink.write({ events: [insert(s, 'x', rowsOf('x', [1, 2, 3])), insert(s, 'y', rowsOf('y', [10, 11]))], attempt: 1, signal, ...fence });
    expect(await sink.applySchemaChange(change('truncate', s, 'x'), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(await docs(index)).toEqual([
      { id: '10', source: { id: 10, name: 'y10', score: 5, _tunnel_table: `${s}.y` } },
      { id: '11', source: { id: 11, name: 'y11', score: 5.5, _tunnel_table: `${s}.y` } },
    ]);
    expect(await sink.applySchemaChange(change('rename', s, 'y', { schema: s, table: 'z' }), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect((await docs(index)).map((d) => d.source)).toEqual([
      { id: 10, name: 'y10', score: 5, _tunnel_table: `${s}.z` },
      { id: 11, name: 'y11', score: 5.5, _tunnel_table: `${s}.z` },
    ]);
    expect(await sink.applySchemaChange(change('drop-database', s, ''), { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(await docs(index)).toEqual([]);
  });
});

describe('webhook sink: a schema change is one signed POST of its JSON', () => {
  let server: Server;
  const received: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('posts the documented body with the signature of its timestamp and bytes', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const sink = webhook({ url, secret: 'hook-secret-0123456789' }).sink;
    const event: SchemaChangeEvent = {
      kind: 'schema',
      change: 'rename',
      schema: 'shop',
      table: 'orders',
      to: { schema: 'shop', table: 'orders_old' },
      statement: 'RENAME TABLE orders TO orders_old',
      position: { file: 'binlog.000003', offset: 4242 },
      timestamp: 1_700_000_123_000,
      index: 0,
    };
    expect(await sink.applySchemaChange(event, { attempt: 1, signal, ...fence })).toEqual({ status: 'ok' });
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(JSON.parse(body)).toEqual({
      kind: 'schema',
      change: 'rename',
      schema: 'shop',
      table: 'orders',
      to: { schema: 'shop', table: 'orders_old' },
      statement: 'RENAME TABLE orders TO orders_old',
      position: { file: 'binlog.000003', offset: 4242 },
      timestamp: 1_700_000_123_000,
      index: 0,
    });
    expect(headers['x-tunnel-kind']).toBe('schema');
    expect(headers['x-tunnel-events']).toBe('0');
    const timestamp = String(headers['x-tunnel-timestamp']);
    const expected = createHmac('sha256', 'hook-secret-0123456789').update(`${timestamp}.${body}`).digest('hex');
    expect(String(headers['x-tunnel-signature'])).toContain(expected);
    await sink.close();
  });
});
