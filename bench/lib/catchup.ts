// Catch-up end to end: a `tunnel start` child with one sink, started at the beginning of the prepared
// range, until its committed position reaches the range's end (every row change acknowledged by the
// sink and the position written). Rate = row changes / (commit at the end − task start), both
// stamped in the child by the probe plugin. Peak RSS = the child's VmHWM at that moment.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueServerId } from '../../test/helpers/source-harness.ts';
import { BENCH, cpuSnapshot, log, machineCpu, rssOf, serverPids, tmpRoot } from './common.ts';
import type { Dataset } from './dataset.ts';
import { countSink, resetSink, sinkPlugin, type Receiver, type SinkKind } from './sinks.ts';
import { SOURCES, type SourceServer } from './source-servers.ts';
import { TunnelChild, writeConfig } from './tunnel-child.ts';

export interface CatchupRun {
  sink: SinkKind;
  server: Dataset['server'];
  /** Row changes per second. */
  rowsPerSec: number;
  ms: number;
  /** Spawn to the end commit, start-up included. */
  wallMs: number;
  /** Spawn to the first batch the sink acknowledged. */
  firstAckMs: number;
  peakRssMB: number;
  /** What the sink holds afterwards (documents, keys, live ids at the receiver); must be the table's rows. */
  count: number;
  /** Webhook: row changes received; must be the range's. */
  received?: number;
  /** CPU seconds the worker used during the run. */
  workerCpuS: number;
  /** CPU seconds of the worker, the webhook receiver and each server during the run, and the machine's busy share (2 CPUs = 100%). */
  cpu: Record<string, number>;
  machineBusy: number;
}

export function taskConfigExpression(opts: {
  dir: string;
  /** The source server (MariaDB unless said). */
  source?: SourceServer;
  include: string;
  startFrom: string;
  plugins: string[];
  extraTask?: string;
  extraTop?: string;
  logLevel?: string;
}): string {
  const src = opts.source ?? SOURCES.mariadb;
  return `{
  status: { port: false },
  log: { level: '${opts.logLevel ?? 'warn'}' },
  positions: { dir: ${JSON.stringify(join(opts.dir, 'positions'))} },
  deadLetters: { dir: ${JSON.stringify(join(opts.dir, 'dead-letters'))} },
  ${opts.extraTop ?? ''}
  tasks: [{
    name: 'bench',
    source: { host: ${JSON.stringify(src.host)}, port: ${src.port}, user: ${JSON.stringify(src.user)},
      password: ${JSON.stringify(src.password)}, serverId: ${uniqueServerId()}, include: [${JSON.stringify(opts.include)}],
      startFrom: ${opts.startFrom} },
    ${opts.extraTask ?? ''}
    plugins: [${opts.plugins.join(',\n      ')}],
  }],
}`;
}

export interface CatchupOptions {
  /** The webhook sink's receiver. */
  receiver?: Receiver;
  nodeFlags?: string[];
  /** The Elasticsearch sink's node instead of the server's own (a recording proxy in front of it). */
  esUrl?: string;
  /** The webhook sink's URL instead of the receiver's (a recording proxy in front of it). */
  webhookUrl?: string;
  /** Extra task options (TypeScript text), BENCH_EXTRA_TASK by default. */
  extraTask?: string;
}

export async function runCatchup(kind: SinkKind, data: Dataset, run: number | string, opts: CatchupOptions = {}): Promise<CatchupRun> {
  const { receiver, nodeFlags = [], extraTask = process.env.BENCH_EXTRA_TASK ?? '' } = opts;
  await resetSink(kind, BENCH.table, receiver);
  const name = `catchup-${data.server}-${kind}-${run}`;
  rmSync(join(tmpRoot, name), { recursive: true, force: true });
  const sink = sinkPlugin(kind, BENCH.table, opts.webhookUrl ?? receiver?.url, opts.esUrl);
  const { file, dir } = writeConfig(
    name,
    sink.imports,
    taskConfigExpression({
      dir: join(tmpRoot, name),
      source: SOURCES[data.server],
      include: `${BENCH.database}.${BENCH.table}`,
      startFrom: JSON.stringify(data.from),
      plugins: ['benchProbe()', sink.expression],
      extraTask,
    }),
  );
  const child = new TunnelChild(file, { nodeFlags, cwd: dir });
  try {
    const groups = { worker: [child.pid], ...(receiver ? { receiver: [receiver.proc.pid!] } : {}), ...serverPids() };
    const start = await child.waitFor((m) => m.type === 'taskStart', 60_000, 'task start');
    const cpu0 = cpuSnapshot(groups);
    const machine0 = machineCpu();
    const done = await child.waitCommitted(data.end, 600_000);
    const rss = rssOf(child.pid);
    const cpu1 = cpuSnapshot(groups);
    const machine1 = machineCpu();
    const cpu = Object.fromEntries(Object.keys(cpu1).map((k) => [k, Math.round((cpu1[k]! - cpu0[k]!) * 10) / 10]));
    const workerCpuS = cpu.worker!;
    const machineBusy = (machine1.busy - machine0.busy) / (machine1.total - machine0.total);
    // what the rest of the machine used meanwhile (other processes than the worker, receiver and servers)
    cpu.other = Math.round((machine1.busy - machine0.busy - Object.values(cpu).reduce((a, b) => a + b, 0)) * 10) / 10;
    const ms = done.at - start.at;
    const firstAck = child.messages.find((m) => m.type === 'firstAck');
    await child.stop();
    const counted = await countSink(kind, BENCH.table, receiver);
    const result: CatchupRun = {
      sink: kind,
      server: data.server,
      rowsPerSec: data.changes / (ms / 1000),
      ms,
      wallMs: done.at - child.spawnedAt,
      firstAckMs: firstAck ? firstAck.at - child.spawnedAt : NaN,
      peakRssMB: Math.max(rss?.hwmMB ?? 0, child.peakSampledMB),
      count: counted.count,
      ...(counted.received !== undefined ? { received: counted.received } : {}),
      workerCpuS,
      cpu,
      machineBusy,
    };
    log(
      `catch-up ${data.server} ${kind} run ${run}: ${Math.round(result.rowsPerSec)} rows/s (${Math.round(ms)} ms; machine ${Math.round(machineBusy * 100)}% busy; CPU s ${Object.entries(
        cpu,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}), first row acknowledged ${Math.round(result.firstAckMs)} ms after spawn, ` +
        `peak RSS ${Math.round(result.peakRssMB)} MB, ${kind} holds ${result.count}${result.received !== undefined ? ` (rows received ${result.received})` : ''}`,
    );
    return result;
  } finally {
    await child.stop();
  }
}
