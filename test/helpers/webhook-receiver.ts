import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../sinks/http/index.ts';
import type { RowEvent, SchemaChangeEvent } from '../../core/index.ts';

/**
 * A real HTTP server that receives webhook batches, verifies each signature, and records every
 * event in arrival order. `failing` makes it answer 500 (a receiver outage).
 */
export class WebhookReceiver {
  /** Row events, in arrival order. */
  readonly events: RowEvent[] = [];
  /** Schema changes (`kind: 'schema'` bodies), in arrival order. */
  readonly schemaChanges: SchemaChangeEvent[] = [];
  /** Both, in arrival order (what a receiver that applies schema changes works from). */
  readonly received: Array<RowEvent | SchemaChangeEvent> = [];
  badSignatures = 0;
  requests = 0;
  failing = false;
  private server: Server | undefined;
  url = '';

  constructor(private readonly secret: string) {}

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
        if (this.failing) return void res.writeHead(500).end('receiver down');
        const raw = Buffer.concat(chunks);
        if (!verifyWebhookSignature(this.secret, req.headers, raw, 300)) {
          this.badSignatures++;
          return void res.writeHead(401).end('bad signature');
        }
        const text = raw.toString('utf8');
        const body = text.trimStart().startsWith('[')
          ? (JSON.parse(text) as RowEvent[])
          : text
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as RowEvent);
        for (const item of body as Array<RowEvent | SchemaChangeEvent>) {
          this.received.push(item);
          if ('kind' in item && item.kind === 'schema') this.schemaChanges.push(item);
          else this.events.push(item as RowEvent);
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this.url;
  }

  /** Events received more than once: same table, action and rows event (file + end offset) and rows. */
  duplicates(): number {
    const seen = new Set<string>();
    let twice = 0;
    for (const e of this.events) {
      const id = `${e.schema}.${e.table}:${e.action}:${e.position.file}:${e.position.offset}:${JSON.stringify(e.rows)}`;
      if (seen.has(id)) twice++;
      else seen.add(id);
    }
    return twice;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
