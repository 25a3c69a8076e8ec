// A recording reverse proxy for the bare-sink baselines: a Tunnel catch-up sends its Elasticsearch
// bulk requests or webhook POSTs through it to the real server, and it keeps each request that
// carries rows (method, path, the headers that matter, body) in order, so that bench/replay.ts can
// send exactly what Tunnel sent, with no CDC in front. Everything else (index creation, HEAD) is
// passed through unrecorded.
import { createServer, request, Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Byte range of the body in the capture's body file. */
  offset: number;
  length: number;
  /** Row changes the body carries (bulk actions, or rows of the webhook's events). */
  rows: number;
}

export interface Capture {
  requests: RecordedRequest[];
  bodies: Buffer[];
}

/** Headers replayed as they were (the rest are the sending client's own, or recomputed). */
const KEPT = new Set(['content-type', 'x-tunnel-delivery', 'x-tunnel-events', 'user-agent']);

export class Recorder {
  readonly capture: Capture = { requests: [], bodies: [] };
  private offset = 0;
  private readonly server: Server;
  url = '';

  /**
   * Proxies to `target` (http://host:port); `records(method, path)` picks the requests to keep and
   * `rowsOf(body)` counts the row changes of one.
   */
  private constructor(target: string, records: (method: string, path: string) => boolean, rowsOf: (body: Buffer) => number) {
    const to = new URL(target);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const method = req.method ?? 'GET';
        const path = req.url ?? '/';
        if (records(method, path)) this.keep(method, path, req.headers, body, rowsOf(body));
        const headers = { ...req.headers, host: to.host };
        const out = request({ host: to.hostname, port: Number(to.port), method, path, headers, agent }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        out.on('error', (error) => res.writeHead(502).end(String(error)));
        out.end(body);
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(target: string, records: (method: string, path: string) => boolean, rowsOf: (body: Buffer) => number): Promise<Recorder> {
    const recorder = new Recorder(target, records, rowsOf);
    await new Promise<void>((ok) => recorder.server.listen(0, '127.0.0.1', ok));
    recorder.url = `http://127.0.0.1:${(recorder.server.address() as AddressInfo).port}`;
    return recorder;
  }

  private keep(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer, rows: number): void {
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (KEPT.has(k) && typeof v === 'string') kept[k] = v;
    this.capture.requests.push({ method, path, headers: kept, offset: this.offset, length: body.length, rows });
    this.capture.bodies.push(body);
    this.offset += body.length;
  }

  get rows(): number {
    return this.capture.requests.reduce((a, r) => a + r.rows, 0);
  }

  /** Writes <prefix>.json (the requests) and <prefix>.bin (their bodies back to back). */
  save(prefix: string): { index: string; bodies: string; bytes: number } {
    writeFileSync(`${prefix}.bin`, Buffer.concat(this.capture.bodies));
    writeFileSync(`${prefix}.json`, JSON.stringify(this.capture.requests));
    return { index: `${prefix}.json`, bodies: `${prefix}.bin`, bytes: this.offset };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

/** Row changes in an Elasticsearch bulk body: its action lines (index/create/update/delete). */
export function bulkActions(body: Buffer): number {
  let n = 0;
  for (const line of body.toString('utf8').split('\n')) {
    if (line.startsWith('{"index"') || line.startsWith('{"delete"') || line.startsWith('{"update"') || line.startsWith('{"create"')) n++;
  }
  return n;
}

/** Row changes in a webhook body: the rows of its events (a JSON array, or NDJSON). */
export function webhookRows(body: Buffer): number {
  const text = body.toString('utf8');
  const events = (
    text.startsWith('[')
      ? JSON.parse(text)
      : text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
  ) as Array<{ rows: unknown[] }>;
  return events.reduce((a, e) => a + e.rows.length, 0);
}
