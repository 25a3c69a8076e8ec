// Child process of test/integration/source-memory.test.ts: reads [from, end) of the binlog into a
// deliberately slow consumer and prints its peak RSS as one JSON line.
//
//   node --import tsx test/helpers/source-memory-child.ts <json args>
//   args: { connection, serverId, include, from, end, mode: 'runtime' | 'unbounded',
//           highWater, drainRowsPerTick, tickMs }
//
// 'runtime' is a real TaskRunner with maxInFlightRows = highWater and a sink that answers
// drainRowsPerTick rows per tick: the runtime's own back-pressure pauses the source. 'unbounded'
// reads into a queue drained at the same pace without ever pausing, to show what the pause saves.
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { createBinlogSource, type SourceOptions } from '../../core/source/index.ts';
import { resolveConfig } from '../../core/config/index.ts';
import { definePlugin } from '../../core/pipeline/index.ts';
import { TaskRunner } from '../../core/runtime/task-runner.ts';
import type { StoredPosition } from '../../core/checkpoint/index.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Args {
  connection: SourceOptions['connection'];
  serverId: number;
  include: string[];
  from: BinlogPosition;
  end: BinlogPosition;
  mode: 'runtime' | 'unbounded';
  highWater: number;
  drainRowsPerTick: number;
  tickMs: number;
}

const args = JSON.parse(process.argv[2]!) as Args;
const atOrPast = (position: BinlogPosition) => position.file > args.end.file || (position.file === args.end.file && position.offset >= args.end.offset);
let peakRss = process.memoryUsage().rss;
const baselineRss = peakRss;
const started = Date.now();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

function report(fields: Record<string, unknown>): void {
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  process.stdout.write(`${JSON.stringify({ mode: args.mode, peakRss, baselineRss, durationMs: Date.now() - started, ...fields })}\n`);
  process.exit(0);
}

if (args.mode === 'runtime') await runtime();
else await unbounded();

/** A real task: binlog source -> hooks -> a slow sink, with the runtime's in-flight cap. */
async function runtime(): Promise<void> {
  let enteredRows = 0;
  let answeredRows = 0;
  let maxInFlightRows = 0;
  let pauses = 0;
  let resumes = 0;
  const measure = definePlugin({
    name: 'measure',
    apply(hooks) {
      // every event passes the filter before it is dispatched: rows entered minus rows answered is
      // what the runtime has in flight at that moment, this event included
      hooks.filter.tap('measure', (event) => {
        enteredRows += event.rows.length;
        maxInFlightRows = Math.max(maxInFlightRows, enteredRows - answeredRows);
        return undefined;
      });
    },
  });
  const slowSink = definePlugin({
    name: 'slow-sink',
    apply(_hooks, context) {
      context.registerSink('slow', {
        async write(batch) {
          const rows = batch.events.reduce((n, e) => n + e.rows.length, 0);
          await new Promise((r) => setTimeout(r, Math.ceil(rows / args.drainRowsPerTick) * args.tickMs));
          answeredRows += rows;
          return batch.events.map(() => ({ status: 'ok' as const }));
        },
        async close() {},
      });
    },
  });
  const config = resolveConfig({
    tasks: [
      {
        name: 'memory',
        source: { ...args.connection, serverId: args.serverId, include: args.include, startFrom: args.from },
        plugins: [measure, slowSink],
        maxInFlightRows: args.highWater,
        commitIntervalMs: 100,
      },
    ],
  });
  let saved: StoredPosition | undefined;
  const runner = new TaskRunner(config.tasks[0]!, {
    positionStore: {
      load: async () => undefined,
      save: async (_task, stored) => void (saved = stored),
      close: async () => undefined,
    },
    createSource: (options, logger) => {
      const source = createBinlogSource(options, logger);
      const pause = source.pause.bind(source);
      const resume = source.resume.bind(source);
      source.pause = () => (pauses++, pause());
      source.resume = () => (resumes++, resume());
      return source;
    },
    deadLetterDir: mkdtempSync(join(tmpdir(), 'tunnel-memory-dl-')),
    logger: silentLogger(),
  });
  const done = new Promise<void>((resolve) => runner.on('committed', (position) => atOrPast(position) && resolve()));
  runner.once('failed', (error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exit(2);
  });
  await runner.start();
  await done;
  await runner.stop();
  report({ rows: answeredRows, maxInFlightRows, pauses, resumes, committed: saved?.position });
}

/** The same read without back-pressure: a queue drained at the sink's pace. */
async function unbounded(): Promise<void> {
  const queue: RowEvent[] = [];
  let head = 0;
  let inFlightRows = 0;
  let consumedRows = 0;
  let maxInFlightRows = 0;
  let reachedEnd = false;
  const source = createBinlogSource({ connection: args.connection, serverId: args.serverId, include: args.include, exclude: [] }, silentLogger());
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
    if (reachedEnd && head >= queue.length) {
      clearInterval(consumer);
      void source.stop().then(() => report({ rows: consumedRows, maxInFlightRows, pauses: 0 }));
    }
  }, args.tickMs);
  await source.start(
    { kind: 'position', position: args.from },
    {
      onEvent(event) {
        queue.push(event);
        inFlightRows += event.rows.length;
        if (inFlightRows > maxInFlightRows) maxInFlightRows = inFlightRows;
      },
      onCommit(position) {
        if (atOrPast(position)) reachedEnd = true;
      },
      onError(error) {
        process.stderr.write(`${error.stack ?? error.message}\n`);
        process.exit(2);
      },
    },
  );
}
