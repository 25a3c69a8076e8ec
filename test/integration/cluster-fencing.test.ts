// The gap fencing at the sink closes: two `tunnel start` workers in one ZooKeeper group share a task
// writing to Elasticsearch, Redis and a webhook receiver built on createWebhookReceiver. The owner is
// frozen exactly between its session check and its writes (the test seam of
// core/runtime/write-pause.ts: its three sink dispatchers each hold a batch of older changes past
// `canWrite()`, then the process stops itself), the other worker takes the task over and writes
// newer changes, then the frozen one is woken and its three writes go out. Each must be refused
// by the sink itself (ES: version conflicts; Redis: the epoch script; receiver: a stale epoch), and
// every sink must still equal the table, row for row.
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, servers, waitFor } from '../helpers/servers.ts';
import { PrivateRedis } from '../helpers/chaos-servers.ts';
import { ensureZooKeeper, Registry, zkConnect } from '../helpers/cluster-harness.ts';
import { isReading, masterPosition, removeDir, sleep, startTunnel, stopTunnel, taskDir, writeConfig, type RunningTunnel } from '../helpers/chaos-harness.ts';
import { registryPaths, ZkConnection } from '../../core/cluster/index.ts';
import { createWebhookReceiver, type WebhookVerdict } from '../../sinks/http/index.ts';
import { WRITE_PAUSE_ENV } from '../../core/runtime/write-pause.ts';
import type { RowEvent } from '../../core/event/index.ts';

const DB = `fencing_${process.pid}`;
const TASK = 'fenced';
const SECRET = 'cluster-fencing-webhook-secret-01';
const cluster = `fencing_${process.pid}`;
const paths = registryPaths(cluster, 'g');

type Row = { id: number; v: string; n: number };

/** Headers of one hop only (and accept-encoding, so that answers come uncompressed). */
function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || ['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'accept-encoding', 'host'].includes(key)) continue;
    out[key] = value;
  }
  return out;
}

/** An HTTP proxy in front of Elasticsearch that records every bulk request and its answer. */
class RecordingProxy {
  readonly bulks: Array<{ at: number; body: string; status: number; response: string }> = [];
  url = '';
  private server: Server | undefined;

  async start(): Promise<string> {
    const target = new URL(servers.elasticsearch.url);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = { ...endToEnd(req.headers), 'content-length': String(body.length) };
        const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const response = Buffer.concat(parts);
            if (req.url?.startsWith('/_bulk'))
              this.bulks.push({ at: Date.now(), body: body.toString('utf8'), status: answer.statusCode ?? 0, response: response.toString('utf8') });
            res.writeHead(answer.statusCode ?? 502, { ...endToEnd(answer.headers), 'content-length': String(response.length) });
            res.end(response);
          });
        });
        upstream.on('error', () => req.socket.destroy());
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** The state of a process stopped by a signal is "T" in /proc/<pid>/stat. */
function stopped(pid: number): boolean {
  try {
    return /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('fencing at the sink: an owner frozen between its session check and its writes', () => {
  const dir = taskDir('fencing');
  const redisServer = new PrivateRedis(`${dir}/redis`);
  const proxies = new Map<string, RecordingProxy>();
  const workers = new Map<string, RunningTunnel>();
  /** What the receiver applied, as a receiver would keep it: id -> row. */
  const received = new Map<string, Row>();
  const verdicts: Array<{ at: number; verdict: WebhookVerdict }> = [];
  const receiver = createWebhookReceiver({
    secret: SECRET,
    onVerdict: (verdict) => verdicts.push({ at: Date.now(), verdict }),
    onDelivery: ({ events }) => {
      for (const e of events as RowEvent[]) {
        for (const cells of e.rows) {
          const image = (side: 'before' | 'after') => Object.fromEntries(cells.map((c) => [c.column, 'value' in c ? c.value : c[side]])) as unknown as Row;
          if (e.action === 'delete') received.delete(String(image('before').id));
          else {
            if (e.action === 'update') received.delete(String(image('before').id));
            received.set(String(image('after').id), image('after'));
          }
        }
      }
    },
  });
  let receiverServer: Server;
  let hookUrl = '';
  let zk: ZkConnection;
  let conn: mysql.Connection;
  let configFile: string;
  let redis: ReturnType<PrivateRedis['client']>;

  const pauseDir = (node: string) => join(dir, `pause-${node}`);
  const startWorker = async (node: string) => {
    const proxy = new RecordingProxy();
    proxies.set(node, proxy);
    mkdirSync(pauseDir(node), { recursive: true });
    const worker = await startTunnel(configFile, { FENCE_NODE: node, FENCE_ES_URL: await proxy.start(), [WRITE_PAUSE_ENV]: pauseDir(node) });
    workers.set(node, worker);
    return worker;
  };
  const ownerOf = async (): Promise<string | undefined> => (await zk.getData(paths.owner(TASK)).catch(() => undefined))?.data.toString('utf8');
  const running = (node: string) => isReading(workers.get(node));
  const epochOf = (node: string) =>
    workers
      .get(node)!
      .proc.logs()
      .filter((l) => l.msg === 'task acquired' && l.task === TASK)
      .map((l) => Number(l.epoch))
      .at(-1);

  const table = async (): Promise<Map<string, Row>> => {
    const [rows] = (await conn.query(`SELECT id, v, n FROM ${DB}.items ORDER BY id`)) as unknown as [Row[]];
    return new Map(rows.map((r) => [String(r.id), { id: r.id, v: r.v, n: r.n }]));
  };
  const esRows = async (): Promise<Map<string, Row>> => {
    const res = await fetch(`${servers.elasticsearch.url}/${DB}_items/_search?size=1000`, { headers: { 'content-type': 'application/json' } });
    const body = (await res.json()) as { hits?: { hits: Array<{ _id: string; _source: Row }> } };
    return new Map((body.hits?.hits ?? []).map((h) => [h._id, h._source]));
  };
  const redisRows = async (): Promise<Map<string, Row>> => {
    const keys = await redis.keys(`${DB}:items:*`);
    const values = keys.length > 0 ? await redis.mget(...keys) : [];
    return new Map(keys.map((k, i) => [k.slice(`${DB}:items:`.length), JSON.parse(values[i]!) as Row]));
  };
  /** What each sink holds against the table, and the workers' last lines, when a wait fails. */
  const explain = async (error: unknown): Promise<never> => {
    await fetch(`${servers.elasticsearch.url}/${DB}_items/_refresh`, { method: 'POST' }).catch(() => undefined);
    console.log('table', JSON.stringify([...(await table())]));
    console.log('es', JSON.stringify([...(await esRows())]));
    console.log('redis', JSON.stringify([...(await redisRows())]));
    console.log('webhook', JSON.stringify([...received]));
    for (const [node, worker] of workers) console.log(`--- ${node}\n${worker.proc.output.slice(-4000)}`);
    throw error;
  };
  const sinksEqual = async (expected: Map<string, Row>) => {
    await fetch(`${servers.elasticsearch.url}/${DB}_items/_refresh`, { method: 'POST' });
    const actual = { es: await esRows(), redis: await redisRows(), webhook: new Map(received) };
    const same = (m: Map<string, Row>) => JSON.stringify([...m].sort()) === JSON.stringify([...expected].sort());
    return same(actual.es) && same(actual.redis) && same(actual.webhook) ? actual : undefined;
  };

  beforeAll(async () => {
    await ensureZooKeeper();
    zk = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 10_000 });
    await zk.start();
    await redisServer.start();
    redis = redisServer.client();
    // one Redis user per worker: what each writes can be told apart
    for (const node of ['n1', 'n2']) await redis.call('ACL', 'SETUSER', node, 'on', `>pw-${node}`, '~*', '&*', '+@all');
    receiverServer = createServer(receiver.handler);
    await new Promise<void>((resolve) => receiverServer.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiverServer.address() as AddressInfo).port}/hook`;
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(`CREATE TABLE ${DB}.items (id INT PRIMARY KEY, v VARCHAR(32) NOT NULL, n INT NOT NULL)`);
    configFile = writeConfig({
      dir,
      extra: `cluster: { name: '${cluster}', group: 'g', node: fromEnv('FENCE_NODE'), zookeeper: { connect: '${zkConnect}', sessionTimeoutMs: 4000 } },`,
      tasks: [
        {
          name: TASK,
          db: DB,
          serverId: 7960,
          startFrom: await masterPosition(conn),
          plugins: [
            `elasticsearch({ name: 'es', node: fromEnv('FENCE_ES_URL'), maxRetries: 0, requestTimeoutMs: 10000 })`,
            `redis({ name: 'redis', connection: { host: '127.0.0.1', port: ${redisServer.port}, username: fromEnv('FENCE_NODE'), password: 'pw-' + fromEnv('FENCE_NODE') }, key: '${DB}:{table}:{id}', value: 'json' })`,
            `webhook({ name: 'webhook', url: '${hookUrl}', secret: '${SECRET}', retries: 0 })`,
          ],
        },
      ],
    });
    await startWorker('n1');
    await startWorker('n2');
    await waitFor(
      async () => {
        const owner = await ownerOf();
        return owner && running(owner) ? owner : undefined;
      },
      { timeoutMs: 30_000, what: 'the task owned and running' },
    );
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers.values()) {
      process.kill(worker.proc.child.pid!, 'SIGCONT');
      await stopTunnel(worker, 'SIGKILL');
    }
    const cleaner = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 10_000 });
    await cleaner
      .start()
      .then(() => new Registry(cleaner, cluster, 'g', []).removeCluster())
      .catch(() => undefined);
    await cleaner.close().catch(() => undefined);
    await zk?.close().catch(() => undefined);
    redis?.disconnect();
    await redisServer.stop();
    for (const proxy of proxies.values()) await proxy.close();
    await new Promise<void>((resolve) => (receiverServer ? receiverServer.close(() => resolve()) : resolve()));
    await fetch(`${servers.elasticsearch.url}/${DB}_items`, { method: 'DELETE' }).catch(() => undefined);
    await conn?.query(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined);
    await conn?.end();
    removeDir(dir);
  });

  it('the woken owner sends its held writes and each sink refuses them: nothing stale lands', async () => {
    const values = Array.from({ length: 10 }, (_, i) => `(${i + 1}, 'v0', ${i + 1})`).join(', ');
    await conn.query(`INSERT INTO ${DB}.items (id, v, n) VALUES ${values}`);
    await waitFor(async () => sinksEqual(await table()), { timeoutMs: 30_000, what: 'every sink holding the first rows' }).catch(explain);

    const owner = (await ownerOf())!;
    const other = owner === 'n1' ? 'n2' : 'n1';
    const frozen = workers.get(owner)!;
    const ownerEpoch = epochOf(owner)!;
    // arm the seam: the owner's next write of each sink waits after its session check, then the process stops
    writeFileSync(join(pauseDir(owner), 'arm'), 'es,redis,webhook');
    await conn.query(`UPDATE ${DB}.items SET v = 'stale', n = n + 100`);
    await waitFor(() => existsSync(join(pauseDir(owner), 'paused')) && stopped(frozen.proc.child.pid!), {
      timeoutMs: 20_000,
      what: `${owner} stopped with its three writes held`,
    });
    const pausedAt = Date.now();
    const esBefore = proxies.get(owner)!.bulks.length;

    // the other worker takes the task over (the frozen one's session expires) and writes newer changes
    await waitFor(
      async () => {
        const o = await ownerOf();
        return o === other && running(other) ? o : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `${other} owning and running the task` },
    );
    await conn.query(`UPDATE ${DB}.items SET v = 'newer', n = n + 1000 WHERE id <= 8`);
    await conn.query(`DELETE FROM ${DB}.items WHERE id IN (9, 10)`);
    await conn.query(`INSERT INTO ${DB}.items (id, v, n) VALUES (11, 'newer', 11)`);
    const expected = await table();
    expect(expected.get('1')).toEqual({ id: 1, v: 'newer', n: 1101 });
    expect(expected.has('9')).toBe(false);
    await waitFor(async () => sinksEqual(expected), { timeoutMs: 30_000, what: `every sink holding ${other}'s newer rows` }).catch(explain);
    const newEpoch = epochOf(other)!;
    expect(newEpoch).toBeGreaterThan(ownerEpoch);
    expect(proxies.get(owner)!.bulks.length).toBe(esBefore); // nothing from the frozen one meanwhile

    // wake it: its held writes of 'stale' rows go out at once
    frozen.proc.kill('SIGCONT');
    const wokeAt = Date.now();
    // Elasticsearch refused every document of its bulks (one per lane) as older: 409 version conflicts
    type Item = Record<string, { _id?: string; status: number; error?: { type: string } }>;
    const staleBulks = await waitFor(
      () => {
        const bulks = proxies.get(owner)!.bulks.filter((b) => b.at >= wokeAt);
        const count = bulks.reduce((n, b) => n + (JSON.parse(b.response) as { items: Item[] }).items.length, 0);
        return count >= 10 ? bulks : undefined;
      },
      { timeoutMs: 20_000, what: `${owner}'s held bulks` },
    );
    const items = staleBulks.flatMap((b) => (JSON.parse(b.response) as { items: Item[] }).items);
    for (const b of staleBulks) expect(b.body).toContain('"v":"stale"');
    expect(items.length).toBe(10);
    for (const item of items) expect(Object.values(item)[0]).toMatchObject({ status: 409, error: { type: 'version_conflict_engine_exception' } });
    // Redis and the receiver refused it too; the worker says so for each sink and stops the task
    const refusals = await waitFor(
      () => {
        const lines = frozen.proc.logs().filter((l) => l.msg === 'the sink refused the write: a newer owner of the task wrote there');
        return lines.length >= 2 ? lines : undefined;
      },
      { timeoutMs: 20_000, what: `${owner} logging the refusals of Redis and the receiver` },
    );
    expect(refusals.map((l) => l.sink).sort()).toEqual(['redis', 'webhook']);
    expect(String((refusals.find((l) => l.sink === 'redis')!.err as { message: string }).message)).toMatch(
      new RegExp(`holds epoch ${newEpoch} .*newer than this worker's ${ownerEpoch}`),
    );
    const stale = verdicts.filter((v) => v.at >= wokeAt && v.verdict.status === 'stale');
    expect(stale.map((v) => v.verdict)).toEqual([{ status: 'stale', task: TASK, epoch: ownerEpoch, newerEpoch: newEpoch }]);

    // nothing stale landed: every sink still equals the table, row for row
    await sleep(1000);
    const after = await sinksEqual(await table());
    expect(after, 'sinks equal the table after the stale writes').toBeDefined();
    for (const sink of Object.values(after!)) for (const row of sink.values()) expect(row.v).not.toBe('stale');
    console.log(
      `fencing: ${owner} frozen ${((wokeAt - pausedAt) / 1000).toFixed(1)} s with 3 held writes (epoch ${ownerEpoch}); ${other} took over (epoch ${newEpoch}); ` +
        `woken: ES refused ${items.length} documents in ${staleBulks.length} bulks (409), Redis and the receiver refused the batch; sinks equal the table (${expected.size} rows)`,
    );
  }, 120_000);
});
