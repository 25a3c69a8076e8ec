// A real HTTP webhook receiver for the chaos suite. Unlike WebhookReceiver it does not keep every
// event (a 1,000,000-row transaction must fit): it applies each event to the rows it holds, keyed
// like the sinks (documentId of the primary key, all columns without one), and counts duplicates
// by a hash of each event's identity. It can answer 500 (`failing`), or 4xx for chosen events.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { documentId, keyValues, rowImage, type RowEvent } from '../../core/index.ts';
import { verifyWebhookSignature } from '../../sinks/http/index.ts';
import type { Row } from './compare-rows.ts';

export interface Rejection {
  status: number;
  body: string;
}

export class ChaosReceiver {
  /** `schema.table` -> id -> row. */
  readonly tables = new Map<string, Map<string, Row>>();
  /** Kept only with `keepEvents`. */
  readonly events: RowEvent[] = [];
  keepEvents = false;
  eventsReceived = 0;
  duplicates = 0;
  requests = 0;
  badSignatures = 0;
  /** Answer 500 to everything (an outage). */
  failing = false;
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

  constructor(private readonly secret: string | readonly string[]) {}

  async start(): Promise<string> {
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
        if (!verifyWebhookSignature(this.secret, req.headers, raw, 300)) {
          this.badSignatures++;
          return void res.writeHead(401).end('bad signature');
        }
        let events: RowEvent[];
        try {
          const text = raw.toString('utf8');
          const trimmed = text.trimStart();
          events = trimmed.startsWith('[')
            ? (JSON.parse(text) as RowEvent[])
            : trimmed.startsWith('{') && !text.trim().includes('\n')
              ? [JSON.parse(text) as RowEvent]
              : text
                  .split('\n')
                  .filter(Boolean)
                  .map((l) => JSON.parse(l) as RowEvent);
        } catch (error) {
          return void res.writeHead(400).end(`bad body: ${(error as Error).message}`);
        }
        if (this.reject) {
          for (const event of events) {
            const rejection = this.reject(event);
            if (rejection) return void res.writeHead(rejection.status).end(rejection.body);
          }
        }
        for (const event of events) this.apply(event);
        res.writeHead(204).end();
      });
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this.url;
  }

  private apply(event: RowEvent): void {
    this.eventsReceived++;
    if (this.keepEvents) this.events.push(event);
    const id = createHash('sha1')
      .update(`${event.schema}.${event.table}:${event.action}:${event.position.file}:${event.position.offset}:`)
      .update(JSON.stringify(event.rows))
      .digest('base64');
    if (this.seen.has(id)) this.duplicates++;
    else this.seen.add(id);
    const name = `${event.schema}.${event.table}`;
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = new Map()));
    for (let i = 0; i < event.rows.length; i++) {
      if (event.action === 'update') {
        const before = documentId(keyValues(event, i, 'before'));
        const after = documentId(keyValues(event, i, 'after'));
        if (before !== after) table.delete(before);
        table.set(after, rowImage(event, i));
      } else if (event.action === 'delete') {
        table.delete(documentId(keyValues(event, i)));
      } else {
        table.set(documentId(keyValues(event, i)), rowImage(event, i));
      }
    }
  }

  /** The rows of `schema.table` as the receiver's events left them. */
  rows(table: string): Map<string, Row> {
    return new Map(this.tables.get(table) ?? []);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
