/**
 * Main thread vs piscina pool for payload serialization (core/serialize), ES bulk NDJSON bodies.
 *
 *   npx tsx bench/serialize.ts            # full run, prints a table and a final JSON line
 *   BENCH_QUICK=1 npx tsx bench/serialize.ts      # 1 KB and 64 KB rows, 64 KB and 1 MB bodies, one repeat
 *   BENCH_QUICK=1 BENCH_SERIALIZE_MB=24 npx tsx bench/serialize.ts   # the same cases, full-size runs
 *
 * Two measurements per (row size, batch size):
 * - encode: one batch at a time, wall time per batch and the main thread's busy time per batch
 *   (event-loop utilisation x wall), main thread vs pool;
 * - end-to-end: a pipeline of the work the main thread does per batch in a running task: decode the
 *   rows (JSON.parse of the row text, standing for the binlog decoder), build the bulk lines
 *   (_index/_id + row image), encode, hand the bytes on; up to 2 batches in flight (a sink's lanes).
 *   Rate in events/s with the pool off (threshold Infinity), forced on for every batch (threshold 0,
 *   2 threads), and with the defaults (createSerializer(): the threshold and minimum row size this
 *   measurement set). "gain" is defaults / off.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createSerializer, encodeNdjsonSync, estimateJsonBytes, type Serializer } from '../core/serialize/index.ts';
import { documentId, keyValues, rowImage, type RowEvent } from '../core/event/index.ts';

const QUICK = process.env.BENCH_QUICK === '1';
// BENCH_SERIALIZE_MB: bytes of rows per measurement (npm run bench gives the quick cases the full mode's 24)
const TARGET_BYTES = (Number(process.env.BENCH_SERIALIZE_MB) || (QUICK ? 8 : 24)) * 1024 * 1024;
const REPEATS = QUICK ? 1 : 3;

type Text = 'ascii' | 'utf8';

function makeRowText(id: number, rowBytes: number, text: Text): string {
  const base = {
    id,
    big: '18446744073709551615',
    price: '12345.6789',
    title: text === 'utf8' ? `row ${id} — héllo wörld 😀` : `row ${id} - hello world`,
    status: id % 3 === 0 ? 'active' : 'paused',
    missing: null,
    attrs: { tags: ['a', 'b', 'c'], nested: { depth: 2, ok: true } },
    blob: 'AAECAwQFBgcICQoLDA0ODw==',
    body: '',
  };
  const fixed = JSON.stringify(base).length;
  base.body = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(Math.max(0, rowBytes - fixed) / 27)).slice(0, Math.max(0, rowBytes - fixed));
  return JSON.stringify(base);
}

function decode(rowText: string): RowEvent {
  const parsed = JSON.parse(rowText) as Record<string, never>;
  return {
    schema: 'bench',
    table: 'items',
    action: 'insert',
    rows: [Object.entries(parsed).map(([column, value]) => ({ column, value }))],
    position: { file: 'bin.000001', offset: 4 },
    timestamp: 0,
    primaryKey: ['id'],
  };
}

function bulkLines(events: readonly RowEvent[]): { lines: unknown[]; estimate: number } {
  const lines: unknown[] = [];
  let estimate = 0;
  for (const event of events) {
    for (let i = 0; i < event.rows.length; i++) {
      const action = { index: { _index: 'bench_items', _id: documentId(keyValues(event, i)) } };
      const doc = rowImage(event, i);
      estimate += estimateJsonBytes(action) + estimateJsonBytes(doc) + 2;
      lines.push(action, doc);
    }
  }
  return { lines, estimate };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function encodeOneAtATime(serializer: Serializer | undefined, lines: unknown[], estimate: number, rounds: number) {
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    const out = serializer ? await serializer.encodeNdjson(lines, { estimatedBytes: estimate }) : encodeNdjsonSync(lines);
    bytes = out.byteLength;
  }
  const wall = (performance.now() - t0) / rounds;
  const elu = performance.eventLoopUtilization(elu0);
  return { wallMs: wall, busyMs: elu.utilization * wall, bytes };
}

async function endToEnd(serializer: Serializer | undefined, rowTexts: string[], batchSize: number, inflight: number) {
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  const pending = new Set<Promise<void>>();
  let bytes = 0;
  let events = 0;
  for (let start = 0; start < rowTexts.length; start += batchSize) {
    const batch = rowTexts.slice(start, start + batchSize).map(decode);
    const { lines, estimate } = bulkLines(batch);
    const done: Promise<void> = (serializer ? serializer.encodeNdjson(lines, { estimatedBytes: estimate }) : Promise.resolve(encodeNdjsonSync(lines))).then(
      (out) => {
        bytes += out.byteLength;
        events += batch.length;
        pending.delete(done);
      },
    );
    pending.add(done);
    if (pending.size >= inflight) await Promise.race(pending);
  }
  await Promise.all(pending);
  const seconds = (performance.now() - t0) / 1000;
  return { eventsPerSec: events / seconds, mbPerSec: bytes / 1e6 / seconds, mainBusy: performance.eventLoopUtilization(elu0).utilization };
}

interface ResultRow {
  text: Text;
  rowBytes: number;
  batch: number;
  batchKB: number;
  mainMs: number;
  poolMs: number;
  poolBusyMs: number;
  e2eOff: number;
  e2eForced: number;
  e2eAuto: number;
  /** Each repeat's events/s (npm run bench reports their min and max). */
  e2eRuns: { off: number[]; forced: number[]; auto: number[] };
  busyOff: number;
  busyForced: number;
}

async function main() {
  // Batch sizes chosen so bodies are ~16 KB, 64 KB, 256 KB, 1 MB and 4 MB for each row size.
  const bodies = QUICK ? [64 * 1024, 1024 * 1024] : [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4096 * 1024];
  const rowSizes = QUICK ? [1024, 65536] : [1024, 16384, 65536];
  const cases: Array<[Text, number, number[]]> = [];
  for (const text of ['ascii', 'utf8'] as const) {
    for (const rowBytes of rowSizes) {
      cases.push([text, rowBytes, [...new Set(bodies.map((b) => Math.max(1, Math.round(b / (rowBytes + 60)))))]]);
    }
  }
  const forced = createSerializer({ threshold: 0, minItemBytes: 0, maxThreads: 2 });
  const auto = createSerializer();
  const rows: ResultRow[] = [];
  for (const [text, rowBytes, batches] of cases) {
    const count = Math.max(200, Math.floor(TARGET_BYTES / rowBytes));
    const rowTexts = Array.from({ length: count }, (_, i) => makeRowText(i, rowBytes, text));
    for (const batch of batches) {
      const { lines, estimate } = bulkLines(rowTexts.slice(0, batch).map(decode));
      const rounds = Math.max(3, Math.min(200, Math.floor((4 * 1024 * 1024) / (batch * rowBytes))));
      // warm both paths (JIT, worker start)
      await encodeOneAtATime(undefined, lines, estimate, 2);
      await encodeOneAtATime(forced, lines, estimate, 2);
      await endToEnd(auto, rowTexts.slice(0, batch * 4), batch, 2);
      const mainRuns = [],
        poolRuns = [],
        off = [],
        onForced = [],
        onAuto = [];
      for (let r = 0; r < REPEATS; r++) {
        mainRuns.push(await encodeOneAtATime(undefined, lines, estimate, rounds));
        poolRuns.push(await encodeOneAtATime(forced, lines, estimate, rounds));
        off.push(await endToEnd(undefined, rowTexts, batch, 2));
        onForced.push(await endToEnd(forced, rowTexts, batch, 3));
        onAuto.push(await endToEnd(auto, rowTexts, batch, 3));
      }
      const row: ResultRow = {
        text,
        rowBytes,
        batch,
        batchKB: Math.round((mainRuns[0]?.bytes ?? 0) / 1024),
        mainMs: median(mainRuns.map((m) => m.wallMs)),
        poolMs: median(poolRuns.map((m) => m.wallMs)),
        poolBusyMs: median(poolRuns.map((m) => m.busyMs)),
        e2eOff: median(off.map((m) => m.eventsPerSec)),
        e2eForced: median(onForced.map((m) => m.eventsPerSec)),
        e2eAuto: median(onAuto.map((m) => m.eventsPerSec)),
        e2eRuns: { off: off.map((m) => m.eventsPerSec), forced: onForced.map((m) => m.eventsPerSec), auto: onAuto.map((m) => m.eventsPerSec) },
        busyOff: median(off.map((m) => m.mainBusy)),
        busyForced: median(onForced.map((m) => m.mainBusy)),
      };
      rows.push(row);
      printRow(row);
    }
  }
  await forced.close();
  await auto.close();
  // Per row size: the smallest body from which the forced pool's end-to-end rate beats the main thread's
  // in that case and every larger one, for both text profiles (null: it never does).
  const thresholds: Record<string, number | null> = {};
  for (const rowBytes of new Set(rows.map((r) => r.rowBytes))) {
    const sorted = rows.filter((r) => r.rowBytes === rowBytes).sort((a, b) => a.batchKB - b.batchKB);
    let threshold: number | null = null;
    for (let i = sorted.length - 1; i >= 0; i--) {
      const r = sorted[i] as ResultRow;
      if (r.e2eForced > r.e2eOff) threshold = r.batchKB * 1024;
      else break;
    }
    thresholds[`${Math.round(rowBytes / 1024)}KB rows`] = threshold;
  }
  console.log(
    JSON.stringify({
      bench: 'serialize',
      cpus: availableParallelism(),
      node: process.version,
      thresholdBytesByRowSize: thresholds,
      defaultsGainMin: Math.min(...rows.map((r) => r.e2eAuto / r.e2eOff)),
      defaultsGainMax: Math.max(...rows.map((r) => r.e2eAuto / r.e2eOff)),
      results: rows,
    }),
  );
}

let headerPrinted = false;
function printRow(r: ResultRow) {
  const cols: Array<[string, number, (r: ResultRow) => string]> = [
    ['text', 6, (x) => x.text],
    ['row', 6, (x) => `${Math.round(x.rowBytes / 1024)}KB`],
    ['batch', 6, (x) => String(x.batch)],
    ['body KB', 8, (x) => String(x.batchKB)],
    ['main ms', 8, (x) => x.mainMs.toFixed(2)],
    ['pool ms', 8, (x) => x.poolMs.toFixed(2)],
    ['pool busy ms', 13, (x) => x.poolBusyMs.toFixed(2)],
    ['e2e off ev/s', 13, (x) => Math.round(x.e2eOff).toString()],
    ['forced ev/s', 12, (x) => Math.round(x.e2eForced).toString()],
    ['default ev/s', 13, (x) => Math.round(x.e2eAuto).toString()],
    ['forced/off', 11, (x) => (x.e2eForced / x.e2eOff).toFixed(2)],
    ['default/off', 12, (x) => (x.e2eAuto / x.e2eOff).toFixed(2)],
    ['busy off/forced', 16, (x) => `${Math.round(x.busyOff * 100)}%/${Math.round(x.busyForced * 100)}%`],
  ];
  if (!headerPrinted) {
    console.log(cols.map(([name, width]) => name.padStart(width)).join(' '));
    headerPrinted = true;
  }
  console.log(cols.map(([, width, f]) => f(r).padStart(width)).join(' '));
}

await main();
