/**
 * The receiving end of the webhook sink, for the people who write receivers: verify a delivery's
 * signature, drop what an older owner of the task sends once a newer one has delivered (stale), and
 * drop what was delivered before (duplicates: a retry whose answer was lost, a new owner replaying
 * from the last committed position), keeping per task the newest epoch and version delivered
 * (docs/sinks.md, "Receiving webhooks").
 *
 *   const receiver = createWebhookReceiver({ secret, onDelivery: async ({ events }) => apply(events) });
 *   http.createServer(receiver.handler).listen(8080);
 *
 * Rules, with the delivery's task, epoch (x-tunnel-epoch) and versions (x-tunnel-version, the
 * order of binlog positions, core/event/position-version.ts):
 * - an epoch older than the newest delivered for the task: stale, refused (409 with
 *   `x-tunnel-fenced`: the webhook sink then stops the task on that worker);
 * - the same delivery id as the last one delivered: a duplicate;
 * - otherwise the changes whose version is below the newest delivered are left out (delivered
 *   before); a row change of the same version passes (the rows of a snapshot share one version, and
 *   an event split by the `expand` hook shares its own), a schema change of the same version only if
 *   it comes later in its statement. A delivery with nothing left is a duplicate; its epoch still
 *   counts, so the older owner is refused from then on.
 * Checks and commits of one task must not interleave: the handler runs them one at a time per task.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { positionVersion, type RowEvent, type SchemaChangeEvent } from '../../core/event/index.ts';
import { fenceHeaders, header, verifyWebhookSignature, SIGNATURE_HEADER } from './signature.ts';

/** Set (to the newest epoch delivered) on the 409 answer to a stale delivery. */
export const FENCED_HEADER = 'x-tunnel-fenced';

/** What a receiver keeps per task. */
export interface DeliveryState {
  /** The newest epoch delivered. */
  epoch: number;
  /** The highest version delivered, decimal. */
  version: string;
  /** Index in its statement of the last schema change delivered at `version`; -1 when it was rows. */
  schemaIndex: number;
  /** Id (x-tunnel-delivery) of the last delivery. */
  delivery: string;
}

/** Where a receiver keeps its state: in memory by default; a shared store for several receiver processes. */
export interface DeliveryStateStore {
  get(task: string): DeliveryState | undefined | Promise<DeliveryState | undefined>;
  set(task: string, state: DeliveryState): void | Promise<void>;
}

export interface WebhookDelivery {
  task: string;
  epoch: number;
  kind: 'rows' | 'schema';
  /** x-tunnel-delivery: the same for the same body. */
  delivery: string;
  /** The changes not delivered before, in order (row events, or one schema change). */
  events: Array<RowEvent | SchemaChangeEvent>;
  /** Changes of the body left out as delivered before. */
  skipped: number;
}

export type WebhookVerdict =
  /** `events` hold something new: apply them, then `commit()`. */
  | ({ status: 'fresh'; commit(): Promise<void> } & WebhookDelivery)
  /** Everything was delivered before; `commit()` records the epoch (an older owner is refused from then on). */
  | ({ status: 'duplicate'; commit(): Promise<void> } & WebhookDelivery)
  /** An older owner of the task: drop it. */
  | { status: 'stale'; task: string; epoch: number; newerEpoch: number }
  /** Not signed by the secret, too old, or malformed. */
  | { status: 'invalid'; reason: string };

export interface WebhookReceiverOptions {
  /** The sink's secret, or several during a rotation. */
  secret: string | readonly string[];
  /** Largest clock difference (and replay window) accepted, seconds. Default 300. */
  toleranceSec?: number;
  store?: DeliveryStateStore;
  /** Applies a delivery's new changes; when it resolves the delivery is committed and answered 204, when it throws 500 (sent again). */
  onDelivery?(delivery: WebhookDelivery): void | Promise<void>;
  /** Largest body read, bytes. Default 64 MiB. */
  maxBodyBytes?: number;
  /** Told every verdict the handler reaches, before it answers (metrics, logs). */
  onVerdict?(verdict: WebhookVerdict): void;
}

export interface WebhookReceiver {
  /** Verify and classify one delivery; a `fresh` or `duplicate` verdict must be committed before the task's next is checked. */
  verifyAndDedupe(headers: Parameters<typeof verifyWebhookSignature>[1], body: string | Uint8Array): Promise<WebhookVerdict>;
  /** A Node `http` request listener doing all of it, one delivery at a time per task. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}

function memoryStore(): DeliveryStateStore {
  const states = new Map<string, DeliveryState>();
  return { get: (task) => states.get(task), set: (task, state) => void states.set(task, state) };
}

/** The JSON of a body as the sink sends it: an array (batch), one object (event mode, a schema change), or NDJSON. */
function parseBody(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as unknown[];
  const lines = trimmed.split('\n').filter((line) => line.trim() !== '');
  return lines.map((line) => JSON.parse(line) as unknown);
}

export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const store = options.store ?? memoryStore();
  const tolerance = options.toleranceSec ?? 300;
  const maxBody = options.maxBodyBytes ?? 64 * 1024 * 1024;
  /** Per task, the tail of its checks and commits. */
  const queues = new Map<string, Promise<unknown>>();

  async function verifyAndDedupe(headers: Parameters<typeof verifyWebhookSignature>[1], body: string | Uint8Array): Promise<WebhookVerdict> {
    const signature = header(headers, SIGNATURE_HEADER) ?? '';
    if (!/(^|,)\s*v2=/.test(signature)) return { status: 'invalid', reason: 'no v2 signature: the task, epoch and version are not signed' };
    if (!verifyWebhookSignature(options.secret, headers, body, tolerance)) return { status: 'invalid', reason: 'bad or expired signature' };
    const fence = fenceHeaders(headers)!;
    const kind = header(headers, 'x-tunnel-kind') === 'schema' ? 'schema' : 'rows';
    const delivery = header(headers, 'x-tunnel-delivery') ?? '';
    const epoch = Number(fence.epoch);
    const range = /^(\d+)-(\d+)$/.exec(fence.version);
    if (!Number.isSafeInteger(epoch) || epoch < 0 || !range)
      return { status: 'invalid', reason: `malformed epoch or version: ${fence.epoch} ${fence.version}` };
    const task = fence.task;
    const state = await store.get(task);
    if (state && epoch < state.epoch) return { status: 'stale', task, epoch, newerEpoch: state.epoch };

    let items: unknown[];
    try {
      items = parseBody(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
    } catch (error) {
      return { status: 'invalid', reason: `body is not JSON: ${(error as Error).message}` };
    }
    const last = BigInt(range[2]!);
    const seen = state ? BigInt(state.version) : -1n;
    const events: Array<RowEvent | SchemaChangeEvent> = [];
    let skipped = 0;
    let schemaIndex = -1;
    const duplicateId = state !== undefined && delivery !== '' && delivery === state.delivery;
    for (const item of items) {
      const event = item as RowEvent | SchemaChangeEvent;
      let version: bigint;
      try {
        version = positionVersion(event.position);
      } catch {
        return { status: 'invalid', reason: 'a change without a valid position' };
      }
      const isSchema = (event as SchemaChangeEvent).kind === 'schema';
      const index = isSchema ? (event as SchemaChangeEvent).index : -1;
      const fresh = !duplicateId && (version > seen || (version === seen && (!isSchema || index > (state?.schemaIndex ?? -1))));
      if (fresh) {
        events.push(event);
        if (version === last) schemaIndex = Math.max(schemaIndex, index);
      } else skipped++;
    }
    const commit = async () => {
      const now = await store.get(task);
      const before = now ? BigInt(now.version) : -1n;
      const version = last > before ? last : before;
      await store.set(task, {
        epoch: Math.max(epoch, now?.epoch ?? 0),
        version: version.toString(),
        schemaIndex: last > before ? schemaIndex : Math.max(schemaIndex, now?.schemaIndex ?? -1),
        delivery,
      });
    };
    const result: WebhookDelivery = { task, epoch, kind, delivery, events, skipped };
    return events.length > 0 ? { status: 'fresh', commit, ...result } : { status: 'duplicate', commit, ...result };
  }

  /** Runs `work` after the task's earlier deliveries. */
  function inOrder<T>(task: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(task) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const tail = next.catch(() => undefined);
    queues.set(task, tail);
    void tail.then(() => {
      if (queues.get(task) === tail) queues.delete(task);
    });
    return next;
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        res.writeHead(413).end('body too large');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const task = header(req.headers as Record<string, string | string[] | undefined>, 'x-tunnel-task') ?? '';
      void inOrder(task, async () => {
        const verdict = await verifyAndDedupe(req.headers as Record<string, string | string[] | undefined>, body);
        options.onVerdict?.(verdict);
        if (verdict.status === 'invalid') return void res.writeHead(verdict.reason.includes('signature') ? 401 : 400).end(verdict.reason);
        if (verdict.status === 'stale') {
          return void res
            .writeHead(409, { [FENCED_HEADER]: String(verdict.newerEpoch) })
            .end(`stale: task ${verdict.task} has had epoch ${verdict.newerEpoch}, newer than ${verdict.epoch}`);
        }
        if (verdict.status === 'fresh') await options.onDelivery?.(verdict);
        await verdict.commit();
        res.writeHead(verdict.status === 'fresh' ? 204 : 200).end(verdict.status === 'fresh' ? undefined : 'duplicate');
      }).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(`receiver failed: ${error instanceof Error ? error.message : String(error)}`);
      });
    });
  };

  return { verifyAndDedupe, handler };
}
