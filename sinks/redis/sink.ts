import { Cluster } from 'ioredis';
import { AbortedError, FencedError, SinkError, tlsError, type TlsError } from '../../core/errors/index.ts';
import { compileTemplate, documentId, keyValues, type ColumnValue, type CompiledTemplate, type RowEvent } from '../../core/event/index.ts';
import type { BatchLimits, DeliveryResult, SchemaChangeContext, Sink, SinkBatch, WriteFence } from '../../core/sink/index.ts';
import type { SchemaChangeEvent } from '../../core/event/index.ts';
import { moveTableKeys, removeTableKeys, tablesOf, type TableKeys } from './table-changes.ts';
import type { Logger } from '../../core/log/index.ts';
import { closeRedisClient, connectRedis, createRedisClient, redisErrorText, redisWhere, type RedisClient } from './connection.ts';
import type { ResolvedRedisOptions } from './options.ts';

import type { Command } from './commands.ts';
import { RegistryChanges, TableRegistry } from './table-registry.ts';
import { RespConnection, respEndpoint } from './resp-connection.ts';
import { RespEncoder, type RespArg } from './resp.ts';
import { RespBatch, ScriptMissingError, loadFencedScript, type BatchOutcome } from './resp-batch.ts';
import { FencedWriter, UndeliveredError, epochKey, splitLongCommands, type CommandError } from './fenced-writer.ts';
import { RowCommands, type IndexPlan, type IndexRow } from './row-commands.ts';

export { redisText } from './row-commands.ts';

/** Commands per ioredis pipeline write or fenced script (Sentinel, Cluster; a batch of 2,000 rows is ~4 writes). */
const PIPELINE_CHUNK = 500;

export class RedisSink implements Sink {
  readonly batchLimits: Partial<BatchLimits>;
  readonly #options: ResolvedRedisOptions;
  readonly #key: CompiledTemplate;
  readonly #indexes: IndexPlan[];
  readonly #registry: TableRegistry | undefined;
  readonly #rows: RowCommands;
  #client: RedisClient | undefined;
  /** The writer of row batches on a standalone server (undefined for Sentinel, Cluster and `transaction`). */
  #writer: RespConnection | undefined;
  /** The fenced-write script loaded on the writer's server (resp-batch.ts); reset when Redis lost it. */
  #scriptLoaded: Promise<void> | undefined;
  /** The fenced writes through the ioredis client (fenced-writer.ts); undefined with `fence: false`. */
  #fenced: FencedWriter | undefined;
  readonly #encoder = new RespEncoder();
  #logger: Logger | undefined;
  #lastError = { text: '', at: 0 };
  /** The last connection attempt failed TLS verification: why, naming the server (a start fails with it). */
  #tlsRefusal: TlsError | undefined;

  constructor(options: ResolvedRedisOptions) {
    this.#options = options;
    this.#key = compileTemplate(options.key, ['schema', 'table', 'id']);
    this.#indexes = options.indexes.map((index) => ({ type: index.type, column: index.column, key: compileTemplate(index.key) }));
    this.#rows = new RowCommands(options, this.#key, this.#indexes);
    this.batchLimits = { maxRows: 1000, ...options.batch };
    this.#registry = options.registry === false ? undefined : new TableRegistry(options.registry.prefix);
  }

  /** The writer, made on first use on a standalone server without `transaction`. */
  get #respWriter(): RespConnection | undefined {
    // WAIT (waitForReplicas) and MULTI (transaction) stay with the ioredis client
    if (this.#writer || this.#options.transaction || this.#options.waitForReplicas) return this.#writer;
    const endpoint = respEndpoint(this.#options.connection);
    if (endpoint) this.#writer = new RespConnection(endpoint);
    return this.#writer;
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
      await this.#respWriter?.connect();
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
    return this.#rows.rowKey(event.schema, event.table, documentId(keyValues(event, rowIndex, image)));
  }

  /**
   * The commands that bring Redis to the state after this event (idempotent: replays converge);
   * `registry` collects which ids and index keys the table now has.
   */
  commandsFor(event: RowEvent, registry?: RegistryChanges): Command[] {
    const out: Command[] = [];
    this.#rows.emit(event, (args) => out.push(args.slice() as Command), registry);
    return out;
  }

  async write(batch: SinkBatch): Promise<DeliveryResult[]> {
    const { events, signal } = batch;
    const fence: WriteFence = { task: batch.task, epoch: batch.epoch };
    if (signal.aborted) throw new AbortedError('redis: write aborted');
    const writer = this.#respWriter;
    let outcome: BatchOutcome | undefined;
    try {
      if (!writer) outcome = await this.#writeClient(events, fence);
      else {
        try {
          outcome = await this.#writeResp(writer, events, fence);
        } catch (error) {
          if (!(error instanceof ScriptMissingError)) throw error;
          // Redis lost the script (restarted, SCRIPT FLUSH): nothing of the refused parts ran; the
          // whole batch again, in order, converges whatever parts did run
          this.#scriptLoaded = undefined;
          outcome = await this.#writeResp(writer, events, fence);
        }
      }
    } catch (error) {
      if (error instanceof FencedError) throw error;
      if (signal.aborted) throw new AbortedError('redis: write aborted');
      const reason = `redis: ${redisErrorText(error)}`;
      return events.map(() => ({ status: 'retry', reason }));
    }
    const { owner, errors, readOnly, undelivered } = outcome;
    // A replica answers READONLY to each write: connected to one (a primary demoted while the
    // connection stayed open, or an address that is not the primary), nothing of the batch is the
    // events' fault. Never dead-letter for it; connect again (Sentinel: to the primary it names).
    if (readOnly !== undefined) {
      this.#writer?.drop();
      if (this.#client && !(this.#client instanceof Cluster)) this.#client.disconnect(true);
      const reason = `redis: ${readOnly} (connected to a replica: connecting again; the batch is sent again)`;
      return events.map(() => ({ status: 'retry', reason }));
    }
    if (errors.size === 0 && !undelivered) return events.map(() => ({ status: 'ok' }));
    // the first error of each event (or of the registry, owner -1)
    const failed = new Map<number, string>();
    for (const [i, message] of errors) if (!failed.has(owner[i]!)) failed.set(owner[i]!, message);
    if (undelivered) {
      // Redis Cluster: the slot groups of some events did not land (a node down) while others did
      const byEvent = new Map<number, string>();
      for (const [i, message] of undelivered) if (!byEvent.has(owner[i]!)) byEvent.set(owner[i]!, message);
      const reason = [...byEvent.values()][0]!;
      // The runtime sends the batch again from the first event that did not land: the ones before it
      // are done, not written twice. With the registry's commands missing, or reply errors beside,
      // the whole batch goes again (the registry must not lag the rows it names).
      if (byEvent.has(-1) || failed.size > 0) return events.map(() => ({ status: 'retry', reason }));
      return events.map((_, e) => (byEvent.has(e) ? { status: 'retry', reason: byEvent.get(e)! } : { status: 'ok' }));
    }
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
   * A batch on the RESP writer (resp-batch.ts): encoded straight into buffers, written in parts as
   * they fill, each part one call of the fenced-write script unless `fence: false`.
   */
  async #writeResp(writer: RespConnection, events: readonly RowEvent[], fence: WriteFence): Promise<BatchOutcome> {
    await writer.connect();
    const fenceOption = this.#options.fence;
    if (fenceOption !== false) {
      this.#scriptLoaded ??= loadFencedScript(writer).catch((error: unknown) => {
        this.#scriptLoaded = undefined;
        throw error;
      });
      await this.#scriptLoaded;
    }
    // from here to finish() without an await: the encoder is the sink's one
    const batch = new RespBatch(writer, this.#encoder, fenceOption === false ? undefined : { fence, epochKey: epochKey(fenceOption.keyPrefix, fence.task) });
    let e = 0;
    const out = (args: RespArg[]) => batch.add(args, e);
    const registry = this.#registry ? new RegistryChanges(this.#registry) : undefined;
    for (; e < events.length; e++) this.#rows.emit(events[e]!, out, registry);
    // the registry after the rows: a reply error on it fails the whole batch (owner -1)
    e = -1;
    for (const command of registry?.commands() ?? []) out(command as RespArg[]);
    return batch.finish();
  }

  /** A batch through ioredis (Sentinel, Cluster, `transaction`). */
  async #writeClient(events: readonly RowEvent[], fence: WriteFence): Promise<BatchOutcome> {
    const commands: Command[] = [];
    const owner: number[] = [];
    const registry = this.#registry ? new RegistryChanges(this.#registry) : undefined;
    events.forEach((event, e) => {
      this.#rows.emit(
        event,
        (args) => {
          commands.push(args.slice() as Command);
          owner.push(e);
        },
        registry,
      );
    });
    // the registry after the rows: a reply error on it fails the whole batch (owner -1)
    for (const command of registry?.commands() ?? []) {
      commands.push(command);
      owner.push(-1);
    }
    const errors = new Map<number, string>();
    if (commands.length === 0) return { owner, errors };
    await connectRedis(this.client);
    const replies = await this.#run(commands, fence);
    let readOnly: string | undefined;
    let undelivered: Map<number, string> | undefined;
    replies.forEach((error, i) => {
      if (!error) return;
      if (error instanceof UndeliveredError) (undelivered ??= new Map()).set(i, `redis: ${error.message}`);
      else if (/^READONLY\b/.test(error.message)) readOnly ??= redisErrorText(error);
      else errors.set(i, `redis reply error on ${(commands[i] as Command)[0].toUpperCase()} ${(commands[i] as Command)[1]}: ${redisErrorText(error)}`);
    });
    return { owner, errors, ...(readOnly !== undefined ? { readOnly } : {}), ...(undelivered ? { undelivered } : {}) };
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
      rowKey: (schema, table, id) => this.#rows.rowKey(schema, table, id),
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
        const key = this.#rows.rowKey(schema, table, id);
        if (o.value === 'hash') {
          const found = await client.hmget(key, ...columns);
          return [id, Object.fromEntries(columns.map((column, i) => [column, found[i] ?? null]))];
        }
        const text = await client.get(key);
        return text === null ? undefined : [id, JSON.parse(text) as Record<string, ColumnValue>];
      }),
    );
    const out: Command[] = [];
    const read = this.#indexes.map((index) => (row: IndexRow) => (row.values as Record<string, ColumnValue>)[index.column]);
    for (const row of rows) {
      if (row)
        this.#rows.indexCommands({ schema, table }, read, (args) => out.push(args.slice() as Command), changes, undefined, {
          id: row[0],
          values: row[1],
          offset: 0,
        });
    }
    return out;
  }

  /**
   * Commands through the ioredis client (Sentinel, Cluster, `transaction`, `waitForReplicas`, table
   * operations): one error (or null) per command; FencedError when Redis holds a newer epoch of the task. With
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
    const writer = this.#writer;
    this.#client = undefined;
    this.#writer = undefined;
    this.#fenced = undefined;
    this.#scriptLoaded = undefined;
    await Promise.all([closeRedisClient(client), writer?.close()]);
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
