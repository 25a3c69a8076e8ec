// The bare-sink baselines of Elasticsearch and the webhook: what the same server takes with no CDC in
// front. One untimed Tunnel catch-up per sink sends its requests through a recording proxy
// (recorder.ts); then bench/replay.ts, a process of its own, loads those exact bodies and sends them
// again with the sink's client and concurrency (Elasticsearch: bulks of up to 1,000 actions, 2 in
// flight; webhook: one POST of up to 500 row changes at a time), as often as the catch-ups run. The
// ratio Tunnel / bare is how close a catch-up comes to the physical limit of that sink here.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { esClient, servers } from '../../test/helpers/servers.ts';
import { runCatchup } from './catchup.ts';
import { BENCH, benchRoot, log, tmpRoot } from './common.ts';
import type { Dataset } from './dataset.ts';
import { runMeasured, type MeasuredRun } from './peers.ts';
import { bulkActions, Recorder, webhookRows, type RecordedRequest } from './recorder.ts';
import { ES_INDEX_SETTINGS, esIndex, type Receiver } from './sinks.ts';

export type BareSink = 'elasticsearch' | 'webhook';
export const BARE_SINKS: BareSink[] = ['elasticsearch', 'webhook'];

/** Requests in flight: the Elasticsearch sink's default concurrency; the webhook sink sends one batch at a time. */
const LANES: Record<BareSink, number> = { elasticsearch: 2, webhook: 1 };

export interface CaptureInfo {
  sink: BareSink;
  /** Path prefix of <prefix>.json and <prefix>.bin. */
  prefix: string;
  requests: number;
  rows: number;
  bytes: number;
}

/** One Tunnel catch-up of `sink` through a recording proxy; the recorded bodies must carry every row change. */
export async function captureSink(sink: BareSink, data: Dataset, receiver: Receiver): Promise<CaptureInfo> {
  const recorder =
    sink === 'elasticsearch'
      ? await Recorder.start(servers.elasticsearch.url, (method, path) => method === 'POST' && path.startsWith('/_bulk'), bulkActions)
      : await Recorder.start(new URL(receiver.url).origin, (method) => method === 'POST', webhookRows);
  try {
    const opts = sink === 'elasticsearch' ? { esUrl: recorder.url } : { receiver, webhookUrl: `${recorder.url}${new URL(receiver.url).pathname}` };
    await runCatchup(sink, data, 'capture', opts);
    if (recorder.rows !== data.changes) {
      throw new Error(`capture of ${sink}: the recorded requests carry ${recorder.rows} row changes, not ${data.changes} (a request was retried?)`);
    }
    const saved = recorder.save(join(tmpRoot, `capture-${data.server}-${sink}`));
    const info = {
      sink,
      prefix: join(tmpRoot, `capture-${data.server}-${sink}`),
      requests: recorder.capture.requests.length,
      rows: recorder.rows,
      bytes: saved.bytes,
    };
    log(`captured ${sink}: ${info.requests} requests, ${info.rows} row changes, ${(info.bytes / 2 ** 20).toFixed(1)} MiB of bodies`);
    return info;
  } finally {
    await recorder.close();
  }
}

/** The bodies of a capture, in order. */
export function captureBodies(capture: CaptureInfo): Buffer[] {
  const requests = JSON.parse(readFileSync(`${capture.prefix}.json`, 'utf8')) as RecordedRequest[];
  const all = readFileSync(`${capture.prefix}.bin`);
  return requests.map((r) => all.subarray(r.offset, r.offset + r.length));
}

export interface ReplayRun extends MeasuredRun {
  /** What the sink holds afterwards: documents, or ids a mirror of the received rows holds. */
  count: number;
  received?: number;
}

/** Sends the capture again to an emptied sink; the sink must then hold the table's rows. */
export async function replaySink(capture: CaptureInfo, data: Dataset, receiver: Receiver, run: number): Promise<ReplayRun> {
  const sink = capture.sink;
  let url: string;
  if (sink === 'elasticsearch') {
    const es = esClient();
    try {
      await es.indices.delete({ index: esIndex(BENCH.table) }, { ignore: [404] });
      await es.indices.create({ index: esIndex(BENCH.table), settings: ES_INDEX_SETTINGS });
    } finally {
      await es.close();
    }
    url = servers.elasticsearch.url;
  } else {
    await receiver.reset();
    url = receiver.url;
  }
  const args = { sink, capture: capture.prefix, url, lanes: LANES[sink], ...(sink === 'webhook' ? { secret: BENCH.webhookSecret } : {}) };
  const r = await runMeasured(process.execPath, ['--import', 'tsx', resolve(benchRoot, 'replay.ts'), JSON.stringify(args)], `bare ${sink} replay`);
  let count: number;
  let received: number | undefined;
  if (sink === 'elasticsearch') {
    const es = esClient();
    try {
      await es.indices.refresh({ index: esIndex(BENCH.table) });
      count = (await es.count({ index: esIndex(BENCH.table) })).count;
    } finally {
      await es.close();
    }
  } else {
    const s = await receiver.stats();
    count = s.liveIds;
    received = s.rows;
  }
  log(
    `bare ${sink} run ${run}: ${Math.round(r.rowsPerSec)} rows/s (${Math.round(r.done.ms)} ms, sender CPU ${r.cpuS.toFixed(1)} s, peak RSS ${Math.round(r.peakRssMB)} MB), ` +
      `${sink} holds ${count}${received !== undefined ? ` (rows received ${received})` : ''}`,
  );
  return { ...r, count, ...(received !== undefined ? { received } : {}) };
}
