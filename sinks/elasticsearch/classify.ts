import type { DeliveryResult } from '../../core/sink/index.ts';

/** One item of a bulk response (`filter_path` keeps status, result and error). */
export interface BulkResponseItem {
  status?: number;
  result?: string;
  error?: { type?: string; reason?: string | null; caused_by?: { type?: string; reason?: string | null } } | string;
}

export type BulkAction = 'index' | 'update' | 'delete';

/** Error types that say "later, not never", whatever status they come with. */
const TRANSIENT_TYPES = new Set([
  'es_rejected_execution_exception',
  'circuit_breaking_exception',
  'unavailable_shards_exception',
  'no_shard_available_action_exception',
  'node_not_connected_exception',
  'node_closed_exception',
  'process_cluster_event_timeout_exception',
  'timeout_exception',
  'receive_timeout_transport_exception',
  'primary_missing_action_exception',
  'version_conflict_engine_exception',
  // index.blocks.write / read_only_allow_delete (flood-stage disk): an operator lifts it; data must not be dead-lettered.
  'cluster_block_exception',
]);

const MAX_REASON = 500;

export function errorText(error: BulkResponseItem['error']): string {
  if (!error) return 'unknown error';
  if (typeof error === 'string') return error.slice(0, MAX_REASON);
  let text = `${error.type ?? 'error'}: ${error.reason ?? ''}`;
  if (error.caused_by?.reason && !text.includes(error.caused_by.reason)) {
    text += ` (caused by ${error.caused_by.type ?? 'error'}: ${error.caused_by.reason})`;
  }
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 3)}...` : text;
}

/**
 * A write with an external version that Elasticsearch refused because the document, or the
 * tombstone of its delete, holds a newer version: a newer change is there already, which is what
 * an older write must leave in place (docs/architecture.md, "Fencing at the sink").
 */
export function isOlderWrite(item: BulkResponseItem): boolean {
  return item.status === 409 && typeof item.error === 'object' && item.error?.type === 'version_conflict_engine_exception';
}

/**
 * One bulk item's outcome. 2xx is written; a delete of a missing document is written too (the
 * end state is the same); a `versioned` write (external version) refused as older than the
 * document is done (isOlderWrite); 429, 5xx, 408 and other version conflicts (409 of an unversioned
 * `update`: a concurrent writer) are retried; other 4xx (a mapping conflict, a bad id) are rejected
 * with ES's reason.
 */
export function classifyBulkItem(action: BulkAction, item: BulkResponseItem, versioned = false): DeliveryResult {
  const status = item.status ?? 0;
  if (status >= 200 && status < 300) return { status: 'ok' };
  if (versioned && isOlderWrite(item)) return { status: 'ok' };
  const type = typeof item.error === 'object' ? item.error?.type : undefined;
  // a delete of a document that is not there (nor its index) leaves the state it asked for
  if (action === 'delete' && status === 404 && (item.result === 'not_found' || item.error === undefined || type === 'index_not_found_exception')) {
    return { status: 'ok' };
  }
  const reason = `${status} ${errorText(item.error)}`;
  if (status === 429 || status === 408 || status === 409 || status >= 500 || status === 0 || (type && TRANSIENT_TYPES.has(type))) {
    return { status: 'retry', reason };
  }
  return { status: 'rejected', reason };
}

/** The outcome of a whole bulk request that got an HTTP error (every item in it shares it). */
export function classifyRequestStatus(status: number, text: string): DeliveryResult {
  const reason = `bulk request failed: HTTP ${status} ${text}`.slice(0, MAX_REASON);
  if (status === 429 || status === 408 || status === 409 || status >= 500) return { status: 'retry', reason };
  if (TRANSIENT_TYPES.has(text.split(':')[0] ?? '')) return { status: 'retry', reason };
  return { status: 'rejected', reason };
}

/** Fold the results of an event's rows: ok if all are; retry if any is; else rejected. */
export function foldResults(results: readonly DeliveryResult[]): DeliveryResult {
  let rejected: DeliveryResult | undefined;
  for (const result of results) {
    if (result.status === 'retry') return result;
    if (result.status === 'rejected') rejected ??= result;
  }
  return rejected ?? { status: 'ok' };
}
