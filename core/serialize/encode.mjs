// The JSON body encoders, shared by the main thread (serializer.ts) and the pool's worker threads
// (worker.mjs). Plain JavaScript (types in encode.d.mts) so a worker thread loads it without a
// TypeScript loader, from source and from a build alike.
//
// Both return a Buffer that owns its ArrayBuffer (allocUnsafeSlow, not a slice of Buffer's shared
// pool), so a worker can transfer it without detaching anything else.

/** One JSON document per line, every line ended by "\n" (the Elasticsearch bulk body format). */
export function encodeNdjson(lines) {
  // Lines are encoded one by one into one buffer: a single non-Latin-1 character (an emoji) then
  // only slows the UTF-8 transcoding of its own line, not of a whole concatenated body.
  const texts = new Array(lines.length);
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const text = JSON.stringify(lines[i]);
    texts[i] = text;
    total += Buffer.byteLength(text, 'utf8') + 1;
  }
  const out = Buffer.allocUnsafeSlow(total);
  let offset = 0;
  for (let i = 0; i < texts.length; i++) {
    offset += out.write(texts[i], offset, 'utf8');
    out[offset++] = 10;
  }
  return out;
}

/** One JSON array. */
export function encodeJsonArray(items) {
  const text = JSON.stringify(items);
  const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  out.write(text, 0, 'utf8');
  return out;
}
