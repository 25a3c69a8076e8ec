/**
 * TRUNCATE, DROP and RENAME applied to one table's documents: found by a scroll over the table's
 * index (after a refresh, so the last batch's documents are visible), filtered by the table field
 * where several tables share an index, and deleted or moved with bulk requests a page at a time, so
 * a table of any size is handled in bounded memory. `_delete_by_query` is not used: it is not in
 * every distribution (the test server's lacks it) and a bulk of ids is as exact.
 *
 * Each operation is idempotent: run again after a crash, it ends in the same state (a document
 * moved but not yet deleted at the old name is moved again, identically).
 *
 * With a `version` (the statement's, core/event/position-version.ts) every delete and every moved
 * document carries it as its external version: a document written after the statement (by this
 * task, or by the next owner while this one was paused) is newer, so a TRUNCATE, DROP or RENAME
 * applied late leaves it alone, and the tombstones left at the old name refuse older writes there.
 */
import type { Client } from '@elastic/elasticsearch';
import { isOlderWrite, type BulkResponseItem } from './classify.ts';
import { SinkError } from '../../core/errors/index.ts';
import type { TableName } from '../../core/event/index.ts';

const PAGE = 500;

export interface TableDocs {
  client: Client;
  /** Where the table's documents are: an index name (or pattern), and the table field filter if any. */
  locate(table: TableName): { index: string; tableField?: string };
  /** Makes `index` map the fields `from` maps, before documents move there. */
  copyMapping(fromIndex: string, toIndex: string, signal: AbortSignal): Promise<void>;
}

type Hit = { _index: string; _id: string; _source?: Record<string, unknown> };

/** Every document of the table, a page at a time (scroll; cleared at the end or on error). */
async function* pages(t: TableDocs, table: TableName, withSource: boolean, signal: AbortSignal): AsyncGenerator<Hit[]> {
  const { index, tableField } = t.locate(table);
  const exists = await t.client.indices.exists({ index, allow_no_indices: false }, { signal }).catch(() => false);
  if (!exists) return;
  await t.client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true }, { signal });
  const query = tableField ? { term: { [tableField]: `${table.schema}.${table.table}` } } : { match_all: {} };
  let response = await t.client.search<Record<string, unknown>>(
    { index, scroll: '2m', size: PAGE, query, sort: ['_doc'], _source: withSource, ignore_unavailable: true, allow_no_indices: true },
    { signal },
  );
  let scrollId = response._scroll_id;
  try {
    while (response.hits.hits.length > 0) {
      yield response.hits.hits as Hit[];
      if (!scrollId) break;
      response = await t.client.scroll<Record<string, unknown>>({ scroll_id: scrollId, scroll: '2m' }, { signal });
      scrollId = response._scroll_id ?? scrollId;
    }
  } finally {
    if (scrollId) await t.client.clearScroll({ scroll_id: scrollId }).catch(() => undefined);
  }
}

async function bulk(t: TableDocs, operations: unknown[], signal: AbortSignal, what: string): Promise<void> {
  if (operations.length === 0) return;
  const response = await t.client.bulk({ operations, refresh: false }, { signal });
  if (!response.errors) return;
  for (const item of response.items) {
    const result = Object.values(item)[0];
    if (!result?.error) continue;
    if (result.status === 404) continue; // a delete of a document that is gone already
    if (isOlderWrite(result as BulkResponseItem)) continue; // a newer change of the document is there: it stays
    throw new SinkError(`elasticsearch: ${what}: ${result.error.type}: ${result.error.reason ?? ''}`, { index: result._index, id: result._id });
  }
}

/** The external version of a write, when the statement has one. */
function versioned(version: string | undefined): Record<string, string> {
  return version === undefined ? {} : { version, version_type: 'external_gte' };
}

/** Deletes every document of the table; returns how many it found. */
export async function removeTableDocs(t: TableDocs, table: TableName, signal: AbortSignal, version?: string): Promise<number> {
  let removed = 0;
  for await (const hits of pages(t, table, false, signal)) {
    await bulk(
      t,
      hits.map((hit) => ({ delete: { _index: hit._index, _id: hit._id, ...versioned(version) } })),
      signal,
      `removing ${table.schema}.${table.table}`,
    );
    removed += hits.length;
  }
  return removed;
}

/** Moves every document of `from` to where `to`'s documents go, with the table field updated. */
export async function moveTableDocs(t: TableDocs, from: TableName, to: TableName, signal: AbortSignal, version?: string): Promise<number> {
  const target = t.locate(to);
  let moved = 0;
  const mapped = new Set<string>();
  for await (const hits of pages(t, from, true, signal)) {
    const operations: unknown[] = [];
    const deletes: unknown[] = [];
    for (const hit of hits) {
      if (!mapped.has(hit._index)) {
        await t.copyMapping(hit._index, target.index, signal);
        mapped.add(hit._index);
      }
      const doc = { ...hit._source };
      if (target.tableField) doc[target.tableField] = `${to.schema}.${to.table}`;
      operations.push({ index: { _index: target.index, _id: hit._id, ...versioned(version) } }, doc);
      if (hit._index !== target.index) deletes.push({ delete: { _index: hit._index, _id: hit._id, ...versioned(version) } });
    }
    // the new name first, then the old one gone: a crash in between leaves both, and the run
    // after the restart moves them again
    await bulk(t, operations, signal, `moving ${from.schema}.${from.table} to ${to.schema}.${to.table}`);
    await bulk(t, deletes, signal, `moving ${from.schema}.${from.table} to ${to.schema}.${to.table}`);
    moved += hits.length;
  }
  return moved;
}
