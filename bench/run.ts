// The benchmark driver behind `npm run bench` (scripts/bench starts the servers first): Tunnel's
// figures against the real servers, side by side with its peers on the same prepared binlog (issue
// 16's 650,000 row changes): go-mysql's BinlogSyncer, Debezium's embedded engine and bare zongji for
// decoding, the same bodies sent with no CDC in front for the Elasticsearch and webhook sinks, Redis's
// own clients for Redis. Each figure is the median of several runs with min and max; then a table and,
// last, one JSON line with every figure, the ratios, the machine and the durations.
//
//   node --import tsx bench/run.ts
//
// Environment: BENCH_ROWS (500000 inserts; updates and deletes are a fifth and a tenth of it),
// BENCH_RUNS (3), BENCH_SERVERS (mariadb,mysql: MySQL when it answers), BENCH_PEERS=0 (decode with
// Tunnel's source and zongji only), BENCH_LATENCY_SECONDS (60 per sink), BENCH_LATENCY_RATE (2000
// rows/s), BENCH_SINKS (comma list of sinks for catch-up, memory and latency: elasticsearch, redis,
// webhook), BENCH_ONLY (comma list of phases: decode, catchup, memory, semispace, baselines, latency,
// serialize, failover), BENCH_SEMI_SPACE_MB (64: the semi-space phase's other young-generation size,
// beside the worker's own flags), BENCH_PROFILE=1 (node --cpu-prof for the catch-up workers, summarised into the JSON;
// files in bench/.tmp/prof).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { esClient, redisClient, servers } from '../test/helpers/servers.ts';
import { BARE_SINKS, captureBodies, captureSink, replaySink, type BareSink, type CaptureInfo, type ReplayRun } from './lib/bare-sinks.ts';
import { redisBenchmark, redisCommandsOf, redisRawPipeline, redisRawResp } from './lib/baselines.ts';
import { runCatchup, type CatchupRun } from './lib/catchup.ts';
import { BENCH, fmtInt, log, repoRoot, spread, tmpRoot, type Spread } from './lib/common.ts';
import { COLUMNS, PER_TRANSACTION, prepareDataset, shapeOf, type Dataset } from './lib/dataset.ts';
import { decodePhase, type DecodeFigures } from './lib/decode.ts';
import { jdkHome } from './lib/peers.ts';
import { runFailover, type FailoverRun } from './lib/failover.ts';
import { runLatency, type LatencyResult } from './lib/latency.ts';
import { OLD_SPACE_MB, tableRows, type BaselineFigures, type CatchupFigures, type SemiSpaceFigures } from './lib/figures.ts';
import { semiSpacePhase } from './lib/semi-space.ts';
import { printTable } from './lib/report.ts';
import { Receiver, SINKS, type SinkKind } from './lib/sinks.ts';
import { connectTo, isUp, serverVersion, SOURCES, type SourceName } from './lib/source-servers.ts';
import { runSerialize, type SerializeCase } from './lib/serialize-phase.ts';
import { topFunctions } from './profile-top.ts';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const ROWS = env('BENCH_ROWS', 500_000);
const RUNS = env('BENCH_RUNS', 3);
const LATENCY_SECONDS = env('BENCH_LATENCY_SECONDS', 60);
const LATENCY_RATE = env('BENCH_LATENCY_RATE', 2000);
const ROWS_PER_TX = 10;
const ONLY = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const PROFILE = process.env.BENCH_PROFILE === '1';
const PEERS = process.env.BENCH_PEERS !== '0';
const wants = (phase: string) => ONLY.size === 0 || ONLY.has(phase);
const SHAPE = shapeOf(ROWS);

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
    durations[name] = (durations[name] ?? 0) + (Date.now() - t0) / 1000;
    load[name]!.push(loadavg()[0]!);
    log(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

// ------------------------------------------------------------------------------------------------
// the machine and the source servers

/** MariaDB always; MySQL 8 when BENCH_SERVERS names it or (by default) when it answers. */
async function sourceServers(): Promise<SourceName[]> {
  const named = (process.env.BENCH_SERVERS ?? '').split(',').filter(Boolean) as SourceName[];
  if (named.length > 0) return named;
  if (await isUp(SOURCES.mysql)) return ['mariadb', 'mysql'];
  log(`MySQL 8 does not answer on ${SOURCES.mysql.host}:${SOURCES.mysql.port} (scripts/services up mysql starts it): MariaDB only`);
  return ['mariadb'];
}

async function machine(sources: SourceName[]) {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const versions: Partial<Record<SourceName, string>> = {};
  for (const s of sources) {
    const conn = await connectTo(SOURCES[s]);
    versions[s] = await serverVersion(conn);
    await conn.end();
  }
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
  // a tool's version from what it prints (java -version prints to standard error)
  const tool = (cmd: string, args: string[], re: RegExp) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return re.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1];
  };
  return {
    nproc: Number(execFileSync('nproc').toString().trim()),
    memoryGB: Math.round(totalmem() / 2 ** 30),
    cpuModel,
    node: process.version,
    go: tool('go', ['version'], /go version go(\S+)/),
    java: tool(join(jdkHome() ?? '/usr', 'bin/java'), ['-version'], /version "([^"]+)"/),
    mariadb: versions.mariadb,
    mysql: versions.mysql,
    redis: redisVersion,
    elasticsearch: Object.values(nodes.nodes)[0]?.version,
    zookeeper,
    kernel: execFileSync('uname', ['-r']).toString().trim(),
  };
}

// ------------------------------------------------------------------------------------------------
// the prepared binlogs, one per server; prepared again when the range disappears (a purge)

const datasets = new Map<SourceName, Dataset>();
async function dataset(server: SourceName, fresh = false): Promise<Dataset> {
  let d = datasets.get(server);
  if (!d || fresh) {
    d = await prepareDataset(SOURCES[server], ROWS, log);
    datasets.set(server, d);
    log(
      `prepared on ${SOURCES[server].label} ${d.version}: ${fmtInt(d.shape.inserts)} inserts, ${fmtInt(d.shape.updates)} updates, ${fmtInt(d.shape.deletes)} deletes ` +
        `(${COLUMNS} columns, transactions of ${fmtInt(PER_TRANSACTION)}) in ${(d.prepareMs / 1000).toFixed(1)} s: ` +
        `${d.from.file}:${d.from.offset} .. ${d.end.file}:${d.end.offset}, ${(d.binlogBytes / 2 ** 20).toFixed(1)} MiB${d.gtids ? `, GTIDs at start ${d.gtids}` : ''}`,
    );
  }
  return d;
}

const positionGone = (error: unknown) => /PositionUnavailable|is no longer on|TUNNEL_ERR_POSITION_UNAVAILABLE/.test(String((error as Error)?.message ?? error));

async function withDataset<T>(server: SourceName, what: string, fn: (d: Dataset) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(await dataset(server));
    } catch (error) {
      if (!positionGone(error) || attempt >= 3) throw error;
      log(`${what}: the prepared binlog range was purged meanwhile (another process ran PURGE BINARY LOGS); preparing it again`);
      await dataset(server, true);
    }
  }
}

/**
 * Another process (Tunnel's chaos tests) may stop a server or purge the binlog in the middle of a run.
 * A run that throws, or whose result `valid` refuses (a sink short of rows, a decoder that miscounted),
 * is tried once more after `scripts/services up`; what happened is kept in `incidents` (and in the
 * JSON line). Undefined when the second try fails too: that figure is missing from the table.
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
        .split('\n')
        .filter(Boolean)
        .slice(0, 3)
        .join(' | ')
        .slice(0, 600);
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

/** Why a catch-up is not complete: every sink must hold the table's rows, the webhook have received every change. */
function catchupProblem(x: CatchupRun, d: Dataset): string | undefined {
  if (x.count !== d.finalRows) return `${x.sink} holds ${x.count} rows, not ${d.finalRows}`;
  if (x.received !== undefined && x.received !== d.changes) return `${x.sink} received ${x.received} row changes, not ${d.changes}`;
  return undefined;
}

async function catchupPhase(server: SourceName, receiver: Receiver): Promise<Record<SinkKind, CatchupFigures>> {
  const runs: Record<SinkKind, CatchupRun[]> = { elasticsearch: [], redis: [], webhook: [] };
  const profDir = join(tmpRoot, 'prof', server);
  rmSync(profDir, { recursive: true, force: true });
  // interleaved (ES, Redis, webhook, ES, ...) so that a noisy minute does not hit one sink only
  for (let run = 1; run <= RUNS; run++) {
    for (const kind of SINKS) {
      const nodeFlags = PROFILE && run === 1 ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, kind)}`] : [];
      const r = await resilient(
        `catch-up ${server} ${kind} run ${run}`,
        () => withDataset(server, `catch-up ${kind}`, (d) => runCatchup(kind, d, run, { receiver: kind === 'webhook' ? receiver : undefined, nodeFlags })),
        (x) => catchupProblem(x, datasets.get(server)!),
      );
      if (r) runs[kind].push(r);
    }
  }
  const changes = datasets.get(server)!.changes;
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
      countOk: r.length === RUNS && r.every((x) => catchupProblem(x, datasets.get(server)!) === undefined),
      wallMs: spread(r.map((x) => x.wallMs)),
      firstAckMs: spread(r.map((x) => x.firstAckMs)),
      workerCpuS: spread(r.map((x) => x.workerCpuS)),
      cpuPer100k: spread(r.map((x) => (x.workerCpuS / changes) * 100_000)),
      runs: r.map(({ rowsPerSec, ms, peakRssMB, cpu, machineBusy, count, received }) => ({ rowsPerSec, ms, peakRssMB, cpu, machineBusy, count, received })),
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
      withDataset('mariadb', `catch-up ${kind}`, (d) =>
        runCatchup(kind, d, 'oldspace', { receiver: kind === 'webhook' ? receiver : undefined, nodeFlags: [`--max-old-space-size=${OLD_SPACE_MB}`] }),
      ),
    );
    if (r) out[kind] = r;
  }
  return out;
}

async function baselinesPhase(receiver: Receiver): Promise<BaselineFigures> {
  const out: BaselineFigures = { bare: {} };
  const captures: Partial<Record<BareSink, CaptureInfo>> = {};
  for (const sink of BARE_SINKS) {
    const c = await resilient(`capture ${sink}`, () => withDataset('mariadb', `capture ${sink}`, (d) => captureSink(sink, d, receiver)));
    if (c) captures[sink] = c;
  }
  const runs: Record<BareSink, ReplayRun[]> = { elasticsearch: [], webhook: [] };
  const d = await dataset('mariadb');
  for (let run = 1; run <= RUNS; run++) {
    for (const sink of BARE_SINKS) {
      const capture = captures[sink];
      if (!capture) continue;
      const r = await resilient(
        `bare ${sink} run ${run}`,
        () => replaySink(capture, d, receiver, run),
        (x) =>
          x.count !== d.finalRows
            ? `${sink} holds ${x.count} rows, not ${d.finalRows}`
            : x.received !== undefined && x.received !== d.changes
              ? `${sink} received ${x.received} row changes, not ${d.changes}`
              : undefined,
      );
      if (r) runs[sink].push(r);
    }
  }
  for (const sink of BARE_SINKS) {
    const capture = captures[sink];
    const r = runs[sink];
    if (!capture || r.length === 0) continue;
    out.bare[sink] = {
      capture,
      rowsPerSec: spread(r.map((x) => x.rowsPerSec)),
      cpuS: spread(r.map((x) => x.cpuS)),
      peakRssMB: spread(r.map((x) => x.peakRssMB)),
      counts: r.map((x) => x.count),
      countOk: r.length === RUNS,
    };
  }
  // Redis: the commands Tunnel's Redis sink sends for the range, from the row images of the ES capture
  if (captures.elasticsearch) {
    const commands = redisCommandsOf(captureBodies(captures.elasticsearch));
    out.redisBenchmarkHset = await resilient('baseline redis-benchmark', () => redisBenchmark(commands, commands.length));
    log(`baseline: redis-benchmark HSET of one row's fields, pipelined 1000: ${fmtInt(out.redisBenchmarkHset ?? NaN)}/s`);
    out.ioredisPipeline = await resilient('baseline ioredis', () => redisRawPipeline(commands, 1000));
    log(`baseline: ioredis, pipelines of 1000 of the sink's commands one at a time: ${fmtInt(out.ioredisPipeline ?? NaN)} rows/s`);
    out.rawResp = await resilient('baseline raw RESP', () => redisRawResp(commands, 1000));
    log(`baseline: the same commands as hand-encoded RESP on a raw socket, 1000 a write: ${fmtInt(out.rawResp ?? NaN)} rows/s`);
  }
  return out;
}

function clusterModeInTunnelStart(): boolean {
  const commands = readFileSync(resolve(repoRoot, 'core/cli/commands.ts'), 'utf8');
  return /ClusterMember|config\.cluster/.test(commands);
}

// ------------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(tmpRoot, { recursive: true });
  const sources = await sourceServers();
  const m = await machine(sources);
  log(
    `machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGB} GB, Node ${m.node}, Go ${m.go ?? '-'}, Java ${m.java ?? '-'}, ` +
      `MariaDB ${m.mariadb ?? '-'}, MySQL ${m.mysql ?? '-'}, Redis ${m.redis}, Elasticsearch ${m.elasticsearch}, ZooKeeper ${m.zookeeper}`,
  );
  const receiver = await Receiver.start();
  const decode: Partial<Record<SourceName, DecodeFigures>> = {};
  const catchup: Partial<Record<SourceName, Record<SinkKind, CatchupFigures>>> = {};
  let baselines: BaselineFigures | undefined;
  let memoryCap: Partial<Record<SinkKind, CatchupRun>> | undefined;
  let semiSpace: SemiSpaceFigures | undefined;
  const latency: Partial<Record<SinkKind, LatencyResult>> = {};
  let serialize: SerializeCase[] | undefined;
  let failover: FailoverRun[] | undefined;
  try {
    if (wants('decode') || wants('catchup') || wants('memory') || wants('semispace') || wants('baselines')) {
      for (const s of sources) await phase('prepare', () => dataset(s));
    }
    if (wants('decode')) {
      for (const s of sources) {
        const r = await phase('decode', () => withDataset(s, 'decode', (d) => decodePhase(d, RUNS, resilient, PEERS)));
        decode[s] = r;
      }
    }
    if (wants('catchup')) for (const s of sources) catchup[s] = await phase('catchup', () => catchupPhase(s, receiver));
    if (wants('memory')) memoryCap = await phase('memory', () => memoryCapPhase(receiver));
    if (wants('semispace')) {
      semiSpace = await phase('semispace', () =>
        semiSpacePhase(RUNS, (label, what, nodeFlags) =>
          resilient(
            what,
            () => withDataset('mariadb', 'catch-up redis', (d) => runCatchup('redis', d, label, { nodeFlags })),
            (x) => catchupProblem(x, datasets.get('mariadb')!),
          ),
        ),
      );
    }
    if (wants('baselines')) baselines = await phase('baselines', () => baselinesPhase(receiver));
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
    if (wants('serialize')) serialize = await phase('serialize', () => resilient('serialize', runSerialize));
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
  await cleanup(sources);

  const total = (Date.now() - started) / 1000;
  // scripts/bench passes the time it started (npm ci and the servers' start-up included)
  const setup = process.env.BENCH_T0 ? (started - Number(process.env.BENCH_T0) * 1000) / 1000 : undefined;
  if (setup !== undefined) durations.setup = setup;
  const data = Object.fromEntries([...datasets].map(([k, d]) => [k, d])) as Partial<Record<SourceName, Dataset>>;
  const rows = tableRows({
    shape: SHAPE,
    runs: RUNS,
    datasets: data,
    decode,
    catchup,
    memoryCap,
    semiSpace,
    baselines,
    latency,
    latencyRate: LATENCY_RATE,
    serialize,
    failover,
  });
  printTable(
    [
      `Tunnel benchmark: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGB} GB RAM, Node ${m.node}, Go ${m.go ?? '-'}, Java ${m.java ?? '-'}; ` +
        `MariaDB ${m.mariadb ?? '-'}, MySQL ${m.mysql ?? '-'}, Redis ${m.redis}, Elasticsearch ${m.elasticsearch}, ZooKeeper ${m.zookeeper}`,
      `median/min/max of ${RUNS} runs; dataset: ${fmtInt(SHAPE.inserts)} inserts in transactions of ${fmtInt(PER_TRANSACTION)}, ` +
        `${fmtInt(SHAPE.updates)} updates, ${fmtInt(SHAPE.deletes)} deletes into t (${COLUMNS} columns); ratios are Tunnel / peer per run`,
    ],
    rows,
    `durations (s): ${Object.entries(durations)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ')}; total ${(total + (setup ?? 0)).toFixed(0)}`,
  );

  console.log(
    JSON.stringify({
      bench: 'tunnel',
      machine: m,
      settings: {
        ...SHAPE,
        changes: SHAPE.inserts + SHAPE.updates + SHAPE.deletes,
        columns: COLUMNS,
        rowsPerTransaction: PER_TRANSACTION,
        runs: RUNS,
        servers: sources,
        peers: PEERS,
        latencySeconds: LATENCY_SECONDS,
        latencyRate: LATENCY_RATE,
        latencyRowsPerTransaction: ROWS_PER_TX,
      },
      datasets: data,
      decode,
      catchup,
      memoryCap: memoryCap && { oldSpaceMB: OLD_SPACE_MB, ...memoryCap },
      semiSpace,
      baselines,
      ratios: ratiosOf(decode, catchup, baselines),
      latency,
      serialize,
      failover: failover && {
        ms: spread(failover.map((f) => f.ms)),
        expiredMs: spread(failover.map((f) => f.expiredMs)),
        acquiredMs: spread(failover.map((f) => f.acquiredMs)),
        afterExpiryMs: spread(failover.map((f) => f.ms - f.expiredMs)),
        runs: failover,
      },
      loadAverage: load,
      incidents,
      durationsSeconds: { ...durations, total: total + (setup ?? 0) },
    }),
  );
}

/** Every Tunnel / peer ratio in one place of the JSON: decode per server and peer, MariaDB catch-up over each bare sink and Redis baseline. */
function ratiosOf(
  decode: Partial<Record<SourceName, DecodeFigures>>,
  catchup: Partial<Record<SourceName, Record<SinkKind, CatchupFigures>>>,
  baselines: BaselineFigures | undefined,
) {
  const bare: Partial<Record<BareSink, Spread>> = {};
  const mariadb = catchup.mariadb;
  for (const sink of BARE_SINKS) {
    const b = baselines?.bare[sink];
    const t = mariadb?.[sink];
    if (!b || !t) continue;
    const n = Math.min(b.rowsPerSec.runs.length, t.rowsPerSec.runs.length);
    bare[sink] = spread(Array.from({ length: n }, (_, i) => t.rowsPerSec.runs[i]! / b.rowsPerSec.runs[i]!));
  }
  const redis = mariadb?.redis.rowsPerSec.runs ?? [];
  const over = (base: number | undefined) => (base && redis.length > 0 ? spread(redis.map((x) => x / base)) : undefined);
  return {
    decode: Object.fromEntries(Object.entries(decode).map(([s, d]) => [s, d.ratios])),
    catchupOverBare: bare,
    redisOverIoredis: over(baselines?.ioredisPipeline),
    redisOverRawResp: over(baselines?.rawResp),
  };
}

/** Drops what the runs created on the shared servers. */
async function cleanup(sources: SourceName[]) {
  try {
    for (const s of sources) {
      const conn = await connectTo(SOURCES[s]);
      await conn.query(`DROP DATABASE IF EXISTS \`${BENCH.database}\``);
      await conn.end();
    }
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
