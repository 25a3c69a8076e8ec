import { Client, errors as esErrors } from '@elastic/elasticsearch';
import { AbortedError, SinkError } from '../../core/errors/index.ts';
import { redactUrlCredentials } from '../../core/redact/index.ts';
import {
  compileTemplate,
  documentId,
  keyChanged,
  keyValues,
  positionVersionText,
  rowImage,
  type ColumnValue,
  type RowEvent,
  type SchemaChangeEvent,
  type TableName,
} from '../../core/event/index.ts';
import { SinkSerializer, estimateJsonBytes } from '../../core/serialize/index.ts';
import type { BatchLimits, DeliveryResult, SchemaChangeContext, Sink, SinkBatch } from '../../core/sink/index.ts';
import { elasticsearchDocument, elasticsearchId } from './document.ts';
import { moveTableDocs, removeTableDocs, type TableDocs } from './table-changes.ts';
import type { Logger } from '../../core/log/index.ts';
import { classifyBulkItem, classifyRequestStatus, errorText, foldResults, isOlderWrite, type BulkAction, type BulkResponseItem } from './classify.ts';
import type { ResolvedElasticsearchOptions } from './options.ts';
import { IndexMappings } from './index-mappings.ts';

/** One bulk action for one row (a row whose key changed gives a delete and a write). */
interface Op {
  /** Position of the op in the batch, for its result. */
  n: number;
  event: number;
  action: BulkAction;
  index: string;
  id: string;
  doc?: Record<string, ColumnValue>;
  /** The external version (position-version.ts) of an `index` or `delete`; none for an `update`. */
  version?: string;
  estimate: number;
}

interface BulkResponse {
  errors?: boolean;
  items?: Array<Partial<Record<BulkAction, BulkResponseItem>>>;
}

const FILTER_PATH = 'errors,items.*.status,items.*.result,items.*.error';

/** FNV-1a, 32 bit: cheap and stable, for lanes. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Whether index settings (flat `index.gc_deletes`, or nested) set gc_deletes: the user's choice stands. */
function mentionsGcDeletes(settings: Record<string, unknown> | undefined): boolean {
  if (!settings) return false;
  if ('index.gc_deletes' in settings || 'gc_deletes' in settings) return true;
  const nested = settings.index;
  return typeof nested === 'object' && nested !== null && 'gc_deletes' in nested;
}

/** A short, secret-free account of a client error (never the request, its headers or the options). */
export function describeClientError(error: unknown): { status?: number; text: string } {
  if (error instanceof esErrors.ResponseError) {
    const body = error.meta?.body as { error?: BulkResponseItem['error'] } | string | undefined;
    const text = typeof body === 'object' && body?.error ? errorText(body.error) : typeof body === 'string' ? body.slice(0, 300) : error.name;
    return { status: error.meta?.statusCode ?? undefined, text };
  }
  if (error instanceof Error) return { text: `${error.name}: ${redactUrlCredentials(error.message).slice(0, 300)}` };
  return { text: String(error) };
}

export class ElasticsearchSink implements Sink {
  readonly batchLimits: Partial<BatchLimits>;
  readonly #options: ResolvedElasticsearchOptions;
  readonly #indexOf: (event: RowEvent, rowIndex: number) => string;
  /** The field naming each document's table in indices several tables may share; undefined when none. */
  readonly #tableField: string | undefined;
  readonly #mappings: IndexMappings;
  /** The index of a table, when `index` is a template (a function needs a row). */
  readonly #indexOfTable: ((table: TableName) => string) | undefined;
  #client: Client | undefined;
  readonly #serializer: SinkSerializer;
  #logger: Logger | undefined;
  /** Writes carry external versions (operation 'index'); an `update` cannot (ES refuses it). */
  readonly #versioned: boolean;
  /** Writes Elasticsearch refused as older than the document they target (isOlderWrite), for tests and metrics. */
  olderWritesSkipped = 0;

  constructor(options: ResolvedElasticsearchOptions) {
    this.#options = options;
    this.#versioned = options.operation === 'index';
    this.#serializer = new SinkSerializer(options.serialize);
    this.batchLimits = {
      maxRows: options.maxBulkActions * options.concurrency,
      maxBytes: options.maxBulkBytes * options.concurrency,
      ...options.batch,
    };
    const index = options.index;
    // one index per table only when the name has both {schema} and {table}
    const shared = typeof index === 'function' || !index.includes('{table}') || !index.includes('{schema}');
    const tableField = options.tableField ?? (shared ? '_tunnel_table' : false);
    this.#tableField = tableField === false ? undefined : tableField;
    const extra = this.#tableField ? { [this.#tableField]: { type: 'keyword' } } : {};
    this.#mappings = new IndexMappings(
      () => this.client,
      options.typeMapping,
      describeClientError,
      extra,
      (message, detail) => this.#logger?.warn(detail, message),
      this.#creationSettings(),
    );
    if (typeof index === 'function') {
      this.#indexOf = index;
      this.#indexOfTable = undefined;
    } else {
      const template = compileTemplate(index, ['schema', 'table']);
      this.#indexOfTable = ({ schema, table }) => template.render({ schema, table }).toLowerCase();
      const cache = new Map<string, string>();
      this.#indexOf = (event) => {
        const key = `${event.schema}\u0000${event.table}`;
        let name = cache.get(key);
        if (name === undefined) {
          name = template.render({ schema: event.schema, table: event.table }).toLowerCase();
          cache.set(key, name);
        }
        return name;
      };
    }
  }

  /**
   * What the indices this sink creates are created with: versioned writes are refused as older than a
   * deleted document only while ES keeps its tombstone (`index.gc_deletes`).
   */
  #creationSettings(): Record<string, unknown> | undefined {
    const { gcDeletes } = this.#options;
    return this.#versioned && gcDeletes !== false ? { 'index.gc_deletes': gcDeletes } : undefined;
  }

  /** The client, created on first use; for tests and tools that need to read what was written. */
  get client(): Client {
    if (!this.#client) {
      const o = this.#options;
      const auth =
        o.auth &&
        ('bearer' in o.auth
          ? { bearer: o.auth.bearer }
          : 'apiKey' in o.auth
            ? { apiKey: o.auth.apiKey }
            : { username: o.auth.username, password: o.auth.password });
      this.#client = new Client({
        node: o.node,
        ...(auth ? { auth } : {}),
        ...(o.tls
          ? {
              tls: {
                ...(o.tls.ca ? { ca: o.tls.ca } : {}),
                ...(o.tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.tls.rejectUnauthorized } : {}),
              },
            }
          : {}),
        ...(o.tls?.caFingerprint ? { caFingerprint: o.tls.caFingerprint } : {}),
        requestTimeout: o.requestTimeoutMs,
        maxRetries: o.maxRetries,
        compression: o.compression,
      });
    }
    return this.#client;
  }

  /** Where the sink's warnings go (the plugin passes the task's logger). */
  setLogger(logger: Logger): void {
    this.#logger = logger;
  }

  /** How many bulk bodies were encoded on the main thread and in the pool (undefined before the first). */
  get serializerStats() {
    return this.#serializer.stats();
  }

  async start(signal: AbortSignal): Promise<void> {
    const o = this.#options;
    for (const [name, body] of Object.entries(o.templates ?? {})) {
      try {
        await this.client.indices.putIndexTemplate({ name, ...body } as never, { signal });
      } catch (error) {
        throw new SinkError(`elasticsearch: cannot put index template "${name}": ${describeClientError(error).text}`, { template: name });
      }
    }
    const created = this.#creationSettings();
    for (const [index, body] of Object.entries(o.indices ?? {})) {
      const settings = created && !mentionsGcDeletes(body.settings) ? { ...created, ...body.settings } : body.settings;
      try {
        await this.client.indices.create({ index, ...body, ...(settings ? { settings } : {}) } as never, { signal });
      } catch (error) {
        const { text } = describeClientError(error);
        if (text.startsWith('resource_already_exists_exception')) continue;
        throw new SinkError(`elasticsearch: cannot create index "${index}": ${text}`, { index });
      }
    }
  }

  async write(batch: SinkBatch): Promise<DeliveryResult[]> {
    const { events, signal } = batch;
    if (signal.aborted) throw new AbortedError('elasticsearch: write aborted');
    const o = this.#options;
    const lanes: Op[][] = Array.from({ length: o.concurrency }, () => []);
    const opsOf: number[][] = events.map(() => []);
    const opResults: DeliveryResult[] = [];
    /** The (index, table) pairs this batch writes, with the column types of each table. */
    const targets = new Map<string, { index: string; table: string; types: Set<RowEvent['columnTypes']> }>();
    let count = 0;
    const add = (fields: Omit<Op, 'n'>) => {
      const op: Op = { n: count++, ...fields };
      const lane = o.concurrency === 1 ? 0 : hash(`${op.index}\u0000${op.id}`) % o.concurrency;
      (lanes[lane] as Op[]).push(op);
      (opsOf[op.event] as number[]).push(op.n);
    };
    events.forEach((event, e) => {
      const version = this.#versioned ? positionVersionText(event.position) : undefined;
      for (let row = 0; row < event.rows.length; row++) {
        const index = this.#indexOf(event, row);
        const table = `${event.schema}.${event.table}`;
        const target = `${index}\u0000${table}`;
        let entry = targets.get(target);
        if (!entry) targets.set(target, (entry = { index, table, types: new Set() }));
        entry.types.add(event.columnTypes);
        const id = elasticsearchId(documentId(keyValues(event, row)));
        if (event.action === 'delete') {
          add({ event: e, action: 'delete', index, id, version, estimate: 80 + index.length + id.length });
          continue;
        }
        if (event.action === 'update' && keyChanged(event, row)) {
          const oldId = elasticsearchId(documentId(keyValues(event, row, 'before')));
          add({ event: e, action: 'delete', index, id: oldId, version, estimate: 80 + index.length + oldId.length });
        }
        const doc = elasticsearchDocument(rowImage(event, row));
        if (this.#tableField) doc[this.#tableField] = `${event.schema}.${event.table}`;
        add({ event: e, action: o.operation, index, id, doc, version, estimate: 100 + index.length + id.length + estimateJsonBytes(doc) });
      }
    });
    const mapped = await this.#ensureMappings(targets, signal);
    if (mapped !== undefined) return events.map(() => mapped);
    await Promise.all(lanes.map((lane) => this.#runLane(lane, opResults, signal)));
    if (signal.aborted) throw new AbortedError('elasticsearch: write aborted');
    return opsOf.map((ops) => foldResults(ops.map((n) => opResults[n] as DeliveryResult)));
  }

  /**
   * Type-derived mappings on every index this batch writes, before any of its documents. ES
   * unreachable or overloaded: the whole batch is retried. An index ES refuses for good (an invalid
   * name): its documents go on to the bulk, which rejects them with ES's own reason.
   */
  async #ensureMappings(
    targets: Map<string, { index: string; table: string; types: Set<RowEvent['columnTypes']> }>,
    signal: AbortSignal,
  ): Promise<DeliveryResult | undefined> {
    for (const { index, table, types } of targets.values()) {
      try {
        for (const t of types) await this.#mappings.ensure(index, table, t, signal);
      } catch (error) {
        if (signal.aborted) throw new AbortedError('elasticsearch: write aborted');
        const status = error instanceof SinkError ? (error.detail.status as number | undefined) : undefined;
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          this.#logger?.warn({ index, reason: (error as Error).message }, 'elasticsearch: cannot prepare the index; its documents meet its own rules');
          continue;
        }
        return { status: 'retry', reason: error instanceof Error ? error.message : String(error) };
      }
    }
    return undefined;
  }

  /** Send a lane's ops in order, in bulk requests bounded by count and bytes, one at a time. */
  async #runLane(ops: Op[], results: DeliveryResult[], signal: AbortSignal): Promise<void> {
    const o = this.#options;
    let start = 0;
    while (start < ops.length) {
      let end = start;
      let bytes = 0;
      while (end < ops.length && end - start < o.maxBulkActions) {
        const next = (ops[end] as Op).estimate;
        if (end > start && bytes + next > o.maxBulkBytes) break;
        bytes += next;
        end++;
      }
      const chunk = ops.slice(start, end);
      const failure = await this.#sendBulk(chunk, bytes, results, signal);
      start = end;
      if (failure) {
        // The cluster is unwell (429/5xx/unreachable): don't send the rest of the lane now; the
        // runtime retries from the first failed event on, after its backoff.
        for (const op of ops.slice(start)) results[op.n] = { status: 'retry', reason: `not sent: ${failure}` };
        return;
      }
    }
  }

  /** Returns the reason when the whole request failed transiently. */
  async #sendBulk(chunk: Op[], estimate: number, results: DeliveryResult[], signal: AbortSignal): Promise<string | undefined> {
    const o = this.#options;
    const lines: unknown[] = [];
    for (const op of chunk) {
      // external_gte: the rows of one rows event share its version, and a write sent again (a retry,
      // a replay after a restart) carries the version it had; an older one is refused by ES
      const meta =
        op.version === undefined ? { _index: op.index, _id: op.id } : { _index: op.index, _id: op.id, version: op.version, version_type: 'external_gte' };
      if (op.action === 'delete') lines.push({ delete: meta });
      else if (op.action === 'index') lines.push({ index: meta }, op.doc);
      else lines.push({ update: { ...meta, retry_on_conflict: o.retryOnConflict } }, { doc: op.doc, doc_as_upsert: true });
    }
    const set = (op: Op, result: DeliveryResult) => {
      results[op.n] = result;
    };
    let response: BulkResponse;
    try {
      const bytes = await this.#serializer.get().encodeNdjson(lines, { estimatedBytes: estimate });
      if (signal.aborted) throw new AbortedError('elasticsearch: write aborted');
      const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const querystring: Record<string, string> = { filter_path: FILTER_PATH };
      if (o.refresh !== false) querystring.refresh = String(o.refresh);
      response = (await this.client.transport.request(
        { method: 'POST', path: '/_bulk', querystring, bulkBody: body },
        { signal, meta: false },
      )) as BulkResponse;
    } catch (error) {
      if (signal.aborted || error instanceof AbortedError) throw new AbortedError('elasticsearch: write aborted');
      const { status, text } = describeClientError(error);
      const result: DeliveryResult = status === undefined ? { status: 'retry', reason: `bulk request failed: ${text}` } : classifyRequestStatus(status, text);
      for (const op of chunk) set(op, result);
      return result.status === 'retry' ? result.reason : undefined;
    }
    const items = response.items ?? [];
    if (items.length !== chunk.length) {
      const reason = `bulk response has ${items.length} items for ${chunk.length} actions`;
      for (const op of chunk) set(op, { status: 'retry', reason });
      return reason;
    }
    let older = 0;
    chunk.forEach((op, i) => {
      const entry = items[i] as Partial<Record<BulkAction, BulkResponseItem>>;
      const item = entry[op.action] ?? Object.values(entry)[0] ?? {};
      const versioned = op.version !== undefined;
      if (versioned && isOlderWrite(item)) older++;
      set(op, classifyBulkItem(op.action, item, versioned));
    });
    if (older > 0) {
      this.olderWritesSkipped += older;
      // routine after a restart (changes written again over newer ones); from another worker, fencing at work
      this.#logger?.debug({ sink: o.name, writes: older }, 'elasticsearch: writes older than the documents they target were left out (version conflict)');
    }
    return undefined;
  }

  /**
   * TRUNCATE and DROP remove the table's documents, DROP DATABASE those of every table of the
   * schema the indices list, RENAME moves them to the index and table name of the new name; ALTER
   * and CREATE need nothing here (a row with new columns gets their mapping before it is written).
   */
  async applySchemaChange(change: SchemaChangeEvent, { signal }: SchemaChangeContext): Promise<DeliveryResult> {
    const docs = this.#tableDocs();
    const name = `${change.schema}.${change.table}`;
    // deletes and moves carry the statement's version: a document changed after it stays as it is
    const version = this.#versioned ? positionVersionText(change.position) : undefined;
    if (!docs) {
      return {
        status: 'rejected',
        reason: `elasticsearch: ${change.change} of ${name} cannot be applied: \`index\` is a function and \`tableField\` is false, so a table's documents cannot be found`,
      };
    }
    try {
      switch (change.change) {
        case 'truncate':
        case 'drop':
          await removeTableDocs(docs, change, signal, version);
          break;
        case 'drop-database': {
          const pattern = this.#indexOfTable ? this.#indexOfTable({ schema: change.schema, table: '*' }) : '*';
          const tables = new Set([...(await this.#mappings.tablesOfSchema(pattern, change.schema, signal)).values()].flat());
          for (const table of tables) await removeTableDocs(docs, { schema: change.schema, table }, signal, version);
          break;
        }
        case 'rename':
          if (change.to) {
            await moveTableDocs(docs, change, change.to, signal, version);
            const target = docs.locate(change.to).index;
            if (!target.includes('*')) await this.#mappings.ensure(target, `${change.to.schema}.${change.to.table}`, undefined, signal);
          }
          break;
        default:
          break;
      }
      return { status: 'ok' };
    } catch (error) {
      if (signal.aborted) throw new AbortedError('elasticsearch: schema change aborted');
      return {
        status: 'retry',
        reason: error instanceof SinkError ? error.message : `elasticsearch: ${change.change} of ${name}: ${describeClientError(error).text}`,
      };
    }
  }

  #tableDocs(): TableDocs | undefined {
    const indexOfTable = this.#indexOfTable;
    const tableField = this.#tableField;
    if (!indexOfTable && !tableField) return undefined;
    return {
      client: this.client,
      locate: (table) => ({ index: indexOfTable ? indexOfTable(table) : '*', ...(tableField ? { tableField } : {}) }),
      copyMapping: async (fromIndex, toIndex, signal) => {
        if (fromIndex === toIndex || toIndex.includes('*')) return;
        const response = (await this.client.indices.getMapping({ index: fromIndex }, { signal })) as Record<
          string,
          { mappings?: { properties?: Record<string, Record<string, unknown>> } }
        >;
        const properties = Object.values(response)[0]?.mappings?.properties ?? {};
        await this.#mappings.ensureFields(toIndex, properties, signal);
      },
    };
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await Promise.all([client?.close(), this.#serializer.close()]);
  }
}
