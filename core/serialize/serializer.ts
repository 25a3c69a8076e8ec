import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { SerializeError } from '../errors/index.ts';
import { encodeJsonArray, encodeNdjson } from './encode.mjs';

/**
 * Payload serialization (docs/architecture.md): ES bulk NDJSON bodies and webhook bodies.
 * Batches whose estimated size is at least `threshold` bytes are encoded in a piscina pool; smaller
 * ones stay on the main thread. The pool always gets a whole batch per task (a task per event costs
 * ~11x a `JSON.stringify`) and hands the bytes back as a transferred buffer, never as a string.
 */
export interface SerializerOptions {
  /**
   * Estimated payload bytes (see estimateJsonBytes) from which a batch goes to the pool.
   * `Infinity` keeps everything on the main thread. Default DEFAULT_POOL_THRESHOLD, set from
   * `npx tsx bench/serialize.ts`.
   */
  threshold?: number;
  /**
   * Smallest average estimated bytes per item (per NDJSON line, per array element) for the pool:
   * many small objects cost about as much to structured-clone as to encode, so they stay on the
   * main thread whatever the batch size. Default DEFAULT_MIN_ITEM_BYTES.
   */
  minItemBytes?: number;
  /** A batch above this estimate is split into several pool tasks that run in parallel. Default 1 MiB. */
  maxTaskBytes?: number;
  /** Worker threads of the pool. Default: available parallelism, between 1 and 4. */
  maxThreads?: number;
  /** Milliseconds an idle worker is kept before it exits. Default 30 s. */
  idleTimeoutMs?: number;
}

export interface EncodeOptions {
  /** The caller's estimate when it has one already (saves a walk over the values). */
  estimatedBytes?: number;
}

export interface SerializerStats {
  /** Batches encoded on the main thread. */
  mainThread: number;
  /** Batches encoded in the pool. */
  pool: number;
  /** Pool tasks that failed and were encoded on the main thread instead. */
  fallbacks: number;
}

export interface Serializer {
  readonly threshold: number;
  /** One JSON document per line, every line ended by "\n" (the ES bulk body format). */
  encodeNdjson(lines: readonly unknown[], options?: EncodeOptions): Promise<Uint8Array>;
  /** One JSON array. */
  encodeJsonArray(items: readonly unknown[], options?: EncodeOptions): Promise<Uint8Array>;
  stats(): SerializerStats;
  close(): Promise<void>;
}

/**
 * From bench/serialize.ts (figures in the README, "Serialization off the main thread"): below ~256 KB a batch costs more to
 * post to a worker than to encode inline, and batches of small rows (1 KB) lose at every size
 * because the structured clone of many small objects costs about as much as encoding them. Large
 * rows (16 KB and more) clone cheaply, and there the end-to-end rate with the pool is higher.
 */
export const DEFAULT_POOL_THRESHOLD = 256 * 1024;
export const DEFAULT_MIN_ITEM_BYTES = 8 * 1024;
export const DEFAULT_MAX_TASK_BYTES = 1024 * 1024;
/**
 * Smallest average estimated bytes per JSON value (object, array, string, number...) of a batch for
 * the pool. A structured clone costs per value, so large items made of many small values (a canonical
 * event carrying a whole rows-event of ~90 short rows is ~9 KB of ~4-byte values) cost more to clone
 * than to encode here: a 500,000-row webhook catch-up (bench/) ran at 40-44k rows/s with such bodies
 * in the pool and 57-63k rows/s on the main thread. Rows with long texts (16 KB rows: ~360 bytes per
 * value) clone cheaply and still go to the pool.
 */
export const MIN_VALUE_BYTES = 128;

const WORKER_FILE = fileURLToPath(new URL('./worker.mjs', import.meta.url));

/**
 * A cheap, allocation-free estimate of the JSON text size of a value: strings count their UTF-16
 * length (exact for ASCII, low for other text), numbers 8 bytes. Good for limits and the
 * pool decision, not for Content-Length.
 */
export function estimateJsonBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return 8;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let n = 2;
        for (let i = 0; i < value.length; i++) n += estimateJsonBytes(value[i]) + 1;
        return n;
      }
      let n = 2;
      const record = value as Record<string, unknown>;
      for (const key in record) n += key.length + 4 + estimateJsonBytes(record[key]);
      return n;
    }
    default:
      return 0;
  }
}

/**
 * Average estimated JSON bytes per value over the first items of a batch (at most ~20,000 values
 * are visited): how cheaply the batch would clone into a worker, relative to encoding it here.
 */
function bytesPerValue(items: readonly unknown[]): number {
  let values = 0;
  let bytes = 0;
  const visit = (value: unknown): void => {
    values++;
    if (typeof value !== 'object' || value === null) {
      bytes += estimateJsonBytes(value);
      return;
    }
    if (Array.isArray(value)) {
      bytes += 2;
      for (let i = 0; i < value.length; i++) visit(value[i]);
      return;
    }
    bytes += 2;
    const record = value as Record<string, unknown>;
    for (const key in record) {
      bytes += key.length + 4;
      visit(record[key]);
    }
  };
  for (let i = 0; i < items.length && values < 20_000; i++) visit(items[i]);
  return values === 0 ? 0 : bytes / values;
}

function estimateList(items: readonly unknown[]): number {
  let n = 2;
  for (let i = 0; i < items.length; i++) n += estimateJsonBytes(items[i]) + 1;
  return n;
}

/** NDJSON on the calling thread: the same encoder, and so the same bytes, as the pool's workers. */
export function encodeNdjsonSync(lines: readonly unknown[]): Uint8Array {
  return encodeOrThrow('NDJSON', () => encodeNdjson(lines));
}

/** A JSON array on the calling thread: the same encoder as the pool's workers. */
export function encodeJsonArraySync(items: readonly unknown[]): Uint8Array {
  return encodeOrThrow('a JSON array', () => encodeJsonArray(items));
}

/** A value JSON cannot hold (a BigInt, a cycle a plugin put in a row) is a SerializeError. */
function encodeOrThrow(what: string, encode: () => Uint8Array): Uint8Array {
  try {
    return encode();
  } catch (error) {
    throw new SerializeError(`cannot encode the batch as ${what}: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
  }
}

type Kind = 'ndjson' | 'json';

class PooledSerializer implements Serializer {
  readonly threshold: number;
  readonly #minItemBytes: number;
  readonly #maxTaskBytes: number;
  readonly #maxThreads: number;
  readonly #idleTimeout: number;
  #pool: Piscina | undefined;
  #closed = false;
  readonly #stats: SerializerStats = { mainThread: 0, pool: 0, fallbacks: 0 };

  constructor(options: SerializerOptions) {
    this.threshold = options.threshold ?? DEFAULT_POOL_THRESHOLD;
    this.#minItemBytes = options.minItemBytes ?? DEFAULT_MIN_ITEM_BYTES;
    this.#maxTaskBytes = options.maxTaskBytes ?? DEFAULT_MAX_TASK_BYTES;
    this.#maxThreads = Math.max(1, options.maxThreads ?? Math.min(4, availableParallelism()));
    this.#idleTimeout = options.idleTimeoutMs ?? 30_000;
  }

  encodeNdjson(lines: readonly unknown[], options?: EncodeOptions): Promise<Uint8Array> {
    return this.#encode('ndjson', lines, options);
  }

  encodeJsonArray(items: readonly unknown[], options?: EncodeOptions): Promise<Uint8Array> {
    return this.#encode('json', items, options);
  }

  stats(): SerializerStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await pool.destroy();
  }

  async #encode(kind: Kind, items: readonly unknown[], options?: EncodeOptions): Promise<Uint8Array> {
    let estimate = 0;
    let usePool = !this.#closed && Number.isFinite(this.threshold) && items.length > 0;
    if (usePool) {
      estimate = options?.estimatedBytes ?? estimateList(items);
      usePool =
        estimate >= this.threshold && estimate / items.length >= this.#minItemBytes && (this.#minItemBytes === 0 || bytesPerValue(items) >= MIN_VALUE_BYTES);
    }
    if (!usePool) {
      this.#stats.mainThread++;
      return kind === 'ndjson' ? encodeNdjsonSync(items) : encodeJsonArraySync(items);
    }
    // Created on the first large batch, so a sink that only ever sees small ones starts no thread.
    this.#pool ??= new Piscina({
      filename: WORKER_FILE,
      minThreads: 0,
      maxThreads: this.#maxThreads,
      idleTimeout: this.#idleTimeout,
    });
    const pool = this.#pool;
    try {
      const tasks = Math.min(items.length, Math.ceil(estimate / this.#maxTaskBytes));
      let bytes: Uint8Array;
      if (tasks <= 1) {
        bytes = (await pool.run({ kind, items })) as Uint8Array;
      } else {
        // NDJSON parts concatenate as they are; JSON array parts lose their brackets and are joined by ",".
        const per = Math.ceil(items.length / tasks);
        const parts = (await Promise.all(
          Array.from({ length: tasks }, (_, t) => pool.run({ kind, items: items.slice(t * per, (t + 1) * per) })),
        )) as Uint8Array[];
        bytes = kind === 'ndjson' ? Buffer.concat(parts) : joinJsonArrays(parts.filter((p) => p.byteLength > 2));
      }
      this.#stats.pool++;
      return bytes;
    } catch (error) {
      // Values are JSON-safe by contract, so a failed task means a broken or destroyed worker:
      // encode here rather than fail the batch (the main thread throws too if the data is bad).
      if (this.#closed) throw error;
      this.#stats.fallbacks++;
      return kind === 'ndjson' ? encodeNdjsonSync(items) : encodeJsonArraySync(items);
    }
  }
}

/** `[a,b]` + `[c]` -> `[a,b,c]`, on bytes. */
function joinJsonArrays(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 0) return Buffer.from('[]');
  let total = 1;
  for (const part of parts) total += part.byteLength - 1;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  parts.forEach((part, i) => {
    const inner = part.subarray(i === 0 ? 0 : 1, part.byteLength - 1);
    out.set(inner, offset);
    offset += inner.byteLength;
    out[offset++] = i === parts.length - 1 ? 0x5d : 0x2c; // ']' or ','
  });
  return out;
}

export function createSerializer(options: SerializerOptions = {}): Serializer {
  return new PooledSerializer(options);
}

let shared: { serializer: Serializer; users: number } | undefined;

/**
 * The process-wide serializer with default options, shared by every sink that has no settings of
 * its own so one pool serves them all. Each caller gets a handle whose `close()` releases it; the
 * pool is destroyed when the last handle is closed.
 */
export function acquireSharedSerializer(): Serializer {
  shared ??= { serializer: createSerializer(), users: 0 };
  const entry = shared;
  entry.users++;
  let released = false;
  return {
    threshold: entry.serializer.threshold,
    encodeNdjson: (lines, options) => entry.serializer.encodeNdjson(lines, options),
    encodeJsonArray: (items, options) => entry.serializer.encodeJsonArray(items, options),
    stats: () => entry.serializer.stats(),
    async close() {
      if (released) return;
      released = true;
      entry.users--;
      if (entry.users === 0) {
        if (shared === entry) shared = undefined;
        await entry.serializer.close();
      }
    },
  };
}
