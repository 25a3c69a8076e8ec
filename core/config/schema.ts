import { z } from 'zod';
import type { TunnelPlugin } from '../pipeline/index.ts';
import { warnRenamedKey } from './deprecation.ts';

const plugin = z.custom<TunnelPlugin>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    (value as { name: string }).name.length > 0 &&
    typeof (value as { apply?: unknown }).apply === 'function',
  { message: 'expected a plugin: an object with a non-empty string `name` and an `apply(hooks, context)` function' },
);

const port = z.number().int().min(1).max(65535);
const positiveInt = z.number().int().positive();

const binlogPosition = z
  .object({
    file: z.string().min(1),
    offset: z.number().int().nonnegative(),
    gtid: z.string().optional(),
    gtidSet: z.string().optional(),
    server: z.string().min(1).optional(),
    generation: z.number().int().nonnegative().optional(),
  })
  .strict();

/** One candidate server of `source.hosts`: `"host"`, `"host:port"`, `"[v6]:port"` or `{ host, port }`. */
const candidate = z.union(
  [
    z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+)(:\d{1,5})?$/, 'expected "host" or "host:port"'),
    z.object({ host: z.string().min(1), port: port.default(3306) }).strict(),
  ],
  { error: 'expected "host:port" or { host, port }' },
);

/** `"host:port"` or `{ host, port }` as `{ host, port }` (port 3306 unless given). */
function hostPort(value: z.output<typeof candidate>): { host: string; port: number } {
  if (typeof value !== 'string') return value;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(value);
  return { host: (match?.[1] ?? value).replace(/^\[|\]$/g, ''), port: match?.[2] ? Number(match[2]) : 3306 };
}

const source = z
  .object({
    /** The database server; or `hosts`, several candidates. */
    host: z.string().min(1).optional(),
    port: port.optional(),
    /**
     * The servers of one replication topology a task may read, in order of preference: it reads the
     * first that answers, and when that one is lost, the next, resuming from the GTID set
     * (docs/configuration.md, "Failover").
     */
    hosts: z.array(candidate).min(1).optional(),
    user: z.string().min(1),
    password: z.string().default(''),
    /** Replication server id; must differ from every other replica of this server. */
    serverId: positiveInt.max(4294967295),
    include: z.array(z.string().min(1)).default([]),
    exclude: z.array(z.string().min(1)).default([]),
    /** Where a task without a stored position starts. */
    startFrom: z.union([z.enum(['latest', 'earliest']), binlogPosition]).default('latest'),
    ssl: z.record(z.string(), z.unknown()).optional(),
    /**
     * After the replication connection is lost: attempts with backoff from `initialDelayMs` doubling
     * up to `maxDelayMs`, and the task fails after `maxAttempts` in a row that made no progress. With
     * `hosts`, each attempt asks every candidate.
     */
    reconnect: z
      .object({ initialDelayMs: positiveInt.default(100), maxDelayMs: positiveInt.default(10_000), maxAttempts: positiveInt.default(20) })
      .strict()
      .default({ initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: 20 }),
  })
  .strict()
  .superRefine((s, ctx) => {
    // both forms, as a resolved config has them: host and port must name the first of hosts
    const first = s.hosts?.[0];
    if (first !== undefined && first !== null && (s.host !== undefined || s.port !== undefined)) {
      const { host, port } = hostPort(first);
      const path = s.host !== undefined && s.host !== host ? 'host' : s.port !== undefined && s.port !== port ? 'port' : undefined;
      if (path) ctx.addIssue({ code: 'custom', path: [path], message: 'give either `host` (and `port`) or `hosts`, not both', input: s[path] });
    }
    if (!s.hosts && s.host === undefined) {
      // reads "missing, expected string, or `hosts` (several servers)"
      ctx.addIssue({ code: 'invalid_type', path: ['host'], expected: 'string, or `hosts` (several servers)' as 'string', input: undefined });
    }
    if (s.hosts) {
      const seen = new Set<string>();
      s.hosts.forEach((h, i) => {
        // refinements run on entries that failed their own checks too: those are reported already
        if (h === null || (typeof h !== 'string' && typeof h !== 'object')) return;
        const { host, port } = hostPort(h);
        if (seen.has(`${host}:${port}`)) ctx.addIssue({ code: 'custom', path: ['hosts', i], message: `${host}:${port} is listed twice`, input: h });
        seen.add(`${host}:${port}`);
      });
    }
  })
  .transform(({ hosts, host, port, ...rest }) => {
    const candidates = hosts ? hosts.map(hostPort) : [{ host: host!, port: port ?? 3306 }];
    // host and port name the first candidate, for what reads one server (the snapshot, status)
    return { ...rest, host: candidates[0]!.host, port: candidates[0]!.port, hosts: candidates };
  });

/**
 * Batch limits, as a task's `batch` and a sink's `batch` option take them. A field the task leaves out
 * is the sink's own (its `batchLimits`, from its options), else the default (core/runtime/batch-limits.ts).
 */
export const batchLimitsSchema = z
  .object({
    /** Most row changes in one batch (a binlog event of a multi-row statement counts each of its rows). */
    maxRows: positiveInt.optional(),
    /** @deprecated The old name of `maxRows`. */
    maxEvents: positiveInt.optional(),
    /** Most estimated bytes in one batch. */
    maxBytes: positiveInt.optional(),
    /** Longest a non-empty batch waits before it is written. */
    maxWaitMs: z.number().int().nonnegative().optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.maxEvents !== undefined && b.maxRows !== undefined && b.maxEvents !== b.maxRows) {
      ctx.addIssue({ code: 'custom', path: ['maxEvents'], message: 'the old name of `maxRows`, which is given too: keep only `maxRows`', input: b.maxEvents });
    }
  })
  .transform(({ maxEvents, ...limits }) => {
    if (maxEvents === undefined) return limits;
    warnRenamedKey('batch.maxEvents', 'batch.maxRows', 'it counts row changes');
    return { ...limits, maxRows: limits.maxRows ?? maxEvents };
  });

const retry = z
  .object({
    initialDelayMs: positiveInt.default(100),
    maxDelayMs: positiveInt.default(30_000),
  })
  .strict();

const deadLetter = z.discriminatedUnion('type', [
  z.object({ type: z.literal('file'), path: z.string().min(1) }).strict(),
  z.object({ type: z.literal('sink'), sink: z.string().min(1) }).strict(),
  /** A plugin registers the store (e.g. `redisDeadLetterStore()` from sinks/redis). */
  z.object({ type: z.literal('plugin') }).strict(),
]);

const schemaPolicy = z.enum(['propagate', 'ignore', 'stop']);

/** What the sinks do with each kind of schema change (docs/schema-changes.md). */
const schemaChanges = z
  .object({
    /** TRUNCATE TABLE: propagate removes the table's documents and keys. */
    truncate: schemaPolicy.default('propagate'),
    /** DROP TABLE and DROP DATABASE: propagate removes the tables' documents and keys. */
    drop: schemaPolicy.default('propagate'),
    /** RENAME TABLE: propagate moves the documents and keys to the new name. */
    rename: schemaPolicy.default('propagate'),
    /** ALTER TABLE: propagate tells the sinks; resync reads the table again. */
    alter: z.enum(['propagate', 'resync', 'ignore', 'stop']).default('propagate'),
  })
  .strict();

export const taskSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a task name of letters, digits, ".", "_" and "-"'),
    source,
    plugins: z.array(plugin).default([]),
    batch: batchLimitsSchema.default({}),
    /**
     * Row changes read but not yet acknowledged by every sink (counted per sink it goes to); at the
     * cap the source pauses, below half of it the source resumes. Default 20,000.
     */
    maxInFlightRows: positiveInt.optional(),
    /** @deprecated The old name of `maxInFlightRows`. */
    maxInFlightEvents: positiveInt.optional(),
    retry: retry.default({ initialDelayMs: 100, maxDelayMs: 30_000 }),
    /** What a plugin that throws on an event does: stop the task, or dead-letter the event and go on. */
    onPluginError: z.enum(['stop', 'dead-letter']).default('stop'),
    deadLetter: deadLetter.optional(),
    snapshot: z.enum(['never', 'initial', 'always']).default('never'),
    schemaChanges: schemaChanges.default({ truncate: 'propagate', drop: 'propagate', rename: 'propagate', alter: 'propagate' }),
    snapshotChunkRows: positiveInt.default(5000),
    /** How often the committed position is written to the store. */
    commitIntervalMs: positiveInt.default(200),
    /** Run only on this node (cluster mode). */
    pin: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.maxInFlightEvents !== undefined && t.maxInFlightRows !== undefined && t.maxInFlightEvents !== t.maxInFlightRows) {
      const message = 'the old name of `maxInFlightRows`, which is given too: keep only `maxInFlightRows`';
      ctx.addIssue({ code: 'custom', path: ['maxInFlightEvents'], message, input: t.maxInFlightEvents });
    }
  })
  .transform(({ maxInFlightEvents, maxInFlightRows, ...task }) => {
    if (maxInFlightEvents !== undefined) warnRenamedKey('maxInFlightEvents', 'maxInFlightRows', 'it counts row changes');
    return { ...task, maxInFlightRows: maxInFlightRows ?? maxInFlightEvents ?? 20_000 };
  });

const zookeeper = z
  .object({
    connect: z.string().min(1),
    sessionTimeoutMs: positiveInt.default(10_000),
    auth: z
      .object({ user: z.string().min(1), password: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Without this section Tunnel runs standalone: one worker, every task, positions in local files. */
    cluster: z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+$/)
          .default('default'),
        group: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+$/)
          .default('default'),
        /** This worker's id in the registry; defaults to host:port of its status endpoint. */
        node: z.string().min(1).optional(),
        zookeeper,
      })
      .strict()
      .optional(),
    positions: z
      .object({ dir: z.string().min(1).default('.tunnel/positions') })
      .strict()
      .default({ dir: '.tunnel/positions' }),
    deadLetters: z
      .object({ dir: z.string().min(1).default('.tunnel/dead-letters') })
      .strict()
      .default({ dir: '.tunnel/dead-letters' }),
    status: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** 0 picks a free port; `false` turns the endpoint off. */
        port: z.union([port, z.literal(0), z.literal(false)]).default(8090),
        /** When set, every endpoint but /healthz requires `Authorization: Bearer <token>`. */
        token: z.string().min(1).optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8090 }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), pretty: z.boolean().optional() })
      .strict()
      .default({ level: 'info' }),
    /** Longest a graceful shutdown waits for in-flight batches before it aborts them. */
    shutdownTimeoutMs: positiveInt.default(30_000),
    tasks: z.array(taskSchema).min(1, 'expected at least one task'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.tasks.forEach((task, index) => {
      const first = seen.get(task.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tasks', index, 'name'],
          message: `duplicate task name "${task.name}" (also tasks[${first}].name); task names must be unique`,
        });
      } else seen.set(task.name, index);
    });
  });

/** What the user writes: every defaulted field optional. */
export type TunnelConfig = z.input<typeof configSchema>;
export type TaskConfig = z.input<typeof taskSchema>;
/** What Tunnel runs: validated, defaulted, frozen. */
export type ResolvedConfig = Readonly<z.output<typeof configSchema>>;
export type ResolvedTask = Readonly<z.output<typeof taskSchema>>;
