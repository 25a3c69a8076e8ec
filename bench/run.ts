// The benchmark driver behind `npm run bench` (scripts/bench starts the servers first): every figure
// of issue 8 against the real servers, each the median of several runs with min and max, then a human
// table and, last, one JSON line with every figure, the machine and the durations.
//
//   node --import tsx bench/run.ts
//
// Environment: BENCH_ROWS (500000), BENCH_RUNS (3), BENCH_LATENCY_SECONDS (60 per sink),
// BENCH_LATENCY_RATE (2000 rows/s), BENCH_ONLY (comma list of phases: decode, catchup, memory,
// baselines, latency, serialize, failover), BENCH_PROFILE=1 (node --cpu-prof for the catch-up workers, summarised
// into the JSON; files in bench/.tmp/prof).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { esClient, mysqlConnection, redisClient, servers } from '../test/helpers/servers.ts';
import { runCatchup, type CatchupRun } from './lib/catchup.ts';
import { BENCH, benchRoot, fmtInt, log, repoRoot, spread, tmpRoot, type Spread } from './lib/common.ts';
import { COLUMNS, PER_TRANSACTION, prepareDataset, type Dataset } from './lib/dataset.ts';
import { runFailover, type FailoverRun } from './lib/failover.ts';
import { runLatency, type LatencyResult } from './lib/latency.ts';
import { esRawBulk, redisBenchmark, redisRawPipeline, redisRawResp } from './lib/baselines.ts';
import { Receiver, SINKS, type SinkKind } from './lib/sinks.ts';
import { topFunctions } from './profile-top.ts';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const ROWS = env('BENCH_ROWS', 500_000);
const RUNS = env('BENCH_RUNS', 3);
const LATENCY_SECONDS = env('BENCH_LATENCY_SECONDS', 60);
const LATENCY_RATE = env('BENCH_LATENCY_RATE', 2000);
const ROWS_PER_TX = 10;
const OLD_SPACE_MB = 128;
const ONLY = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const PROFILE = process.env.BENCH_PROFILE === '1';
const wants = (phase: string) => ONLY.size === 0 || ONLY.has(phase);

const TARGETS = {
  decodeRatio: 0.85,
  catchup: { elasticsearch: 15_000, redis: 50_000, webhook: 50_000 } as Record<SinkKind, number>,
  latencyP99: { elasticsearch: 1000, redis: 250, webhook: 250 } as Record<SinkKind, number>,
  failoverMs: 5000,
  peakRssMB: 300,
};

const started = Date.now();
const durations: Record<string, number> = {};
const load: Record<string, number[]> = {};
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  load[name] = [loadavg()[0]!];
  log(`${name}: start (load average ${loadavg()[0]!.toFixed(2)})`);
  try {
    return await fn();
  } finally {
    durations[name] = (Date.now() - t0) / 1000;
    load[name]!.push(loadavg()[0]!);
    log(`${name}: ${durations[name]!.toFixed(1)} s`);
  }
}

// ------------------------------------------------------------------------------------------------
// the machine

async function machine() {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const conn = await mysqlConnection();
  const [rows] = (await conn.query('SELECT VERSION() AS v')) as unknown as [{ v: string }[]];
  await conn.end();
  const r = redisClient();
  const redisVersion = /redis_version:(\S+)/.exec(await r.info('server'))?.[1];
  r.disconnect();
  const es = esClient();
  const nodes = (await es.nodes.info({ filter_path: 'nodes.*.version' })) as unknown as { nodes: Record<string, { version: string }> };
  await es.close();
  let zookeeper = 'unknown';
  try {
    const out = execFileSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${servers.zookeeper.port}; printf srvr >&3; head -1 <&3`], {
      timeout: 5000,
    }).toString();
    zookeeper = /version: ([^-\s,]+)/.exec(out)?.[1] ?? out.trim();
  } catch {
    /* reported as unknown */
  }
  return {
    nproc: Number(execFileSync('nproc').toString().trim()),
    memoryGB: Math.round(totalmem() / 2 ** 30),
    cpuModel,
    node: process.version,
    mariadb: rows[0]!.v,
    redis: redisVersion,
    elasticsearch: Object.values(nodes.nodes)[0]?.version,
    zookeeper,
    kernel: execFileSync('uname', ['-r']).toString().trim(),
  };
}

// ------------------------------------------------------------------------------------------------
// the prepared binlog; re-prepared when the range disappears (another run purged the binlog)

let data: Dataset | undefined;
async function dataset(fresh = false): Promise<Dataset> {
  if (!data || fresh) {
    data = await prepareDataset(ROWS);
    log(
      `prepared ${fmtInt(ROWS)} rows (${COLUMNS} columns, transactions of ${fmtInt(PER_TRANSACTION)}) in ${(data.prepareMs / 1000).toFixed(1)} s: ` +
        `${data.from.file}:${data.from.offset} .. ${data.end.file}:${data.end.offset}, ${(data.binlogBytes / 2 ** 20).toFixed(1)} MiB`,
    );
  }
  return data;
}

const positionGone = (error: unknown) => /PositionUnavailable|is no longer on|TUNNEL_ERR_POSITION_UNAVAILABLE/.test(String((error as Error)?.message ?? error));

async function withDataset<T>(what: string, fn: (d: Dataset) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(await dataset());
    } catch (error) {
      if (!positionGone(error) || attempt >= 3) throw error;
      log(`${what}: the prepared binlog range was purged meanwhile (another process ran PURGE BINARY LOGS); preparing it again`);
      await dataset(true);
    }
  }
}

/**
 * Another process (Tunnel's chaos tests) may stop a server or purge the binlog in the middle of a run.
 * A run that throws, or whose result `valid` refuses (a sink short of rows), is tried once more after
 * `scripts/services up`; what happened is kept in `incidents` (and in the JSON line). Undefined when
 * the second try fails too: that figure is missing from the table, not the whole report.
 */
const incidents: Array<{ what: string; error: string }> = [];
async function resilient<T>(what: string, fn: () => Promise<T>, valid: (r: T) => string | undefined = () => undefined): Promise<T | undefined> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    let problem: string;
    try {
      const result = await fn();
      const invalid = valid(result);
      if (invalid === undefined) return result;
      problem = invalid;
    } catch (error) {
      problem = String((error as Error)?.message ?? error)
        .split('\n')[0]!
        .slice(0, 300);
    }
    incidents.push({ what: `${what} (try ${attempt})`, error: problem });
    log(`${what}: ${problem}${attempt === 1 ? '; scripts/services up, then once more' : '; left out'}`);
    if (attempt === 1) {
      try {
        execFileSync('bash', [resolve(repoRoot, 'scripts/services'), 'up'], { stdio: 'ignore', timeout: 300_000 });
      } catch {
        /* the retry says whether it helped */
      }
    }
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// phases

interface DecodeFigures {
  zongji: Spread;
  source: Spread;
  ratio: Spread;
  rowsEvents: number;
}

function runChild(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      process.stderr.write(c);
    });
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${args[0]} exited ${code}: ${err.slice(-2000)}`))));
  });
}

async function decodePhase(): Promise<DecodeFigures> {
  return withDataset('decode', async (d) => {
    const out = await runChild([resolve(benchRoot, 'decode.ts'), JSON.stringify({ from: d.from, end: d.end, rows: d.rows, runs: RUNS })]);
    const r = JSON.parse(out.trim().split('\n').pop()!) as { zongji: number[]; source: number[]; rowsEvents: number };
    return {
      zongji: spread(r.zongji),
      source: spread(r.source),
      ratio: spread(r.source.map((s, i) => s / r.zongji[i]!)),
      rowsEvents: r.rowsEvents,
    };
  });
}

interface CatchupFigures {
  rowsPerSec: Spread;
  peakRssMB: Spread;
  counts: number[];
  countOk: boolean;
  wallMs: Spread;
  workerCpuS: Spread;
  /** Each run: CPU seconds per process (worker, receiver, servers, other) and the machine's busy share. */
  runs: Array<Pick<CatchupRun, 'rowsPerSec' | 'ms' | 'peakRssMB' | 'cpu' | 'machineBusy'>>;
  profile?: ReturnType<typeof topFunctions>;
}

async function catchupPhase(receiver: Receiver): Promise<Record<SinkKind, CatchupFigures>> {
  const runs: Record<SinkKind, CatchupRun[]> = { elasticsearch: [], redis: [], webhook: [] };
  const profDir = join(tmpRoot, 'prof');
  rmSync(profDir, { recursive: true, force: true });
  // interleaved (ES, Redis, webhook, ES, ...) so that a noisy minute does not hit one sink only
  for (let run = 1; run <= RUNS; run++) {
    for (const kind of SINKS) {
      const flags = PROFILE && run === 1 ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, kind)}`] : [];
      const r = await resilient(
        `catch-up ${kind} run ${run}`,
        () => withDataset(`catch-up ${kind}`, (d) => runCatchup(kind, d, run, kind === 'webhook' ? receiver : undefined, flags)),
        (x) => (x.count === ROWS ? undefined : `${kind} holds ${x.count} rows, not ${ROWS}`),
      );
      if (r) runs[kind].push(r);
    }
  }
  const out = {} as Record<SinkKind, CatchupFigures>;
  for (const kind of SINKS) {
    const r = runs[kind];
    let profile: CatchupFigures['profile'];
    if (PROFILE) {
      const dir = join(profDir, kind);
      // CPU.<date>.<pid>.0.001.cpuprofile is the main thread (the others: tsx's loader, the pool)
      const mainThread = readdirSync(dir).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))[0];
      if (mainThread) profile = topFunctions(join(dir, mainThread), 15);
    }
    out[kind] = {
      rowsPerSec: spread(r.map((x) => x.rowsPerSec)),
      peakRssMB: spread(r.map((x) => x.peakRssMB)),
      counts: r.map((x) => x.count),
      countOk: r.every((x) => x.count === ROWS),
      wallMs: spread(r.map((x) => x.wallMs)),
      workerCpuS: spread(r.map((x) => x.workerCpuS)),
      runs: r.map(({ rowsPerSec, ms, peakRssMB, cpu, machineBusy }) => ({ rowsPerSec, ms, peakRssMB, cpu, machineBusy })),
      ...(profile ? { profile } : {}),
    };
  }
  return out;
}

/**
 * The peak RSS target with the V8 old generation capped: one catch-up per sink with the worker started
 * with --max-old-space-size=128 (what NODE_OPTIONS would set), rate and peak RSS.
 */
async function memoryCapPhase(receiver: Receiver): Promise<Partial<Record<SinkKind, CatchupRun>>> {
  const out: Partial<Record<SinkKind, CatchupRun>> = {};
  for (const kind of SINKS) {
    const r = await resilient(`catch-up ${kind} (old space ${OLD_SPACE_MB} MB)`, () =>
      withDataset(`catch-up ${kind}`, (d) => runCatchup(kind, d, 0, kind === 'webhook' ? receiver : undefined, [`--max-old-space-size=${OLD_SPACE_MB}`])),
    );
    if (r) out[kind] = r;
  }
  return out;
}

interface BaselineFigures {
  redisBenchmarkHset: number;
  ioredisPipeline: number;
  rawResp: number;
  esBulk: number;
}

async function baselinesPhase(): Promise<BaselineFigures> {
  const redisBenchmarkHset = (await resilient('baseline redis-benchmark', () => redisBenchmark(ROWS))) ?? NaN;
  log(`baseline: redis-benchmark HSET of the same 10 fields, pipelined 1000: ${fmtInt(redisBenchmarkHset)}/s`);
  const ioredisPipeline = (await resilient('baseline ioredis', () => redisRawPipeline(ROWS, 1000))) ?? NaN;
  log(`baseline: ioredis, pipelines of 1000 HSETs one at a time, nothing else on the thread: ${fmtInt(ioredisPipeline)} rows/s`);
  const rawResp = (await resilient('baseline raw RESP', () => redisRawResp(ROWS, 1000))) ?? NaN;
  log(`baseline: hand-encoded RESP on a raw socket, 1000 HSETs a write, one at a time: ${fmtInt(rawResp)} rows/s`);
  const esBulk = (await resilient('baseline ES bulk', () => esRawBulk(ROWS, `${BENCH.esIndexPrefix}raw`, { bulk: 1000, lanes: 2 }))) ?? NaN;
  log(`baseline: Elasticsearch alone, the same documents in bulks of 1000, 2 in flight: ${fmtInt(esBulk)} docs/s`);
  return { redisBenchmarkHset, ioredisPipeline, rawResp, esBulk };
}

interface SerializeCase {
  text: string;
  rowKB: number;
  bodyKB: number;
  off: Spread;
  forced: Spread;
  defaults: Spread;
}

async function serializePhase(): Promise<SerializeCase[]> {
  type Row = {
    text: string;
    rowBytes: number;
    batch: number;
    batchKB: number;
    e2eRuns: { off: number[]; forced: number[]; auto: number[] };
  };
  // bench/serialize.ts in its full mode (3 repeats of every case, 24 MB of rows per measurement: its
  // quick mode's 8 MB, one repeat, made the 1 MB-body cases unstable); the 1 KB and 64 KB rows at
  // 64 KB and 1 MB bodies go into the table, every case into the JSON
  const out = await runChild([resolve(benchRoot, 'serialize.ts')]);
  const results = (JSON.parse(out.trim().split('\n').pop()!) as { results: Row[] }).results;
  return results.map((r) => ({
    text: r.text,
    rowKB: Math.round(r.rowBytes / 1024),
    bodyKB: r.batchKB,
    off: spread(r.e2eRuns.off),
    forced: spread(r.e2eRuns.forced),
    defaults: spread(r.e2eRuns.auto),
  }));
}

function clusterModeInTunnelStart(): boolean {
  const commands = readFileSync(resolve(repoRoot, 'core/cli/commands.ts'), 'utf8');
  return /ClusterMember|config\.cluster/.test(commands);
}

// ------------------------------------------------------------------------------------------------
// output

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
function row(name: string, s: Spread | undefined, unit: string, target: string, ok: boolean | undefined, fmt = fmtInt) {
  return {
    name,
    median: s ? fmt(s.median) : '-',
    min: s ? fmt(s.min) : '-',
    max: s ? fmt(s.max) : '-',
    unit,
    target,
    ok: ok === undefined ? '' : ok ? 'yes' : 'NO',
  };
}

async function main() {
  mkdirSync(tmpRoot, { recursive: true });
  const m = await machine();
  log(
    `machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGB} GB, Node ${m.node}, MariaDB ${m.mariadb}, Redis ${m.redis}, Elasticsearch ${m.elasticsearch}, ZooKeeper ${m.zookeeper}`,
  );
  const receiver = await Receiver.start();
  const results: Record<string, unknown> = {};
  let decode: DecodeFigures | undefined;
  let catchup: Record<SinkKind, CatchupFigures> | undefined;
  let baselines: BaselineFigures | undefined;
  let memoryCap: Partial<Record<SinkKind, CatchupRun>> | undefined;
  const latency: Partial<Record<SinkKind, LatencyResult>> = {};
  let serialize: SerializeCase[] | undefined;
  let failover: FailoverRun[] | undefined;
  try {
    if (wants('decode') || wants('catchup') || wants('memory')) await phase('prepare', () => dataset());
    if (wants('decode')) decode = await phase('decode', () => resilient('decode', decodePhase));
    if (wants('catchup')) catchup = await phase('catchup', () => catchupPhase(receiver));
    if (wants('memory')) memoryCap = await phase('memory', () => memoryCapPhase(receiver));
    if (wants('baselines')) baselines = await phase('baselines', baselinesPhase);
    if (wants('latency')) {
      await phase('latency', async () => {
        for (const kind of SINKS) {
          latency[kind] = await resilient(
            `latency ${kind}`,
            () =>
              runLatency(kind, { seconds: LATENCY_SECONDS, rate: LATENCY_RATE, rowsPerTx: ROWS_PER_TX, windows: 3 }, kind === 'webhook' ? receiver : undefined),
            (l) => (l.acked === l.rows ? undefined : `only ${l.acked} of ${l.rows} rows acknowledged`),
          );
        }
      });
    }
    if (wants('serialize')) serialize = await phase('serialize', () => resilient('serialize', serializePhase));
    if (wants('failover')) {
      const mode = clusterModeInTunnelStart() ? 'tunnel start' : 'bench/cluster-node.ts';
      failover = await phase('failover', async () => {
        const runs: FailoverRun[] = [];
        for (let run = 1; run <= RUNS; run++) {
          const r = await resilient(`failover run ${run}`, () => runFailover(run, mode));
          if (r) runs.push(r);
        }
        return runs;
      });
    }
  } finally {
    receiver.close();
  }
  await cleanup();

  // ---- the table
  const rows: ReturnType<typeof row>[] = [];
  const sinkName: Record<SinkKind, string> = { elasticsearch: 'Elasticsearch', redis: 'Redis', webhook: 'webhook' };
  if (decode) {
    rows.push(row('decode: bare zongji', decode.zongji, 'rows/s', '', undefined));
    rows.push(row('decode: Tunnel source', decode.source, 'rows/s', '', undefined));
    rows.push(row('decode: source / zongji', decode.ratio, '', `>= ${TARGETS.decodeRatio}`, decode.ratio.median >= TARGETS.decodeRatio, (x) => x.toFixed(2)));
  }
  if (catchup) {
    for (const kind of SINKS) {
      const c = catchup[kind];
      rows.push(
        row(
          `catch-up ${fmtInt(ROWS)} rows: ${sinkName[kind]}`,
          c.rowsPerSec,
          'rows/s',
          `>= ${fmtInt(TARGETS.catchup[kind])}`,
          c.rowsPerSec.median >= TARGETS.catchup[kind] && c.countOk,
        ),
      );
    }
    for (const kind of SINKS) {
      const c = catchup[kind];
      rows.push(row(`  ${sinkName[kind]} holds afterwards`, spread(c.counts), 'rows', `= ${fmtInt(ROWS)}`, c.countOk));
    }
    for (const kind of SINKS) {
      rows.push(
        row(
          `peak RSS of the worker, catch-up to ${sinkName[kind]}`,
          catchup[kind].peakRssMB,
          'MB',
          `<= ${TARGETS.peakRssMB}`,
          catchup[kind].peakRssMB.max <= TARGETS.peakRssMB,
        ),
      );
    }
  }
  if (memoryCap) {
    for (const kind of SINKS) {
      const c = memoryCap[kind];
      if (!c) continue;
      rows.push(
        row(`  with --max-old-space-size=${OLD_SPACE_MB}: peak RSS, ${sinkName[kind]}`, spread([c.peakRssMB]), 'MB', '1 run', c.peakRssMB <= TARGETS.peakRssMB),
      );
      rows.push(row(`  with --max-old-space-size=${OLD_SPACE_MB}: catch-up, ${sinkName[kind]}`, spread([c.rowsPerSec]), 'rows/s', '1 run', undefined));
    }
  }
  if (baselines) {
    rows.push(row('  server alone: redis-benchmark HSET (C client)', spread([baselines.redisBenchmarkHset]), 'rows/s', '1 run', undefined));
    rows.push(row('  client alone: ioredis pipelines of 1000 HSET', spread([baselines.ioredisPipeline]), 'rows/s', '1 run', undefined));
    rows.push(row('  no client library: hand-written RESP, 1000 HSET', spread([baselines.rawResp]), 'rows/s', '1 run', undefined));
    rows.push(row('  server alone: ES bulk, same docs, 1000 x 2', spread([baselines.esBulk]), 'docs/s', '1 run', undefined));
  }
  for (const kind of SINKS) {
    const l = latency[kind];
    if (!l) continue;
    const t = TARGETS.latencyP99[kind];
    rows.push(row(`latency ${sinkName[kind]} p50 (${LATENCY_RATE}/s, ${l.seconds.toFixed(0)} s)`, l.windowP50, 'ms', '', undefined));
    rows.push(row(`latency ${sinkName[kind]} p99`, l.windowP99, 'ms', `<= ${t}`, l.p99 <= t && l.acked === l.rows));
  }
  if (serialize) {
    const shown = (s: SerializeCase) => (s.rowKB === 1 || s.rowKB === 64) && (Math.abs(s.bodyKB - 64) < 8 || Math.abs(s.bodyKB - 1024) < 32);
    for (const s of serialize.filter(shown)) {
      rows.push(row(`serialize ${s.rowKB} KB ${s.text} rows, ${s.bodyKB} KB bodies: main thread`, s.off, 'ev/s', '', undefined));
      const gain = s.defaults.median / s.off.median - 1;
      rows.push(
        row(`  at the default threshold (${gain >= 0 ? '+' : ''}${pct(gain)}; pool every batch ${fmtInt(s.forced.median)})`, s.defaults, 'ev/s', '', undefined),
      );
    }
  }
  if (failover && failover.length > 0) {
    const s = spread(failover.map((f) => f.ms));
    rows.push(row(`failover: kill -9 owner -> first delivery (${failover[0]!.mode})`, s, 'ms', `<= ${TARGETS.failoverMs}`, s.median <= TARGETS.failoverMs));
    rows.push(row('  kill -> session expired (ZooKeeper, 4 s timeout)', spread(failover.map((f) => f.expiredMs)), 'ms', '', undefined));
    rows.push(row('  kill -> new owner acquired', spread(failover.map((f) => f.acquiredMs)), 'ms', '', undefined));
    rows.push(row('  session expired -> first delivery (Tunnel)', spread(failover.map((f) => f.ms - f.expiredMs)), 'ms', '', undefined));
  }
  const total = (Date.now() - started) / 1000;
  // scripts/bench passes the time it started (npm ci and the servers' start-up included)
  const setup = process.env.BENCH_T0 ? (started - Number(process.env.BENCH_T0) * 1000) / 1000 : undefined;
  if (setup !== undefined) durations.setup = setup;
  const widths = { name: Math.max(...rows.map((r) => r.name.length), 6) };
  const header = `${'figure'.padEnd(widths.name)}  ${'median'.padStart(9)}  ${'min'.padStart(9)}  ${'max'.padStart(9)}  ${'unit'.padEnd(6)}  ${'target'.padEnd(10)}  ok`;
  console.log('');
  console.log(
    `Tunnel benchmark: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGB} GB RAM, Node ${m.node}; MariaDB ${m.mariadb}, Redis ${m.redis}, Elasticsearch ${m.elasticsearch}, ZooKeeper ${m.zookeeper}`,
  );
  console.log(
    `median/min/max of ${RUNS} runs; ${fmtInt(ROWS)} rows of ${COLUMNS} columns in transactions of ${fmtInt(PER_TRANSACTION)}${decode ? ` (${fmtInt(decode.rowsEvents)} rows events)` : ''}`,
  );
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(widths.name)}  ${r.median.padStart(9)}  ${r.min.padStart(9)}  ${r.max.padStart(9)}  ${r.unit.padEnd(6)}  ${r.target.padEnd(10)}  ${r.ok}`,
    );
  }
  console.log('-'.repeat(header.length));
  console.log(
    `durations (s): ${Object.entries(durations)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ')}; total ${(total + (setup ?? 0)).toFixed(0)}`,
  );

  Object.assign(results, {
    bench: 'tunnel',
    machine: m,
    settings: {
      rows: ROWS,
      columns: COLUMNS,
      rowsPerTransaction: PER_TRANSACTION,
      runs: RUNS,
      latencySeconds: LATENCY_SECONDS,
      latencyRate: LATENCY_RATE,
      latencyRowsPerTransaction: ROWS_PER_TX,
    },
    targets: TARGETS,
    decode,
    catchup,
    memoryCap: memoryCap && { oldSpaceMB: OLD_SPACE_MB, ...memoryCap },
    baselines,
    latency,
    serialize,
    failover: failover && {
      ms: spread(failover.map((f) => f.ms)),
      expiredMs: spread(failover.map((f) => f.expiredMs)),
      acquiredMs: spread(failover.map((f) => f.acquiredMs)),
      afterExpiryMs: spread(failover.map((f) => f.ms - f.expiredMs)),
      runs: failover,
    },
    peakRssMB: catchup && spread(SINKS.flatMap((k) => catchup![k].peakRssMB.runs)),
    loadAverage: load,
    incidents,
    durationsSeconds: { ...durations, total: total + (setup ?? 0) },
  });
  console.log(JSON.stringify(results));
}

/** Drops what the runs created on the shared servers. */
async function cleanup() {
  try {
    const conn = await mysqlConnection();
    await conn.query(`DROP DATABASE IF EXISTS \`${BENCH.database}\``);
    await conn.end();
    const es = esClient();
    await es.indices.delete({ index: `${BENCH.esIndexPrefix}*` }, { ignore: [404] });
    await es.close();
    const r = redisClient({ db: BENCH.redisDb });
    await r.flushdb();
    r.disconnect();
  } catch (error) {
    log(`cleanup: ${(error as Error).message}`);
  }
}

await main();
process.exit(0);
