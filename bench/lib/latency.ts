// Steady-state latency: a writer commits RATE rows/s (transactions of ROWS_PER_TX single-statement
// multi-row inserts, on a fixed schedule) into a fresh table while a `tunnel start` child with one
// sink follows the binlog. The writer stamps each id with the time its COMMIT returned; the probe
// plugin in the worker stamps each id with the time the sink acknowledged its batch (batchWritten).
// Latency = ack − commit, per row. The run is cut into WINDOWS equal windows (by commit time): the
// spread over windows gives median/min/max of p50 and p99; the whole run gives the overall ones.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { mysqlConnection } from '../../test/helpers/servers.ts';
import { binlogEnd } from '../../test/helpers/source-harness.ts';
import { BENCH, log, quantile, sleep, spread, tmpRoot, type Spread } from './common.ts';
import { freshTable } from './orders.ts';
import { PacedWriter } from './writer.ts';
import { taskConfigExpression } from './catchup.ts';
import { resetSink, sinkPlugin, type Receiver, type SinkKind } from './sinks.ts';
import { TunnelChild, writeConfig } from './tunnel-child.ts';

export interface LatencyResult {
  sink: SinkKind;
  seconds: number;
  targetRate: number;
  /** Rows committed per second, as achieved by the writer. */
  writtenRate: number;
  rows: number;
  acked: number;
  p50: number;
  p99: number;
  max: number;
  windowP50: Spread;
  windowP99: Spread;
}

export async function runLatency(
  kind: SinkKind,
  opts: { seconds: number; rate: number; rowsPerTx: number; windows: number },
  receiver: Receiver | undefined,
): Promise<LatencyResult> {
  const table = BENCH.latencyTable;
  await resetSink(kind, table, receiver);
  const conn = await mysqlConnection();
  const qualified = await freshTable(conn, table);
  const from = await binlogEnd();

  const name = `latency-${kind}`;
  rmSync(join(tmpRoot, name), { recursive: true, force: true });
  const sink = sinkPlugin(kind, table, receiver?.url);
  const { file, dir } = writeConfig(
    name,
    sink.imports,
    taskConfigExpression({
      dir: join(tmpRoot, name),
      include: `${BENCH.database}.${table}`,
      startFrom: JSON.stringify(from),
      plugins: ['benchProbe({ ackIds: true })', sink.expression],
    }),
  );
  const child = new TunnelChild(file, { cwd: dir });
  const acked = new Map<number, number>();
  child.onMessage((m) => {
    if (m.type !== 'acked') return;
    for (const id of m.ids) if (!acked.has(id)) acked.set(id, m.at);
  });
  const committed = new Map<number, number>();
  try {
    await child.waitFor((m) => m.type === 'taskStart', 60_000, 'task start');
    await sleep(1000); // the source connects after taskStart
    const writer = new PacedWriter(conn, qualified, {
      rate: opts.rate,
      rowsPerTx: opts.rowsPerTx,
      onCommit: (ids, at) => {
        for (const i of ids) committed.set(i, at);
      },
    });
    const t0 = performance.now();
    await writer.start(opts.seconds);
    const elapsed = (performance.now() - t0) / 1000;
    // let the last rows arrive
    const deadline = Date.now() + 15_000;
    while (acked.size < committed.size && Date.now() < deadline) await sleep(50);
    const latencies: Array<[number, number]> = []; // [commit time, latency]
    for (const [i, at] of committed) {
      const ack = acked.get(i);
      if (ack !== undefined) latencies.push([at, ack - at]);
    }
    const all = Float64Array.from(latencies.map(([, l]) => l)).sort();
    const first = Math.min(...latencies.map(([t]) => t));
    const span = (Math.max(...latencies.map(([t]) => t)) - first + 1) / opts.windows;
    const windowP50: number[] = [];
    const windowP99: number[] = [];
    for (let w = 0; w < opts.windows; w++) {
      const inWindow = Float64Array.from(latencies.filter(([t]) => t >= first + w * span && t < first + (w + 1) * span).map(([, l]) => l)).sort();
      windowP50.push(quantile(inWindow, 0.5));
      windowP99.push(quantile(inWindow, 0.99));
    }
    const result: LatencyResult = {
      sink: kind,
      seconds: elapsed,
      targetRate: opts.rate,
      writtenRate: committed.size / elapsed,
      rows: committed.size,
      acked: latencies.length,
      p50: quantile(all, 0.5),
      p99: quantile(all, 0.99),
      max: all[all.length - 1] ?? NaN,
      windowP50: spread(windowP50),
      windowP99: spread(windowP99),
    };
    log(
      `latency ${kind}: ${result.rows} rows at ${Math.round(result.writtenRate)}/s for ${elapsed.toFixed(1)} s, acked ${result.acked}; ` +
        `p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms; windows p99 ${windowP99.join('/')} ms`,
    );
    return result;
  } finally {
    await conn.end();
    await child.stop();
  }
}
