import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Worker } from '../runtime/worker.ts';
import type { TaskRunner } from '../runtime/task-runner.ts';
import { StatusCollector, type CollectorOptions } from './worker-status.ts';
import { createWorkerMetrics } from './metrics.ts';
import { dashboardHtml } from './dashboard.ts';
import type { ClusterView } from './types.ts';

export interface StatusServerOptions {
  host: string;
  /** 0 picks a free port (see `url`). */
  port: number;
  /** When set, every endpoint but /healthz requires `Authorization: Bearer <token>` (the page also takes `?token=`). */
  token?: string;
  cluster?: () => ClusterView | undefined;
  /** Stall time for /readyz (in flight, nothing acknowledged). Default 60 000 ms. */
  stallAfterMs?: number;
  /** How often the source server's binlog end is read for the lag in bytes; 0 turns it off. Default 5000 ms. */
  serverPositionIntervalMs?: CollectorOptions['serverPositionIntervalMs'];
  /** Node.js process metrics (tunnel_process_*). Default true. */
  defaultMetrics?: boolean;
}

export interface StatusServer {
  /** Base URL, e.g. http://127.0.0.1:8090 */
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's HTTP endpoint (node:http, no framework):
 * - `GET /healthz`   200 while the process serves (no auth);
 * - `GET /readyz`    200 when every task of this worker runs and none is stalled or failed, else 503;
 * - `GET /metrics`   Prometheus text (prom-client, one registry per server);
 * - `GET /api/status` JSON of the node, its cluster view and its tasks;
 * - `GET /`          the dashboard page.
 */
export async function startStatusServer(worker: Worker, options: StatusServerOptions): Promise<StatusServer> {
  const collector = new StatusCollector(worker, {
    ...(options.cluster ? { cluster: options.cluster } : {}),
    ...(options.stallAfterMs !== undefined ? { stallAfterMs: options.stallAfterMs } : {}),
    ...(options.serverPositionIntervalMs !== undefined ? { serverPositionIntervalMs: options.serverPositionIntervalMs } : {}),
  });
  const metrics = createWorkerMetrics(collector, options.cluster, { defaultMetrics: options.defaultMetrics ?? true });
  const watchAll = () => {
    for (const runner of worker.tasks.values()) metrics.watch(runner);
  };
  const onCreated = (_task: string, runner: TaskRunner) => metrics.watch(runner);
  worker.on('taskCreated', onCreated);
  watchAll();

  const expected = options.token ? digest(options.token) : undefined;
  const authorized = (req: IncomingMessage, url: URL, page: boolean): boolean => {
    if (!expected) return true;
    const header = req.headers.authorization;
    let presented: string | undefined;
    if (header && /^bearer\s+/i.test(header)) presented = header.replace(/^bearer\s+/i, '').trim();
    else if (page) presented = url.searchParams.get('token') ?? undefined;
    return presented !== undefined && timingSafeEqual(digest(presented), expected);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://status.local');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    }
    if (path === '/healthz') return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    // Browsers ask for it on every page (the 401 page too); nothing to hide, nothing to serve.
    if (path === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
    const known = path === '/' || path === '/readyz' || path === '/metrics' || path === '/api/status';
    if (!known) return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /, /healthz, /readyz, /metrics, /api/status\n');
    if (!authorized(req, url, path === '/')) {
      return send(res, 401, 'text/plain; charset=utf-8', 'unauthorized: send Authorization: Bearer <status token> (the dashboard: /?token=<status token>)\n', {
        'WWW-Authenticate': 'Bearer realm="tunnel"',
      });
    }
    switch (path) {
      case '/readyz': {
        const verdict = collector.readiness();
        return send(res, verdict.ready ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify(verdict)}\n`);
      }
      case '/metrics': {
        watchAll();
        const text = await metrics.registry.metrics();
        return send(res, 200, metrics.registry.contentType, text);
      }
      case '/api/status':
        return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(collector.report())}\n`);
      default:
        return send(res, 200, 'text/html; charset=utf-8', dashboardHtml(), {
          'Content-Security-Policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
          'Referrer-Policy': 'no-referrer',
        });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      worker.logger.warn({ err: error, url: req.url?.split('?')[0] }, 'status endpoint failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  worker.logger.info({ url, auth: expected ? 'bearer token' : 'none' }, 'status endpoint listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        worker.off('taskCreated', onCreated);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await collector.close();
      })();
      return closing;
    },
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
