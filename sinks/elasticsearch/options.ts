import { z } from 'zod';
import { parseOptions } from '../../core/config/issues.ts';
import { serializeOptionSchema, sinkBatchOptionSchema } from '../../core/config/sink-options.ts';
import { isHttpUrl } from '../../core/config/validators.ts';
import { compileTemplate, type RowEvent } from '../../core/event/index.ts';
import type { BatchLimits } from '../../core/sink/index.ts';

/** Picks an index per row: e.g. `(event) => \`${event.schema}-${event.table}\``. */
export type IndexFunction = (event: RowEvent, rowIndex: number) => string;

const url = z.string({ error: 'expected a URL' }).refine(isHttpUrl, { error: 'expected a URL' });
const positiveInt = z.number().int().positive();
const jsonObject = z.record(z.string(), z.unknown());

const indexFunction = z.custom<IndexFunction>((value) => typeof value === 'function', { error: 'expected a function', params: { typeCheck: true } });

const auth = z.union(
  [
    z.object({ username: z.string().min(1), password: z.string() }).strict(),
    z.object({ apiKey: z.union([z.string().min(1), z.object({ id: z.string().min(1), api_key: z.string().min(1) }).strict()]) }).strict(),
    z.object({ bearer: z.string().min(1) }).strict(),
  ],
  { error: 'expected { username, password }, { apiKey } or { bearer }' },
);

const tls = z
  .object({
    /** PEM text (or Buffer) of the CA that signed the cluster's certificate. */
    ca: z.union([z.string().min(1), z.instanceof(Buffer)]).optional(),
    rejectUnauthorized: z.boolean().optional(),
    /** SHA-256 fingerprint of the CA (as ES prints it at first start), instead of `ca`. */
    caFingerprint: z.string().min(1).optional(),
  })
  .strict();

const indexDefinition = z
  .object({
    settings: jsonObject.optional(),
    mappings: jsonObject.optional(),
    aliases: jsonObject.optional(),
  })
  .strict();

const indexTemplate = z
  .object({
    index_patterns: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    template: indexDefinition.optional(),
    priority: z.number().int().nonnegative().optional(),
    composed_of: z.array(z.string()).optional(),
    _meta: jsonObject.optional(),
  })
  .strict();

export const elasticsearchOptionsSchema = z
  .object({
    /** Name the sink is registered under (route taps name sinks by it). */
    name: z.string().min(1).default('elasticsearch'),
    /** One URL or several (the client round-robins and fails over). */
    node: z.union([url, z.array(url).min(1)], { error: 'expected a URL or a non-empty list of URLs' }),
    auth: auth.optional(),
    tls: tls.optional(),
    /**
     * Index per row: a template of `{schema}` and `{table}` (lowercased after rendering, as ES needs),
     * a fixed name, or a function of the event and row index (used as returned).
     */
    index: z.union([z.string().min(1), indexFunction], { error: 'expected an index name template or a function' }).default('{schema}_{table}'),
    /**
     * `index` replaces the whole document, with the change's binlog position as its external version,
     * so that an older write never replaces a newer one (docs/sinks.md). `update` merges the row into
     * the document (doc_as_upsert), keeping fields other writers put there; Elasticsearch refuses
     * versions on updates, so these writes are not fenced by version.
     */
    operation: z.enum(['index', 'update']).default('index'),
    /**
     * `index.gc_deletes` of the indices this sink creates (with operation 'index'): how long ES keeps
     * a deleted document's version, and so refuses an older write of it. ES's default is 60s; false
     * leaves it. Each tombstone costs the heap ~127 bytes while it is kept (docs/sinks.md).
     */
    gcDeletes: z.union([z.literal(false), z.string().regex(/^\d+(ms|s|m|h|d)$/, 'expected an ES time value such as "5m"')]).default('5m'),
    /** ES-side retries of an `update` that met a concurrent change. */
    retryOnConflict: z.number().int().nonnegative().default(3),
    refresh: z.union([z.boolean(), z.literal('wait_for')], { error: 'expected true, false or "wait_for"' }).default(false),
    /** Most actions in one bulk request (a row whose key changed takes two). */
    maxBulkActions: positiveInt.default(1000),
    /** Most estimated bytes in one bulk request body. */
    maxBulkBytes: positiveInt.default(5 * 1024 * 1024),
    /** Bulk requests in flight per batch, in lanes by a hash of index and _id (per-document order holds). */
    concurrency: z.number().int().min(1).max(64).default(2),
    requestTimeoutMs: positiveInt.default(30_000),
    /** Retries inside the client on a connection error or 502/503/504, before the runtime's own. */
    maxRetries: z.number().int().nonnegative().default(1),
    /** gzip request bodies. */
    compression: z.boolean().default(false),
    /** Indices created at start() when missing: name -> { settings, mappings, aliases }. */
    indices: z.record(z.string().min(1), indexDefinition).optional(),
    /** Composable index templates put at start(): name -> body of PUT _index_template/<name>. */
    templates: z.record(z.string().min(1), indexTemplate).optional(),
    /**
     * Explicit field mappings derived from the columns' SQL types, put before a table's first document
     * (docs/sinks.md lists them); `json` replaces the mapping of JSON columns. Fields an index already
     * maps (the user's `indices`, templates) keep their mapping. `false`: ES's dynamic mapping only.
     */
    typeMapping: z.union([z.literal(false), z.object({ json: jsonObject.optional() }).strict()], { error: 'expected false or { json?: mapping }' }).default({}),
    /**
     * A field naming each document's table ("schema.table"), so that a TRUNCATE or DROP can remove one
     * table's documents from an index several tables share. Default: "_tunnel_table" when `index` can
     * put several tables in one index (a name without {table}, or a function), none otherwise.
     */
    tableField: z.union([z.string().min(1), z.literal(false)], { error: 'expected a field name or false' }).optional(),
    /** Payload serialization: false keeps it on the main thread; otherwise pool settings. */
    serialize: serializeOptionSchema,
    /** Batch limits this sink asks of the runtime (a field the task's `batch` config sets wins). */
    batch: sinkBatchOptionSchema,
  })
  .strict()
  .superRefine((options, ctx) => {
    if (typeof options.index === 'string') {
      try {
        compileTemplate(options.index, ['schema', 'table']);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['index'], message: (error as Error).message, input: options.index });
      }
    }
  });

export type ElasticsearchOptions = z.input<typeof elasticsearchOptionsSchema>;
export type ResolvedElasticsearchOptions = z.output<typeof elasticsearchOptionsSchema> & { batch?: Partial<BatchLimits> };

/** Validate at construction; a bad option throws ConfigError naming `elasticsearch.<path>`. */
export function parseElasticsearchOptions(input: unknown): ResolvedElasticsearchOptions {
  return parseOptions(elasticsearchOptionsSchema, input, 'elasticsearch');
}

// ---------------------------------------------------------------------------------------------
