import { z } from 'zod';
import { parseOptions } from '../../core/config/issues.ts';
import { sinkBatchOptionSchema } from '../../core/config/sink-options.ts';
import { isUrlOf } from '../../core/config/validators.ts';
import { compileTemplate, type RowEvent } from '../../core/event/index.ts';

/** A value written per row: a string (SET) or fields (HSET; a null or undefined field is removed). */
export type RedisValueFunction = (event: RowEvent, rowIndex: number) => string | Record<string, string | null | undefined>;

const positiveInt = z.number().int().positive();
const port = z.number().int().min(1).max(65535);
const hostPort = z.object({ host: z.string().min(1), port }).strict();

const isRedisUrl = (value: string): boolean => isUrlOf(value, ['redis:', 'rediss:']);

const tls = z
  .object({
    ca: z.union([z.string().min(1), z.instanceof(Buffer)]).optional(),
    cert: z.union([z.string().min(1), z.instanceof(Buffer)]).optional(),
    key: z.union([z.string().min(1), z.instanceof(Buffer)]).optional(),
    rejectUnauthorized: z.boolean().optional(),
    servername: z.string().min(1).optional(),
  })
  .strict();

/**
 * How to reach Redis, as ioredis offers it: a URL; or host/port (standalone); or `sentinels` + `name`
 * (Sentinel: the master named `name`); or `cluster` (a list of seed nodes, Redis Cluster).
 */
export const connectionSchema = z
  .object({
    url: z.string().refine(isRedisUrl, { error: 'expected a redis:// or rediss:// URL' }).optional(),
    host: z.string().min(1).optional(),
    port: port.optional(),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    db: z.number().int().nonnegative().optional(),
    tls: tls.optional(),
    sentinels: z.array(hostPort).min(1).optional(),
    /** The Sentinel master group name. */
    name: z.string().min(1).optional(),
    sentinelUsername: z.string().min(1).optional(),
    sentinelPassword: z.string().optional(),
    cluster: z.array(hostPort).min(1).optional(),
    /** Cluster or Sentinel behind NAT: announced "host:port" -> reachable { host, port }. */
    natMap: z.record(z.string(), hostPort).optional(),
    connectTimeoutMs: positiveInt.default(10_000),
    /** A command without a reply after this long fails (and the batch is retried). */
    commandTimeoutMs: positiveInt.default(10_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    const bad = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message, input: (c as Record<string, unknown>)[path] });
    if (c.cluster && c.sentinels) bad('cluster', 'choose one of `cluster` and `sentinels`');
    if ((c.cluster || c.sentinels) && c.url) bad('url', 'not with `cluster` or `sentinels` (give their nodes instead)');
    if ((c.cluster || c.sentinels) && (c.host || c.port)) bad(c.host ? 'host' : 'port', 'not with `cluster` or `sentinels` (give their nodes instead)');
    if (c.sentinels && !c.name) bad('name', 'required with `sentinels`: the name of the master group');
    if (c.cluster && c.db !== undefined && c.db !== 0) bad('db', 'Redis Cluster has only db 0');
    if (c.url && (c.host || c.port)) bad('url', 'give either `url` or `host`/`port`');
  });

export type RedisConnectionOptions = z.input<typeof connectionSchema>;
export type ResolvedRedisConnection = z.output<typeof connectionSchema>;

const connection = z.union([z.string().refine(isRedisUrl, { error: 'expected a redis:// or rediss:// URL' }), connectionSchema], {
  error: 'expected a redis:// URL or connection options',
});

const valueFunction = z.custom<RedisValueFunction>((v) => typeof v === 'function', { error: 'expected a function', params: { typeCheck: true } });

const setIndex = z
  .object({
    type: z.literal('set'),
    column: z.string().min(1),
    /** Placeholders {schema} {table} {column} {value}. */
    key: z.string().min(1).default('{schema}:{table}:by:{column}:{value}'),
  })
  .strict();

const zsetIndex = z
  .object({
    type: z.literal('zset'),
    /** The column whose numeric value is the score. */
    column: z.string().min(1),
    /** Placeholders {schema} {table} {column}. */
    key: z.string().min(1).default('{schema}:{table}:by:{column}'),
  })
  .strict();

export const redisOptionsSchema = z
  .object({
    name: z.string().min(1).default('redis'),
    connection: connection.default({ host: '127.0.0.1', port: 6379, connectTimeoutMs: 10_000, commandTimeoutMs: 10_000 }),
    /** Key per row, placeholders {schema} {table} {id} (id = documentId of the primary key). */
    key: z.string().min(1).default('{schema}:{table}:{id}'),
    /** 'hash' (a field per column), 'json' (SET of the row as JSON) or a function of (event, rowIndex). */
    value: z.union([z.enum(['hash', 'json']), valueFunction], { error: 'expected "hash", "json" or a function' }).default('hash'),
    /** Expire written keys after this many seconds (refreshed on every write of the row). */
    ttlSeconds: positiveInt.optional(),
    /** Secondary indexes kept beside the rows: sets of ids per column value, sorted sets by a column. */
    indexes: z.array(z.discriminatedUnion('type', [setIndex, zsetIndex])).default([]),
    /**
     * Each batch in one script, so it lands whole or not at all (standalone and Sentinel only;
     * without it a batch is sent as scripts of 500 commands, each atomic on its own).
     */
    transaction: z.boolean().default(false),
    /**
     * Fencing (docs/sinks.md): every write runs in a Lua script that refuses it when Redis holds a
     * newer ownership epoch of the task, kept under `keyPrefix` + the task name. `false` sends plain
     * pipelines (a Redis where scripts are not allowed); a stale owner can then overwrite newer keys
     * in the moment between its session check and its write.
     */
    fence: z
      .union(
        [
          z.literal(false),
          z
            .object({
              keyPrefix: z
                .string()
                .min(1)
                .regex(/^[^{}]*$/, 'expected no { or }')
                .default('tunnel:epoch:'),
            })
            .strict(),
        ],
        {
          error: 'expected false or { keyPrefix }',
        },
      )
      .default({ keyPrefix: 'tunnel:epoch:' }),
    /**
     * Redis replicates asynchronously: a primary that dies (and whose replica is promoted) loses what
     * it acknowledged but had not sent on yet, and Tunnel, having stored its position past those
     * writes, never sends them again. With this option a batch counts as written only once `replicas`
     * replicas have it (Redis WAIT on the connection that wrote it, up to `timeoutMs`); fewer, and the
     * batch is sent again (standalone and Sentinel; not with `cluster`). Writes then stop while fewer
     * replicas than that answer.
     */
    waitForReplicas: z
      .object({
        replicas: positiveInt,
        timeoutMs: positiveInt.default(1000),
      })
      .strict()
      .optional(),
    /**
     * A reply error (e.g. WRONGTYPE): 'retry' fails the whole batch, so the position does not move
     * until the key is fixed; 'reject' dead-letters only the events whose commands failed.
     */
    onReplyError: z.enum(['retry', 'reject']).default('retry'),
    /**
     * The table registry: which row ids and index keys each table has (sets under `prefix`), so that
     * TRUNCATE, DROP and RENAME find a table's keys without scanning the keyspace. `false` turns it
     * off (schema changes then cannot be applied to this sink; docs/schema-changes.md).
     */
    registry: z
      .union([z.literal(false), z.object({ prefix: z.string().min(1).default('tunnel:') }).strict()], { error: 'expected false or { prefix }' })
      .default({ prefix: 'tunnel:' }),
    batch: sinkBatchOptionSchema,
  })
  .strict()
  .superRefine((o, ctx) => {
    const check = (template: string, allowed: string[], path: (string | number)[]) => {
      try {
        compileTemplate(template, allowed);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path, message: (error as Error).message, input: template });
      }
    };
    check(o.key, ['schema', 'table', 'id'], ['key']);
    o.indexes.forEach((index, i) => {
      check(index.key, index.type === 'set' ? ['schema', 'table', 'column', 'value'] : ['schema', 'table', 'column'], ['indexes', i, 'key']);
      if (o.registry !== false && !index.key.includes('{table}')) {
        ctx.addIssue({
          code: 'custom',
          path: ['indexes', i, 'key'],
          message: "must contain {table}: a table's index keys are removed with the table (TRUNCATE, DROP, RENAME); or set `registry: false`",
          input: index.key,
        });
      }
    });
    if (o.waitForReplicas && typeof o.connection === 'object' && o.connection.cluster) {
      ctx.addIssue({
        code: 'custom',
        path: ['waitForReplicas'],
        message: "not available with `cluster` (a batch's keys live on several primaries)",
        input: o.waitForReplicas,
      });
    }
    if (o.transaction && typeof o.connection === 'object' && o.connection.cluster) {
      ctx.addIssue({ code: 'custom', path: ['transaction'], message: "not available with `cluster` (a batch's keys live on several nodes)", input: true });
    }
  });

export type RedisOptions = z.input<typeof redisOptionsSchema>;
export type ResolvedRedisOptions = z.output<typeof redisOptionsSchema>;

export function parseRedisOptions(input: unknown): ResolvedRedisOptions {
  return parseOptions(redisOptionsSchema, input, 'redis');
}

export const deadLetterStoreOptionsSchema = z
  .object({
    connection: connection.default({ host: '127.0.0.1', port: 6379, connectTimeoutMs: 10_000, commandTimeoutMs: 10_000 }),
    /** The list per task; placeholder {task}. */
    key: z.string().min(1).default('tunnel:dead-letters:{task}'),
    /** The set of task names that have dead letters (for listing across tasks). */
    tasksKey: z.string().min(1).default('tunnel:dead-letters:tasks'),
    /** Keep only the newest this many letters per task (LTRIM); unbounded when absent. */
    maxLength: positiveInt.optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    try {
      compileTemplate(o.key, ['task']);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['key'], message: (error as Error).message, input: o.key });
    }
  });

export type RedisDeadLetterStoreOptions = z.input<typeof deadLetterStoreOptionsSchema>;
export type ResolvedRedisDeadLetterStoreOptions = z.output<typeof deadLetterStoreOptionsSchema>;

export function parseDeadLetterStoreOptions(input: unknown): ResolvedRedisDeadLetterStoreOptions {
  return parseOptions(deadLetterStoreOptionsSchema, input, 'redisDeadLetterStore');
}

// ---------------------------------------------------------------------------------------------
