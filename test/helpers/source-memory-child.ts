// Child process of test/integration/source-memory.test.ts: reads [from, end) of the binlog into a
// deliberately slow consumer and prints its peak RSS as one JSON line.
//
//   node --import tsx test/helpers/source-memory-child.ts <json args>
//   args: { connection, serverId, include, from, end, mode: 'paused' | 'unbounded',
//           highWater, lowWater, drainRowsPerTick, tickMs }
//
// 'paused' pauses the source above `highWater` rows in flight and resumes below `lowWater` (what the
// runtime does at its in-flight cap); 'unbounded' never pauses, to show what the pause saves.
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { createBinlogSource, type SourceOptions } from '../../core/source/index.ts';

interface Args {
  connection: SourceOptions['connection'];
  serverId: number;
  include: string[];
  from: BinlogPosition;
  end: BinlogPosition;
  mode: 'paused' | 'unbounded';
  highWater: number;
  lowWater: number;
  drainRowsPerTick: number;
  tickMs: number;
}

const args = JSON.parse(process.argv[2]!) as Args;
const queue: RowEvent[] = [];
let head = 0;
let inFlightRows = 0;
let consumedRows = 0;
let maxInFlightRows = 0;
let pauses = 0;
let paused = false;
let reachedEnd = false;
let peakRss = process.memoryUsage().rss;
const baselineRss = peakRss;
const started = Date.now();

const source = createBinlogSource({ connection: args.connection, serverId: args.serverId, include: args.include, exclude: [] }, silentLogger());

const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

const consumer = setInterval(() => {
  let budget = args.drainRowsPerTick;
  while (budget > 0 && head < queue.length) {
    const event = queue[head]!;
    queue[head] = undefined as unknown as RowEvent; // let it be collected
    head += 1;
    budget -= event.rows.length;
    inFlightRows -= event.rows.length;
    consumedRows += event.rows.length;
  }
  if (head > 10_000 && head * 2 > queue.length) {
    queue.splice(0, head);
    head = 0;
  }
  if (paused && inFlightRows < args.lowWater) {
    paused = false;
    source.resume();
  }
  if (reachedEnd && head >= queue.length) finish();
}, args.tickMs);

function finish(): void {
  clearInterval(consumer);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  void source.stop().then(() => {
    process.stdout.write(
      `${JSON.stringify({ mode: args.mode, rows: consumedRows, peakRss, baselineRss, maxInFlightRows, pauses, durationMs: Date.now() - started })}\n`,
    );
    process.exit(0);
  });
}

await source.start(
  { kind: 'position', position: args.from },
  {
    onEvent(event) {
      queue.push(event);
      inFlightRows += event.rows.length;
      if (inFlightRows > maxInFlightRows) maxInFlightRows = inFlightRows;
      if (args.mode === 'paused' && !paused && inFlightRows >= args.highWater) {
        paused = true;
        pauses += 1;
        source.pause();
      }
    },
    onCommit(position) {
      if (position.file > args.end.file || (position.file === args.end.file && position.offset >= args.end.offset)) reachedEnd = true;
    },
    onError(error) {
      process.stderr.write(`${error.stack ?? error.message}\n`);
      process.exit(2);
    },
  },
);
