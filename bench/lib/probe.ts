// A plugin the benchmark puts into the generated tunnel.config.ts of a `tunnel start` child: it
// reports over the child's IPC channel (the driver spawns it with 'ipc') when the task starts, when
// the first batch was acknowledged, each committed position, and in latency mode the ids each sink
// acknowledged (batchWritten, which fires once the sink's write resolved). It is a plain user plugin
// on the public hooks, nothing more.
import type { TunnelPlugin } from '../../core/index.ts';

export type ProbeMessage =
  | { type: 'taskStart'; task: string; at: number }
  | { type: 'firstAck'; task: string; sink: string; at: number }
  | { type: 'committed'; task: string; at: number; file: string; offset: number }
  | { type: 'acked'; task: string; sink: string; at: number; ids: number[] }
  | { type: 'taskStop'; task: string; at: number };

const send = (message: ProbeMessage) => {
  if (process.send && process.connected) process.send(message);
};

export function benchProbe(options: { ackIds?: boolean; idColumn?: string } = {}): TunnelPlugin {
  const idColumn = options.idColumn ?? 'id';
  return {
    name: 'bench-probe',
    apply(hooks, context) {
      hooks.taskStart.tapPromise('bench-probe', async () => send({ type: 'taskStart', task: context.task, at: Date.now() }));
      let acked = false;
      hooks.batchWritten.tap('bench-probe', (batch) => {
        if (acked) return;
        acked = true;
        send({ type: 'firstAck', task: context.task, sink: batch.sink, at: Date.now() });
      });
      hooks.positionCommitted.tap('bench-probe', (p) => send({ type: 'committed', task: context.task, at: Date.now(), file: p.file, offset: p.offset }));
      if (options.ackIds) {
        hooks.batchWritten.tap('bench-probe', (batch) => {
          const at = Date.now();
          const ids: number[] = [];
          for (const event of batch.events) {
            for (const row of event.rows) {
              for (const cell of row) {
                if (cell.column !== idColumn) continue;
                const v = 'value' in cell ? cell.value : cell.after;
                ids.push(Number(v));
                break;
              }
            }
          }
          send({ type: 'acked', task: context.task, sink: batch.sink, at, ids });
        });
      }
      hooks.taskStop.tapPromise('bench-probe', async () => {
        send({ type: 'taskStop', task: context.task, at: Date.now() });
      });
    },
  };
}
