/**
 * A row as an Elasticsearch document, where ES's rules differ from SQL's:
 *
 * - `_id` must be 1 to 512 bytes. A key whose document id (core/event/row-access.ts `documentId`) is
 *   empty (a VARCHAR key holding '') or longer (a long VARCHAR key, a keyless table keyed by all its
 *   columns) gets `~sha256:` and the hex SHA-256 of that id instead: deterministic, so a later update
 *   or delete of the row finds the same document. A bad `_id` would otherwise fail the whole bulk
 *   request, other rows and tables with it.
 * - A column named like one of ES's metadata fields (`_id`, `_source`, `_routing`, ...) cannot be a
 *   document field: it is written as `@` + its name (`@_id`).
 */
import { createHash } from 'node:crypto';
import type { ColumnValue } from '../../core/event/index.ts';

const MAX_ID_BYTES = 512;

/** Field names ES 8 refuses inside a document (or gives a meaning of its own, like `_doc_count`). */
export const METADATA_FIELDS = new Set([
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

/** The `_id` of a row's document. */
export function elasticsearchId(documentId: string): string {
  if (documentId.length > 0 && (documentId.length <= MAX_ID_BYTES / 4 || Buffer.byteLength(documentId, 'utf8') <= MAX_ID_BYTES)) return documentId;
  return `~sha256:${createHash('sha256').update(documentId, 'utf8').digest('hex')}`;
}

/** The field name of a column in a document. */
export function elasticsearchField(column: string): string {
  return METADATA_FIELDS.has(column) ? `@${column}` : column;
}

/** A row image with metadata-named columns renamed (the same object when none is). */
export function elasticsearchDocument(image: Record<string, ColumnValue>): Record<string, ColumnValue> {
  let renamed: Record<string, ColumnValue> | undefined;
  for (const column in image) {
    if (METADATA_FIELDS.has(column)) {
      renamed ??= { ...image };
      renamed[`@${column}`] = image[column]!;
      delete renamed[column];
    }
  }
  return renamed ?? image;
}
