/** One JSON document per line, every line ended by "\n" (the Elasticsearch bulk body format). */
export function encodeNdjson(lines: readonly unknown[]): Buffer;
/** One JSON array. */
export function encodeJsonArray(items: readonly unknown[]): Buffer;
