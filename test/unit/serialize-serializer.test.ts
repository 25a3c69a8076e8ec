import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { SerializeError } from '../../core/errors/index.ts';
import { acquireSharedSerializer, createSerializer, encodeJsonArraySync, encodeNdjsonSync, estimateJsonBytes } from '../../core/serialize/index.ts';

const rows = Array.from({ length: 40 }, (_, i) => ({
  id: i,
  big: '18446744073709551615',
  price: '-0.000001',
  text: `héllo 😀 "quoted" \\ line\nbreak ${i}`,
  none: null,
  json: { a: [1, { b: 'c' }], d: true },
  blob: 'AAECAw==',
  body: 'x'.repeat(2000),
}));
const lines = rows.flatMap((row) => [{ index: { _index: 'i', _id: String(row.id) } }, row]);

describe('core/serialize', () => {
  const pool = createSerializer({ threshold: 0, minItemBytes: 0, maxThreads: 2 });
  const split = createSerializer({ threshold: 0, minItemBytes: 0, maxTaskBytes: 10_000, maxThreads: 2 });
  const inline = createSerializer({ threshold: Infinity });
  afterAll(async () => {
    await Promise.all([pool.close(), split.close(), inline.close()]);
  });

  it('encodes NDJSON: one JSON document per line, each ended by a newline', () => {
    const text = Buffer.from(encodeNdjsonSync(lines)).toString('utf8');
    const parts = text.split('\n');
    expect(parts.at(-1)).toBe('');
    expect(parts.slice(0, -1).map((line) => JSON.parse(line))).toEqual(lines);
  });

  it('gives the same bytes in the pool (a .mjs worker loads under vitest) as on the main thread', async () => {
    const expected = Buffer.from(encodeNdjsonSync(lines));
    const got = await pool.encodeNdjson(lines);
    expect(Buffer.from(got).equals(expected)).toBe(true);
    expect(pool.stats()).toMatchObject({ pool: 1, fallbacks: 0 });
    const array = await pool.encodeJsonArray(rows);
    expect(Buffer.from(array).equals(Buffer.from(encodeJsonArraySync(rows)))).toBe(true);
  });

  it('loads the worker in plain node, without a TypeScript loader', () => {
    const script = `import encode from './core/serialize/worker.mjs';
import { encodeNdjson } from './core/serialize/encode.mjs';
if (typeof encode !== 'function') process.exit(3);
process.stdout.write(encodeNdjson([{ a: 1 }, { b: 'é' }]).toString('base64'));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    expect(Buffer.from(out, 'base64').toString('utf8')).toBe('{"a":1}\n{"b":"é"}\n');
  });

  it('says which batch JSON cannot hold, as a SerializeError', () => {
    expect(() => encodeNdjsonSync([{ id: 1n }])).toThrow(SerializeError);
    expect(() => encodeJsonArraySync([{ id: 1n }])).toThrow(/cannot encode the batch as a JSON array: .*BigInt/);
  });

  it('splits a large batch into several pool tasks and joins them byte-exactly', async () => {
    const nd = await split.encodeNdjson(lines);
    expect(Buffer.from(nd).equals(Buffer.from(encodeNdjsonSync(lines)))).toBe(true);
    const array = await split.encodeJsonArray(rows);
    expect(JSON.parse(Buffer.from(array).toString('utf8'))).toEqual(rows);
    expect(Buffer.from(array).equals(Buffer.from(JSON.stringify(rows)))).toBe(true);
    expect(split.stats().fallbacks).toBe(0);
  });

  it('keeps small batches, and batches of small rows, on the main thread by default', async () => {
    const defaults = createSerializer();
    await defaults.encodeNdjson(lines.slice(0, 4));
    const smallRows = Array.from({ length: 5000 }, (_, i) => ({ id: i, name: `n${i}` }));
    await defaults.encodeJsonArray(smallRows);
    expect(defaults.stats()).toEqual({ mainThread: 2, pool: 0, fallbacks: 0 });
    await defaults.close();
    await inline.encodeNdjson(lines);
    expect(inline.stats().pool).toBe(0);
  });

  it('estimates JSON size near the real size for ASCII data', () => {
    const real = JSON.stringify(rows).length;
    const estimate = estimateJsonBytes(rows);
    expect(estimate).toBeGreaterThan(real * 0.8);
    expect(estimate).toBeLessThan(real * 1.3);
  });

  it('shares one serializer across handles and closes it with the last one', async () => {
    const a = acquireSharedSerializer();
    const b = acquireSharedSerializer();
    await a.encodeJsonArray([1]);
    expect(b.stats().mainThread).toBe(1);
    await a.close();
    await a.close();
    await b.encodeJsonArray([2]);
    expect(b.stats().mainThread).toBe(2);
    await b.close();
    const c = acquireSharedSerializer();
    expect(c.stats().mainThread).toBe(0);
    await c.close();
  });
});
