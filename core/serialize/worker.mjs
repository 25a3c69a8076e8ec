// Piscina worker for core/serialize. Plain JavaScript on purpose: it loads in a worker thread
// without a TypeScript loader, under `tsx`, vitest and plain node alike.
import { move } from 'piscina';

/** The same bytes as encodeNdjsonSync in serializer.ts. */
function ndjson(lines) {
  const texts = new Array(lines.length);
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const text = JSON.stringify(lines[i]);
    texts[i] = text;
    total += Buffer.byteLength(text, 'utf8') + 1;
  }
  // allocUnsafeSlow: a buffer that owns its ArrayBuffer (not a slice of Buffer's shared pool),
  // so transferring it detaches nothing else.
  const out = Buffer.allocUnsafeSlow(total);
  let offset = 0;
  for (let i = 0; i < texts.length; i++) {
    offset += out.write(texts[i], offset, 'utf8');
    out[offset++] = 10;
  }
  return out;
}

function jsonArray(items) {
  const text = JSON.stringify(items);
  const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  out.write(text, 0, 'utf8');
  return out;
}

/**
 * One task = one whole batch: `kind` 'ndjson' (one JSON document per line, each ended by "\n") or
 * 'json' (one JSON array). The bytes go back as a transferred buffer, never as a string.
 */
export default function encode({ kind, items }) {
  const bytes = kind === 'ndjson' ? ndjson(items) : jsonArray(items);
  return move(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
