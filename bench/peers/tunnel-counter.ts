// Tunnel's binlog source (createBinlogSource) as a decode counter of the benchmark: canonical events
// of the prepared range, counted until the commit at its end. See protocol.ts.
//
//   node --import tsx bench/peers/tunnel-counter.ts '<CounterArgs JSON>'
//
// The counter itself runs under tsx; the source it measures is the package build (dist/), what a
// team runs, unless BENCH_FROM_SOURCE=1.
import type { RowEvent } from '../../core/index.ts';
import { reached } from '../lib/dataset.ts';
import { tunnelApiUrl } from '../lib/tunnel-under-test.ts';
import { counterArgs, fail, sayDoneAndWait, sayStart, type CounterOps } from './protocol.ts';

// the Tunnel under test: its package build unless BENCH_FROM_SOURCE=1 (bench/lib/tunnel-under-test.ts)
const api = (await import(tunnelApiUrl())) as typeof import('../../core/index.ts');
const { createBinlogSource, silentLogger } = api;
// a build from before events carried decoded values counts the cells
const rowCount = api.rowCount ?? ((event: RowEvent) => event.rows.length);
const args = counterArgs();
const { host, port, user, password } = args.server;
const source = createBinlogSource(
  { connection: { host, port, user, password }, serverId: args.serverId, include: [`${args.database}.${args.table}`], exclude: [] },
  silentLogger(),
);
const ops: CounterOps = { insert: 0, update: 0, delete: 0 };
let rows = 0;
let rowsEvents = 0;
let finished = false;
sayStart();
const started = performance.now();
source
  .start(
    { kind: 'position', position: args.from },
    {
      onEvent: (event) => {
        // the rows as decoded values: their {column, value} cells are built only when a plugin reads them
        const count = rowCount(event);
        rows += count;
        ops[event.action] += count;
        rowsEvents++;
      },
      onCommit: (position) => {
        if (finished || !reached(position, args.end)) return;
        finished = true;
        const ms = performance.now() - started;
        source.pause();
        sayDoneAndWait({ rows, ms, rowsEvents, ops });
      },
      onError: (error) => fail('tunnel-counter', error),
    },
  )
  .catch((error: unknown) => fail('tunnel-counter', error));
