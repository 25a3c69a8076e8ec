// The pieces of the differential test that need no server: the seeded generator is reproducible and
// covers every column type, key shape and path; the expected-value rules turn server text into the
// documented JSON form (written out literally here).
import { describe, expect, it } from 'vitest';
import { parseExactJson } from '../helpers/differential/exact-json.ts';
import { canonicalValue, documentIdOf, shortestFloat32 } from '../helpers/differential/expected.ts';
import { Random, tableSeed } from '../helpers/differential/random.ts';
import { createTableSql, generateTable, type Kind } from '../helpers/differential/schema.ts';
import type { ServerFacts } from '../helpers/differential/server.ts';
import { stringLiteral } from '../helpers/differential/values.ts';

function facts(flavor: ServerFacts['flavor']): ServerFacts {
  const charsets = ['utf8mb4', 'latin1', 'gbk', 'big5', 'sjis', 'utf16', 'utf32', 'binary', 'cp1251'];
  const pools = new Map(charsets.filter((c) => c !== 'binary').map((c) => [c, { chars: ['a', 'b', 'é', ' '], bytes: [1, 1, 2, 1], maxBytes: 2 }]));
  return { flavor, version: flavor === 'mariadb' ? '10.11.0-MariaDB' : '8.0.31', charsets, pools };
}

describe('differential generator', () => {
  it('draws the same sequence from the same seed, another from another', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const seqA = Array.from({ length: 20 }, () => a.uint32());
    expect(Array.from({ length: 20 }, () => b.uint32())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.uint32())).not.toEqual(seqA);
    expect(tableSeed(4294967295, 1)).toBe(0);
  });

  it('generates the same table from the same seed', () => {
    for (const seed of [0, 1, 7, 123456789]) {
      const one = generateTable(seed, facts('mariadb'), 'db', 't');
      const two = generateTable(seed, facts('mariadb'), 'db', 't');
      expect(two).toEqual(one);
      expect(createTableSql(two)).toBe(createTableSql(one));
    }
  });

  it('over a few hundred seeds, draws every column type, key shape, path and character set, and GEOMETRY before text', () => {
    for (const flavor of ['mariadb', 'mysql'] as const) {
      const kinds = new Set<Kind>();
      const shapes = new Set<string>();
      const paths = new Set<string>();
      const charsets = new Set<string>();
      let geometryBeforeText = 0;
      let generated = 0;
      for (let seed = 0; seed < 400; seed++) {
        const spec = generateTable(seed, facts(flavor), 'db', 't');
        spec.columns.forEach((c) => kinds.add(c.kind));
        spec.columns.forEach((c) => c.charset && charsets.add(c.charset));
        shapes.add(spec.keyShape);
        if (spec.columns.some((c) => c.generated)) generated++;
        paths.add(spec.path);
        const g = spec.columns.findIndex((c) => c.kind === 'geometry');
        if (g >= 0 && spec.columns.slice(g + 1).some((c) => c.kind === 'text' || c.kind === 'binary')) geometryBeforeText++;
        expect(spec.key.length).toBe(spec.keyShape === 'none' ? 0 : spec.keyShape === 'single' ? 1 : spec.key.length);
        expect(new Set(spec.columns.map((c) => c.name.toLowerCase())).size).toBe(spec.columns.length);
      }
      const expected: Kind[] = [
        'int',
        'decimal',
        'float',
        'double',
        'bit',
        'year',
        'date',
        'datetime',
        'timestamp',
        'time',
        'text',
        'binary',
        'enum',
        'set',
        'json',
        'geometry',
      ];
      if (flavor === 'mariadb') expected.push('uuid', 'inet4', 'inet6');
      expect([...kinds].sort()).toEqual(expected.sort());
      expect([...shapes].sort()).toEqual(['composite', 'none', 'single']);
      expect([...paths].sort()).toEqual(['snapshot', 'stream']);
      expect([...charsets].sort()).toEqual(['big5', 'cp1251', 'gbk', 'latin1', 'sjis', 'utf16', 'utf32', 'utf8mb4']);
      expect(geometryBeforeText).toBeGreaterThan(40);
      expect(generated).toBeGreaterThan(10);
    }
  });

  it('limits kinds, key shapes and character sets when asked', () => {
    for (let seed = 0; seed < 100; seed++) {
      const spec = generateTable(seed, facts('mariadb'), 'db', 't', { excludeKinds: ['geometry', 'json'], keyShapes: ['single'], charsets: ['latin1'] });
      expect(spec.columns.some((c) => c.kind === 'geometry' || c.kind === 'json')).toBe(false);
      expect(spec.keyShape).toBe('single');
      expect(spec.columns.filter((c) => c.charset).every((c) => c.charset === 'latin1')).toBe(true);
    }
  });

  it('writes string literals the server reads back unchanged', () => {
    expect(stringLiteral("it's a \\ and a\u0000nul\nline")).toBe("'it''s a \\\\ and a\\0nul\\nline'");
  });
});

describe('differential expected values', () => {
  it('parses JSON keeping integers beyond 2^53 exact, every other number a double', () => {
    expect(
      parseExactJson(
        '{"big": 18446744073709551615, "neg": -9223372036854775809, "safe": 9007199254740991, "f": 1e300, "d": 1.0, "s": "\\u00e9\\ud83d\\ude00"}',
      ),
    ).toEqual({
      big: '18446744073709551615',
      neg: '-9223372036854775809',
      safe: 9007199254740991,
      f: 1e300,
      d: 1,
      s: 'é😀',
    });
    expect(parseExactJson('[1, [2, {"a": null}], true, false, ""]')).toEqual([1, [2, { a: null }], true, false, '']);
    expect(Object.keys(parseExactJson('{"b": 1, "a": 2, "__proto__": 3}') as object)).toEqual(['b', 'a', '__proto__']);
    expect(() => parseExactJson('{"a": 1,}')).toThrow(/invalid JSON/);
    expect(() => parseExactJson('[1] 2')).toThrow(/trailing/);
  });

  it('gives a FLOAT its shortest decimal', () => {
    expect(shortestFloat32(Math.fround(3.14))).toBe(3.14);
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(Math.fround(16777217))).toBe(16777216);
    expect(shortestFloat32(Math.fround(3.40282e38))).toBe(3.40282e38);
    expect(shortestFloat32(Math.fround(-1.4e-45))).toBe(-1e-45);
  });

  it('turns the server text of each type into the documented form', () => {
    expect(canonicalValue({ kind: 'int' }, '-2147483648')).toBe(-2147483648);
    expect(canonicalValue({ kind: 'int' }, '18446744073709551615')).toBe('18446744073709551615');
    expect(canonicalValue({ kind: 'int' }, '9007199254740991')).toBe(9007199254740991);
    expect(canonicalValue({ kind: 'int' }, '-9007199254740992')).toBe('-9007199254740992');
    expect(canonicalValue({ kind: 'bit' }, '1')).toBe(1);
    expect(canonicalValue({ kind: 'year' }, '0')).toBe(0);
    expect(canonicalValue({ kind: 'decimal' }, '-0.000001')).toBe('-0.000001');
    expect(canonicalValue({ kind: 'double' }, -1.7976931348623157e308)).toBe(-1.7976931348623157e308);
    expect(canonicalValue({ kind: 'timestamp' }, '2038-01-19 03:14:07.999999')).toBe('2038-01-19T03:14:07.999999Z');
    expect(canonicalValue({ kind: 'timestamp' }, '0000-00-00 00:00:00.000')).toBe('0000-00-00 00:00:00.000');
    expect(canonicalValue({ kind: 'time' }, '-838:59:59.000000')).toBe('-838:59:59.000000');
    expect(canonicalValue({ kind: 'text' }, 'F09F9880')).toBe('😀');
    expect(canonicalValue({ kind: 'binary' }, '00FF')).toBe('AP8=');
    expect(canonicalValue({ kind: 'geometry' }, '000000000101000000000000000000F03F0000000000000040')).toBe('AAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQA==');
    expect(canonicalValue({ kind: 'json' }, Buffer.from('{"a": [1, 2.5]}').toString('hex'))).toEqual({ a: [1, 2.5] });
    expect(canonicalValue({ kind: 'json' }, null)).toBe(null);
  });

  it('names documents as the sinks do', () => {
    expect(documentIdOf(['abc'])).toBe('abc');
    expect(documentIdOf([42])).toBe('42');
    expect(documentIdOf([null])).toBe('null');
    expect(documentIdOf([1, 'A-1'])).toBe('[1,"A-1"]');
  });
});
