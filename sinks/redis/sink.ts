import { Cluster } from 'ioredis';
import { AbortedError, FencedError, SinkError, tlsError, type TlsError } from '../../core/errors/index.ts';
import {
  compileTemplate,
  documentId,
  keyChanged,
  keyValues,
  rowBeforeImage,
  rowImage,
  type ColumnValue,
  type CompiledTemplate,
  type RowEvent,
} from '../../core/event/index.ts';
import type { BatchLimits, DeliveryResult, SchemaChangeContext, Sink, SinkBatch, WriteFence } from '../../core/sink/index.ts';
import type { SchemaChangeEvent } from '../../core/event/index.ts';
import { moveTableKeys, removeTableKeys, tablesOf, type TableKeys } from './table-changes.ts';
import type { Logger } from '../../core/log/index.ts';
import { closeRedisClient, connectRedis, createRedisClient, redisErrorText, redisWhere, type RedisClient } from './connection.ts';
import type { ResolvedRedisOptions } from './options.ts';

import type { Command } from './commands.ts';
import { RegistryChanges, TableRegistry } from './table-registry.ts';
import { FencedWriter, splitLongCommands, UndeliveredError, type CommandError } from './fenced-writer.ts';

/** Commands per pipeline write or fenced script (a batch of 2,000 rows is ~4 writes). */
const PIPELINE_CHUNK = 500;

/**
 * A column value as Redis text: strings as they are (so a BLOB stays its base64 text and a DECIMAL
 * its digits), everything else as JSON (numbers, booleans, JSON documents). NULL has no text: a
 * hash has no field for it, a set index has no member for it.
 */
export function redisText(value: ColumnValue | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A sorted-set score from a column value; undefined when it has none (NULL, not a number). */
function scoreOf(value: ColumnValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

interface IndexPlan {
  type: 'set' | 'zset';
  column: string;
  key: CompiledTemplate;
}

export class RedisSink implements Sink {
  readonly batchLimits: Partial<BatchLimits>;
  readonly #options: ResolvedRedisOptions;
  readonly #key: CompiledTemplate;
  readonly #indexes: IndexPlan[];
  readonly #registry: TableRegistry | undefined;
  #client: RedisClient | undefined;
  /** The fenced writes through the client (fenced-writer.ts); undefined with `fence: false`. */
  #fenced: FencedWriter | undefined;
  #logger: Logger | undefined;
  #lastError = { text: '', at: 0 };
  /** The last connection attempt failed TLS verification: why, naming the server (a start fails with it). */
  #tlsRefusal: TlsError | undefined;

  constructor(options: ResolvedRedisOptions) {
    this.#options = options;
    this.#key = compileTemplate(options.key, ['schema', 'table', 'id']);
    this.#indexes = options.indexes.map((index) => ({ type: index.type, column: index.column, key: compileTemplate(index.key) }));
    this.batchLimits = { maxRows: 1000, ...options.batch };
    this.#registry = options.registry === false ? undefined : new TableRegistry(options.registry.prefix);
  }

  /** The ioredis client (created on first use); for tests and tools that read what was written. */
  get client(): RedisClient {
    if (!this.#client) {
      this.#client = createRedisClient(this.#options.connection);
      // ioredis reports connection trouble as events; the batch results carry it to the runtime,
      // the log gets it once per distinct message and minute.
      this.#client.on('error', (error: unknown) => {
        this.#tlsRefusal = tlsError(`Redis ${redisWhere(this.#options.connection)}`, error);
        const text = redisErrorText(error);
        const now = Date.now();
        if (text === this.#lastError.text && now - this.#lastError.at < 60_000) return;
        this.#lastError = { text, at: now };
        this.#logger?.warn({ sink: this.#options.name, error: text }, 'redis connection error');
      });
    }
    return this.#client;
  }

  /** Where connection errors are logged (the plugin passes the task's logger). */
  setLogger(logger: Logger): void {
    this.#logger = logger;
  }

  async start(): Promise<void> {
    try {
      await connectRedis(this.client);
    } catch (error) {
      // a certificate that does not verify will not verify on the next attempt either
      const refusal = this.#tlsRefusal;
      if (refusal) {
        this.#client?.disconnect();
        throw refusal;
      }
      throw new SinkError(`redis: cannot connect: ${redisErrorText(error)}`);
    }
  }

  /** The key of a row's current (or, for 'before', previous) image. */
  keyOf(event: RowEvent, rowIndex: number, image: 'after' | 'before' = 'after'): string {
    return this.#key.render({ schema: event.schema, table: event.table, id: documentId(keyValues(event, rowIndex, image)) });
  }

  /**
   * The commands that bring Redis to the state after this event (idempotent: replays converge);
   * `registry` collects which ids and index keys the table now has.
   */
  commandsFor(event: RowEvent, registry?: RegistryChanges): Command[] {
    const o = this.#options;
    const out: Command[] = [];
    const { schema, table } = event;
    for (let row = 0; row < event.rows.length; row++) {
      const id = documentId(keyValues(event, row));
      const key = this.#key.render({ schema, table, id });
      const after = rowImage(event, row);
      if (event.action === 'delete') {
        out.push(['del', key]);
        registry?.removed(schema, table, id);
        this.#indexCommands(event, out, registry, { id, values: after }, undefined);
        continue;
      }
      let old: { id: string; values: Record<string, ColumnValue> } | undefined;
      if (event.action === 'update') {
        const before = rowBeforeImage(event, row);
        if (keyChanged(event, row)) {
          const oldId = documentId(keyValues(event, row, 'before'));
          out.push(['del', this.#key.render({ schema, table, id: oldId })]);
          registry?.removed(schema, table, oldId);
          old = { id: oldId, values: before };
        } else {
          old = { id, values: before };
        }
      }
      this.#valueCommands(event, row, key, after, out);
      if (o.ttlSeconds !== undefined && o.value !== 'json') out.push(['expire', key, o.ttlSeconds]);
      registry?.written(schema, table, id);
      this.#indexCommands(event, out, registry, undefined, { id, values: after }, old);
    }
    return out;
  }

  #valueCommands(event: RowEvent, row: number, key: string, image: Record<string, ColumnValue>, out: Command[]): void {
    const o = this.#options;
    let value: string | Record<string, string | null | undefined>;
    if (o.value === 'hash') {
      // The hot path (the default): HSET/HDEL arguments straight from the image, no copies.
      const hset: Command = ['hset', key];
      let hdel: Command | undefined;
      for (const column in image) {
        const text = redisText(image[column]);
        if (text === undefined) (hdel ??= ['hdel', key]).push(column);
        else hset.push(column, text);
      }
      if (hset.length > 2) out.push(hset);
      // NULL columns have no field: remove the ones an earlier image had.
      if (hdel) out.push(hdel);
      return;
    }
    if (o.value === 'json') value = JSON.stringify(image);
    else value = o.value(event, row);

    if (typeof value === 'string') {
      out.push(o.ttlSeconds !== undefined && o.value === 'json' ? ['set', key, value, 'EX', o.ttlSeconds] : ['set', key, value]);
      return;
    }
    const set: (string | number)[] = [];
    const absent: string[] = [];
    for (const [field, text] of Object.entries(value)) {
      if (text === null || text === undefined) absent.push(field);
      else set.push(field, text);
    }
    if (set.length > 0) out.push(['hset', key, ...set]);
    // NULL columns have no field: remove the ones an earlier image had.
    if (absent.length > 0) out.push(['hdel', key, ...absent]);
  }

  /**
   * Index maintenance. `removed`: a row that is gone (delete). `current`: the row as it is now;
   * `old`: its previous image (update), whose entries are removed where they differ.
   */
  #indexCommands(
    event: { schema: string; table: string },
    out: Command[],
    registry: RegistryChanges | undefined,
    removed: { id: string; values: Record<string, ColumnValue> } | undefined,
    current?: { id: string; values: Record<string, ColumnValue> },
    old?: { id: string; values: Record<string, ColumnValue> },
  ): void {
    for (const index of this.#indexes) {
      const vars = { schema: event.schema, table: event.table, column: index.column };
      if (index.type === 'zset') {
        const key = index.key.render(vars);
        registry?.indexKey(event.schema, event.table, key);
        if (removed) out.push(['zrem', key, removed.id]);
        if (old && current && old.id !== current.id) out.push(['zrem', key, old.id]);
        if (current) {
          const score = scoreOf(current.values[index.column]);
          out.push(score === undefined ? ['zrem', key, current.id] : ['zadd', key, score, current.id]);
        }
        continue;
      }
      const setKey = (value: ColumnValue | undefined) => {
        const text = redisText(value);
        return text === undefined ? undefined : index.key.render({ ...vars, value: text });
      };
      if (removed) {
        const key = setKey(removed.values[index.column]);
        if (key) out.push(['srem', key, removed.id]);
      }
      if (current) {
        const newKey = setKey(current.values[index.column]);
        if (old) {
          const oldKey = setKey(old.values[index.column]);
          if (oldKey && (oldKey !== newKey || old.id !== current.id)) out.push(['srem', oldKey, old.id]);
        }
        if (newKey) {
          out.push(['sadd', newKey, current.id]);
          registry?.indexKey(event.schema, event.table, newKey);
        }
      }
    }
  }

  async write(batch: SinkBatch): Promise<DeliveryResult[]> {
    const { events, signal } = batch;
    const fence: WriteFence = { task: batch.task, epoch: batch.epoch };
    if (signal.aborted) throw new AbortedError('redis: write aborted');
    const commands: Command[] = [];
    const owner: number[] = [];
    const registry = this.#registry ? new RegistryChanges(this.#registry) : undefined;
    events.forEach((event, e) => {
      for (const command of this.commandsFor(event, registry)) {
        commands.push(command);
        owner.push(e);
      }
    });
    // the registry after the rows: a reply error on it fails the whole batch (owner -1)
    for (const command of registry?.commands() ?? []) {
      commands.push(command);
      owner.push(-1);
    }
    if (commands.length === 0) return events.map(() => ({ status: 'ok' }));

    let replies: CommandError[];
    try {
      await connectRedis(this.client);
      replies = await this.#run(commands, fence);
    } catch (error) {
      if (error instanceof FencedError) throw error;
      if (signal.aborted) throw new AbortedError('redis: write aborted');
      const reason = `redis: ${redisErrorText(error)}`;
      return events.map(() => ({ status: 'retry', reason }));
    }

    // A replica answers READONLY to each write: connected to one (a primary demoted while the
    // connection stayed open, or an address that is not the primary), nothing of the batch is the
    // events' fault. Never dead-letter for it; connect again (Sentinel: to the primary it names).
    const readOnly = replies.find((error) => error && /^READONLY\b/.test(error.message));
    if (readOnly) {
      if (!(this.client instanceof Cluster)) this.client.disconnect(true);
      const reason = `redis: ${redisErrorText(readOnly)} (connected to a replica: connecting again; the batch is sent again)`;
      return events.map(() => ({ status: 'retry', reason }));
    }
    // Redis Cluster: the slot groups of some events did not land (a node down) while others did
    const undelivered = new Map<number, string>();
    const failed = new Map<number, string>();
    replies.forEach((error, i) => {
      if (error instanceof UndeliveredError) {
        if (!undelivered.has(owner[i] as number)) undelivered.set(owner[i] as number, `redis: ${error.message}`);
        return;
      }
      if (error && !failed.has(owner[i] as number)) {
        failed.set(
          owner[i] as number,
          `redis reply error on ${(commands[i] as Command)[0].toUpperCase()} ${(commands[i] as Command)[1]}: ${redisErrorText(error)}`,
        );
      }
    });
    if (undelivered.size > 0) {
      const reason = [...undelivered.values()][0] as string;
      // The runtime sends the batch again from the first event that did not land: the ones before it
      // are done, not written twice. With the registry's commands missing, or reply errors beside,
      // the whole batch goes again (the registry must not lag the rows it names).
      if (undelivered.has(-1) || failed.size > 0) return events.map(() => ({ status: 'retry', reason }));
      return events.map((_, e) => (undelivered.has(e) ? { status: 'retry', reason: undelivered.get(e)! } : { status: 'ok' }));
    }
    if (failed.size === 0) return events.map(() => ({ status: 'ok' }));
    const registryError = failed.get(-1);
    if (registryError !== undefined) {
      // the table registry is Tunnel's own bookkeeping: never a row's fault, always worth a retry
      return events.map(() => ({ status: 'retry', reason: `${registryError} (the table registry; the batch is retried)` }));
    }
    if (this.#options.onReplyError === 'reject') {
      return events.map((_, e) => {
        const reason = failed.get(e);
        return reason === undefined ? { status: 'ok' } : { status: 'rejected', reason };
      });
    }
    // The whole batch fails: the position does not move until the offending key is fixed.
    const [first, firstReason] = [...failed.entries()][0] as [number, string];
    const reason = `${firstReason} (event ${first + 1} of ${events.length}${failed.size > 1 ? `, ${failed.size} events with errors` : ''}; the batch is retried)`;
    return events.map(() => ({ status: 'retry', reason }));
  }

  /**
   * TRUNCATE, DROP (and DROP DATABASE) remove the table's keys; RENAME moves them to the new name;
   * ALTER and CREATE change nothing in Redis (a row's next write has the new columns).
   */
  async applySchemaChange(change: SchemaChangeEvent, { signal, task, epoch }: SchemaChangeContext): Promise<DeliveryResult> {
    const keys = this.#tableKeys({ task, epoch });
    if (!keys)
      return {
        status: 'rejected',
        reason: `redis: ${change.change} of ${change.schema}.${change.table} cannot be applied without the table registry (registry: false)`,
      };
    try {
      await connectRedis(this.client);
      switch (change.change) {
        case 'truncate':
        case 'drop':
          await removeTableKeys(keys, change.schema, change.table, signal);
          break;
        case 'drop-database':
          for (const table of await tablesOf(keys, change.schema)) await removeTableKeys(keys, change.schema, table, signal);
          break;
        case 'rename':
          if (change.to) await moveTableKeys(keys, change, change.to, signal);
          break;
        default:
          break;
      }
      return { status: 'ok' };
    } catch (error) {
      if (error instanceof FencedError) throw error;
      if (signal.aborted) throw new AbortedError('redis: schema change aborted');
      return { status: 'retry', reason: `redis: ${change.change} of ${change.schema}.${change.table}: ${redisErrorText(error)}` };
    }
  }

  #tableKeys(fence: WriteFence): TableKeys | undefined {
    const registry = this.#registry;
    if (!registry) return undefined;
    const keys: TableKeys = {
      client: this.client,
      send: async (commands) => {
        for (const [i, error] of (await this.#run(commands, fence)).entries()) {
          // a RENAME of a key moved already (an operation run again after a crash)
          if (error && !/no such key/i.test(error.message))
            throw new SinkError(`${String(commands[i]![0]).toUpperCase()} ${String(commands[i]![1])}: ${error.message}`);
        }
      },
      registry,
      rowKey: (schema, table, id) => this.#key.render({ schema, table, id }),
      newChanges: () => new RegistryChanges(registry),
    };
    if (this.#indexes.length > 0) keys.rebuildIndexes = (schema, table, ids, changes) => this.#rebuildIndexes(schema, table, ids, changes);
    return keys;
  }

  /** Index commands for moved rows, from the values their keys hold now (hash fields or JSON). */
  async #rebuildIndexes(schema: string, table: string, ids: string[], changes: RegistryChanges): Promise<Command[]> {
    const o = this.#options;
    if (typeof o.value === 'function') {
      this.#logger?.warn({ table: `${schema}.${table}` }, 'redis: the indexes of a renamed table are not rebuilt when `value` is a function');
      return [];
    }
    const columns = [...new Set(this.#indexes.map((index) => index.column))];
    const client = this.client;
    // one page of reads at once: ioredis writes them back to back on the connection
    const rows = await Promise.all(
      ids.map(async (id): Promise<[string, Record<string, ColumnValue>] | undefined> => {
        const key = this.#key.render({ schema, table, id });
        if (o.value === 'hash') {
          const found = await client.hmget(key, ...columns);
          return [id, Object.fromEntries(columns.map((column, i) => [column, found[i] ?? null]))];
        }
        const text = await client.get(key);
        return text === null ? undefined : [id, JSON.parse(text) as Record<string, ColumnValue>];
      }),
    );
    const out: Command[] = [];
    for (const row of rows) if (row) this.#indexCommands({ schema, table }, out, changes, undefined, { id: row[0], values: row[1] });
    return out;
  }

  /**
   * One error (or null) per command; FencedError when Redis holds a newer epoch of the task. With
   * `waitForReplicas`, a SinkError (the batch is retried) unless enough replicas have the writes.
   */
  async #run(commands: Command[], fence: WriteFence): Promise<CommandError[]> {
    const client = this.client;
    const connection = client instanceof Cluster ? undefined : client.stream;
    const errors = await this.#send(commands, fence);
    const wait = this.#options.waitForReplicas;
    if (wait && !(client instanceof Cluster)) {
      // WAIT covers every write this connection made before it: the whole batch. On a connection
      // made since (a reconnect, perhaps to a promoted replica) it would cover none of them.
      const acknowledged = await client.wait(wait.replicas, wait.timeoutMs);
      if (client.stream !== connection) throw new SinkError('the connection to redis was made again while waiting for replicas; the batch is sent again');
      if (acknowledged < wait.replicas) {
        throw new SinkError(
          `${acknowledged} of the ${wait.replicas} replicas asked for (waitForReplicas) acknowledged the writes within ${wait.timeoutMs} ms; the batch is sent again`,
        );
      }
    }
    return errors;
  }

  async #send(commands: Command[], fence: WriteFence): Promise<CommandError[]> {
    const client = this.client;
    if (this.#options.fence !== false) {
      this.#fenced ??= new FencedWriter(client, this.#options.fence.keyPrefix);
      const split = splitLongCommands(commands);
      const errors = await this.#fenced.run(split, fence, this.#options.transaction ? split.length : PIPELINE_CHUNK);
      // a split command answers once, with the first error of its parts
      return split === commands ? errors : foldSplit(commands, split, errors);
    }
    if (client instanceof Cluster) {
      // Keys of a batch live on several nodes: send each command on its own, auto-pipelined per
      // node by ioredis; per key they go out in order on that node's connection.
      const settled = await Promise.allSettled(commands.map(([name, ...args]) => client.call(name, ...args)));
      return settled.map((s) => (s.status === 'fulfilled' ? null : s.reason instanceof Error ? s.reason : new SinkError(String(s.reason))));
    }
    if (this.#options.transaction) {
      const replies = await client.multi(commands).exec();
      if (!replies) throw new SinkError('the transaction was discarded (EXEC returned nothing)');
      return replies.map(([error]) => error);
    }
    // Pipelines of PIPELINE_CHUNK commands written back to back on the one connection, which keeps
    // their order: Redis runs the first while the next is encoded, and ioredis never builds one huge
    // write.
    const parts: Array<Promise<Array<[Error | null, unknown]> | null>> = [];
    for (let i = 0; i < commands.length; i += PIPELINE_CHUNK) parts.push(client.pipeline(commands.slice(i, i + PIPELINE_CHUNK)).exec());
    const errors: CommandError[] = [];
    for (const part of await Promise.all(parts)) {
      if (!part) throw new SinkError('a pipeline was discarded (no replies)');
      for (const [error] of part) errors.push(error);
    }
    return errors;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#fenced = undefined;
    await closeRedisClient(client);
  }
}

/** The errors of commands that splitLongCommands cut into parts, one per original command. */
function foldSplit(commands: Command[], split: Command[], errors: CommandError[]): CommandError[] {
  const out: CommandError[] = [];
  let at = 0;
  for (const command of commands) {
    // the parts of a command follow each other and share its name and key
    let error: CommandError = null;
    let args = command.length - 2;
    do {
      const part = split[at]!;
      error ??= errors[at] ?? null;
      args -= part.length - 2;
      at++;
    } while (args > 0);
    out.push(error);
  }
  return out;
}
