// What every decode counter of the benchmark (Tunnel's source, bare zongji, go-mysql, Debezium)
// takes and says, so that the driver (bench/lib/peers.ts) runs and measures them all alike: one JSON
// argument in, {"event":"start"} when it begins to read, {"event":"done",...} once it has every row
// change of the range; then it waits for its standard input to close, so that the driver can read
// its CPU time and peak RSS from /proc while it is still alive, and exits.
import type { BinlogPosition } from '../../core/event/index.ts';
import type { SourceServer } from '../lib/source-servers.ts';

export interface CounterArgs {
  server: SourceServer;
  serverId: number;
  database: string;
  table: string;
  from: BinlogPosition;
  end: BinlogPosition;
}

export interface CounterOps {
  insert: number;
  update: number;
  delete: number;
}

export interface CounterDone {
  event: 'done';
  rows: number;
  /** From the moment the reader was asked to start to the last row change of the range. */
  ms: number;
  rowsEvents?: number;
  /** Row changes by kind (decode counters). */
  ops?: CounterOps;
}

export const counterArgs = (): CounterArgs => JSON.parse(process.argv[2]!) as CounterArgs;

export function sayStart(): void {
  process.stdout.write('{"event":"start"}\n');
}

/** Prints the result, then exits once the driver closes standard input. */
export function sayDoneAndWait(done: Omit<CounterDone, 'event'>): void {
  process.stdout.write(JSON.stringify({ event: 'done', ...done }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

export function fail(who: string, error: unknown): never {
  process.stderr.write(`${who}: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
}
