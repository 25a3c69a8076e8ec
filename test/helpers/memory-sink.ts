import type { DeliveryResult, Sink, SinkBatch } from '../../core/sink/index.ts';
import type { RowEvent } from '../../core/event/index.ts';
import { definePlugin } from '../../core/pipeline/index.ts';

/** A sink of our own interface that keeps what it got, with scriptable failures, for unit tests. */
export class MemorySink implements Sink {
  readonly batches: RowEvent[][] = [];
  readonly attempts: number[] = [];
  /** Return a result per event; default: all ok. */
  answer: (batch: SinkBatch, call: number) => DeliveryResult[] | Promise<DeliveryResult[]> = (batch) => batch.events.map(() => ({ status: 'ok' }));
  private calls = 0;
  closed = false;

  async write(batch: SinkBatch): Promise<DeliveryResult[]> {
    this.batches.push([...batch.events]);
    this.attempts.push(batch.attempt);
    return this.answer(batch, this.calls++);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  get events(): RowEvent[] {
    return this.batches.flat();
  }
}

export function memorySinkPlugin(name: string, sink: MemorySink) {
  return definePlugin({ name: `memory:${name}`, apply: (_hooks, context) => context.registerSink(name, sink) });
}
