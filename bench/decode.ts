// Decode throughput: the same prepared binlog range read by (a) a bare @vlasky/zongji listener that
// only counts rows and (b) Tunnel's source (createBinlogSource) producing canonical events, alternately,
// `runs` times each. After test/helpers/source-bench.ts (the source engineer's bench), with both timed
// the same way: from before start() until the commit at the end of the range.
//
//   node --import tsx bench/decode.ts '{"from":{...},"end":{...},"rows":500000,"runs":3}'
//
// Prints one JSON line: { zongji: [rows/s...], source: [rows/s...], rowsEvents }.
import ZongJi from '@vlasky/zongji';
import type { BinlogPosition } from '../core/event/index.ts';
import { silentLogger } from '../core/log/index.ts';
import { createBinlogSource } from '../core/source/index.ts';
import { servers } from '../test/helpers/servers.ts';
import { uniqueServerId } from '../test/helpers/source-harness.ts';
import { BENCH } from './lib/common.ts';
import { reached } from './lib/dataset.ts';

interface Args {
  from: BinlogPosition;
  end: BinlogPosition;
  rows: number;
  runs: number;
}
const args = JSON.parse(process.argv[2]!) as Args;
const include = `${BENCH.database}.${BENCH.table}`;

interface Run {
  rows: number;
  events: number;
  ms: number;
}

function bareZongji(from: BinlogPosition, end: BinlogPosition): Promise<Run> {
  return new Promise((resolve, reject) => {
    const zongji = new ZongJi({ ...servers.mariadb });
    let rows = 0;
    let events = 0;
    let file = from.file;
    const started = performance.now();
    zongji.on('binlog', (event) => {
      const e = event as unknown as { rows?: unknown[]; nextPosition: number; binlogName?: string; getTypeName(): string };
      if (e.rows) {
        rows += e.rows.length;
        events++;
      } else if (e.getTypeName() === 'Rotate') file = e.binlogName!;
      else if (e.getTypeName() === 'Xid' && reached({ file, offset: e.nextPosition }, end)) {
        const ms = performance.now() - started;
        zongji.stop();
        resolve({ rows, events, ms });
      }
    });
    zongji.on('error', reject);
    zongji.start({
      serverId: uniqueServerId(),
      filename: from.file,
      position: from.offset,
      includeEvents: ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
      includeSchema: { [BENCH.database]: [BENCH.table] },
    });
  });
}

async function tunnelSource(from: BinlogPosition, end: BinlogPosition): Promise<Run> {
  const source = createBinlogSource({ connection: { ...servers.mariadb }, serverId: uniqueServerId(), include: [include], exclude: [] }, silentLogger());
  let rows = 0;
  let events = 0;
  let done!: (ms: number) => void;
  let fail!: (error: Error) => void;
  const finished = new Promise<number>((resolve, reject) => ((done = resolve), (fail = reject)));
  const started = performance.now();
  await source.start(
    { kind: 'position', position: from },
    {
      onEvent: (event) => {
        rows += event.rows.length;
        events++;
      },
      onCommit: (position) => {
        if (reached(position, end)) done(performance.now() - started);
      },
      onError: (error) => fail(error),
    },
  );
  const ms = await finished;
  await source.stop();
  return { rows, events, ms };
}

const zongji: number[] = [];
const source: number[] = [];
let rowsEvents = 0;
for (let run = 0; run < args.runs; run++) {
  // alternate which goes first, so neither always gets the warmer page cache / JIT
  const order = run % 2 === 0 ? (['z', 's'] as const) : (['s', 'z'] as const);
  for (const which of order) {
    const r = which === 'z' ? await bareZongji(args.from, args.end) : await tunnelSource(args.from, args.end);
    if (r.rows !== args.rows) throw new Error(`${which === 'z' ? 'zongji' : 'source'} read ${r.rows} rows, expected ${args.rows}`);
    (which === 'z' ? zongji : source).push(r.rows / (r.ms / 1000));
    rowsEvents = r.events;
    process.stderr.write(
      `  decode run ${run + 1} ${which === 'z' ? 'bare zongji' : 'Tunnel source'}: ${Math.round(r.rows / (r.ms / 1000))} rows/s (${r.events} rows events, ${Math.round(r.ms)} ms)\n`,
    );
  }
}
process.stdout.write(JSON.stringify({ zongji, source, rowsEvents }) + '\n');
process.exit(0);
