// A bare @vlasky/zongji listener (the binlog client under Tunnel's source) as a decode counter of the
// benchmark: zongji decodes every row of every rows event; this counts them until the commit at the
// end of the range. See protocol.ts.
//
//   node --import tsx bench/peers/zongji-counter.ts '<CounterArgs JSON>'
import ZongJi from '@vlasky/zongji';
import { reached } from '../lib/dataset.ts';
import { counterArgs, fail, sayDoneAndWait, sayStart, type CounterOps } from './protocol.ts';

const args = counterArgs();
const { host, port, user, password } = args.server;
const zongji = new ZongJi({ host, port, user, password });
const ops: CounterOps = { insert: 0, update: 0, delete: 0 };
const actionOf: Record<string, keyof CounterOps> = { WriteRows: 'insert', UpdateRows: 'update', DeleteRows: 'delete' };
let rows = 0;
let rowsEvents = 0;
let file = args.from.file;
let finished = false;
sayStart();
const started = performance.now();
zongji.on('binlog', (event) => {
  const e = event as unknown as { rows?: unknown[]; nextPosition: number; binlogName?: string; getTypeName(): string };
  const type = e.getTypeName();
  if (e.rows) {
    rows += e.rows.length;
    ops[actionOf[type]!] += e.rows.length;
    rowsEvents++;
  } else if (type === 'Rotate') file = e.binlogName!;
  else if (type === 'Xid' && !finished && reached({ file, offset: e.nextPosition }, args.end)) {
    finished = true;
    const ms = performance.now() - started;
    zongji.stop();
    sayDoneAndWait({ rows, ms, rowsEvents, ops });
  }
});
zongji.on('error', (error: unknown) => fail('zongji-counter', error));
zongji.start({
  serverId: args.serverId,
  filename: args.from.file,
  position: args.from.offset,
  includeEvents: ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
  includeSchema: { [args.database]: [args.table] },
});
