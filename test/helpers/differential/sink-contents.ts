import { createHash } from 'node:crypto';
/**
 * What each sink holds for a table, read back the way a user would look at it (an Elasticsearch
 * search, Redis HGETALL, the webhook events applied in order), and its differences from the expected
 * rows: ids missing, ids extra, and each differing field with both values.
 */
import type { Client as EsClient } from '@elastic/elasticsearch';
import type { Redis } from 'ioredis';
import type { ExpectedTable, Row, TableShape, Value } from './expected.ts';
import { appliedRows } from '../row-applier.ts';

export type SinkName = 'elasticsearch' | 'redis' | 'webhook';

export interface FieldDifference {
  id: string;
  column: string;
  expected: Value | undefined;
  actual: unknown;
}

export interface SinkDiff {
  sink: SinkName;
  missing: string[];
  extra: string[];
  different: FieldDifference[];
}

export function isEmptyDiff(d: SinkDiff): boolean {
  return d.missing.length === 0 && d.extra.length === 0 && d.different.length === 0;
}

/** ES's metadata field names, which a document field cannot have (docs/sinks.md: such a column is written as `@name`). */
const ES_METADATA_FIELDS = new Set([
  '_id',
  '_index',
  '_source',
  '_routing',
  '_version',
  '_seq_no',
  '_primary_term',
  '_field_names',
  '_ignored',
  '_ignored_source',
  '_doc_count',
  '_tier',
  '_data_stream_timestamp',
  '_nested_path',
]);

/**
 * The expected rows as Elasticsearch documents, by the documented rules (docs/sinks.md): the `_id` of
 * an empty id or one over 512 UTF-8 bytes is `~sha256:` and its hex SHA-256; a column named like a
 * metadata field is the field `@name`.
 */
export function asElasticsearch(expected: ExpectedTable): ExpectedTable {
  const rows = new Map<string, Row>();
  for (const [id, row] of expected.rows) {
    const esId = id.length > 0 && Buffer.byteLength(id, 'utf8') <= 512 ? id : `~sha256:${createHash('sha256').update(id, 'utf8').digest('hex')}`;
    const doc: Row = {};
    for (const [column, value] of Object.entries(row)) doc[ES_METADATA_FIELDS.has(column) ? `@${column}` : column] = value;
    rows.set(esId, doc);
  }
  return { ...expected, rows };
}

/** The Elasticsearch index the sink writes a table to by default: '{schema}_{table}', lowercased. */
export function esIndexOf(table: { schema: string; name: string }): string {
  return `${table.schema}_${table.name}`.toLowerCase();
}

/** Every document of the table's index, by _id (an absent index holds nothing). */
export async function esDocuments(es: EsClient, table: { schema: string; name: string }): Promise<Map<string, Record<string, unknown>>> {
  const index = esIndexOf(table);
  const out = new Map<string, Record<string, unknown>>();
  const exists = await es.indices.exists({ index });
  if (!exists) return out;
  await es.indices.refresh({ index });
  const result = await es.search<Record<string, unknown>>({ index, size: 10_000, query: { match_all: {} } });
  for (const hit of result.hits.hits) out.set(hit._id!, hit._source ?? {});
  return out;
}

/** Every hash of the table ('{schema}:{table}:{id}'), by id. */
export async function redisHashes(redis: Redis, table: { schema: string; name: string }): Promise<Map<string, Record<string, string>>> {
  const prefix = `${table.schema}:${table.name}:`;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const out = new Map<string, Record<string, string>>();
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.hgetall(key);
  const replies = (await pipeline.exec()) ?? [];
  keys.forEach((key, i) => {
    const [error, value] = replies[i]!;
    out.set(key.slice(prefix.length), error ? { '(error)': String(error) } : (value as Record<string, string>));
  });
  return out;
}

/**
 * The rows a receiver holds after applying the events in arrival order (schema changes included),
 * keyed as the sinks key them: by the key, or every column of the table without one.
 */
export function webhookRows(events: readonly unknown[], shape: TableShape): Map<string, Record<string, unknown>> {
  const table = `${shape.schema}.${shape.name}`;
  const key = shape.key.length > 0 ? shape.key : shape.columns.map((c) => c.name);
  return appliedRows(events, table, (name) => (name === table ? key : undefined));
}

/** Differences between the expected rows and documents whose fields hold canonical values (ES, webhook). */
export function diffDocuments(sink: SinkName, expected: ExpectedTable, actual: Map<string, Record<string, unknown>>): SinkDiff {
  const diff: SinkDiff = { sink, missing: [], extra: [], different: [] };
  for (const [id, row] of expected.rows) {
    const doc = actual.get(id);
    if (!doc) {
      diff.missing.push(id);
      continue;
    }
    for (const column of new Set([...Object.keys(row), ...Object.keys(doc)])) {
      if (!(column in row) || !(column in doc) || !sameValue(row[column]!, doc[column]))
        diff.different.push({ id, column, expected: row[column], actual: doc[column] });
    }
  }
  for (const id of actual.keys()) if (!expected.rows.has(id)) diff.extra.push(id);
  return diff;
}

/**
 * Differences from Redis hashes, under the sink's value encoding (docs/sinks.md, Redis): a string column is
 * its text as is, any other value its JSON text, a NULL column has no field.
 */
export function diffHashes(expected: ExpectedTable, actual: Map<string, Record<string, string>>): SinkDiff {
  const diff: SinkDiff = { sink: 'redis', missing: [], extra: [], different: [] };
  for (const [id, row] of expected.rows) {
    const hash = actual.get(id);
    if (!hash) {
      diff.missing.push(id);
      continue;
    }
    for (const [column, value] of Object.entries(row)) {
      const field = hash[column];
      const same =
        value === null ? field === undefined : field !== undefined && (typeof value === 'string' ? field === value : sameValue(value, parseOrText(field)));
      if (!same) diff.different.push({ id, column, expected: value, actual: field });
    }
    for (const column of Object.keys(hash)) if (!(column in row)) diff.different.push({ id, column, expected: undefined, actual: hash[column] });
  }
  for (const id of actual.keys()) if (!expected.rows.has(id)) diff.extra.push(id);
  return diff;
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** JSON equality: numbers by value, objects regardless of key order, arrays in order. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameValue(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  return ak.length === Object.keys(bo).length && ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && sameValue(ao[k], bo[k]));
}

/** Rows of `expected` as a plain object for messages. */
export function describeRow(row: Row | undefined): string {
  return row === undefined ? '(none)' : JSON.stringify(row);
}
