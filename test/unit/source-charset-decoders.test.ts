// The text readers over hand-written tables (what each kind of table does: single bytes, the
// Latin-1 fast path, two-, three- and gb18030's four-byte sequences), the Unicode readers, and the
// INET6 text form, with expected values written out. The servers' own tables are checked against
// the servers by test/integration/source-charsets.test.ts.
import { describe, expect, it } from 'vitest';
import { tableReader, unicodeReader, type CharsetTable } from '../../core/source/charset-decoders.ts';
import { formatInet4, formatInet6, formatUuid } from '../../core/source/logical-types.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const read = (table: CharsetTable, bytes: Buffer) => tableReader(table)(bytes, 0, bytes.length);

function identity(changes: Record<number, number> = {}): Int32Array {
  const single = new Int32Array(256).map((_, b) => b);
  for (const [b, cp] of Object.entries(changes)) single[Number(b)] = cp;
  return single;
}

describe('8-bit tables', () => {
  const cp1252ish: CharsetTable = { charset: 'test', single: identity({ 0x80: 0x20ac, 0x81: 0x3f, 0x9f: 0x178 }) };

  it('ASCII and bytes Latin-1 reads the same way come out as Latin-1; the others from the table', () => {
    expect(read(cp1252ish, Buffer.from('plain ascii'))).toBe('plain ascii');
    expect(read(cp1252ish, hex('636166e9'))).toBe('café');
    expect(read(cp1252ish, hex('80 81 9f 41'))).toBe('€?ŸA');
    const long = Buffer.concat([Buffer.from('x'.repeat(40)), hex('80'), Buffer.from('y'.repeat(40))]);
    expect(read(cp1252ish, long)).toBe(`${'x'.repeat(40)}€${'y'.repeat(40)}`);
  });

  it('a set that is not ASCII-compatible (swe7) reads every byte from its table', () => {
    const swe7ish: CharsetTable = { charset: 'test', single: identity({ 0x5b: 0xc4, 0x60: 0xe9, 0x7b: 0xe4 }) };
    expect(read(swe7ish, Buffer.from('[a`{'))).toBe('Äaéä');
  });

  it('reads a slice of a larger buffer', () => {
    const buf = hex('ff 41 80 42 ff');
    expect(tableReader(cp1252ish)(buf, 1, 4)).toBe('A€B');
  });
});

describe('multi-byte tables', () => {
  const double = new Int32Array(65536).fill(-1);
  double[0xa140] = 0x3000;
  double[0xa1fe] = 0x3f; // a well-formed pair the server has no Unicode for
  double[0xf9fe] = 0x2593;
  const eucjp = new Int32Array(65536).fill(-1);
  eucjp[0xa1a1] = 0x4e02;
  const table: CharsetTable = {
    charset: 'test',
    single: identity({ 0x80: 0x3f, 0xa1: 0x3f, 0xf9: 0x3f, 0x8f: 0x3f }),
    double,
    triple: new Map([[0x8f, eucjp]]),
  };

  it('two- and three-byte sequences, ASCII between them, a lone lead byte as ?', () => {
    expect(read(table, hex('a140 41 a1fe f9fe 8fa1a1 42'))).toBe('\u3000A?\u2593\u4e02B');
    expect(read(table, hex('a1'))).toBe('?');
    expect(read(table, hex('41 a1'))).toBe('A?');
    expect(read(table, hex('8fa1'))).toBe('??');
    expect(read(table, Buffer.from('only ascii here'))).toBe('only ascii here');
  });

  it('more than 16 characters (the UTF-16 buffer path) and the same reader again', () => {
    const bytes = Buffer.concat(Array.from({ length: 30 }, () => hex('a140 41')));
    const reader = tableReader(table);
    expect(reader(bytes, 0, bytes.length)).toBe('\u3000A'.repeat(30));
    expect(reader(hex('f9fe'), 0, 2)).toBe('\u2593');
  });

  it("gb18030's four-byte sequences: the BMP part from the table, the supplementary planes in order", () => {
    const quadruple = new Int32Array(4 * 12600).fill(0x3f);
    quadruple[0] = 0x80; // 81 30 81 30
    quadruple[39419] = 0xffff; // 84 31 a4 39
    const gb: CharsetTable = {
      charset: 'gb18030',
      single: identity({ 0x80: 0x3f, 0x81: 0x3f, 0x84: 0x3f, 0x90: 0x3f, 0xe3: 0x3f, 0xe4: 0x3f }),
      double,
      quadruple,
    };
    expect(read(gb, hex('81308130 8431a439'))).toBe('\u0080\uffff');
    expect(read(gb, hex('8431a530'))).toBe('?');
    expect(read(gb, hex('90308130 e3329a35'))).toBe('\u{10000}\u{10ffff}');
    expect(read(gb, hex('e3329a36 e4308130'))).toBe('??');
    expect(read(gb, hex('903081'))).toBe('?0?');
  });
});

describe('Unicode character sets', () => {
  const text = 'aЖ€😀\u{10ffff}';
  const reader = (charset: string) => {
    const r = unicodeReader(charset)!;
    return (bytes: Buffer) => r(bytes, 0, bytes.length);
  };

  it('UTF-8 (utf8mb3, utf8mb4), UTF-16 big- and little-endian, UCS-2, UTF-32', () => {
    expect(reader('utf8mb4')(Buffer.from(text))).toBe(text);
    expect(reader('utf8mb3')(Buffer.from('aЖ€'))).toBe('aЖ€');
    expect(reader('utf16le')(Buffer.from(text, 'utf16le'))).toBe(text);
    expect(reader('utf16')(hex('0061 0416 20ac d83dde00 dbffdfff'))).toBe(text);
    expect(reader('ucs2')(hex('0061 0416 20ac feff'))).toBe('aЖ€\ufeff');
    expect(reader('utf32')(hex('00000061 00000416 000020ac 0001f600 0010ffff'))).toBe(text);
    expect(unicodeReader('latin1')).toBeUndefined();
  });
});

describe('MariaDB UUID, INET4, INET6 text', () => {
  it('INET6 as the server prints it (a single zero group compressed, IPv4-mapped and -compatible dotted)', () => {
    const cases: Record<string, string> = {
      '00000000000000000000000000000000': '::',
      '00000000000000000000000000000001': '::1',
      '00000000000000000000ffff01020304': '::ffff:1.2.3.4',
      '00000000000000000000ffff00000000': '::ffff:0.0.0.0',
      '00000000000000000000000001020304': '::1.2.3.4',
      '00000000000000000000000000000102': '::102',
      '00010000000000000000000000000000': '1::',
      '00010000000000020000000000000000': '1:0:0:2::',
      '00010000000000020000000000030004': '1::2:0:0:3:4',
      '00010000000200030004000500060007': '1::2:3:4:5:6:7',
      '20010db8000000000001000000000001': '2001:db8::1:0:0:1',
      '0000000000000000ffff000001020304': '::ffff:0:102:304',
      fe80000000000000000000000000000a: 'fe80::a',
    };
    for (const [bytes, text] of Object.entries(cases)) expect([bytes, formatInet6(hex(bytes))]).toEqual([bytes, text]);
  });

  it('INET4 dotted decimal, UUID in its byte order', () => {
    expect(formatInet4(hex('0aff0001'))).toBe('10.255.0.1');
    expect(formatUuid(hex('123e4567e89b12d3a456426655440000'))).toBe('123e4567-e89b-12d3-a456-426655440000');
  });
});
