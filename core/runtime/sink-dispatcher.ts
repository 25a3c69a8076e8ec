import type { Logger } from 'pino';
import type { RowEvent, SchemaChangeEvent } from '../event/index.ts';
import type { BatchLimits, DeliveryResult, Sink } from '../sink/index.ts';
import type { DeadLetter, DeadLetterStore } from '../dead-letter/index.ts';
import type { TunnelHooks } from '../pipeline/index.ts';
import type { Segment } from '../checkpoint/index.ts';
import { AbortedError, FencedError, SinkError } from '../errors/index.ts';
import { backoffDelay, sleep, type BackoffOptions } from './backoff.ts';
import type { WriteGate } from './write-gate.ts';
import type { BeforeWrite } from './write-pause.ts';

/** One event on its way to one sink, with what the checkpoint needs to count it. */
export interface Delivery {
  event: RowEvent;
  segment: Segment;
  bytes: number;
  /** The event's row changes (what `maxRows` and back-pressure count). */
  rows: number;
}

/** A schema change on its way to one sink, between the row deliveries before and after it. */
export interface SchemaDelivery {
  change: SchemaChangeEvent;
  segment: Segment;
}

type QueueItem = Delivery | SchemaDelivery;

const isSchema = (item: QueueItem): item is SchemaDelivery => 'change' in item;

export interface SinkStats {
  eventsOut: number;
  batches: number;
  retries: number;
  deadLetters: number;
  lastBatchMs: number;
  lastError?: string;
}

export interface SinkDispatcherOptions {
  task: string;
  /** The epoch of this task's ownership, carried by every write (core/sink/sink.ts WriteFence). */
  epoch: number;
  name: string;
  sink: Sink;
  limits: BatchLimits;
  retry: BackoffOptions;
  deadLetters: DeadLetterStore;
  hooks: TunnelHooks;
  logger: Logger;
  /** Called once per delivery that is final (written or dead-lettered). */
  onSettled(delivery: Delivery): void;
  /** Called once per schema change that is final (applied, rejected or not handled by the sink). */
  onSchemaSettled(delivery: SchemaDelivery, result: DeliveryResult | undefined): void;
  /** Aborted when in-flight work must stop (shutdown deadline, lost ownership). */
  signal: AbortSignal;
  /**
   * Asked right before every sink write (cluster mode: is the ZooKeeper session surely alive?). False
   * means ownership may be gone: nothing is written; the batch waits until the task is abandoned.
   */
  canWrite?: () => boolean;
  /**
   * Closed while the task's positions cannot be stored: every write (rows and schema changes) waits
   * at it before the `canWrite` check, so nothing reaches the sink that could not be committed.
   */
  gate?: WriteGate;
  /** The sink refused a write because a newer owner wrote there (FencedError): the task must stop. */
  onFenced(error: FencedError): void;
  /** The test seam between the session check and the write (core/runtime/write-pause.ts); unset in production. */
  beforeWrite?: BeforeWrite;
}

/**
 * Feeds one sink: batches bounded by count, bytes and time, one batch in flight at a time so
 * changes reach the sink in binlog order, retries with backoff, dead letters for rejections.
 */
export class SinkDispatcher {
  readonly stats: SinkStats = { eventsOut: 0, batches: 0, retries: 0, deadLetters: 0, lastBatchMs: 0 };
  private queue: QueueItem[] = [];
  private warnedNoSchemaChanges = false;
  private queuedBytes = 0;
  /** Rows of the queued events: `maxRows` counts row changes, not binlog events (one can carry ~100 rows). */
  private queuedRows = 0;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  /** The sink refused a write to a newer owner: nothing more is written. */
  private fenced = false;

  constructor(private readonly options: SinkDispatcherOptions) {}

  get queued(): number {
    return this.queue.length;
  }

  /** A schema change, applied once every delivery queued before it was written, before any after it. */
  enqueueSchemaChange(delivery: SchemaDelivery): void {
    this.queue.push(delivery);
    if (!this.writing) this.flush();
  }

  enqueue(delivery: Delivery): void {
    this.queue.push(delivery);
    this.queuedBytes += delivery.bytes;
    this.queuedRows += delivery.rows;
    if (this.writing) return;
    const { limits } = this.options;
    if (this.queuedRows >= limits.maxRows || this.queuedBytes >= limits.maxBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), limits.maxWaitMs);
  }

  /** Resolves once the queue is empty and no batch is in flight. */
  drain(): Promise<void> {
    if (!this.writing && (this.queue.length === 0 || this.fenced)) return Promise.resolve();
    if (!this.writing) this.flush();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writing || this.queue.length === 0 || this.fenced) return;
    const head = this.queue[0]!;
    const work = isSchema(head) ? (this.queue.shift(), this.applySchemaChange(head)) : this.deliver(this.takeBatch());
    this.writing = work
      .catch((error: unknown) => {
        if (!(error instanceof AbortedError)) this.options.logger.error({ err: error, sink: this.options.name }, 'sink dispatcher failed');
      })
      .finally(() => {
        this.writing = undefined;
        if (this.options.signal.aborted || this.fenced) {
          this.queue = [];
          this.queuedBytes = 0;
          this.queuedRows = 0;
        }
        // Events queued during the write have already waited a write's time: send them now.
        if (this.queue.length > 0) this.flush();
        else for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
  }

  /** The row deliveries at the head of the queue, up to the limits or the next schema change. */
  private takeBatch(): Delivery[] {
    const { maxRows, maxBytes } = this.options.limits;
    let count = 0;
    let bytes = 0;
    let rows = 0;
    while (count < this.queue.length) {
      const next = this.queue[count]!;
      if (isSchema(next)) break;
      if (count > 0 && (bytes + next.bytes > maxBytes || rows + next.rows > maxRows)) break;
      bytes += next.bytes;
      rows += next.rows;
      count++;
    }
    const batch = this.queue.splice(0, count) as Delivery[];
    this.queuedBytes -= bytes;
    this.queuedRows -= rows;
    return batch;
  }

  private async deliver(batch: Delivery[]): Promise<void> {
    const { sink, signal, name, task, hooks, retry } = this.options;
    const started = performance.now();
    let pending = batch;
    let attempt = 1;
    let firstResults: DeliveryResult[] | undefined;
    while (pending.length > 0) {
      if (signal.aborted) throw new AbortedError(`sink "${name}" aborted`);
      if (this.options.gate && !this.options.gate.isOpen) {
        await this.options.gate.wait(signal);
        continue;
      }
      // A worker frozen past its session wakes up with batches queued: they must not reach the sink
      // once another worker may own the task. The check itself declares the session lost when the
      // process was paused too long, which abandons the task (the signal aborts); until then, wait.
      if (this.options.canWrite && !this.options.canWrite()) {
        this.stats.lastError = `sink "${name}": ownership of task "${task}" is not certain; nothing is written`;
        await sleep(backoffDelay(attempt, retry), signal);
        continue;
      }
      let results: DeliveryResult[];
      try {
        const held = this.options.beforeWrite?.(name);
        const writeSignal = held ? (await held, new AbortController().signal) : signal;
        results = await sink.write({ events: pending.map((d) => d.event), attempt, signal: writeSignal, task, epoch: this.options.epoch });
        if (results.length !== pending.length) {
          throw new SinkError(`sink "${name}" answered ${results.length} results for ${pending.length} events`);
        }
      } catch (error) {
        this.throwIfFenced(error);
        if (signal.aborted) throw new AbortedError(`sink "${name}" aborted`);
        const reason = error instanceof Error ? error.message : String(error);
        results = pending.map(() => ({ status: 'retry', reason }) as const);
      }
      firstResults ??= results;

      // Everything from the first retryable event on is sent again, in order, even events that
      // landed: a later change to the same key must not be overwritten by the retried older one.
      const firstRetry = results.findIndex((r) => r.status === 'retry');
      const settledUpTo = firstRetry === -1 ? results.length : firstRetry;
      const rejected: DeadLetter[] = [];
      const settled: Delivery[] = [];
      const again: Delivery[] = [];
      results.forEach((result, index) => {
        const delivery = pending[index]!;
        if (result.status === 'rejected') {
          rejected.push({ task, origin: name, reason: result.reason, at: new Date().toISOString(), event: delivery.event });
          settled.push(delivery);
        } else if (index < settledUpTo) settled.push(delivery);
        else again.push(delivery);
      });
      if (rejected.length > 0) await this.putDeadLetters(rejected);
      this.stats.eventsOut += settled.length - rejected.length;
      for (const delivery of settled) this.options.onSettled(delivery);

      pending = again;
      if (pending.length > 0) {
        const reason = (results[firstRetry] as { reason: string }).reason;
        this.stats.retries++;
        this.stats.lastError = reason;
        const delay = backoffDelay(attempt, retry);
        this.options.logger.warn({ sink: name, events: pending.length, attempt, delayMs: delay, reason }, 'sink write will be retried');
        hooks.error.call(new SinkError(`sink "${name}" of task "${task}": ${reason} (retry ${attempt} in ${delay} ms)`, { sink: name, attempt }));
        await sleep(delay, signal);
        attempt++;
      }
    }
    this.stats.batches++;
    this.stats.lastBatchMs = performance.now() - started;
    hooks.batchWritten.call({
      task,
      sink: name,
      events: batch.map((d) => d.event),
      results: firstResults ?? [],
      attempts: attempt,
      durationMs: this.stats.lastBatchMs,
    });
  }

  /**
   * Applies a schema change with retries (backoff, ownership checked before each try, as for rows);
   * the final result (applied, or rejected: the sink cannot do it) goes to the task.
   */
  private async applySchemaChange(delivery: SchemaDelivery): Promise<void> {
    const { sink, signal, name, task, hooks, retry, logger } = this.options;
    const { change } = delivery;
    if (!sink.applySchemaChange) {
      if (!this.warnedNoSchemaChanges) {
        this.warnedNoSchemaChanges = true;
        logger.warn(
          { sink: name, change: change.change, table: `${change.schema}.${change.table}` },
          'the sink does not apply schema changes; it keeps what it holds',
        );
      }
      this.options.onSchemaSettled(delivery, undefined);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new AbortedError(`sink "${name}" aborted`);
      if (this.options.gate && !this.options.gate.isOpen) {
        await this.options.gate.wait(signal);
        continue;
      }
      if (this.options.canWrite && !this.options.canWrite()) {
        this.stats.lastError = `sink "${name}": ownership of task "${task}" is not certain; nothing is written`;
        await sleep(backoffDelay(attempt, retry), signal);
        continue;
      }
      let result: DeliveryResult;
      try {
        const held = this.options.beforeWrite?.(name);
        const writeSignal = held ? (await held, new AbortController().signal) : signal;
        result = await sink.applySchemaChange(change, { attempt, signal: writeSignal, task, epoch: this.options.epoch });
      } catch (error) {
        this.throwIfFenced(error);
        if (signal.aborted) throw new AbortedError(`sink "${name}" aborted`);
        result = { status: 'retry', reason: error instanceof Error ? error.message : String(error) };
      }
      if (result.status !== 'retry') {
        this.options.onSchemaSettled(delivery, result);
        return;
      }
      this.stats.retries++;
      this.stats.lastError = result.reason;
      const delay = backoffDelay(attempt, retry);
      logger.warn(
        { sink: name, change: change.change, table: `${change.schema}.${change.table}`, attempt, delayMs: delay, reason: result.reason },
        'schema change will be retried',
      );
      hooks.error.call(new SinkError(`sink "${name}" of task "${task}": ${result.reason} (retry ${attempt} in ${delay} ms)`, { sink: name, attempt }));
      await sleep(delay, signal);
    }
  }

  /** A sink that refused the write to a newer owner: the task stops, this dispatcher writes nothing more. */
  private throwIfFenced(error: unknown): void {
    if (!(error instanceof FencedError)) return;
    this.stats.lastError = error.message;
    this.fenced = true;
    this.options.logger.warn({ sink: this.options.name, err: error, code: error.code }, 'the sink refused the write: a newer owner of the task wrote there');
    this.options.onFenced(error);
    throw new AbortedError(`sink "${this.options.name}" was fenced off: ${error.message}`);
  }

  private async putDeadLetters(letters: DeadLetter[]): Promise<void> {
    const { deadLetters, signal, retry, logger, name } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        await deadLetters.put(letters);
        this.stats.deadLetters += letters.length;
        logger.warn({ sink: name, count: letters.length, reason: letters[0]!.reason }, 'events dead-lettered');
        return;
      } catch (error) {
        logger.error({ err: error, sink: name }, 'cannot write dead letters; retrying');
        await sleep(backoffDelay(attempt, retry), signal);
      }
    }
  }
}
