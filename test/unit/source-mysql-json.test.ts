// MySQL's binary JSON, built byte by byte from sql-common/json_binary.h's grammar: each form decodes
// to the value the server's text of it parses to. test/integration/source-values.test.ts checks the
// same decoder against documents written by a real MySQL 8.
import { describe, expect, it } from 'vitest';
import { ColumnType, Cursor, columnDecoder, type DecodeSupport } from '../../core/source/decode.ts';
import { decodeMysqlJson } from '../../core/source/mysql-json.ts';
import { DecodeError } from '../../core/errors/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const json = (s: string) => {
  const b = hex(s);
  return decodeMysqlJson(b, 0, b.length);
};

describe('MySQL binary JSON', () => {
  it('a small object with an inlined int16 and a pointed-to string', () => {
    // {"a": 1, "bc": "xy"}: count 2, size 24, key entries (18,1) (19,2), value entries int16 1, string @21
    expect(json('00 0200 1800 1200 0100 1300 0200 05 0100 0c 1500 61 6263 02 7879')).toEqual({ a: 1, bc: 'xy' });
  });

  it('a large array inlines int32 and uint32 in its entries; literals and doubles', () => {
    // [-2, 4294967295, null, true, false, 0.5]: large array, count 6, entries of 5 bytes
    const doubleAt = (4 + 4 + 6 * 5).toString(16).padStart(2, '0');
    expect(json(`03 06000000 30000000 07 feffffff 08 ffffffff 04 00000000 04 01000000 04 02000000 0b ${doubleAt}000000 000000000000e03f`)).toEqual([
      -2,
      4294967295,
      null,
      true,
      false,
      0.5,
    ]);
  });

  it('64-bit integers: numbers while safe, exact decimal strings beyond 2^53 - 1', () => {
    expect(json('09 ffffffffffff1f00')).toBe(9007199254740991);
    expect(json('09 0000000000002000')).toBe('9007199254740992');
    expect(json('09 0000000000000080')).toBe('-9223372036854775808');
    expect(json('0a ffffffffffffffff')).toBe('18446744073709551615');
  });

  it('opaque DECIMAL is the number the server prints (1.50 parses to 1.5); integers stay exact', () => {
    // field type 246, length 4: precision 3, scale 2, decimal2bin of 1.50 = 81 32
    expect(json('0f f6 04 03 02 81 32')).toBe(1.5);
    // DECIMAL(20,0) 12345678901234567890: 2 digits (1 byte) + two 9-digit groups
    expect(json('0f f6 0b 14 00 8c 149aa435 0dfb38d2')).toBe('12345678901234567890');
  });

  it('opaque DATE, TIME and DATETIME as the server prints them in JSON', () => {
    const packed = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(v);
      return b.toString('hex');
    };
    const ymd = (y: number, m: number, d: number) => BigInt(((y * 13 + m) << 5) | d);
    const hms = (h: number, mi: number, s: number) => BigInt((h << 12) | (mi << 6) | s);
    expect(json(`0f 0a 08 ${packed(((ymd(2024, 2, 29) << 17n) | 0n) << 24n)}`)).toBe('2024-02-29');
    expect(json(`0f 0c 08 ${packed((((ymd(2024, 2, 29) << 17n) | hms(1, 2, 3)) << 24n) + 250000n)}`)).toBe('2024-02-29 01:02:03.250000');
    expect(json(`0f 0b 08 ${packed(-((hms(12, 34, 56) << 24n) + 500000n))}`)).toBe('-12:34:56.500000');
    expect(json(`0f 0b 08 ${packed(hms(838, 59, 59) << 24n)}`)).toBe('838:59:59.000000');
  });

  it('other opaque values are base64 with their field type, as the server prints them', () => {
    expect(json('0f 0f 02 00ff')).toBe('base64:type15:AP8=');
  });

  it('a string whose length takes two bytes', () => {
    expect(json(`0c 8001 ${'61'.repeat(128)}`)).toBe('a'.repeat(128));
  });

  it('an empty value is JSON null; a truncated document is an error, not a guess', () => {
    expect(decodeMysqlJson(Buffer.alloc(0), 0, 0)).toBeNull();
    expect(() => json('00 0200 1600 0b00 0100')).toThrow(DecodeError);
    expect(() => json('0c 05 6162')).toThrow(DecodeError);
    expect(() => json('0e 00')).toThrow(/unknown type 14/);
  });

  it('the column decoder reads the length, the document, and moves past it', () => {
    const support = {} as DecodeSupport;
    const decoder = columnDecoder({ name: 'j', type: ColumnType.JSON, metadata: { length_size: 4 }, unsigned: false, charset: null }, support);
    const c = new Cursor(hex('03000000 05 0700 00000000 ff'), 0);
    expect(decoder(c)).toBe(7);
    expect(decoder(c)).toBeNull();
    expect(c.pos).toBe(11);
  });
});
