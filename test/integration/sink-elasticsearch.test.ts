import { createHash } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { elasticsearch, type ElasticsearchOptions } from '../../sinks/elasticsearch/index.ts';
import type { ElasticsearchSink } from '../../sinks/elasticsearch/index.ts';
import type { ColumnValue, RowEvent } from '../../core/event/index.ts';
import { STANDALONE_EPOCH, type DeliveryResult } from '../../core/sink/index.ts';
import { ConfigError } from '../../core/errors/index.ts';
import { expectedTables, history, insert, itemRow, ITEM_KEY, type Row } from './sink-fixtures.ts';

const ES_URL = process.env.TUNNEL_ES_URL ?? `http://127.0.0.1:${process.env.TUNNEL_ES_PORT ?? '19200'}`;
const SCHEMA = `tsk_es_${process.pid}_${Date.now().toString(36)}`;

const sinks: ElasticsearchSink[] = [];
function makeSink(options: Partial<ElasticsearchOptions> = {}): ElasticsearchSink {
  const sink = elasticsearch({ node: ES_URL, refresh: 'wait_for', ...options }).sink;
  sinks.push(sink);
  return sink;
}

const write = (sink: ElasticsearchSink, events: readonly RowEvent[], attempt = 1): Promise<DeliveryResult[]> =>
  sink.write({ events, attempt, signal: new AbortController().signal, task: 'test', epoch: STANDALONE_EPOCH });

async function waitForEs(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${ES_URL}/_cluster/health?wait_for_status=yellow&timeout=5s`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`Elasticsearch at ${ES_URL} did not answer; run \`bash scripts/services up elasticsearch\``);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function allDocs(client: Client, index: string): Promise<Map<string, Row>> {
  await client.indices.refresh({ index });
  const res = await client.search<Row>({ index, size: 10_000, query: { match_all: {} } });
  return new Map(res.hits.hits.map((hit) => [hit._id as string, hit._source as Row]));
}

function expectSameRows(actual: Map<string, Row>, expected: Map<string, Row>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [id, row] of expected) {
    const doc = actual.get(id) as Row;
    // field by field, so a failure names the column
    for (const [column, value] of Object.entries(row)) expect({ id, column, value: doc[column] }).toEqual({ id, column, value });
    expect(Object.keys(doc).sort()).toEqual(Object.keys(row).sort());
  }
}

beforeAll(waitForEs);

afterAll(async () => {
  const client = makeSink().client;
  await client.indices.delete({ index: `${SCHEMA}*`, ignore_unavailable: true, allow_no_indices: true });
  await client.indices.deleteIndexTemplate({ name: `${SCHEMA}-template` }).catch(() => undefined);
  await Promise.all(sinks.map((s) => s.close()));
});

describe('elasticsearch sink (real Elasticsearch)', () => {
  it('ends with documents equal to the table rows after inserts, updates, key changes and deletes', async () => {
    const events = history(SCHEMA);
    const sink = makeSink({ concurrency: 3, maxBulkActions: 4 });
    await sink.start(new AbortController().signal);
    // several batches, as the runtime would send them
    for (const slice of [events.slice(0, 4), events.slice(4, 9), events.slice(9)]) {
      const results = await write(sink, slice);
      expect(results).toEqual(slice.map(() => ({ status: 'ok' })));
    }
    const expected = expectedTables(events);
    expectSameRows(await allDocs(sink.client, `${SCHEMA}_items`), expected.get('items')!);
    expectSameRows(await allDocs(sink.client, `${SCHEMA}_order_lines`), expected.get('order_lines')!);
    // composite keys are JSON arrays, which JSON.parse gives back
    expect([...(await allDocs(sink.client, `${SCHEMA}_order_lines`)).keys()].map((id) => JSON.parse(id))).toContainEqual([3, 'A-1']);

    // replaying the whole history (at-least-once) changes nothing
    expect((await write(sink, events, 2)).every((r) => r.status === 'ok')).toBe(true);
    expectSameRows(await allDocs(sink.client, `${SCHEMA}_items`), expected.get('items')!);
  });

  it('merges rows into existing documents with operation "update" (doc_as_upsert)', async () => {
    const index = `${SCHEMA}_upserts`;
    const sink = makeSink({ index, operation: 'update' });
    await sink.client.index({ index, id: '1', document: { id: 1, extra: 'kept' }, refresh: true });
    const events = history(SCHEMA).filter((e) => e.table === 'items');
    expect((await write(sink, events)).every((r) => r.status === 'ok')).toBe(true);
    const docs = await allDocs(sink.client, index);
    const expected = expectedTables(events).get('items')!;
    expect([...docs.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, row] of expected) expect(docs.get(id)).toMatchObject(row);
    expect(docs.get('1')?.extra).toBe('kept');
  });

  it('rejects a document that conflicts with an explicit mapping, with its reason, while the rest of the bulk lands', async () => {
    const index = `${SCHEMA}_strict`;
    const sink = makeSink({
      index,
      tableField: false,
      templates: { [`${SCHEMA}-template`]: { index_patterns: [`${SCHEMA}_strict*`], template: { settings: { number_of_replicas: 0 } } } },
      indices: { [index]: { mappings: { properties: { rank: { type: 'integer' }, status: { type: 'keyword' } } } } },
    });
    await sink.start(new AbortController().signal);
    await sink.start(new AbortController().signal); // idempotent: the index exists now
    const mapping = await sink.client.indices.getMapping({ index });
    expect(mapping[index]?.mappings.properties?.rank).toEqual({ type: 'integer' });

    const events = [
      insert(SCHEMA, 'items', ITEM_KEY, [itemRow(1)]),
      insert(SCHEMA, 'items', ITEM_KEY, [itemRow(2, { rank: 'not a number' })]),
      insert(SCHEMA, 'items', ITEM_KEY, [itemRow(3), itemRow(4, { rank: 'nope' })]),
      insert(SCHEMA, 'items', ITEM_KEY, [itemRow(5)]),
    ];
    const results = await write(sink, events);
    expect(results[0]).toEqual({ status: 'ok' });
    expect(results[1]?.status).toBe('rejected');
    expect((results[1] as { reason: string }).reason).toMatch(/400 .*(document_parsing_exception|mapper_parsing_exception).*rank/);
    // an event is rejected when one of its rows is (the others landed and are replayed harmlessly)
    expect(results[2]?.status).toBe('rejected');
    expect(results[3]).toEqual({ status: 'ok' });
    const docs = await allDocs(sink.client, index);
    expect([...docs.keys()].sort()).toEqual(['1', '3', '5']);
    expect(docs.get('5')).toEqual(itemRow(5));
  });

  it('reports a real 429 from Elasticsearch as retry, and the retried batch lands', async () => {
    // The in-flight requests circuit breaker answers 429 (circuit_breaking_exception, TRANSIENT)
    // to any HTTP request larger than its limit. Lowered for a moment, it trips on our bulk (~300 KB)
    // while small requests, like the one that restores it, pass.
    const index = `${SCHEMA}_pressure`;
    const sink = makeSink({ index });
    const events = Array.from({ length: 60 }, (_, i) => insert(SCHEMA, 'items', ITEM_KEY, [itemRow(i + 1, { note: 'n'.repeat(4000) })]));
    const setLimit = (limit: string | null) =>
      fetch(`${ES_URL}/_cluster/settings`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ transient: { 'network.breaker.inflight_requests.limit': limit } }),
      }).then((res) => expect(res.ok).toBe(true));
    let first: DeliveryResult[];
    await setLimit('64kb');
    try {
      first = await write(sink, events);
    } finally {
      await setLimit(null);
    }
    expect(first.every((r) => r.status === 'retry')).toBe(true);
    expect((first[0] as { reason: string }).reason).toMatch(/429 .*circuit_breaking_exception/);
    // nothing landed (the index exists: its type-derived mapping is put before the first document)
    expect((await allDocs(sink.client, index)).size).toBe(0);

    const second = await write(sink, events, 2);
    expect(second.every((r) => r.status === 'ok')).toBe(true);
    expect((await allDocs(sink.client, index)).size).toBe(60);
  });

  it('puts mappings from the column types, so values dynamic mapping refuses land; odd keys and column names too', async () => {
    const sink = makeSink();
    const columnTypes = {
      id: { dataType: 'varchar', columnType: 'varchar(700)' },
      u: { dataType: 'bigint', columnType: 'bigint unsigned' },
      d: { dataType: 'double', columnType: 'double' },
      j: { dataType: 'json', columnType: 'json' },
      day: { dataType: 'date', columnType: 'date' },
      at: { dataType: 'datetime', columnType: 'datetime(6)' },
      _id: { dataType: 'int', columnType: 'int' },
    };
    const row = (id: string, d: number, j: ColumnValue, day: string, at: string) => ({ id, u: '18446744073709551615', d, j, day, at, _id: 7 });
    const rows = [
      row('a', 0, { a: 1 }, '2024-02-29', '2024-02-29 01:02:03.456789'),
      row('b', -1.7976931348623157e308, [1, 2], '0000-00-00', '0000-00-00 00:00:00.000000'),
      row('c', 1.5, 'just text', '2024-00-00', '1000-01-01 00:00:00.000000'),
      row('d', 5e-324, { '': 1, big: 1e300, nested: [{ x: [] }] }, '9999-12-31', '9999-12-31 23:59:59.999999'),
      row('', 2, null, '2020-01-01', '2020-01-01 00:00:00.000000'),
      row('k'.repeat(600), 3, 42, '2020-01-02', '2020-01-02 00:00:00.000000'),
    ];
    const event = { ...insert(SCHEMA, 'typed', ['id'], rows), columnTypes };
    const results = await write(sink, [event]);
    expect(results, JSON.stringify(results)).toEqual([{ status: 'ok' }]);
    const docs = await allDocs(sink.client, `${SCHEMA}_typed`);
    const asDoc = (r: (typeof rows)[number]) => {
      const { _id, ...rest } = r;
      return { ...rest, '@_id': _id };
    };
    expect(docs.get('a')).toEqual(asDoc(rows[0]!));
    expect(docs.get('b')).toEqual(asDoc(rows[1]!));
    expect(docs.get('c')).toEqual(asDoc(rows[2]!));
    expect(docs.get('d')).toEqual(asDoc(rows[3]!));
    // an empty and a 600-byte key: the _id is the SHA-256 of the key (ES allows 1-512 bytes)
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(docs.get(`~sha256:${sha('')}`)).toEqual(asDoc(rows[4]!));
    expect(docs.get(`~sha256:${sha('k'.repeat(600))}`)).toEqual(asDoc(rows[5]!));
    const mapping = (await sink.client.indices.getMapping({ index: `${SCHEMA}_typed` }))[`${SCHEMA}_typed`]!.mappings.properties!;
    // unsigned_long where the cluster has it; the test server's distribution lacks the module
    expect([{ type: 'unsigned_long' }, { type: 'keyword', fields: { number: { type: 'double' } } }]).toContainEqual(mapping.u);
    expect(mapping.d).toEqual({ type: 'double' });
    expect(mapping['@_id']).toEqual({ type: 'integer' });
    // and a delete finds the hashed ids again
    const gone: RowEvent = { ...event, action: 'delete', position: { file: 'mariadb-bin.000001', offset: 999_999 } } as RowEvent;
    expect(await write(sink, [gone])).toEqual([{ status: 'ok' }]);
    expect((await allDocs(sink.client, `${SCHEMA}_typed`)).size).toBe(0);
  });

  it('reports an unreachable cluster as retry, never as rejected', async () => {
    const sink = makeSink({ node: 'http://127.0.0.1:1', maxRetries: 0, requestTimeoutMs: 2000 });
    const results = await write(sink, [insert(SCHEMA, 'items', ITEM_KEY, [itemRow(1)])]);
    expect(results[0]?.status).toBe('retry');
  });

  it("keeps each document's changes in order across lanes inside one batch: one lane per _id, its bulks one after another", async () => {
    // A proxy in front of ES holds every bulk request 30 ms and records when it came and went and the
    // _ids and values it carried: requests of different lanes overlap, those of one _id must not.
    const bulks: Array<{ from: number; to: number; ops: Array<{ id: string; v: number }> }> = [];
    const target = new URL(ES_URL);
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const from = performance.now();
        const forward = () => {
          const upstream = request(
            { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
            (answer) => {
              const parts: Buffer[] = [];
              answer.on('data', (c: Buffer) => parts.push(c));
              answer.on('end', () => {
                if (req.url?.startsWith('/_bulk')) {
                  const lines = body
                    .toString('utf8')
                    .split('\n')
                    .filter(Boolean)
                    .map((l) => JSON.parse(l) as Record<string, unknown>);
                  const ops: Array<{ id: string; v: number }> = [];
                  for (let i = 0; i < lines.length; i += 2) ops.push({ id: (lines[i]!.index as { _id: string })._id, v: lines[i + 1]!.v as number });
                  bulks.push({ from, to: performance.now(), ops });
                }
                const headers = { ...answer.headers };
                delete headers['transfer-encoding'];
                res.writeHead(answer.statusCode ?? 502, headers).end(Buffer.concat(parts));
              });
            },
          );
          upstream.on('error', () => req.socket.destroy());
          upstream.end(body);
        };
        if (req.url?.startsWith('/_bulk')) setTimeout(forward, 30);
        else forward();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const table = 'lanes';
      const IDS = 6;
      const VERSIONS = 5;
      // one batch: document 1's five versions, then document 2's, ... (consecutive changes of one _id)
      const events: RowEvent[] = [];
      for (let id = 1; id <= IDS; id++) for (let v = 1; v <= VERSIONS; v++) events.push(insert(SCHEMA, table, ['id'], [{ id, v }]));
      const sink = makeSink({
        node: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        concurrency: 4,
        maxBulkActions: 1,
        tableField: false,
        refresh: false,
      });
      await sink.start(new AbortController().signal);
      expect(await write(sink, events)).toEqual(events.map(() => ({ status: 'ok' })));
      expect(bulks.flatMap((b) => b.ops)).toHaveLength(IDS * VERSIONS);
      // the lanes did run side by side (else this test proves nothing about them)
      const overlapping = bulks.some((a, i) => bulks.some((b, j) => i !== j && a.from < b.to && b.from < a.to));
      expect(overlapping).toBe(true);
      for (let id = 1; id <= IDS; id++) {
        const mine = bulks.filter((b) => b.ops.some((o) => o.id === String(id))).sort((a, b) => a.from - b.from);
        // in the order written: versions 1..5
        expect({ id, versions: mine.flatMap((b) => b.ops.filter((o) => o.id === String(id)).map((o) => o.v)) }).toEqual({ id, versions: [1, 2, 3, 4, 5] });
        // one after another: each of its requests was answered before the next was sent
        for (let i = 1; i < mine.length; i++)
          expect({ id, sentAfterPreviousAnswered: mine[i]!.from >= mine[i - 1]!.to }).toEqual({ id, sentAfterPreviousAnswered: true });
      }
      const docs = await allDocs(sink.client, `${SCHEMA}_${table}`);
      expect(Object.fromEntries(docs)).toEqual(Object.fromEntries(Array.from({ length: IDS }, (_, i) => [String(i + 1), { id: i + 1, v: VERSIONS }])));
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('uses a function for the index, and builds large bodies in the worker pool', async () => {
    const sink = makeSink({
      index: (event) => `${SCHEMA}_fn_${event.table}`,
      tableField: false,
      serialize: { threshold: 0, maxThreads: 1 },
      maxBulkBytes: 200_000,
    });
    const big = Array.from({ length: 40 }, (_, i) => insert(SCHEMA, 'big', ITEM_KEY, [itemRow(i + 1, { note: `😀${'x'.repeat(20_000)}` })]));
    expect((await write(sink, big)).every((r) => r.status === 'ok')).toBe(true);
    expect(sink.serializerStats?.pool).toBeGreaterThan(1);
    const docs = await allDocs(sink.client, `${SCHEMA}_fn_big`);
    expect(docs.size).toBe(40);
    expect(docs.get('7')).toEqual(itemRow(7, { note: `😀${'x'.repeat(20_000)}` }));
    // a function's name is used as returned: ES refuses upper case, a permanent error
    const upper = makeSink({ index: () => `${SCHEMA}_UPPER`, tableField: false });
    const results = await write(upper, big.slice(0, 1));
    expect(results[0]?.status).toBe('rejected');
    expect((results[0] as { reason: string }).reason).toMatch(/invalid_index_name_exception/);
  });
});

describe('elasticsearch options', () => {
  it('throws ConfigError naming the field path, never showing secrets', () => {
    expect(() => elasticsearch({ node: 42 } as never)).toThrow(ConfigError);
    expect(() => elasticsearch({ node: 42 } as never)).toThrow('elasticsearch.node: expected a URL or a non-empty list of URLs, got 42');
    expect(() => elasticsearch({ node: 'nope' })).toThrow('elasticsearch.node: expected a URL, got "nope"');
    expect(() => elasticsearch({ node: ES_URL, index: '{schema}-{tabel}' })).toThrow(/elasticsearch\.index: unknown placeholder \{tabel\}/);
    expect(() => elasticsearch({ node: ES_URL, refresh: 'now' } as never)).toThrow(/elasticsearch\.refresh: expected true, false or "wait_for"/);
    let message = '';
    try {
      elasticsearch({ node: ES_URL, auth: { username: 'u', password: 12345 } } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/elasticsearch\.auth\.password/);
    expect(message).not.toContain('12345');
  });
});
