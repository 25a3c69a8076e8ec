import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { startStatusServer, type ClusterView, type StatusServer, type WorkerStatusReport } from '../../core/status/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';

const PASSWORD = 'sup3r-secret-db-pw';
const TOKEN = 'status-token-0123456789';

interface Setup {
  worker: Worker;
  sources: Map<string, FakeSource>;
  sinks: Map<string, MemorySink>;
  server: StatusServer;
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

async function setup(options: { token?: string; stallAfterMs?: number; cluster?: () => ClusterView | undefined; tasks?: string[] } = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-status-'));
  const sinks = new Map<string, MemorySink>();
  const names = options.tasks ?? ['orders', 'users'];
  const config = resolveConfig({
    positions: { dir: join(dir, 'positions') },
    deadLetters: { dir: join(dir, 'dead-letters') },
    shutdownTimeoutMs: 200,
    status: { host: '127.0.0.1', port: 0, ...(options.token ? { token: options.token } : {}) },
    tasks: names.map((name, i) => {
      const sink = new MemorySink();
      sinks.set(name, sink);
      return {
        name,
        source: { host: '127.0.0.1', port: 1, user: 'cdc', password: PASSWORD, serverId: 100 + i },
        plugins: [memorySinkPlugin('memory', sink)],
        batch: { maxRows: 10, maxWaitMs: 5 },
        retry: { initialDelayMs: 1, maxDelayMs: 5 },
        commitIntervalMs: 10,
      };
    }),
  });
  const sources = new Map<string, FakeSource>();
  const worker = new Worker(config, {
    createSource: (sourceOptions) => {
      const source = new FakeSource();
      sources.set(names[sourceOptions.serverId - 100]!, source);
      return source;
    },
    logger: silentLogger(),
  });
  await worker.startAll();
  const server = await startStatusServer(worker, {
    host: '127.0.0.1',
    port: 0,
    ...(options.token ? { token: options.token } : {}),
    ...(options.stallAfterMs ? { stallAfterMs: options.stallAfterMs } : {}),
    ...(options.cluster ? { cluster: options.cluster } : {}),
    serverPositionIntervalMs: 0,
    defaultMetrics: false,
  });
  open.push(
    () => worker.close(),
    () => server.close(),
  );
  return { worker, sources, sinks, server };
}

const get = (server: StatusServer, path: string, token?: string) =>
  fetch(`${server.url}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

const until = async (check: () => boolean | Promise<boolean>, ms = 3000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A strict reader of the Prometheus text format (0.0.4): every line is a comment, blank or a sample. */
function parsePrometheus(text: string): Map<string, Array<{ labels: Record<string, string>; value: number }>> {
  const series = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      types.set(name!, type!);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    expect(match, `not a Prometheus sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    if (match![3]) {
      for (const pair of match![3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    }
    const name = match![1]!;
    const family = [...types.keys()].find((t) => name === t || name.startsWith(`${t}_`));
    expect(family, `sample ${name} has no # TYPE`).toBeDefined();
    const list = series.get(name) ?? [];
    list.push({ labels, value: Number(match![4]) });
    series.set(name, list);
  }
  return series;
}

describe('status server', () => {
  it('serves /healthz, /api/status and the dashboard; counts events', async () => {
    const { server, sources, sinks } = await setup();
    expect((await get(server, '/healthz')).status).toBe(200);
    sources.get('orders')!.transaction(100, [1, 2, 3]);
    await until(() => sinks.get('orders')!.events.length === 3);
    const status = (await (await get(server, '/api/status')).json()) as WorkerStatusReport;
    expect(status.node).toBeTruthy();
    expect(status.cluster).toBeNull();
    const orders = status.tasks.find((t) => t.name === 'orders')!;
    expect(orders).toMatchObject({ state: 'running', eventsIn: 3, owner: status.node });
    expect(orders.sinks.memory!.eventsOut).toBe(3);
    const page = await get(server, '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('api/status');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/); // self-contained
    expect((await get(server, '/nope')).status).toBe(404);
    expect((await get(server, '/favicon.ico')).status).toBe(204);
  });

  it('serves Prometheus text with every series', async () => {
    const view: ClusterView = { cluster: 'c1', group: 'g1', node: 'n1', leader: 'n1', session: 'connected', nodes: [{ id: 'n1' }] };
    const { server, sources, sinks } = await setup({ cluster: () => view });
    sources.get('orders')!.transaction(100, [1, 2, 3, 4]);
    await until(() => sinks.get('orders')!.events.length === 4);
    const response = await get(server, '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const series = parsePrometheus(await response.text());
    const one = (name: string, labels: Record<string, string>) =>
      series.get(name)?.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(one('tunnel_events_in_total', { task: 'orders' })).toBe(4);
    expect(one('tunnel_events_out_total', { task: 'orders', sink: 'memory' })).toBe(4);
    expect(one('tunnel_batch_duration_seconds_count', { task: 'orders', sink: 'memory' })).toBeGreaterThanOrEqual(1);
    expect(one('tunnel_batch_duration_seconds_bucket', { task: 'orders', sink: 'memory', le: '+Inf' })).toBeGreaterThanOrEqual(1);
    expect(one('tunnel_lag_seconds', { task: 'orders' })).toBeDefined();
    expect(one('tunnel_retries_total', { task: 'orders', sink: 'memory' })).toBe(0);
    expect(one('tunnel_dead_letters_total', { task: 'orders', sink: 'memory' })).toBe(0);
    expect(one('tunnel_zookeeper_session_state', { state: 'connected' })).toBe(1);
    expect(one('tunnel_zookeeper_session_state', { state: 'expired' })).toBe(0);
    expect(one('tunnel_task_state', { task: 'orders', state: 'running' })).toBe(1);
    view.session = 'disconnected';
    const again = parsePrometheus(await (await get(server, '/metrics')).text());
    expect(again.get('tunnel_zookeeper_session_state')!.find((s) => s.labels.state === 'disconnected')!.value).toBe(1);
  });

  it('/readyz flips to 503 when a task fails', async () => {
    const { server, sources, worker } = await setup();
    expect((await get(server, '/readyz')).status).toBe(200);
    sources.get('users')!.handler!.onError(new Error(`connection lost to mysql://cdc:${PASSWORD}@db:3306`));
    await until(() => worker.status().find((t) => t.name === 'users')!.state === 'failed');
    const response = await get(server, '/readyz');
    expect(response.status).toBe(503);
    const body = (await response.json()) as { ready: boolean; reasons: string[] };
    expect(body.ready).toBe(false);
    expect(body.reasons.join()).toContain('task users failed');
    // the secret in the error never reaches the output
    const all = [await (await get(server, '/api/status')).text(), JSON.stringify(body), await (await get(server, '/metrics')).text()].join('\n');
    expect(all).not.toContain(PASSWORD);
    expect(all).toContain('[redacted]');
  });

  it('/readyz reports a task stalled when nothing is acknowledged while events are in flight', async () => {
    const { server, sources, sinks } = await setup({ stallAfterMs: 300, tasks: ['orders'] });
    sinks.get('orders')!.answer = () => new Promise(() => undefined); // the sink never answers
    sources.get('orders')!.transaction(100, [1]);
    expect((await get(server, '/readyz')).status).toBe(200);
    await until(async () => (await get(server, '/readyz')).status === 503, 3000);
    const body = (await (await get(server, '/readyz')).json()) as { reasons: string[] };
    expect(body.reasons[0]).toContain('stalled');
    const status = (await (await get(server, '/api/status')).json()) as WorkerStatusReport;
    expect(status.tasks[0]!.stalled).toBe(true);
    expect(status.tasks[0]!.lagSeconds).toBeGreaterThan(0);
  });

  it('with a token, refuses every endpoint but /healthz without it', async () => {
    const { server } = await setup({ token: TOKEN });
    expect((await get(server, '/healthz')).status).toBe(200);
    for (const path of ['/', '/readyz', '/metrics', '/api/status']) {
      const refused = await get(server, path);
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('Bearer');
      expect((await get(server, path, 'wrong-token')).status, path).toBe(401);
      expect((await get(server, path, TOKEN)).status, path).toBe(200);
    }
    // the page takes ?token=, the API does not (tokens stay out of API URLs)
    expect((await fetch(`${server.url}/?token=${TOKEN}`)).status).toBe(200);
    expect((await fetch(`${server.url}/api/status?token=${TOKEN}`)).status).toBe(401);
    const body = await (await get(server, '/api/status', TOKEN)).text();
    expect(body).not.toContain(TOKEN);
    expect(body).not.toContain(PASSWORD);
  });
});
