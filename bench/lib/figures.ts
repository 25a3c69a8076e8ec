// What `npm run bench` measured, as figures, and the targets of issue 16 it holds them to; and the
// rows of its table, section by section: decode per server (Tunnel's source and each peer, then
// Tunnel / peer), catch-up per server and sink (with the bare-sink and Redis baselines and Tunnel /
// baseline on MariaDB), the memory cap, latency, serialization, failover.
import type { BareSink, CaptureInfo } from './bare-sinks.ts';
import type { CatchupRun } from './catchup.ts';
import { fmtInt, spread, type Spread } from './common.ts';
import type { Dataset, DatasetShape } from './dataset.ts';
import type { DecodeFigures, PeerName } from './decode.ts';
import type { FailoverRun } from './failover.ts';
import type { LatencyResult } from './latency.ts';
import { DECODERS } from './peers.ts';
import { fmtRatio, fmtSeconds, heading, row, single, type Row } from './report.ts';
import type { SerializeCase } from './serialize-phase.ts';
import { SINKS, type SinkKind } from './sinks.ts';
import { SOURCES, type SourceName } from './source-servers.ts';
import type { topFunctions } from '../profile-top.ts';

export const OLD_SPACE_MB = 128;
/** The young-generation half the semi-space phase sets beside the worker's own flags: Node 24's default. */
export const SEMI_SPACE_MB = process.env.BENCH_SEMI_SPACE_MB ? Number(process.env.BENCH_SEMI_SPACE_MB) : 64;

/** Issue 16's goals on this machine. */
export const TARGETS = {
  /** Tunnel's decode rate over go-mysql's BinlogSyncer's, per server. */
  decodeOverGoMysql: 1.0,
  /** Redis catch-up, row changes/s, per server. */
  redisCatchup: { mariadb: 128_000, mysql: 89_000 } as Record<SourceName, number>,
  /** Worker CPU seconds per 100,000 row changes, Redis catch-up. */
  redisCpuPer100k: 1.0,
  /** Catch-up rate over the bare sink's (the same bodies with no CDC in front). */
  overBare: 0.8,
  peakRssMB: 250,
  /** Spawn of `tunnel start` to the first batch acknowledged, ms. */
  firstAckMs: 200,
  latencyP99Ms: 100,
  failoverMs: 5000,
};

export interface CatchupFigures {
  rowsPerSec: Spread;
  peakRssMB: Spread;
  counts: number[];
  countOk: boolean;
  wallMs: Spread;
  firstAckMs: Spread;
  workerCpuS: Spread;
  /** Worker CPU seconds per 100,000 row changes. */
  cpuPer100k: Spread;
  /** Each run: CPU seconds per process (worker, receiver, servers, other) and the machine's busy share. */
  runs: Array<Pick<CatchupRun, 'rowsPerSec' | 'ms' | 'peakRssMB' | 'cpu' | 'machineBusy' | 'count' | 'received'>>;
  profile?: ReturnType<typeof topFunctions>;
}

export interface BareFigures {
  capture: CaptureInfo;
  rowsPerSec: Spread;
  /** CPU seconds of the sending process. */
  cpuS: Spread;
  peakRssMB: Spread;
  counts: number[];
  countOk: boolean;
}

export interface BaselineFigures {
  bare: Partial<Record<BareSink, BareFigures>>;
  redisBenchmarkHset?: number;
  ioredisPipeline?: number;
  rawResp?: number;
}

/** One side of the semi-space phase: Redis catch-ups on MariaDB with one set of worker flags. */
export interface SemiSpaceSide {
  /** The Node flags the worker ran with. */
  flags: string[];
  rowsPerSec: Spread;
  peakRssMB: Spread;
  cpuPer100k: Spread;
}

/** The worker's young-generation flag against Node's default, run i of each side paired. */
export interface SemiSpaceFigures {
  semiSpaceMB: number;
  worker: SemiSpaceSide;
  nodeDefault: SemiSpaceSide;
  /** rows/s with the worker's flags / rows/s with Node's default, per pair. */
  rateRatio: Spread;
  /** Peak RSS with Node's default − with the worker's flags, MB, per pair. */
  rssSavedMB: Spread;
}

export interface Figures {
  shape: DatasetShape;
  runs: number;
  datasets: Partial<Record<SourceName, Dataset>>;
  decode: Partial<Record<SourceName, DecodeFigures>>;
  catchup: Partial<Record<SourceName, Record<SinkKind, CatchupFigures>>>;
  memoryCap?: Partial<Record<SinkKind, CatchupRun>>;
  semiSpace?: SemiSpaceFigures;
  baselines?: BaselineFigures;
  latency: Partial<Record<SinkKind, LatencyResult>>;
  latencyRate: number;
  serialize?: SerializeCase[];
  failover?: FailoverRun[];
}

const SINK_NAME: Record<SinkKind, string> = { elasticsearch: 'Elasticsearch', redis: 'Redis', webhook: 'webhook' };
const PEER_SHORT: Record<PeerName, string> = { gomysql: 'go-mysql', debezium: 'Debezium', zongji: 'zongji' };
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/** Tunnel / baseline per run, pairing run i with run i. */
function paired(tunnel: number[], base: number[]): Spread {
  const n = Math.min(tunnel.length, base.length);
  return spread(Array.from({ length: n }, (_, i) => tunnel[i]! / base[i]!));
}

function decodeRows(f: DecodeFigures): Row[] {
  const rows: Row[] = [
    heading(`decode, ${SOURCES[f.server].label} ${f.version.split('-')[0]}: ${fmtInt(f.changes)} row changes, ${f.binlogMiB.toFixed(0)} MiB of binlog`),
  ];
  const present = DECODERS.filter((d) => f.decoders[d]);
  for (const d of present) rows.push(row(`  ${f.decoders[d]!.label}`, f.decoders[d]!.rowsPerSec, 'rows/s'));
  for (const d of present) rows.push(row(`  ${f.decoders[d]!.label}: CPU`, f.decoders[d]!.cpuS, 's', '', undefined, fmtSeconds));
  for (const d of present) rows.push(row(`  ${f.decoders[d]!.label}: peak RSS`, f.decoders[d]!.peakRssMB, 'MB'));
  const dbz = f.decoders.debezium?.firstRecordMs;
  if (dbz) rows.push(row('  Debezium: engine start to first change record', dbz, 'ms'));
  for (const [peer, why] of Object.entries(f.skipped)) rows.push(heading(`  ${peer}: not run (${why.slice(0, 120)})`));
  for (const peer of Object.keys(f.ratios) as PeerName[]) {
    const r = f.ratios[peer]!;
    const name = PEER_SHORT[peer];
    const goal = peer === 'gomysql' ? TARGETS.decodeOverGoMysql : undefined;
    rows.push(
      row(`  Tunnel / ${name}: rows/s`, r.rowsPerSec, 'x', goal ? `>= ${goal.toFixed(2)}` : '', goal ? r.rowsPerSec.median >= goal : undefined, fmtRatio),
    );
    rows.push(row(`  Tunnel / ${name}: CPU s`, r.cpuS, 'x', '', undefined, fmtRatio));
    rows.push(row(`  Tunnel / ${name}: peak RSS`, r.peakRssMB, 'x', '', undefined, fmtRatio));
  }
  return rows;
}

function catchupRows(server: SourceName, c: Record<SinkKind, CatchupFigures>, d: Dataset, runs: number, baselines: BaselineFigures | undefined): Row[] {
  const rows: Row[] = [heading(`catch-up, ${SOURCES[server].label}: ${fmtInt(d.changes)} row changes into one sink (figures of the \`tunnel start\` worker)`)];
  const redisGoal = TARGETS.redisCatchup[server];
  for (const kind of SINKS) {
    const goal = kind === 'redis' ? redisGoal : undefined;
    rows.push(
      row(
        `  ${SINK_NAME[kind]}`,
        c[kind].rowsPerSec,
        'rows/s',
        goal ? `>= ${fmtInt(goal)}` : '',
        goal ? c[kind].rowsPerSec.median >= goal && c[kind].countOk : undefined,
      ),
    );
  }
  for (const kind of SINKS) {
    rows.push(
      row(`  ${SINK_NAME[kind]} holds afterwards (${runs} runs complete)`, spread(c[kind].counts), 'rows', `= ${fmtInt(d.finalRows)}`, c[kind].countOk),
    );
  }
  for (const kind of SINKS) {
    const goal = kind === 'redis' ? TARGETS.redisCpuPer100k : undefined;
    rows.push(
      row(
        `  ${SINK_NAME[kind]}: CPU per 100k row changes`,
        c[kind].cpuPer100k,
        's',
        goal ? `<= ${goal.toFixed(2)}` : '',
        goal ? c[kind].cpuPer100k.median <= goal : undefined,
        fmtSeconds,
      ),
    );
  }
  for (const kind of SINKS) {
    rows.push(row(`  ${SINK_NAME[kind]}: peak RSS`, c[kind].peakRssMB, 'MB', `<= ${TARGETS.peakRssMB}`, c[kind].peakRssMB.max <= TARGETS.peakRssMB));
  }
  for (const kind of SINKS) {
    rows.push(
      row(
        `  ${SINK_NAME[kind]}: spawn to first row acknowledged`,
        c[kind].firstAckMs,
        'ms',
        `<= ${TARGETS.firstAckMs}`,
        c[kind].firstAckMs.median <= TARGETS.firstAckMs,
      ),
    );
  }
  if (server !== 'mariadb' || !baselines) return rows;
  for (const sink of ['elasticsearch', 'webhook'] as const) {
    const b = baselines.bare[sink];
    if (!b) continue;
    const how = sink === 'elasticsearch' ? 'bulks of <= 1000, 2 in flight' : 'one POST of <= 500 at a time';
    rows.push(row(`  bare ${SINK_NAME[sink]}: Tunnel's ${b.capture.requests} bodies again, ${how}`, b.rowsPerSec, 'rows/s'));
    rows.push(row(`  bare ${SINK_NAME[sink]}: sender CPU`, b.cpuS, 's', '', undefined, fmtSeconds));
    const r = paired(c[sink].rowsPerSec.runs, b.rowsPerSec.runs);
    rows.push(row(`  Tunnel / bare ${SINK_NAME[sink]}: rows/s`, r, 'x', `>= ${TARGETS.overBare.toFixed(2)}`, r.median >= TARGETS.overBare, fmtRatio));
  }
  const redis = c.redis.rowsPerSec.runs;
  const base: Array<[string, number | undefined]> = [
    ['redis-benchmark HSET of one row, pipelined 1000 (C client)', baselines.redisBenchmarkHset],
    ["ioredis alone, pipelines of 1000 of the sink's commands", baselines.ioredisPipeline],
    ['the same commands as hand-written RESP on a socket', baselines.rawResp],
  ];
  for (const [name, value] of base) if (value !== undefined) rows.push(single(`  Redis: ${name}`, value, 'rows/s'));
  if (baselines.ioredisPipeline)
    rows.push(row('  Tunnel / ioredis alone: rows/s', spread(redis.map((x) => x / baselines.ioredisPipeline!)), 'x', '', undefined, fmtRatio));
  if (baselines.rawResp) rows.push(row('  Tunnel / hand-written RESP: rows/s', spread(redis.map((x) => x / baselines.rawResp!)), 'x', '', undefined, fmtRatio));
  return rows;
}

export function tableRows(f: Figures): Row[] {
  const rows: Row[] = [];
  for (const server of Object.keys(f.decode) as SourceName[]) rows.push(...decodeRows(f.decode[server]!));
  for (const server of Object.keys(f.catchup) as SourceName[]) rows.push(...catchupRows(server, f.catchup[server]!, f.datasets[server]!, f.runs, f.baselines));
  if (f.memoryCap) {
    rows.push(heading(`memory cap, MariaDB: one catch-up per sink with --max-old-space-size=${OLD_SPACE_MB}`));
    for (const kind of SINKS) {
      const c = f.memoryCap[kind];
      if (!c) continue;
      rows.push(single(`  ${SINK_NAME[kind]}: peak RSS`, c.peakRssMB, 'MB', '1 run', c.peakRssMB <= TARGETS.peakRssMB));
      rows.push(single(`  ${SINK_NAME[kind]}: catch-up`, c.rowsPerSec, 'rows/s'));
    }
  }
  if (f.semiSpace) {
    const s = f.semiSpace;
    rows.push(heading(`semi-space, MariaDB -> Redis: worker flags (${s.worker.flags.join(' ')}) vs ${s.semiSpaceMB} MB (Node's default)`));
    for (const [label, side] of [
      ['worker flags', s.worker],
      [`semi-space ${s.semiSpaceMB} MB`, s.nodeDefault],
    ] as const) {
      rows.push(row(`  ${label}: catch-up`, side.rowsPerSec, 'rows/s'));
      rows.push(row(`  ${label}: peak RSS`, side.peakRssMB, 'MB', `<= ${TARGETS.peakRssMB}`, side.peakRssMB.max <= TARGETS.peakRssMB));
      rows.push(row(`  ${label}: CPU per 100k row changes`, side.cpuPer100k, 's', '', undefined, fmtSeconds));
    }
    rows.push(row(`  worker flags / semi-space ${s.semiSpaceMB} MB: rows/s`, s.rateRatio, 'x', '', undefined, fmtRatio));
    rows.push(row(`  peak RSS saved by the worker flags`, s.rssSavedMB, 'MB'));
  }
  for (const kind of SINKS) {
    const l = f.latency[kind];
    if (!l) continue;
    rows.push(row(`latency ${SINK_NAME[kind]} p50 (${f.latencyRate}/s, ${l.seconds.toFixed(0)} s)`, l.windowP50, 'ms'));
    rows.push(row(`latency ${SINK_NAME[kind]} p99`, l.windowP99, 'ms', `<= ${TARGETS.latencyP99Ms}`, l.p99 <= TARGETS.latencyP99Ms && l.acked === l.rows));
  }
  if (f.serialize) {
    const shown = (s: SerializeCase) => (s.rowKB === 1 || s.rowKB === 64) && (Math.abs(s.bodyKB - 64) < 8 || Math.abs(s.bodyKB - 1024) < 32);
    for (const s of f.serialize.filter(shown)) {
      rows.push(row(`serialize ${s.rowKB} KB ${s.text} rows, ${s.bodyKB} KB bodies: main thread`, s.off, 'ev/s'));
      const gain = s.defaults.median / s.off.median - 1;
      rows.push(row(`  at the default threshold (${gain >= 0 ? '+' : ''}${pct(gain)}; pool every batch ${fmtInt(s.forced.median)})`, s.defaults, 'ev/s'));
    }
  }
  if (f.failover && f.failover.length > 0) {
    const fo = f.failover;
    const s = spread(fo.map((x) => x.ms));
    rows.push(row(`failover: kill -9 owner -> first delivery (${fo[0]!.mode})`, s, 'ms', `<= ${TARGETS.failoverMs}`, s.median <= TARGETS.failoverMs));
    rows.push(row('  kill -> session expired (ZooKeeper, 4 s timeout)', spread(fo.map((x) => x.expiredMs)), 'ms'));
    rows.push(row('  kill -> new owner acquired', spread(fo.map((x) => x.acquiredMs)), 'ms'));
    rows.push(row('  session expired -> first delivery (Tunnel)', spread(fo.map((x) => x.ms - x.expiredMs)), 'ms'));
  }
  return rows;
}
