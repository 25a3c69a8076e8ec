// The decode phase: every decoder of peers.ts reads the prepared range of one server, one at a time,
// `runs` times (each run in another order, so that no tool always follows the same one). Each run
// must count exactly the range's row changes, split into its inserts, updates and deletes. The
// ratios Tunnel / peer pair run i of Tunnel's source with run i of the peer.
import type { CounterOps } from '../peers/protocol.ts';
import { log, spread, type Spread } from './common.ts';
import type { Dataset } from './dataset.ts';
import { DEBEZIUM_BUILD, DECODER_LABEL, DECODERS, preparePeers, runDecoder, type DecoderName, type MeasuredRun } from './peers.ts';
import { SOURCES } from './source-servers.ts';

export type PeerName = Exclude<DecoderName, 'tunnel'>;
export const PEERS: PeerName[] = ['gomysql', 'debezium', 'zongji'];

export interface DecoderFigures {
  label: string;
  rowsPerSec: Spread;
  cpuS: Spread;
  peakRssMB: Spread;
  /** Debezium: engine start to its first change record (connector start-up, schema recovery). */
  firstRecordMs?: Spread;
  rows: number[];
  ops: CounterOps[];
}

export interface RatioFigures {
  /** Tunnel's rows/s over the peer's: above 1 Tunnel is faster. */
  rowsPerSec: Spread;
  /** Tunnel's CPU seconds over the peer's: below 1 Tunnel uses less. */
  cpuS: Spread;
  /** Tunnel's peak RSS over the peer's: below 1 Tunnel uses less. */
  peakRssMB: Spread;
}

export interface DecodeFigures {
  server: Dataset['server'];
  version: string;
  changes: number;
  binlogMiB: number;
  decoders: Partial<Record<DecoderName, DecoderFigures>>;
  ratios: Partial<Record<PeerName, RatioFigures>>;
  /** Decoders that did not run, and why. */
  skipped: Partial<Record<DecoderName, string>>;
}

/** Why a run's count is wrong, or undefined when it has exactly the range's changes. */
function countProblem(r: MeasuredRun, data: Dataset): string | undefined {
  const ops = r.done.ops;
  const want = data.shape;
  if (r.done.rows !== data.changes) return `counted ${r.done.rows} row changes, not ${data.changes}`;
  if (ops && (ops.insert !== want.inserts || ops.update !== want.updates || ops.delete !== want.deletes)) {
    return `counted ${ops.insert}/${ops.update}/${ops.delete} inserts/updates/deletes, not ${want.inserts}/${want.updates}/${want.deletes}`;
  }
  return undefined;
}

type Resilient = <T>(what: string, fn: () => Promise<T>, valid?: (r: T) => string | undefined) => Promise<T | undefined>;

/** `peers` false: Tunnel's source and zongji only (nothing to build). */
export async function decodePhase(data: Dataset, runs: number, resilient: Resilient, peers = true): Promise<DecodeFigures> {
  const server = SOURCES[data.server];
  const skipped: Partial<Record<DecoderName, string>> = peers ? preparePeers(data.server) : { gomysql: 'BENCH_PEERS=0', debezium: 'BENCH_PEERS=0' };
  for (const [name, why] of Object.entries(skipped)) log(`decode ${server.label}: ${name} left out: ${why}`);
  const active = DECODERS.filter((d) => !skipped[d]);
  const results: Partial<Record<DecoderName, Array<MeasuredRun | undefined>>> = {};
  const label = (d: DecoderName) => (d === 'debezium' ? DEBEZIUM_BUILD[data.server].label : DECODER_LABEL[d]);
  for (let run = 0; run < runs; run++) {
    const order = active.map((_, i) => active[(i + run) % active.length]!);
    for (const d of order) {
      const r = await resilient(
        `decode ${server.label} ${d} run ${run + 1}`,
        () => runDecoder(d, server, data),
        (x) => countProblem(x, data),
      );
      (results[d] ??= []).push(r);
      if (r) {
        log(
          `  decode ${server.label} run ${run + 1} ${label(d)}: ${Math.round(r.rowsPerSec)} rows/s (${Math.round(r.done.ms)} ms), ` +
            `CPU ${r.cpuS.toFixed(2)} s, peak RSS ${Math.round(r.peakRssMB)} MB`,
        );
      }
    }
  }
  const decoders: DecodeFigures['decoders'] = {};
  for (const d of active) {
    const ok = (results[d] ?? []).filter((r): r is MeasuredRun => r !== undefined);
    if (ok.length === 0) continue;
    const first = ok.map((r) => Number(r.done.firstRecordMs)).filter((x) => Number.isFinite(x) && x >= 0);
    decoders[d] = {
      label: label(d),
      rowsPerSec: spread(ok.map((r) => r.rowsPerSec)),
      cpuS: spread(ok.map((r) => r.cpuS)),
      peakRssMB: spread(ok.map((r) => r.peakRssMB)),
      ...(first.length > 0 ? { firstRecordMs: spread(first) } : {}),
      rows: ok.map((r) => r.done.rows),
      ops: ok.map((r) => r.done.ops!),
    };
  }
  const ratios: DecodeFigures['ratios'] = {};
  const tunnel = results.tunnel ?? [];
  for (const p of PEERS) {
    const peer = results[p];
    if (!peer) continue;
    const pairs = tunnel.map((t, i) => [t, peer[i]] as const).filter((x): x is readonly [MeasuredRun, MeasuredRun] => !!x[0] && !!x[1]);
    if (pairs.length === 0) continue;
    ratios[p] = {
      rowsPerSec: spread(pairs.map(([t, q]) => t.rowsPerSec / q.rowsPerSec)),
      cpuS: spread(pairs.map(([t, q]) => t.cpuS / q.cpuS)),
      peakRssMB: spread(pairs.map(([t, q]) => t.peakRssMB / q.peakRssMB)),
    };
  }
  return { server: data.server, version: data.version, changes: data.changes, binlogMiB: data.binlogBytes / 2 ** 20, decoders, ratios, skipped };
}
