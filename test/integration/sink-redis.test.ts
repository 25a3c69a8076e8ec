import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redis, redisDeadLetterStore, RedisDeadLetterStore, type RedisOptions, type RedisSink } from '../../sinks/redis/index.ts';
import type { RowEvent } from '../../core/event/index.ts';
import { STANDALONE_EPOCH, type DeliveryResult } from '../../core/sink/index.ts';
import type { DeadLetter, DeadLetterStore } from '../../core/dead-letter/index.ts';
import { ConfigError } from '../../core/errors/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { TunnelHooks } from '../../core/pipeline/index.ts';
import { expectedTables, history, insert, itemRow, ITEM_KEY, type Row } from './sink-fixtures.ts';

const REDIS_URL = process.env.TUNNEL_REDIS_URL ?? `redis://127.0.0.1:${process.env.TUNNEL_REDIS_PORT ?? '16379'}`;
const RUN = `tsk_redis_${process.pid}_${Date.now().toString(36)}`;

let admin: Redis;
const sinks: RedisSink[] = [];
function makeSink(options: Partial<RedisOptions> = {}): RedisSink {
  const sink = redis({ connection: REDIS_URL, ...options }).sink;
  sinks.push(sink);
  return sink;
}
const write = (sink: RedisSink, events: readonly RowEvent[], attempt = 1): Promise<DeliveryResult[]> =>
  sink.write({ events, attempt, signal: new AbortController().signal, task: 'test', epoch: STANDALONE_EPOCH });

async function keysLike(pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

/**
 * The hash a row should be, by docs/sinks.md's value encoding: a string column is its text as is, any
 * other value its JSON text, a NULL column has no field. (Pinned further by literal hashes below.)
 */
function asHash(row: Row): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [column, value] of Object.entries(row)) if (value !== null) out[column] = typeof value === 'string' ? value : JSON.stringify(value);
  return out;
}

beforeAll(async () => {
  admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await admin.ping();
});

afterAll(async () => {
  const keys = await keysLike(`${RUN}*`);
  if (keys.length > 0) await admin.del(...keys);
  await Promise.all(sinks.map((s) => s.close()));
  admin.disconnect();
});

describe('redis sink (real Redis)', () => {
  it('ends with one hash per row equal to the table, field by field, plus set and sorted-set indexes', async () => {
    const schema = `${RUN}_h`;
    const events = history(schema);
    const sink = makeSink({
      indexes: [
        { type: 'set', column: 'status' },
        { type: 'zset', column: 'rank' },
      ],
    });
    await sink.start();
    for (const slice of [events.slice(0, 5), events.slice(5, 11), events.slice(11)]) {
      expect(await write(sink, slice)).toEqual(slice.map(() => ({ status: 'ok' })));
    }
    const expected = expectedTables(events);
    for (const table of ['items', 'order_lines']) {
      const rows = expected.get(table)!;
      const keys = (await keysLike(`${schema}:${table}:*`)).filter((k) => !k.includes(':by:'));
      expect(keys).toEqual([...rows.keys()].map((id) => `${schema}:${table}:${id}`).sort());
      for (const [id, row] of rows) {
        const hash = await admin.hgetall(`${schema}:${table}:${id}`);
        for (const [column, value] of Object.entries(row)) {
          // NULL columns have no field
          expect({ id, column, value: hash[column] }).toEqual({ id, column, value: asHash({ [column]: value })[column] });
        }
        expect(hash).toEqual(asHash(row));
      }
    }
    // two rows written out by hand: text as is (DECIMAL, BIGINT beyond 2^53, DATETIME, base64), numbers,
    // booleans and JSON as their JSON text, the NULL title and note absent
    expect(await admin.hgetall(`${schema}:items:1`)).toEqual({
      id: '1',
      big: '9007199254740993',
      price: '0.0000',
      note: 'note 1\nsecond line',
      attrs: '{"tags":["a","t1"],"nested":{"depth":2,"ok":false,"list":[1.5,2.5,null]}}',
      blob: 'AAEC/wE=',
      flag: 'false',
      ratio: '0.125',
      created: '2024-01-02 03:04:05.123456',
      status: 'paused',
      rank: '10',
    });
    expect(await admin.hgetall(`${schema}:items:2`)).toEqual({
      id: '2',
      big: '18446744073709551615',
      price: '22345.6789',
      title: 'item 2 — héllo 😀 ✓ "quoted" \\ back',
      attrs: '{"tags":[],"nested":{"depth":3}}',
      blob: 'AAEC/wI=',
      flag: 'true',
      ratio: '0.25',
      created: '2024-01-03 03:04:05.123456',
      status: 'paused',
      rank: '20',
    });
    // a composite key's id is the JSON array of its values
    expect(await admin.hgetall(`${schema}:order_lines:[3,"A-1"]`)).toEqual({ order_id: '3', sku: 'A-1', qty: '1', amount: '3.50', meta: '{"gift":false}' });

    const items = expected.get('items')!;
    for (const status of ['active', 'paused']) {
      const members = (await admin.smembers(`${schema}:items:by:status:${status}`)).sort();
      expect(members).toEqual(
        [...items]
          .filter(([, row]) => row.status === status)
          .map(([id]) => id)
          .sort(),
      );
    }
    const ranked = await admin.zrange(`${schema}:items:by:rank`, 0, -1, 'WITHSCORES');
    const expectedRanked = [...items].map(([id, row]) => [id, Number(row.rank)] as const).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    expect(ranked).toEqual(expectedRanked.flatMap(([id, score]) => [id, String(score)]));

    // replaying everything (at-least-once) changes nothing
    expect((await write(sink, events, 2)).every((r) => r.status === 'ok')).toBe(true);
    for (const [id, row] of items) expect(await admin.hgetall(`${schema}:items:${id}`)).toEqual(asHash(row));
  });

  it('stores rows as JSON strings in a MULTI/EXEC transaction, with a TTL', async () => {
    const schema = `${RUN}_j`;
    const events = history(schema);
    const sink = makeSink({ value: 'json', transaction: true, ttlSeconds: 300, key: '{schema}/{table}/{id}' });
    expect((await write(sink, events)).every((r) => r.status === 'ok')).toBe(true);
    const expected = expectedTables(events);
    for (const table of ['items', 'order_lines']) {
      const rows = expected.get(table)!;
      expect(await keysLike(`${schema}/${table}/*`)).toEqual([...rows.keys()].map((id) => `${schema}/${table}/${id}`).sort());
      for (const [id, row] of rows) {
        const stored = JSON.parse((await admin.get(`${schema}/${table}/${id}`)) as string) as Row;
        for (const [column, value] of Object.entries(row)) expect({ id, column, value: stored[column] }).toEqual({ id, column, value });
        const ttl = await admin.ttl(`${schema}/${table}/${id}`);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(300);
      }
    }
  });

  it('writes what a user function returns', async () => {
    const schema = `${RUN}_f`;
    const sink = makeSink({
      value: (event, row) => {
        const cells = event.rows[row]!;
        const title = cells.find((c) => c.column === 'title');
        return { title: title && 'value' in title ? (title.value as string) : 'updated', removed: null };
      },
    });
    await admin.hset(`${schema}:items:1`, 'removed', 'stale');
    expect(await write(sink, [insert(schema, 'items', ITEM_KEY, [itemRow(1)])])).toEqual([{ status: 'ok' }]);
    expect(await admin.hgetall(`${schema}:items:1`)).toEqual({ title: itemRow(1).title });
  });

  it('fails the whole batch as retry on a reply error (WRONGTYPE), and a retry after fixing the key lands', async () => {
    const schema = `${RUN}_w`;
    const sink = makeSink();
    const key = `${schema}:items:2`;
    await admin.set(key, 'a string where a hash belongs');
    const events = [
      insert(schema, 'items', ITEM_KEY, [itemRow(1)]),
      insert(schema, 'items', ITEM_KEY, [itemRow(2)]),
      insert(schema, 'items', ITEM_KEY, [itemRow(3)]),
    ];
    const first = await write(sink, events);
    expect(first.map((r) => r.status)).toEqual(['retry', 'retry', 'retry']);
    expect((first[0] as { reason: string }).reason).toMatch(/WRONGTYPE/);
    expect((first[0] as { reason: string }).reason).toContain(key);
    // the runtime retries; still failing while the key is wrong
    expect((await write(sink, events, 2)).every((r) => r.status === 'retry')).toBe(true);

    await admin.del(key);
    expect(await write(sink, events, 3)).toEqual(events.map(() => ({ status: 'ok' })));
    for (const id of [1, 2, 3]) expect(await admin.hgetall(`${schema}:items:${id}`)).toEqual(asHash(itemRow(id)));

    // with onReplyError 'reject', only the offending event is dead-lettered
    const rejecting = makeSink({ onReplyError: 'reject' });
    await admin.del(key);
    await admin.sadd(key, 'a set');
    const results = await write(rejecting, events, 1);
    expect(results.map((r) => r.status)).toEqual(['ok', 'rejected', 'ok']);
  });

  it('reports an unreachable server as retry', async () => {
    const sink = makeSink({ connection: { host: '127.0.0.1', port: 1, connectTimeoutMs: 500 } });
    const results = await write(sink, [insert(`${RUN}_x`, 'items', ITEM_KEY, [itemRow(1)])]);
    expect(results[0]?.status).toBe('retry');
  });
});

describe('redis dead-letter store (real Redis)', () => {
  it('registers through the plugin and keeps letters per task in a list, newest last', async () => {
    let registered: DeadLetterStore | undefined;
    const plugin = redisDeadLetterStore({ connection: REDIS_URL, key: `${RUN}:dl:{task}`, tasksKey: `${RUN}:dl-tasks`, maxLength: 3 });
    plugin.apply(new TunnelHooks(), {
      task: 'orders',
      logger: silentLogger(),
      registerSink: () => undefined,
      requireSinks: () => undefined,
      registerDeadLetterStore: (store) => {
        registered = store;
      },
    });
    const store = registered as RedisDeadLetterStore;
    expect(store).toBeInstanceOf(RedisDeadLetterStore);
    const letter = (task: string, n: number): DeadLetter => ({
      task,
      origin: 'elasticsearch',
      reason: `400 mapping conflict ${n}`,
      at: new Date(Date.UTC(2024, 0, 1, 0, 0, n)).toISOString(),
      event: insert('shop', 'items', ITEM_KEY, [itemRow(n)]),
    });
    await store.put([letter('orders', 1), letter('orders', 2), letter('users', 3)]);
    await store.put([letter('orders', 4), letter('orders', 5)]);
    // maxLength 3 keeps the newest three
    expect((await store.list()).map((l) => l.reason)).toEqual(['400 mapping conflict 2', '400 mapping conflict 4', '400 mapping conflict 5']);
    const newest = (await store.list('orders', 1))[0]!;
    const expected = letter('orders', 5);
    expect({ ...newest, event: newest.event.rows }).toEqual({ ...expected, event: expected.event.rows });
    const everything = await (store as DeadLetterStore).list(undefined as unknown as string);
    expect(everything.length).toBe(3); // the plugin's task is the default
    await store.close();
    const across = new RedisDeadLetterStore({ connection: REDIS_URL, key: `${RUN}:dl:{task}`, tasksKey: `${RUN}:dl-tasks`, maxLength: 3 } as never);
    expect((await across.list()).map((l) => l.task).sort()).toEqual(['orders', 'orders', 'orders', 'users']);
    expect((await across.list(undefined, 2)).map((l) => l.reason)).toEqual(['400 mapping conflict 4', '400 mapping conflict 5']);
    await across.close();
  });
});

describe('redis options', () => {
  it('throws ConfigError naming the field path, never showing secrets', () => {
    expect(() => redis({ ttlSeconds: 0 })).toThrow(ConfigError);
    expect(() => redis({ ttlSeconds: 0 })).toThrow(/redis\.ttlSeconds: .*got 0/);
    expect(() => redis({ key: '{schema}:{tabel}:{id}' })).toThrow(/redis\.key: unknown placeholder \{tabel\}/);
    expect(() => redis({ connection: { sentinels: [{ host: 'a', port: 26379 }] } })).toThrow(/redis\.connection\.name: required with `sentinels`/);
    expect(() => redis({ connection: { cluster: [{ host: 'a', port: 7000 }] }, transaction: true })).toThrow(
      /redis\.transaction: not available with `cluster`/,
    );
    expect(() => redis({ value: 'xml' } as never)).toThrow(/redis\.value: expected "hash", "json" or a function/);
    let message = '';
    try {
      redis({ connection: { host: 'h', password: 123456 } } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/redis\.connection\.password/);
    expect(message).not.toContain('123456');
  });
});
