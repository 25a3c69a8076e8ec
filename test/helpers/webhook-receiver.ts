// The one webhook receiver of the tests: a real HTTP server that verifies each signature, parses the
// body (a JSON array, one object, or NDJSON), applies every event to the rows it holds (RowApplier:
// keyed as docs/sinks.md says, schema changes applied as docs/schema-changes.md says) and counts
// events received twice. It keeps the events themselves unless told not to (a 1,000,000-row
// transaction must fit), and can answer 500 (`failing`) or a chosen 4xx for chosen events.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../sinks/http/index.ts';
import type { RowEvent, SchemaChangeEvent } from '../../core/index.ts';
import { RowApplier, type Row } from './row-applier.ts';

export interface Rejection {
  status: number;
  body: string;
}

export interface WebhookReceiverOptions {
  /** Keep every event in `events`, `schemaChanges` and `received` (default true). */
  keepEvents?: boolean;
  /** Key columns of a table (`schema.table`) instead of the events' primary key (RowApplier). */
  keyColumns?: (table: string) => readonly string[] | undefined;
}

export class WebhookReceiver {
  /** Row events, in arrival order (with keepEvents). */
  readonly events: RowEvent[] = [];
  /** Schema changes (`kind: 'schema'` bodies), in arrival order (with keepEvents). */
  readonly schemaChanges: SchemaChangeEvent[] = [];
  /** Both, in arrival order (with keepEvents). */
  readonly received: Array<RowEvent | SchemaChangeEvent> = [];
  /** What the events applied in arrival order left: `rows('schema.table')`. */
  readonly applied: RowApplier;
  keepEvents: boolean;
  /** Row events received (every one, kept or not). */
  eventsReceived = 0;
  /**
   * Row events received again: same table, action, transaction (its GTID; file and end offset
   * without one) and rows. By GTID, a transaction read again on another server after a failover,
   * from other files and offsets, counts as what it is: a duplicate.
   */
  duplicates = 0;
  badSignatures = 0;
  requests = 0;
  /** Answer 500 to everything (an outage). */
  failing = false;
  /** Answer nothing: keep each request open (a receiver that hangs) until `close()`. */
  holding = false;
  /** Requests held open so far. */
  held = 0;
  /** Answer 4xx to a body holding an event this returns a rejection for. */
  reject: ((event: RowEvent) => Rejection | undefined) | undefined;
  /** Every request's headers and body text, with `recordRequests` (the secrets test greps them). */
  recordRequests = false;
  readonly recorded: string[] = [];
  /** Every request: when it arrived, its URL (a query can name the sender) and its answer. */
  readonly requestLog: Array<{ at: number; url: string; status: number; events: number }> = [];
  private readonly seen = new Set<string>();
  private server: Server | undefined;
  url = '';

  constructor(
    private readonly secret: string | readonly string[],
    options: WebhookReceiverOptions = {},
  ) {
    this.keepEvents = options.keepEvents ?? true;
    this.applied = new RowApplier(options.keyColumns);
  }

  /** The receiver's URL, started on first use (a restarted Tunnel keeps posting to the same one). */
  async ensureStarted(): Promise<string> {
    return this.server ? this.url : this.start();
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        const at = Date.now();
        res.on('finish', () => this.requestLog.push({ at, url: req.url ?? '', status: res.statusCode, events: Number(req.headers['x-tunnel-events'] ?? 0) }));
        const raw = Buffer.concat(chunks);
        if (this.recordRequests) this.recorded.push(`${JSON.stringify(req.headers)}\n${raw.toString('utf8')}`);
        if (this.failing) return void res.writeHead(500).end('receiver down');
        if (this.holding) return void this.held++;
        if (!verifyWebhookSignature(this.secret, req.headers, raw, 300)) {
          this.badSignatures++;
          return void res.writeHead(401).end('bad signature');
        }
        let items: Array<RowEvent | SchemaChangeEvent>;
        try {
          items = parseBody(raw.toString('utf8'));
        } catch (error) {
          return void res.writeHead(400).end(`bad body: ${(error as Error).message}`);
        }
        if (this.reject) {
          for (const item of items) {
            const rejection = isSchemaChange(item) ? undefined : this.reject(item);
            if (rejection) return void res.writeHead(rejection.status).end(rejection.body);
          }
        }
        for (const item of items) this.take(item);
        res.writeHead(204).end();
      });
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this.url;
  }

  private take(item: RowEvent | SchemaChangeEvent): void {
    if (this.keepEvents) this.received.push(item);
    this.applied.apply(item);
    if (isSchemaChange(item)) {
      if (this.keepEvents) this.schemaChanges.push(item);
      return;
    }
    this.eventsReceived++;
    if (this.keepEvents) this.events.push(item);
    const where = item.position.gtid ?? `${item.position.file}:${item.position.offset}`;
    const id = createHash('sha1').update(`${item.schema}.${item.table}:${item.action}:${where}:`).update(JSON.stringify(item.rows)).digest('base64');
    if (this.seen.has(id)) this.duplicates++;
    else this.seen.add(id);
  }

  /** The rows of `schema.table` as the received events left them. */
  rows(table: string): Map<string, Row> {
    return this.applied.rows(table);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const isSchemaChange = (item: RowEvent | SchemaChangeEvent): item is SchemaChangeEvent => 'kind' in item && item.kind === 'schema';

/** A body as the webhook sink sends it: a JSON array (batch), one object (mode 'event') or NDJSON. */
function parseBody(text: string): Array<RowEvent | SchemaChangeEvent> {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as RowEvent[];
  if (!trimmed.includes('\n')) return trimmed === '' ? [] : [JSON.parse(trimmed) as RowEvent];
  return trimmed
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RowEvent);
}
