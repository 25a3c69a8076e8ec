import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webhook, verifyWebhookSignature, type WebhookOptions, type WebhookSink } from '../../sinks/http/index.ts';
import { backoffDelay } from '../../core/runtime/backoff.ts';
import type { RowEvent } from '../../core/event/index.ts';
import { documentIdOf, type Value } from '../helpers/differential/expected.ts';
import { STANDALONE_EPOCH, type DeliveryResult } from '../../core/sink/index.ts';
import { ConfigError } from '../../core/errors/index.ts';
import { expectedTables, history, insert, itemRow, ITEM_KEY } from './sink-fixtures.ts';

const SECRET = 'a shared secret of enough length';

/** A real HTTP receiver: verifies every signature, applies events in arrival order. */
interface Received {
  raw: Buffer;
  headers: IncomingMessage['headers'];
  verified: boolean;
  status: number;
}
let server: Server;
let url: string;
let requests: Received[] = [];
let answer: (n: number, req: IncomingMessage) => { status: number; body?: string; delayMs?: number; headers?: Record<string, string> } = () => ({
  status: 200,
});

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const reply = answer(requests.length, req);
      requests.push({ raw, headers: req.headers, verified: verifyWebhookSignature(SECRET, req.headers, raw, 300), status: reply.status });
      const send = () => res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers }).end(reply.body ?? '');
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterEach(() => {
  requests = [];
  answer = () => ({ status: 200 });
});

const sinks: WebhookSink[] = [];
afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function makeSink(options: Partial<WebhookOptions> = {}): WebhookSink {
  const sink = webhook({ url, secret: SECRET, retryDelayMs: 10, maxRetryDelayMs: 50, ...options }).sink;
  sinks.push(sink);
  return sink;
}
const write = (sink: WebhookSink, events: readonly RowEvent[], attempt = 1): Promise<DeliveryResult[]> =>
  sink.write({ events, attempt, signal: new AbortController().signal, task: 'test', epoch: STANDALONE_EPOCH });

/** The events the receiver accepted (2xx), in arrival order, parsed from the raw bodies. */
function accepted(format: 'json' | 'ndjson' = 'json', single = false): RowEvent[] {
  return requests
    .filter((r) => r.status >= 200 && r.status < 300)
    .flatMap((r) => {
      const text = r.raw.toString('utf8');
      if (single) return [JSON.parse(text) as RowEvent];
      return format === 'ndjson'
        ? text
            .trimEnd()
            .split('\n')
            .map((line) => JSON.parse(line) as RowEvent)
        : (JSON.parse(text) as RowEvent[]);
    });
}

/**
 * The canonical JSON of an event as docs/sinks.md and docs/architecture.md define it, written here:
 * schema, table, action, rows, position, timestamp, primaryKey, in that order.
 */
function canonical(e: RowEvent): string {
  return JSON.stringify({
    schema: e.schema,
    table: e.table,
    action: e.action,
    rows: e.rows,
    position: e.position,
    timestamp: e.timestamp,
    primaryKey: e.primaryKey,
  });
}

/** The id of an event's row by the documented rule, from its after-image (or its only image). */
function rowKey(event: RowEvent, row: number): string {
  const cells = event.rows[row]!;
  return documentIdOf(
    event.primaryKey.map((column) => {
      const cell = cells.find((c) => c.column === column)!;
      return ('value' in cell ? cell.value : cell.after) as Value;
    }),
  );
}

/** The signature header docs/sinks.md describes, computed here: v1= HMAC-SHA256(secret, `${timestamp}.${body}`) in hex. */
/**
 * The signature header as docs/sinks.md describes it, computed here with node:crypto: v1 over
 * "<timestamp>.<body>", v2 over "v2", the timestamp and the four fence headers, a newline after each,
 * then the body.
 */
function expectedSignature(secret: string, headers: IncomingMessage['headers'], raw: Buffer): string {
  const h = (name: string) => String(headers[name]);
  const v1 = createHmac('sha256', secret)
    .update(`${h('x-tunnel-timestamp')}.`)
    .update(raw)
    .digest('hex');
  const v2 = createHmac('sha256', secret)
    .update(`v2\n${h('x-tunnel-timestamp')}\n${h('x-tunnel-task')}\n${h('x-tunnel-epoch')}\n${h('x-tunnel-position')}\n${h('x-tunnel-version')}\n`)
    .update(raw)
    .digest('hex');
  return `v1=${v1},v2=${v2}`;
}

/** Per document id, the order in which its changes arrived must be the order they were made. */
function expectOrderPerKey(sent: readonly RowEvent[], got: readonly RowEvent[]): void {
  const indexOf = new Map(sent.map((e, i) => [canonical(e), i]));
  const lastSeen = new Map<string, number>();
  for (const event of got) {
    const i = indexOf.get(JSON.stringify(event));
    expect(i).toBeDefined();
    for (let row = 0; row < event.rows.length; row++) {
      const key = `${event.table}/${rowKey(event, row)}`;
      // a repeat (at-least-once) may go back to an event already delivered, never skip ahead of one
      const previous = lastSeen.get(key) ?? -1;
      if ((i as number) < previous) expect(got.slice(0, got.indexOf(event)).map((e) => JSON.stringify(e))).toContain(JSON.stringify(event));
      lastSeen.set(key, Math.max(previous, i as number));
    }
  }
}

describe('webhook sink (real local HTTP receiver)', () => {
  it('delivers batches the receiver can verify and apply, ending with the table rows', async () => {
    const events = history('shop');
    const sink = makeSink({ maxEvents: 4 });
    for (const slice of [events.slice(0, 7), events.slice(7)]) expect(await write(sink, slice)).toEqual(slice.map(() => ({ status: 'ok' })));
    expect(requests.length).toBe(4); // 7 -> 4 + 3, 8 -> 4 + 4
    expect(requests.every((r) => r.verified)).toBe(true);
    // the signature computed here with node:crypto, not by the sink's own helper
    for (const r of requests) expect(r.headers['x-tunnel-signature']).toBe(expectedSignature(SECRET, r.headers, r.raw));
    expect(requests[0]?.headers['content-type']).toBe('application/json');
    const got = accepted();
    // byte-exact canonical JSON, in order: each body is the JSON array of the events
    expect(requests.map((r) => r.raw.toString('utf8')).join('|')).toBe(
      [events.slice(0, 4), events.slice(4, 7), events.slice(7, 11), events.slice(11)].map((b) => `[${b.map(canonical).join(',')}]`).join('|'),
    );
    expect(got.map((e) => JSON.stringify(e))).toEqual(events.map(canonical));
    const state = expectedTables(got);
    const expected = expectedTables(events);
    for (const table of ['items', 'order_lines']) {
      const rows = state.get(table)!;
      expect([...rows.keys()].sort()).toEqual([...expected.get(table)!.keys()].sort());
      for (const [id, row] of expected.get(table)!) {
        for (const [column, value] of Object.entries(row)) expect({ id, column, value: rows.get(id)![column] }).toEqual({ id, column, value });
      }
    }
  });

  it('gets a batch through a receiver that fails the first three attempts (503), by its own retries', async () => {
    answer = (n) => (n < 3 ? { status: 503, body: 'busy' } : { status: 204 });
    const events = history('shop');
    const sink = makeSink({ retries: 3 });
    const started = Date.now();
    expect(await write(sink, events)).toEqual(events.map(() => ({ status: 'ok' })));
    expect(requests.map((r) => r.status)).toEqual([503, 503, 503, 204]);
    expect(requests.every((r) => r.verified)).toBe(true);
    // the same body, so the same delivery id, on every attempt
    expect(new Set(requests.map((r) => r.headers['x-tunnel-delivery'])).size).toBe(1);
    expect(Date.now() - started).toBeLessThan(2000);
    expectOrderPerKey(events, accepted());
  });

  it('gets a batch through a receiver that fails the first three attempts when the runtime drives the retries', async () => {
    answer = (n) => (n < 3 ? { status: 503, body: 'maintenance' } : { status: 200 });
    const events = history('shop');
    const sink = makeSink({ retries: 0, mode: 'event' });
    let pending = [...events];
    let attempt = 1;
    const seen: DeliveryResult[][] = [];
    while (pending.length > 0 && attempt < 10) {
      const results = await write(sink, pending, attempt);
      seen.push(results);
      const first = results.findIndex((r) => r.status === 'retry');
      pending = first === -1 ? [] : pending.slice(first);
      attempt++;
    }
    expect(pending).toEqual([]);
    expect(seen.slice(0, 3).map((r) => r[0])).toEqual([0, 1, 2].map(() => ({ status: 'retry', reason: 'webhook: HTTP 503: maintenance' })));
    // one POST per event, each signed, in order
    expect(requests.length).toBe(3 + events.length);
    expect(requests.every((r) => r.verified)).toBe(true);
    expect(requests.map((r) => r.raw.toString('utf8')).slice(3)).toEqual(events.map(canonical));
  });

  it('sends NDJSON when asked, through the worker pool for large batches', async () => {
    const events = Array.from({ length: 30 }, (_, i) => insert('shop', 'items', ITEM_KEY, [itemRow(i + 1, { note: `😀 ${'y'.repeat(30_000)}` })]));
    const sink = makeSink({ format: 'ndjson', serialize: { threshold: 0, maxThreads: 1 } });
    expect((await write(sink, events)).every((r) => r.status === 'ok')).toBe(true);
    expect(requests[0]?.headers['content-type']).toBe('application/x-ndjson');
    expect(requests[0]?.verified).toBe(true);
    expect(requests[0]?.headers['x-tunnel-signature']).toBe(expectedSignature(SECRET, requests[0]!.headers, requests[0]!.raw));
    expect(requests[0]!.raw.toString('utf8')).toBe(events.map((e) => `${canonical(e)}\n`).join(''));
  });

  it('rejects on 4xx (dead-letter) with the status and a body excerpt, without retrying', async () => {
    answer = () => ({ status: 422, body: `unknown table "items"\n${'z'.repeat(1000)}` });
    const sink = makeSink({ retries: 3 });
    const [result] = await write(sink, [insert('shop', 'items', ITEM_KEY, [itemRow(1)])]);
    expect(result?.status).toBe('rejected');
    expect((result as { reason: string }).reason).toMatch(/^webhook: HTTP 422: unknown table "items" z+$/);
    expect((result as { reason: string }).reason.length).toBeLessThan(260);
    expect(requests.length).toBe(1);
  });

  it('retries on a timeout and on a refused connection, honouring Retry-After on 429', async () => {
    answer = (n) => (n === 0 ? { status: 200, delayMs: 1500 } : { status: 200 });
    const sink = makeSink({ timeoutMs: 300, retries: 0 });
    const [timedOut] = await write(sink, [insert('shop', 'items', ITEM_KEY, [itemRow(1)])]);
    expect(timedOut).toEqual({ status: 'retry', reason: 'webhook: no response within 300 ms' });

    // a port nobody listens on (fetch refuses well-known "bad ports" like 1 before connecting)
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const refused = makeSink({ url: `http://127.0.0.1:${closedPort}/hook`, retries: 1 });
    const [down] = await write(refused, [insert('shop', 'items', ITEM_KEY, [itemRow(1)])]);
    expect(down?.status).toBe('retry');
    expect((down as { reason: string }).reason).toMatch(/ECONNREFUSED/);

    requests = [];
    answer = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
    const limited = makeSink({ retries: 1, maxRetryDelayMs: 5000 });
    const started = Date.now();
    expect(await write(limited, [insert('shop', 'items', ITEM_KEY, [itemRow(1)])])).toEqual([{ status: 'ok' }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });
});

describe('webhook signature and options', () => {
  it('verifies signatures: wrong secret, altered body, old timestamp and rotation', async () => {
    const sink = makeSink({ secret: ['the new secret, long enough', SECRET] });
    await write(sink, [insert('shop', 'items', ITEM_KEY, [itemRow(1)])]);
    const { raw, headers } = requests[0]!;
    expect(verifyWebhookSignature(SECRET, headers, raw)).toBe(true);
    expect(verifyWebhookSignature('the new secret, long enough', headers, raw.toString('utf8'))).toBe(true);
    expect(verifyWebhookSignature('another secret entirely!!', headers, raw)).toBe(false);
    expect(verifyWebhookSignature(SECRET, headers, Buffer.concat([raw, Buffer.from(' ')]))).toBe(false);
    const sentAt = Number(headers['x-tunnel-timestamp']) * 1000;
    expect(verifyWebhookSignature(SECRET, headers, raw, 300, sentAt + 301_000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, new Headers(headers as Record<string, string>), raw)).toBe(true);
    expect(verifyWebhookSignature(SECRET, {}, raw)).toBe(false);
  });

  it('sends the canonical JSON written out here, and backs off exponentially with jitter', async () => {
    const event: RowEvent = {
      schema: 'shop',
      table: 'items',
      action: 'update',
      rows: [
        [
          { column: 'id', before: 7, after: 7 },
          { column: 'note', before: null, after: 'é 😀 "q"' },
        ],
      ],
      position: { file: 'mariadb-bin.000003', offset: 1234, gtid: '0-1-99' },
      timestamp: 1700000000000,
      primaryKey: ['id'],
    };
    const sink = makeSink();
    expect(await write(sink, [event])).toEqual([{ status: 'ok' }]);
    expect(requests[0]!.raw.toString('utf8')).toBe(
      '[{"schema":"shop","table":"items","action":"update","rows":[[{"column":"id","before":7,"after":7},{"column":"note","before":null,"after":"é 😀 \\"q\\""}]],' +
        '"position":{"file":"mariadb-bin.000003","offset":1234,"gtid":"0-1-99"},"timestamp":1700000000000,"primaryKey":["id"]}]',
    );
    expect(requests[0]!.headers['x-tunnel-signature']).toBe(expectedSignature(SECRET, requests[0]!.headers, requests[0]!.raw));
    expect(requests[0]!.headers['x-tunnel-events']).toBe('1');
    const retryDelays = { initialDelayMs: 100, maxDelayMs: 10_000 };
    expect(backoffDelay(1, retryDelays, () => 1)).toBe(100);
    expect(backoffDelay(4, retryDelays, () => 1)).toBe(800);
    expect(backoffDelay(21, retryDelays, () => 1)).toBe(10_000);
    expect(backoffDelay(4, retryDelays, () => 0.5)).toBe(400);
  });

  it('throws ConfigError naming the field path, never showing secrets', () => {
    expect(() => webhook({ url: 42, secret: SECRET } as never)).toThrow(ConfigError);
    expect(() => webhook({ url: 'ftp://x', secret: SECRET })).toThrow('webhook.url: expected an http:// or https:// URL, got "ftp://x"');
    let message = '';
    try {
      webhook({ url, secret: 'short-secret' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^webhook\.secret: .*16/);
    expect(message).not.toContain('short-secret');
  });
});
