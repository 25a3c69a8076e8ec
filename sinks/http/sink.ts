import { createHash } from 'node:crypto';
import { AbortedError, FencedError } from '../../core/errors/index.ts';
import {
  canonicalObject,
  formatPosition,
  positionVersionText,
  schemaChangeObject,
  type BinlogPosition,
  type RowEvent,
  type SchemaChangeEvent,
} from '../../core/event/index.ts';
import { backoffDelay, sleep } from '../../core/runtime/backoff.ts';
import { SinkSerializer, estimateJsonBytes } from '../../core/serialize/index.ts';
import type { BatchLimits, DeliveryResult, SchemaChangeContext, Sink, SinkBatch, WriteFence } from '../../core/sink/index.ts';
import type { ResolvedWebhookOptions } from './options.ts';
import {
  EPOCH_HEADER,
  POSITION_HEADER,
  SIGNATURE_HEADER,
  TASK_HEADER,
  TIMESTAMP_HEADER,
  VERSION_HEADER,
  signatureHeader,
  type SignedFence,
} from './signature.ts';
import { FENCED_HEADER } from './receiver.ts';

/** The outcome of one HTTP exchange, with Retry-After when the receiver gave one. */
interface Attempt {
  result: DeliveryResult;
  retryAfterMs?: number;
}

const EXCERPT = 200;

export class WebhookSink implements Sink {
  readonly batchLimits: Partial<BatchLimits>;
  readonly #options: ResolvedWebhookOptions;
  readonly #secrets: readonly string[];
  readonly #serializer: SinkSerializer;
  /** Requests sent (attempts included), for tests and metrics. */
  requests = 0;

  constructor(options: ResolvedWebhookOptions) {
    this.#options = options;
    this.#secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
    this.#serializer = new SinkSerializer(options.serialize);
    this.batchLimits = { maxRows: options.mode === 'event' ? 100 : options.maxEvents, maxBytes: options.maxBytes, ...options.batch };
  }

  async write(batch: SinkBatch): Promise<DeliveryResult[]> {
    const { events, signal } = batch;
    const fence: WriteFence = { task: batch.task, epoch: batch.epoch };
    const o = this.#options;
    const results: DeliveryResult[] = new Array(events.length);
    // Groups of event indexes, one POST each, in order.
    const groups: number[][] = [];
    const estimates: number[] = [];
    if (o.mode === 'event') {
      events.forEach((event, i) => {
        groups.push([i]);
        estimates.push(estimateJsonBytes(event.rows) + 200);
      });
    } else {
      let current: number[] = [];
      let bytes = 0;
      events.forEach((event, i) => {
        const size = estimateJsonBytes(event.rows) + 200;
        if (current.length > 0 && (current.length >= o.maxEvents || bytes + size > o.maxBytes)) {
          groups.push(current);
          estimates.push(bytes);
          current = [];
          bytes = 0;
        }
        current.push(i);
        bytes += size;
      });
      if (current.length > 0) {
        groups.push(current);
        estimates.push(bytes);
      }
    }

    for (let g = 0; g < groups.length; g++) {
      const group = groups[g] as number[];
      const result = await this.#deliver(
        group.map((i) => events[i] as RowEvent),
        estimates[g] as number,
        signal,
        fence,
      );
      for (const i of group) results[i] = result;
      if (result.status === 'retry') {
        // Later events wait: the runtime resends everything from the first retry on, in order.
        const reason = `not sent: an earlier request failed (${result.reason})`;
        for (const later of groups.slice(g + 1)) for (const i of later) results[i] = { status: 'retry', reason };
        break;
      }
    }
    return results;
  }

  /** One POST of these events, with immediate retries (exponential backoff, full jitter). */
  async #deliver(events: RowEvent[], estimate: number, signal: AbortSignal, fence: WriteFence): Promise<DeliveryResult> {
    const o = this.#options;
    const objects = events.map(canonicalObject);
    let body: Uint8Array;
    if (o.mode === 'event' && o.format === 'json') body = Buffer.from(JSON.stringify(objects[0]), 'utf8');
    else if (o.format === 'ndjson') body = await this.#serializer.get().encodeNdjson(objects, { estimatedBytes: estimate });
    else body = await this.#serializer.get().encodeJsonArray(objects, { estimatedBytes: estimate });
    return this.#send(body, events.length, signal, 'rows', signedFence(fence, events[0]!.position, events[events.length - 1]!.position));
  }

  /** POSTs one body with immediate retries (exponential backoff, full jitter, Retry-After honoured). */
  async #send(body: Uint8Array, count: number, signal: AbortSignal, kind: 'rows' | 'schema', fence: SignedFence): Promise<DeliveryResult> {
    const o = this.#options;
    // Same body, same id on every attempt: receivers can drop duplicates by it.
    const delivery = createHash('sha256').update(body).digest('hex').slice(0, 32);
    let last: Attempt | undefined;
    for (let retry = 0; retry <= o.retries; retry++) {
      if (retry > 0) {
        const backoff = backoffDelay(retry, { initialDelayMs: o.retryDelayMs, maxDelayMs: o.maxRetryDelayMs });
        const delay = Math.min(o.maxRetryDelayMs, Math.max(backoff, last?.retryAfterMs ?? 0));
        await sleep(delay, signal).catch(() => {
          throw new AbortedError('webhook: write aborted');
        });
      }
      last = await this.#post(body, delivery, count, signal, kind, fence);
      if (last.result.status !== 'retry') return last.result;
    }
    return (last as Attempt).result;
  }

  async #post(body: Uint8Array, delivery: string, count: number, signal: AbortSignal, kind: 'rows' | 'schema', fence: SignedFence): Promise<Attempt> {
    const o = this.#options;
    if (signal.aborted) throw new AbortedError('webhook: write aborted');
    const timestamp = Math.floor(Date.now() / 1000);
    this.requests++;
    let response: Response;
    try {
      response = await fetch(o.url, {
        method: 'POST',
        headers: {
          ...o.headers,
          'content-type': o.format === 'ndjson' && kind === 'rows' ? 'application/x-ndjson' : 'application/json',
          'user-agent': 'tunnel-webhook',
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signatureHeader(this.#secrets, timestamp, body, fence),
          [TASK_HEADER]: fence.task,
          [EPOCH_HEADER]: String(fence.epoch),
          [POSITION_HEADER]: fence.position,
          [VERSION_HEADER]: fence.version,
          'x-tunnel-delivery': delivery,
          'x-tunnel-events': String(count),
          'x-tunnel-kind': kind,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
      });
    } catch (error) {
      if (signal.aborted) throw new AbortedError('webhook: write aborted');
      const name = error instanceof Error ? error.name : '';
      if (name === 'TimeoutError') return { result: { status: 'retry', reason: `webhook: no response within ${o.timeoutMs} ms` } };
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      const text = cause instanceof Error ? `${(cause as { code?: string }).code ?? cause.name}: ${cause.message}` : String(cause);
      return { result: { status: 'retry', reason: `webhook: request failed: ${text.slice(0, EXCERPT)}` } };
    }
    let excerpt = '';
    try {
      // Read the whole response so the keep-alive connection is reused.
      excerpt = (await response.text()).slice(0, EXCERPT).replace(/\s+/g, ' ').trim();
    } catch (error) {
      if (signal.aborted) throw new AbortedError('webhook: write aborted');
      if (response.ok) return { result: { status: 'retry', reason: 'webhook: response body cut off' } };
    }
    const status = response.status;
    if (status >= 200 && status < 300) return { result: { status: 'ok' } };
    const newer = response.headers.get(FENCED_HEADER);
    if (status === 409 && newer !== null) {
      // the receiver (createWebhookReceiver) has had a delivery of a newer owner of the task
      throw new FencedError(
        `webhook: the receiver refused the delivery of task "${fence.task}": it has had epoch ${newer}, newer than this worker's ${fence.epoch}; another worker owns the task now`,
        { task: fence.task, epoch: Number(fence.epoch), stored: Number(newer) },
      );
    }
    const reason = `webhook: HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
    if (status === 408 || status === 425 || status === 429 || status >= 500) {
      const header = response.headers.get('retry-after');
      const seconds = header && /^\d+$/.test(header) ? Number(header) : undefined;
      return { result: { status: 'retry', reason }, ...(seconds !== undefined ? { retryAfterMs: seconds * 1000 } : {}) };
    }
    if (status >= 300 && status < 400) return { result: { status: 'rejected', reason: `${reason} (redirects are not followed; set the final URL)` } };
    return { result: { status: 'rejected', reason } };
  }

  /**
   * A schema change is POSTed on its own, in its place between the row batches: the JSON of
   * `schemaChangeObject` (docs/schema-changes.md), signed like row deliveries, with
   * `x-tunnel-events: 0` and `x-tunnel-kind: schema`. The receiver answers as for rows.
   */
  async applySchemaChange(change: SchemaChangeEvent, { signal, task, epoch }: SchemaChangeContext): Promise<DeliveryResult> {
    const body = Buffer.from(JSON.stringify(schemaChangeObject(change)), 'utf8');
    return this.#send(body, 0, signal, 'schema', signedFence({ task, epoch }, change.position, change.position));
  }

  async close(): Promise<void> {
    await this.#serializer.close();
  }
}

/** The fence headers of one POST: the task, its epoch, and the positions of the first and last change in it. */
function signedFence(fence: WriteFence, first: BinlogPosition, last: BinlogPosition): SignedFence {
  return {
    task: fence.task,
    epoch: fence.epoch,
    position: formatPosition(last),
    version: `${positionVersionText(first)}-${positionVersionText(last)}`,
  };
}
