// The soak run (`npm run bench -- soak`, not part of `npm test`): a three-worker cluster of `tunnel
// start` processes runs three tasks (one table set each) into Redis, a webhook receiver and
// Elasticsearch under mixed writes for BENCH_SOAK_MINUTES (30), and a worker is killed with SIGKILL
// every BENCH_SOAK_KILL_EVERY_MINUTES (5; the slots in turn, passing over one that runs no task), its
// slot refilled 2 s later as a supervisor would. Every
// BENCH_SOAK_SAMPLE_SECONDS (1) it samples each worker's RSS, each task's lag (now minus the newest
// heartbeat row the Redis sink holds; the writer rewrites one per task every 250 ms) and the
// duplicates counted at each sink. At the end the writes stop and every sink must equal its tables
// (lost 0, else the exit code is 1). Output in bench/.tmp/soak/<time>/: soak.svg (the three series
// over time, kills marked), soak.json (every sample, kill and figure); one JSON line last on stdout.
//
// Environment: BENCH_SOAK_MINUTES (30; fractions work, e.g. 3 with BENCH_SOAK_KILL_EVERY_MINUTES=0.5 to
// try it), BENCH_SOAK_RATE (150 statements/s), BENCH_SOAK_SESSION_MS (10000, ZooKeeper's session
// timeout), BENCH_SOAK_ZK (connect string; default the scripts/services ZooKeeper).
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { esClient, mysqlConnection, servers } from '../test/helpers/servers.ts';
import { WebhookReceiver } from '../test/helpers/webhook-receiver.ts';
import { EsCountingProxy, PrivateRedis, RedisSetCounter } from '../test/helpers/chaos-servers.ts';
import { esRows, redisRows, waitUntilAllEqual, writeConfig, type Row } from '../test/helpers/chaos-harness.ts';
import { tableRows } from '../test/helpers/compare-rows.ts';
import { log, rssOf, sleep, tmpRoot } from './lib/common.ts';
import { BEAT_TABLE_SQL, SOAK_TABLE_SQL, SoakWriter } from './lib/soak-writer.ts';
import { SoakWorker, type WorkerEvent } from './lib/soak-workers.ts';
import { renderPlot, type Series } from './lib/soak-plot.ts';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const MINUTES = num('BENCH_SOAK_MINUTES', 30);
const KILL_EVERY_MINUTES = num('BENCH_SOAK_KILL_EVERY_MINUTES', 5);
const RATE = num('BENCH_SOAK_RATE', 150);
const SESSION_MS = num('BENCH_SOAK_SESSION_MS', 10_000);
const SAMPLE_SECONDS = num('BENCH_SOAK_SAMPLE_SECONDS', 1);
const ZK = process.env.BENCH_SOAK_ZK || servers.zookeeper.connectString;
const DB = 'tunnel_soak';
const TASKS = ['t1', 't2', 't3'];
const SLOTS = ['w1', 'w2', 'w3'];
const SINKS = ['redis', 'webhook', 'es'] as const;
const SECRET = 'soak-webhook-secret-0123456789abcdef';
const RESTART_DELAY_MS = 2000;
/** A task has recovered from a kill once its lag is back under this (the median is ~0.2 s). */
const RECOVERED_LAG_SECONDS = 1;

const orders = (task: string) => `orders_${task}`;
const beat = (task: string) => `beat_${task}`;

interface Sample {
  atMinutes: number;
  rssMB: Record<string, number>;
  lagSeconds: Record<string, number>;
  duplicates: Record<(typeof SINKS)[number], number>;
  statements: number;
  load1: number;
}

interface Kill {
  atMinutes: number;
  slot: string;
  /** Tasks the killed worker ran, and when another worker started each (s after the kill). */
  tasks: string[];
  takeoverSeconds: number[];
  /** Per task: when its lag was under RECOVERED_LAG_SECONDS again (s after the kill), and its peak lag meanwhile. */
  recoveredSeconds?: number[];
  lagPeakSeconds?: number[];
  duplicatesAfter?: Record<string, number>;
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outDir = join(tmpRoot, 'soak', stamp);
mkdirSync(outDir, { recursive: true });

const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
const redisServer = new PrivateRedis(join(outDir, 'redis'));
const esProxy = new EsCountingProxy(servers.elasticsearch.url, `${DB}_`);
const es = esClient();
const events: WorkerEvent[] = [];
const samples: Sample[] = [];
const kills: Kill[] = [];
const started = Date.now();
const minutesNow = () => (Date.now() - started) / 60_000;

await redisServer.start();
const redis = redisServer.client();
const redisCounter = new RedisSetCounter(redisServer, 'soak:');
await redisCounter.start();
await receiver.start();
await esProxy.start();
await es.indices.delete({ index: `${DB}_*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);

const conn = await mysqlConnection();
await conn.query(`DROP DATABASE IF EXISTS ${DB}`);
await conn.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
for (const task of TASKS) {
  await conn.query(SOAK_TABLE_SQL(`${DB}.${orders(task)}`));
  await conn.query(BEAT_TABLE_SQL(`${DB}.${beat(task)}`));
}
const [[master]] = (await conn.query('SHOW MASTER STATUS')) as unknown as [[{ File: string; Position: number }]];
const from = { file: master.File, offset: Number(master.Position) };
const { host, port, user, password } = servers.mariadb;
const configFile = writeConfig({
  dir: outDir,
  extra: `cluster: { name: 'tunnel-soak-${stamp.toLowerCase()}', group: 'g', node: fromEnv('SOAK_NODE'), zookeeper: { connect: '${ZK}', sessionTimeoutMs: ${SESSION_MS} } },`,
  tasks: TASKS.map((task, i) => ({
    name: task,
    db: DB,
    serverId: 7960 + i,
    source: `{ host: '${host}', port: ${port}, user: '${user}', password: '${password}', serverId: ${7960 + i}, include: ['${DB}.${orders(task)}', '${DB}.${beat(task)}'], startFrom: ${JSON.stringify(from)} }`,
    plugins: [
      `redis({ name: 'redis', connection: { host: '127.0.0.1', port: ${redisServer.port} }, key: 'soak:{table}:{id}', value: 'json' })`,
      `webhook({ name: 'webhook', url: '${receiver.url}', secret: '${SECRET}', retries: 1 })`,
      `elasticsearch({ name: 'es', node: '${esProxy.url}', maxRetries: 0, requestTimeoutMs: 10000 })`,
    ],
  })),
});

const workers = SLOTS.map((slot) => new SoakWorker(slot, configFile, events));
const pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
const writer = new SoakWriter(pool, {
  tables: TASKS.map((t) => `${DB}.${orders(t)}`),
  beats: TASKS.map((t) => `${DB}.${beat(t)}`),
  rate: RATE,
  keys: 1000,
  beatMs: 250,
});

const duplicates = () => ({ redis: redisCounter.duplicates, webhook: receiver.duplicates, es: esProxy.duplicates });

async function lagOf(task: string): Promise<number> {
  const value = await redis.get(`soak:${beat(task)}:1`).catch(() => null);
  if (!value) return NaN;
  return (Date.now() - Number((JSON.parse(value) as { at_ms: number | string }).at_ms)) / 1000;
}

async function sample(): Promise<void> {
  const rssMB: Record<string, number> = {};
  for (const w of workers) rssMB[w.slot] = w.pid ? (rssOf(w.pid)?.rssMB ?? NaN) : NaN;
  // the heartbeats stop with the writes: no lag after that
  const lagSeconds: Record<string, number> = {};
  for (const task of TASKS) lagSeconds[task] = writing ? await lagOf(task) : NaN;
  samples.push({ atMinutes: minutesNow(), rssMB, lagSeconds, duplicates: duplicates(), statements: writer.statements, load1: loadavg()[0]! });
}

/** The tasks `slot` runs now: its acquisitions since its process started that no other slot took later. */
function tasksOf(slot: string): string[] {
  const owner = new Map<string, string>();
  for (const e of events) if (e.what === 'acquired' && e.task) owner.set(e.task, e.slot);
  return [...owner].filter(([, s]) => s === slot).map(([task]) => task);
}

async function killOne(slot: string): Promise<void> {
  const worker = workers.find((w) => w.slot === slot)!;
  const tasks = tasksOf(slot);
  const killedAt = Date.now();
  await worker.kill();
  const kill: Kill = { atMinutes: minutesNow(), slot, tasks, takeoverSeconds: [] };
  kills.push(kill);
  log(`soak: kill -9 of ${slot} (running ${tasks.join(', ') || 'nothing'}) at ${kill.atMinutes.toFixed(1)} min`);
  await sleep(RESTART_DELAY_MS);
  worker.start();
  void (async () => {
    for (const task of tasks) {
      const end = Date.now() + 120_000;
      for (;;) {
        const taken = events.find((e) => e.what === 'acquired' && e.task === task && e.at > killedAt);
        if (taken) {
          kill.takeoverSeconds.push((taken.at - killedAt) / 1000);
          break;
        }
        if (Date.now() > end) {
          kill.takeoverSeconds.push(NaN);
          break;
        }
        await sleep(100);
      }
    }
  })();
}

let writing = false;
let exitCode = 0;
let lost = NaN;
let catchUpSeconds = NaN;
const finalRows: Record<string, number> = {};
try {
  for (const w of workers) w.start();
  await Promise.all(workers.map((w) => w.waitStarted()));
  const end = Date.now() + 60_000;
  while (new Set(events.filter((e) => e.what === 'acquired').map((e) => e.task)).size < TASKS.length) {
    if (Date.now() > end) throw new Error(`not every task started: ${JSON.stringify(events)}`);
    await sleep(100);
  }
  log(`soak: 3 workers, 3 tasks; ${MINUTES} min of writes at ${RATE} statements/s, a kill every ${KILL_EVERY_MINUTES} min; output ${outDir}`);
  writer.start();
  writing = true;
  const sampler = setInterval(() => void sample(), SAMPLE_SECONDS * 1000);
  let nextKill = 1;
  while (minutesNow() < MINUTES) {
    const killAt = nextKill * KILL_EVERY_MINUTES;
    if (killAt < MINUTES - 1e-9 && minutesNow() >= killAt) {
      // the slots in turn, passing over one that runs no task (a restarted worker often has none)
      const turn = SLOTS.map((_, i) => SLOTS[(nextKill - 1 + i) % SLOTS.length]!);
      await killOne(turn.find((slot) => tasksOf(slot).length > 0) ?? turn[0]!);
      nextKill++;
    }
    for (const w of workers)
      if (w.starts > 0 && !w.alive && !kills.some((k) => k.slot === w.slot && minutesNow() - k.atMinutes < 0.2)) {
        log(`soak: worker ${w.slot} exited on its own; starting it again:\n${w.tail.slice(-2000)}`);
        w.start();
      }
    await sleep(200);
  }
  await writer.stop();
  writing = false;
  await sample();
  clearInterval(sampler);
  const stoppedAt = Date.now();
  log(`soak: writes stopped after ${writer.statements} statements (${writer.errors} errors); waiting until every sink equals the tables`);
  const checks: Parameters<typeof waitUntilAllEqual>[0] = {};
  for (const task of TASKS) {
    const table = orders(task);
    const expected = await tableRows(conn, `${DB}.${table}`);
    finalRows[table] = expected.size;
    checks[`redis ${table}`] = { expected, read: () => redisRows(redis, `soak:${table}:`) };
    checks[`webhook ${table}`] = { expected, read: async () => receiver.rows(`${DB}.${table}`) };
    checks[`es ${table}`] = { expected, read: () => esRows(es, `${DB}_${table}`) as Promise<Map<string, Row>> };
  }
  const comparison = await waitUntilAllEqual(checks, 300_000);
  lost = comparison.lost;
  catchUpSeconds = (comparison.endedAt - stoppedAt) / 1000;
  if (lost > 0) {
    exitCode = 1;
    for (const [name, d] of Object.entries(comparison.bySink))
      log(
        `soak: ${name}: missing ${d.missing.length}, extra ${d.extra.length}, different ${d.different.length} (${[...d.missing, ...d.extra, ...d.different].slice(0, 5).join(',')})`,
      );
  }
  await sample();
} catch (error) {
  exitCode = 1;
  log(`soak: failed: ${(error as Error).stack ?? String(error)}`);
} finally {
  await writer.stop().catch(() => undefined);
  await Promise.all(workers.map((w) => w.stop()));
}

// per kill: the duplicates counted from the kill until the next one (or the end)
kills.forEach((kill, i) => {
  const at = (m: number) => samples.filter((s) => s.atMinutes <= m).at(-1)?.duplicates ?? { redis: 0, webhook: 0, es: 0 };
  const before = at(kill.atMinutes);
  const after = at(kills[i + 1]?.atMinutes ?? Infinity);
  kill.duplicatesAfter = Object.fromEntries(SINKS.map((s) => [s, after[s] - before[s]]));
});
// per kill and task: the first sample after the takeover with the lag under RECOVERED_LAG_SECONDS
for (const kill of kills) {
  kill.recoveredSeconds = [];
  kill.lagPeakSeconds = [];
  kill.tasks.forEach((task, i) => {
    const takeover = kill.takeoverSeconds[i] ?? NaN;
    const after = samples.filter((s) => s.atMinutes > kill.atMinutes);
    const back = after.find((s) => (s.atMinutes - kill.atMinutes) * 60 > takeover && s.lagSeconds[task]! < RECOVERED_LAG_SECONDS);
    kill.recoveredSeconds!.push(back ? Number(((back.atMinutes - kill.atMinutes) * 60).toFixed(1)) : NaN);
    const window = back ? after.filter((s) => s.atMinutes <= back.atMinutes) : after;
    kill.lagPeakSeconds!.push(Math.max(...window.map((s) => s.lagSeconds[task] ?? NaN).filter(Number.isFinite)));
  });
}
const last = samples.at(-1);
const rssPeak = Object.fromEntries(SLOTS.map((slot) => [slot, Math.max(...samples.map((s) => s.rssMB[slot] ?? NaN).filter(Number.isFinite))]));
const lagValues = samples
  .flatMap((s) => Object.values(s.lagSeconds))
  .filter(Number.isFinite)
  .sort((a, b) => a - b);
const quantile = (values: number[], q: number) => (values.length ? values[Math.min(values.length - 1, Math.floor(q * values.length))]! : NaN);
// the lag of a task outside its recoveries: from each kill of its owner until it was back under RECOVERED_LAG_SECONDS
const recovering = (task: string, atMinutes: number) =>
  kills.some((k) => {
    const i = k.tasks.indexOf(task);
    const until = i < 0 ? NaN : (k.recoveredSeconds![i] ?? NaN);
    return i >= 0 && atMinutes >= k.atMinutes && (!Number.isFinite(until) || atMinutes <= k.atMinutes + until / 60);
  });
const steadyLagValues = samples
  .flatMap((s) => TASKS.filter((task) => !recovering(task, s.atMinutes)).map((task) => s.lagSeconds[task]!))
  .filter(Number.isFinite)
  .sort((a, b) => a - b);
const lagMaxByTask = Object.fromEntries(TASKS.map((task) => [task, Math.max(...samples.map((s) => s.lagSeconds[task] ?? NaN).filter(Number.isFinite))]));
const figures = {
  minutes: MINUTES,
  killEveryMinutes: KILL_EVERY_MINUTES,
  ratePerSecond: RATE,
  sessionTimeoutMs: SESSION_MS,
  statements: writer.statements,
  writerErrors: writer.errors,
  rows: finalRows,
  lost,
  catchUpSeconds,
  duplicates: last?.duplicates,
  kills: kills.map((k) => ({ ...k, atMinutes: Number(k.atMinutes.toFixed(2)) })),
  rssMBPeak: rssPeak,
  rssMBLast: last?.rssMB,
  lagSecondsMedian: quantile(lagValues, 0.5),
  lagSecondsP99: quantile(lagValues, 0.99),
  /** Outside the recoveries from the kills. */
  lagSecondsP99Steady: quantile(steadyLagValues, 0.99),
  lagSecondsMaxSteady: steadyLagValues.at(-1) ?? NaN,
  lagSecondsMax: lagValues.at(-1) ?? NaN,
  lagSecondsMaxByTask: lagMaxByTask,
  recoveredLagSeconds: RECOVERED_LAG_SECONDS,
  /** What the duplicates are out of: Redis SETs, webhook events received, ES actions acknowledged. */
  writesCounted: { redis: redisCounter.sets, webhook: receiver.eventsReceived, es: esProxy.acknowledged },
  load1: {
    min: Math.min(...samples.map((s) => s.load1)),
    max: Math.max(...samples.map((s) => s.load1)),
    mean: samples.reduce((a, s) => a + s.load1, 0) / Math.max(1, samples.length),
  },
  output: outDir,
};

const series = (pick: (s: Sample) => Record<string, number>, names: readonly string[], label = (n: string) => n): Series[] =>
  names.map((name) => ({ name: label(name), points: samples.map((s): [number, number] => [s.atMinutes, pick(s)[name] ?? NaN]) }));
const svg = renderPlot({
  title: `Tunnel soak: ${MINUTES} min, 3 workers, kill -9 every ${KILL_EVERY_MINUTES} min`,
  subtitle: `${writer.statements.toLocaleString('en-US')} statements at ${RATE}/s; lost ${lost}; duplicates ${SINKS.map((s) => `${s} ${last?.duplicates[s] ?? '?'}`).join(', ')}; load average ${figures.load1.mean.toFixed(1)} (2 CPUs)`,
  minutes: Math.max(MINUTES, last?.atMinutes ?? 0),
  panels: [
    { title: 'RSS per worker', unit: 'MB', series: series((s) => s.rssMB, SLOTS) },
    { title: 'Lag per task (now − newest heartbeat in Redis)', unit: 's', series: series((s) => s.lagSeconds, TASKS) },
    { title: 'Duplicates counted at each sink (cumulative)', unit: 'events', series: series((s) => s.duplicates, SINKS), merge: 'last' },
  ],
  markers: kills.map((k) => ({ atMinutes: k.atMinutes, label: `kill ${k.slot}` })),
});
writeFileSync(join(outDir, 'soak.svg'), svg);
writeFileSync(join(outDir, 'soak.json'), JSON.stringify({ figures, samples, kills, events }, null, 1));
log(
  `soak: lost ${lost}; duplicates ${JSON.stringify(figures.duplicates)}; takeovers ${kills.map((k) => k.takeoverSeconds.map((s) => s.toFixed(1)).join('+')).join(', ')} s; ` +
    `recovered (lag < ${RECOVERED_LAG_SECONDS} s) ${kills.map((k) => k.recoveredSeconds!.map((s) => s.toFixed(1)).join('+')).join(', ')} s; ` +
    `RSS peak ${JSON.stringify(rssPeak)} MB; lag median ${figures.lagSecondsMedian.toFixed(2)} s, p99 ${figures.lagSecondsP99.toFixed(2)} s (${figures.lagSecondsP99Steady.toFixed(2)} s outside recoveries), max ${figures.lagSecondsMax.toFixed(1)} s; ${join(outDir, 'soak.svg')}`,
);
process.stdout.write(`${JSON.stringify(figures)}\n`);

redisCounter.stop();
redis.disconnect();
await redisServer.stop();
await receiver.close();
await esProxy.close();
await es.close();
await pool.end();
await conn.end();
process.exit(exitCode);
