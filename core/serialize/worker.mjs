// Piscina worker for core/serialize. Plain JavaScript on purpose: it loads in a worker thread
// without a TypeScript loader, under `tsx`, vitest and plain node alike.
import { move } from 'piscina';
import { encodeJsonArray, encodeNdjson } from './encode.mjs';

/**
 * One task = one whole batch: `kind` 'ndjson' (one JSON document per line, each ended by "\n") or
 * 'json' (one JSON array). The bytes go back as a transferred buffer, never as a string.
 */
export default function encode({ kind, items }) {
  const bytes = kind === 'ndjson' ? encodeNdjson(items) : encodeJsonArray(items);
  return move(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
