import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { resolveConfig } from '../../core/config/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { createSnapshotter } from '../../core/snapshot/index.ts';
import { createBinlogSource } from '../../core/source/index.ts';
import { startStatusServer, type ClusterView, type StatusServer } from '../../core/status/index.ts';
import { redis } from '../../sinks/redis/index.ts';
import { createTestDatabase, mysqlConnection, repoRoot, servers, waitFor } from '../helpers/servers.ts';

// The dashboard in headless Chromium (Debian's, driven by playwright-core): it loads with the
// token, shows the tasks, and its figures move after rows are written to the source.
const TOKEN = 'dashboard-test-token-42';
const screenshot = resolve(repoRoot, 'test-results/dashboard.png');

let db: string;
let conn: Connection;
let worker: Worker;
let server: StatusServer;
let browser: BrowserContext;

beforeAll(async () => {
  db = await createTestDatabase('tunnel_dashboard');
  conn = await mysqlConnection({ database: db });
  await conn.query('CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(64), amount DECIMAL(10,2))');
  await conn.query('CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(64))');
  await conn.query('INSERT INTO orders VALUES ?', [Array.from({ length: 3000 }, (_, i) => [i + 1, `order ${i + 1}`, (i % 500) + 0.99])]);
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-dashboard-'));
  const config = resolveConfig({
    positions: { dir },
    deadLetters: { dir },
    status: { host: '127.0.0.1', port: 0, token: TOKEN },
    tasks: [
      {
        name: 'shop-orders',
        source: { ...servers.mariadb, serverId: 32_001, include: [`${db}.orders`] },
        plugins: [redis({ connection: servers.redis.url, value: 'json' })],
        snapshot: 'initial',
        snapshotChunkRows: 500,
      },
      {
        name: 'shop-users',
        source: { ...servers.mariadb, serverId: 32_002, include: [`${db}.users`], startFrom: 'latest' },
        plugins: [redis({ connection: servers.redis.url, value: 'json' })],
      },
    ],
  });
  worker = new Worker(config, { createSource: createBinlogSource, logger: silentLogger(), snapshot: createSnapshotter({ progress: 'off' }) });
  await worker.startAll();
  server = await startStatusServer(worker, { host: '127.0.0.1', port: 0, token: TOKEN, serverPositionIntervalMs: 1000 });
  const profile = mkdtempSync(join(tmpdir(), 'tunnel-chromium-'));
  // A fresh user data dir per run (launchPersistentContext takes it instead of --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1440, height: 640 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await worker?.close();
  await conn?.end();
});

const cell = async (page: import('playwright-core').Page, task: string, field: string) =>
  (await page.locator(`tr[data-task="${task}"] td[data-field="${field}"]`).innerText()).trim();

describe('dashboard in headless Chromium', () => {
  it('loads with the token, shows every task, updates after rows are written, and is saved as a screenshot', async () => {
    const page = await browser.newPage();
    // without the token: refused
    const refused = await page.goto(`${server.url}/`);
    expect(refused?.status()).toBe(401);

    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });

    const response = await page.goto(`${server.url}/?token=${TOKEN}`);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('tr[data-task="shop-orders"]', { timeout: 10_000 });
    await page.waitForSelector('tr[data-task="shop-users"]');
    expect(page.url()).not.toContain(TOKEN); // removed from the address bar
    expect(await page.locator('#node').innerText()).toBe(worker.nodeId);
    expect(await page.locator('#cluster').innerText()).toBe('standalone');
    expect(await page.locator('tr[data-task="shop-orders"] .badge').first().innerText()).toBe('running');
    expect(await page.locator('tr[data-task="shop-orders"]').innerText()).toContain('done, 3,000 rows');

    const before = Number((await cell(page, 'shop-users', 'events-in')).replace(/,/g, ''));
    // write rows while the page is open: the users task's counters and rate must move
    for (let batch = 0; batch < 20; batch++) {
      await conn.query('INSERT INTO users VALUES ?', [Array.from({ length: 50 }, (_, i) => [batch * 50 + i + 1, `user ${batch * 50 + i + 1}`])]);
      await conn.query('UPDATE orders SET amount = amount + 1 WHERE id <= ?', [batch * 10 + 10]);
      await new Promise((r) => setTimeout(r, 100));
    }
    // one rows event per INSERT statement (of 50 rows): 20 events
    await waitFor(async () => Number((await cell(page, 'shop-users', 'events-in')).replace(/,/g, '')) >= before + 20, {
      timeoutMs: 15_000,
      what: 'the page shows the written rows',
    });
    const rate = Number((await page.locator('tr[data-task="shop-users"] td[data-field="rate"] .v').innerText()).replace(/,/g, ''));
    expect(rate).toBeGreaterThan(0);
    expect(await page.locator('#s-ready').innerText()).toBe('yes');
    await page.waitForTimeout(1200); // one more refresh, so the sparklines have a few points
    mkdirSync(resolve(repoRoot, 'test-results'), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    await page.close();

    // the same figures in /metrics: the snapshot's rows and the events of both tasks
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/^tunnel_snapshot_rows_done\{task="shop-orders"\} 3000$/m);
    // The total is InnoDB's TABLE_ROWS estimate, not an exact count.
    const estimate = Number(/^tunnel_snapshot_rows_total\{task="shop-orders"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(estimate).toBeGreaterThan(2700);
    expect(estimate).toBeLessThan(3300);
    expect(metrics).toMatch(/^tunnel_events_in_total\{task="shop-users"\} (\d+)$/m);
    expect(metrics).toMatch(/^tunnel_lag_bytes\{task="shop-users"\} \d+$/m);
    expect(metrics).toMatch(/^tunnel_batch_duration_seconds_count\{task="shop-users",sink="redis"\} [1-9]\d*$/m);
    expect(metrics).not.toContain(TOKEN);
    expect(metrics).not.toMatch(/password/i);
  });

  it('shows the group, its nodes and the leader from the cluster view', async () => {
    // The view core/cluster reads from ZooKeeper, given as the status server's input.
    const view: ClusterView = {
      cluster: 'prod',
      group: 'dc-west',
      node: worker.nodeId,
      leader: 'node-b',
      session: 'connected',
      nodes: [{ id: worker.nodeId }, { id: 'node-b', statusUrl: 'http://10.0.0.6:8090' }],
      assignment: { 'shop-orders': worker.nodeId, 'shop-users': worker.nodeId },
    };
    const clustered = await startStatusServer(worker, {
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      cluster: () => view,
      serverPositionIntervalMs: 0,
      defaultMetrics: false,
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${clustered.url}/?token=${TOKEN}`);
      await page.waitForSelector('tr[data-task="shop-users"]');
      expect(await page.locator('#cluster').innerText()).toBe('prod');
      expect(await page.locator('#group').innerText()).toBe('dc-west');
      expect(await page.locator('#leader').innerText()).toBe('node-b');
      const nodes = page.locator('#nodes .node');
      expect(await nodes.count()).toBe(2);
      expect(await nodes.nth(0).innerText()).toBe(worker.nodeId);
      expect(await nodes.nth(1).innerText()).toContain('node-b');
      expect(await nodes.nth(1).locator('.tag').innerText()).toBe('leader');
      expect(await nodes.nth(0).locator('.tag').count()).toBe(0);
      await page.screenshot({ path: resolve(repoRoot, 'test-results/dashboard-cluster.png'), fullPage: true });
      await page.close();
    } finally {
      await clustered.close();
    }
  });
});
