import { deflateRawSync, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  ColumnType,
  Cursor,
  columnDecoder,
  decimalBinarySize,
  float32Value,
  readDecimal,
  type ColumnSpec,
  type DecodeSupport,
} from '../../core/source/decode.ts';
import { unicodeReader } from '../../core/source/charset-decoders.ts';
import { JsonText, rowShape, valueOf } from '../../core/event/index.ts';
import { bitmapIsFull, decodeChangeRows, decodeValueRows, lengthEncoded, type TablePlan } from '../../core/source/rows.ts';
import { formatTimestamp, readDate, readDatetime2, readTime2, readTimestamp2 } from '../../core/source/temporal.ts';
import { parseEnumSetDefinition, parseJsonExact } from '../../core/source/value-text.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const support: DecodeSupport = {
  textReader: (charset) => {
    const reader = unicodeReader(charset);
    if (!reader) throw new Error(`no ${charset} in this test`);
    return reader;
  },
  fallback: () => undefined,
  warn: () => {},
};

function decode(spec: Partial<ColumnSpec> & { type: number }, bytes: Buffer): { value: unknown; pos: number } {
  const decoder = columnDecoder({ name: 'c', metadata: {}, unsigned: false, charset: null, ...spec }, support);
  const c = new Cursor(bytes, 0);
  const value = decoder(c);
  return { value, pos: c.pos };
}

/** DATETIME2 bytes as the server writes them (sql-common/my_time.c). */
function datetime2(y: number, mo: number, d: number, h: number, mi: number, s: number, fracBytes = ''): Buffer {
  const ym = y * 13 + mo;
  const intpart = ym * 2 ** 22 + d * 2 ** 17 + h * 2 ** 12 + mi * 2 ** 6 + s + 0x8000000000;
  const b = Buffer.alloc(5);
  b.writeUIntBE(intpart, 0, 5);
  return Buffer.concat([b, hex(fracBytes)]);
}

/** TIME2 bytes exactly as my_time_packed_to_binary writes them, from ±(hms << 24 | micros). */
function time2(negative: boolean, h: number, mi: number, s: number, micros: number, fsp: number): Buffer {
  const hms = h * 4096 + mi * 64 + s;
  const packed = (negative ? -1 : 1) * (hms * 2 ** 24 + micros);
  const intPart = Math.floor(packed / 2 ** 24); // C: nr >> 24
  const fracPart = packed - Math.trunc(packed / 2 ** 24) * 2 ** 24; // C: nr % (1 << 24)
  const b = Buffer.alloc(3 + ((fsp + 1) >> 1));
  if (fsp >= 5) {
    b.writeUIntBE(packed + 0x800000000000, 0, 6);
    return b;
  }
  b.writeUIntBE(0x800000 + intPart, 0, 3);
  if (fsp === 1 || fsp === 2) b[3] = (fracPart / 10000) & 0xff;
  if (fsp === 3 || fsp === 4) b.writeUInt16BE((fracPart / 100) & 0xffff, 3);
  return b;
}

describe('integers', () => {
  it('reads every width signed and unsigned', () => {
    expect(decode({ type: ColumnType.TINY }, hex('80')).value).toBe(-128);
    expect(decode({ type: ColumnType.TINY, unsigned: true }, hex('ff')).value).toBe(255);
    expect(decode({ type: ColumnType.SHORT }, hex('0080')).value).toBe(-32768);
    expect(decode({ type: ColumnType.SHORT, unsigned: true }, hex('ffff')).value).toBe(65535);
    expect(decode({ type: ColumnType.INT24 }, hex('000080')).value).toBe(-8388608);
    expect(decode({ type: ColumnType.INT24, unsigned: true }, hex('ffffff')).value).toBe(16777215);
    expect(decode({ type: ColumnType.LONG }, hex('00000080')).value).toBe(-2147483648);
    expect(decode({ type: ColumnType.LONG, unsigned: true }, hex('ffffffff'))).toEqual({ value: 4294967295, pos: 4 });
  });

  it('BIGINT is a number while safe, else an exact decimal string', () => {
    const big = (v: bigint, unsigned = false): unknown => {
      const b = Buffer.alloc(8);
      if (unsigned) b.writeBigUInt64LE(v);
      else b.writeBigInt64LE(v);
      return decode({ type: ColumnType.LONGLONG, unsigned }, b).value;
    };
    expect(big(0n)).toBe(0);
    expect(big(-1n)).toBe(-1);
    expect(big(9007199254740991n)).toBe(9007199254740991);
    expect(big(-9007199254740991n)).toBe(-9007199254740991);
    expect(big(9007199254740992n)).toBe('9007199254740992');
    expect(big(-9007199254740992n)).toBe('-9007199254740992');
    expect(big(9223372036854775807n)).toBe('9223372036854775807');
    expect(big(-9223372036854775808n)).toBe('-9223372036854775808');
    expect(big(18446744073709551615n, true)).toBe('18446744073709551615');
    expect(big(4294967296n, true)).toBe(4294967296);
  });

  it('YEAR is a number, 0 for the zero year', () => {
    expect(decode({ type: ColumnType.YEAR }, hex('00')).value).toBe(0);
    expect(decode({ type: ColumnType.YEAR }, hex('7c')).value).toBe(2024);
    expect(decode({ type: ColumnType.YEAR }, hex('ff')).value).toBe(2155);
  });

  it('BIT(n) is an unsigned integer, a string beyond 2^53', () => {
    expect(decode({ type: ColumnType.BIT, metadata: { bits: 1 } }, hex('01'))).toEqual({ value: 1, pos: 1 });
    expect(decode({ type: ColumnType.BIT, metadata: { bits: 10 } }, hex('0301'))).toEqual({ value: 769, pos: 2 });
    expect(decode({ type: ColumnType.BIT, metadata: { bits: 64 } }, hex('ffffffffffffffff'))).toEqual({ value: '18446744073709551615', pos: 8 });
    expect(decode({ type: ColumnType.BIT, metadata: { bits: 64 } }, hex('0000000000000005')).value).toBe(5);
  });
});

describe('DECIMAL', () => {
  it('decodes the documented decimal2bin example exactly', () => {
    // DECIMAL(14,4): 1234567890.1234 and its negative (MySQL source, strings/decimal.c)
    expect(readDecimal(hex('810DFB38D204D2'), 0, 14, 4)).toBe('1234567890.1234');
    expect(readDecimal(hex('7EF204C72DFB2D'), 0, 14, 4)).toBe('-1234567890.1234');
    expect(decimalBinarySize(14, 4)).toBe(7);
  });

  it('keeps the scale and the sign of tiny negatives', () => {
    // DECIMAL(20,6) -0.000001: int part 14 digits (4+4+... ) -> encode via the layout
    const size = decimalBinarySize(20, 6);
    const positive = Buffer.alloc(size); // all-zero digits, positive: first bit set
    positive[0] = 0x80;
    positive.writeUIntBE(1, size - 3, 3); // fraction 000001 in the last 3 bytes
    expect(readDecimal(positive, 0, 20, 6)).toBe('0.000001');
    const negative = Buffer.from(positive.map((b) => b ^ 0xff));
    expect(readDecimal(negative, 0, 20, 6)).toBe('-0.000001');
    const zero = Buffer.alloc(size);
    zero[0] = 0x80;
    expect(readDecimal(zero, 0, 20, 6)).toBe('0.000000');
  });

  it('DECIMAL(5,0) and the column decoder advance by the binary size', () => {
    const b = Buffer.alloc(3);
    b.writeUIntBE(99999, 0, 3);
    b[0]! |= 0x80;
    expect(decode({ type: ColumnType.NEWDECIMAL, metadata: { precision: 5, decimals: 0 } }, b)).toEqual({ value: '99999', pos: 3 });
  });
});

describe('FLOAT and DOUBLE', () => {
  it('FLOAT is the shortest decimal of the stored float32', () => {
    expect(float32Value(Math.fround(3.14))).toBe(3.14);
    expect(float32Value(Math.fround(-0.1))).toBe(-0.1);
    expect(float32Value(Math.fround(1234567.8))).toBe(1234567.8);
    expect(float32Value(Math.fround(3.4028234663852886e38))).toBe(3.4028235e38);
    expect(float32Value(16777216)).toBe(16777216);
    const b = Buffer.alloc(4);
    b.writeFloatLE(2.5);
    expect(decode({ type: ColumnType.FLOAT }, b).value).toBe(2.5);
  });

  it('DOUBLE is the stored double', () => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(2.718281828459045);
    expect(decode({ type: ColumnType.DOUBLE }, b)).toEqual({ value: 2.718281828459045, pos: 8 });
  });
});

describe('temporal types', () => {
  it('DATE, including zero dates and zero parts', () => {
    const date = (y: number, m: number, d: number): Buffer => {
      const b = Buffer.alloc(3);
      b.writeUIntLE(y * 512 + m * 32 + d, 0, 3);
      return b;
    };
    expect(readDate(date(2024, 2, 29), 0)).toBe('2024-02-29');
    expect(readDate(date(0, 0, 0), 0)).toBe('0000-00-00');
    expect(readDate(date(1999, 0, 5), 0)).toBe('1999-00-05');
    expect(readDate(date(9999, 12, 31), 0)).toBe('9999-12-31');
  });

  it('DATETIME(n) is the stored wall clock with n fraction digits', () => {
    expect(readDatetime2(datetime2(2024, 2, 29, 23, 59, 59), 0, 0)).toBe('2024-02-29 23:59:59');
    expect(readDatetime2(datetime2(0, 0, 0, 0, 0, 0), 0, 0)).toBe('0000-00-00 00:00:00');
    expect(readDatetime2(datetime2(0, 0, 0, 0, 0, 0, '000000'), 0, 6)).toBe('0000-00-00 00:00:00.000000');
    expect(readDatetime2(datetime2(2024, 1, 2, 3, 4, 5, '01e240'), 0, 6)).toBe('2024-01-02 03:04:05.123456');
    expect(readDatetime2(datetime2(1999, 12, 31, 23, 59, 59, '63'), 0, 2)).toBe('1999-12-31 23:59:59.99');
    expect(readDatetime2(datetime2(1999, 12, 31, 23, 59, 59, '04d2'), 0, 3)).toBe('1999-12-31 23:59:59.123');
    expect(readDatetime2(datetime2(1000, 1, 1, 0, 0, 0, '0001'), 0, 4)).toBe('1000-01-01 00:00:00.0001');
    expect(decode({ type: ColumnType.DATETIME2, metadata: { decimals: 6 } }, datetime2(2024, 1, 2, 3, 4, 5, '01e240')).pos).toBe(8);
  });

  it('TIME(n) handles negative values with fractions and hours beyond 99', () => {
    expect(readTime2(time2(false, 12, 34, 56, 0, 0), 0, 0)).toBe('12:34:56');
    expect(readTime2(time2(true, 838, 59, 59, 0, 0), 0, 0)).toBe('-838:59:59');
    expect(readTime2(time2(false, 838, 59, 59, 0, 0), 0, 0)).toBe('838:59:59');
    expect(readTime2(time2(true, 0, 0, 1, 500000, 6), 0, 6)).toBe('-00:00:01.500000');
    expect(readTime2(time2(false, 12, 34, 56, 789000, 3), 0, 3)).toBe('12:34:56.789');
    expect(readTime2(time2(true, 1, 2, 3, 400000, 1), 0, 1)).toBe('-01:02:03.4');
    expect(readTime2(time2(true, 1, 2, 3, 0, 1), 0, 1)).toBe('-01:02:03.0');
    expect(readTime2(time2(true, 0, 0, 0, 10000, 2), 0, 2)).toBe('-00:00:00.01');
    expect(readTime2(time2(false, 0, 0, 0, 0, 0), 0, 0)).toBe('00:00:00');
  });

  it('TIMESTAMP(n) is the UTC instant, the zero value stays as MySQL prints it', () => {
    const ts = (seconds: number, frac = ''): Buffer => Buffer.concat([hex(seconds.toString(16).padStart(8, '0')), hex(frac)]);
    expect(readTimestamp2(ts(2147483647, '0f423f'), 0, 6)).toBe('2038-01-19T03:14:07.999999Z');
    expect(readTimestamp2(ts(1), 0, 0)).toBe('1970-01-01T00:00:01Z');
    expect(readTimestamp2(ts(0), 0, 0)).toBe('0000-00-00 00:00:00');
    expect(readTimestamp2(ts(0, '0000'), 0, 3)).toBe('0000-00-00 00:00:00.000');
    expect(formatTimestamp(1709251199, 120000, 2)).toBe('2024-02-29T23:59:59.12Z');
  });
});

describe('strings, binary, ENUM, SET, JSON', () => {
  it('utf8mb4 text keeps emoji; VARCHAR length prefix grows past 255 bytes', () => {
    const text = Buffer.from('héllo 😀');
    expect(
      decode({ type: ColumnType.VARCHAR, charset: 'utf8mb4', metadata: { max_length: 40 } }, Buffer.concat([Buffer.from([text.length]), text])).value,
    ).toBe('héllo 😀');
    const wide = Buffer.alloc(2);
    wide.writeUInt16LE(text.length);
    expect(decode({ type: ColumnType.VARCHAR, charset: 'utf8mb4', metadata: { max_length: 1200 } }, Buffer.concat([wide, text]))).toEqual({
      value: 'héllo 😀',
      pos: 2 + text.length,
    });
  });

  it('BINARY(n) is zero-padded to n bytes, VARBINARY and BLOB as stored, all base64', () => {
    expect(decode({ type: ColumnType.STRING, metadata: { max_length: 4 } }, hex('020102')).value).toBe(Buffer.from([1, 2, 0, 0]).toString('base64'));
    expect(decode({ type: ColumnType.VARCHAR, metadata: { max_length: 10 } }, hex('0300ff00')).value).toBe('AP8A');
    expect(decode({ type: ColumnType.BLOB, metadata: { length_size: 2 } }, hex('0400deadbeef'))).toEqual({ value: '3q2+7w==', pos: 6 });
    expect(decode({ type: ColumnType.BLOB, metadata: { length_size: 2 } }, hex('0000'))).toEqual({ value: '', pos: 2 });
    expect(decode({ type: ColumnType.BLOB, charset: 'utf8mb4', metadata: { length_size: 4 } }, hex('00000000')).value).toBe('');
  });

  it('MariaDB UUID/INET columns are their text form, from the bytes zero-padded to their fixed width', () => {
    expect(decode({ type: ColumnType.STRING, metadata: { max_length: 4 }, logical: 'inet4' }, hex('020a00')).value).toBe('10.0.0.0');
    expect(decode({ type: ColumnType.STRING, metadata: { max_length: 16 }, logical: 'inet6' }, hex('0420010db8')).value).toBe('2001:db8::');
    expect(decode({ type: ColumnType.STRING, metadata: { max_length: 16 }, logical: 'uuid' }, hex('02123e')).value).toBe(
      '123e0000-0000-0000-0000-000000000000',
    );
  });

  it('ENUM is its label, SET its labels in definition order', () => {
    const enumValues = ['a', 'b,c', "it's"];
    expect(decode({ type: ColumnType.ENUM, metadata: { size: 1 }, enumValues }, hex('03')).value).toBe("it's");
    expect(decode({ type: ColumnType.ENUM, metadata: { size: 1 }, enumValues }, hex('00')).value).toBe('');
    expect(decode({ type: ColumnType.ENUM, metadata: { size: 2 }, enumValues }, hex('0200'))).toEqual({ value: 'b,c', pos: 2 });
    const setValues = ['x', 'y', 'z'];
    expect(decode({ type: ColumnType.SET, metadata: { size: 1 }, setValues }, hex('05')).value).toBe('x,z');
    expect(decode({ type: ColumnType.SET, metadata: { size: 1 }, setValues }, hex('00')).value).toBe('');
    const many = Array.from({ length: 64 }, (_, i) => `v${i}`);
    expect(decode({ type: ColumnType.SET, metadata: { size: 8 }, setValues: many }, hex('0100000000000080'))).toEqual({ value: 'v0,v63', pos: 8 });
  });

  it('parses enum/set definitions with quotes and commas', () => {
    expect(parseEnumSetDefinition("enum('a','b,c','it''s')")).toEqual(['a', 'b,c', "it's"]);
    expect(parseEnumSetDefinition("set('x','','z')")).toEqual(['x', '', 'z']);
  });

  it('JSON is parsed, with unsafe integers as exact strings', () => {
    expect(parseJsonExact('{"a": [1, 2.5, null, "x"]}')).toEqual({ a: [1, 2.5, null, 'x'] });
    expect(parseJsonExact('{"big": 18446744073709551615, "neg": -9223372036854775808, "ok": 9007199254740991}')).toEqual({
      big: '18446744073709551615',
      neg: '-9223372036854775808',
      ok: 9007199254740991,
    });
    expect(parseJsonExact('["12345678901234567890", 1.2345678901234567e300, 12345678901234567890.5]')).toEqual([
      '12345678901234567890',
      1.2345678901234567e300,
      // eslint-disable-next-line no-loss-of-precision -- the test is that JSON keeps this as a float
      12345678901234567890.5,
    ]);
    expect(parseJsonExact('"a \\" 12345678901234567890"')).toBe('a " 12345678901234567890');
    const json = decode(
      { type: ColumnType.BLOB, charset: 'utf8mb4', json: true, metadata: { length_size: 4 } },
      Buffer.concat([hex('02000000'), Buffer.from('[]')]),
    );
    // a JSON document read as text is kept as text until its value is needed (json-text.ts)
    expect(json.value).toBeInstanceOf(JsonText);
    expect({ value: valueOf(json.value as JsonText), text: (json.value as JsonText).text, pos: json.pos }).toEqual({ value: [], text: '[]', pos: 6 });
  });

  it('JSON text that does not parse is emitted as text, with one warning', () => {
    const warnings: string[] = [];
    const decoder = columnDecoder(
      { name: 'j', type: ColumnType.BLOB, charset: 'utf8mb4', json: true, unsigned: false, metadata: { length_size: 1 } },
      { ...support, warn: (m) => warnings.push(m) },
    );
    const bytes = Buffer.concat([hex('03'), Buffer.from('{x:'), hex('03'), Buffer.from('{y:')]);
    const c = new Cursor(bytes, 0);
    const [x, y] = [decoder(c), decoder(c)] as JsonText[];
    expect(warnings).toHaveLength(0); // nothing parsed yet
    expect([x!.value, y!.value, x!.value]).toEqual(['{x:', '{y:', '{x:']);
    expect(warnings).toHaveLength(1);
  });

  it('types it does not know go to the fallback, which must produce a value', () => {
    expect(() => decode({ type: ColumnType.DECIMAL }, hex('00'))).toThrow(/cannot decode/);
    const fallback: DecodeSupport = { ...support, fallback: (c) => ((c.pos += 2), Buffer.from([1, 2])) };
    const decoder = columnDecoder({ name: 'g', type: ColumnType.DATETIME, metadata: {}, unsigned: false, charset: null }, fallback);
    const c = new Cursor(hex('0000'), 0);
    expect(decoder(c)).toBe('AQI=');
    expect(c.pos).toBe(2);
  });

  it("MariaDB's COMPRESSED columns: the envelope (stored as is, zlib, raw deflate) undone, then text or base64", () => {
    const text = Buffer.from('héllo héllo héllo');
    const zlib = Buffer.concat([Buffer.from([0x81, text.length]), deflateSync(text)]);
    const raw = Buffer.concat([Buffer.from([0x89, text.length]), deflateRawSync(text)]);
    const varchar = (payload: Buffer) => Buffer.concat([Buffer.from([payload.length]), payload]);
    const spec = { type: ColumnType.VARCHAR_COMPRESSED, charset: 'utf8mb4', metadata: { max_length: 100 } };
    expect(decode(spec, varchar(zlib)).value).toBe('héllo héllo héllo');
    expect(decode(spec, varchar(raw))).toEqual({ value: 'héllo héllo héllo', pos: 1 + raw.length });
    expect(decode(spec, varchar(Buffer.concat([Buffer.from([0x00]), text]))).value).toBe('héllo héllo héllo');
    expect(decode(spec, hex('00')).value).toBe('');
    const blob = Buffer.concat([Buffer.from([zlib.length, 0]), zlib]);
    expect(decode({ type: ColumnType.BLOB_COMPRESSED, charset: null, metadata: { length_size: 2 } }, blob).value).toBe(text.toString('base64'));
    expect(() => decode(spec, varchar(Buffer.from([0x30, 1])))).toThrow(/compressed by method 3/);
  });
});

describe('rows', () => {
  const plan: TablePlan = {
    schema: 's',
    table: 't',
    columnTypes: {},
    names: ['id', 'note'],
    shape: rowShape(['id', 'note']),
    decoders: [
      columnDecoder({ name: 'id', type: ColumnType.LONG, metadata: {}, unsigned: false, charset: null }, support),
      columnDecoder({ name: 'note', type: ColumnType.VARCHAR, metadata: { max_length: 20 }, unsigned: false, charset: 'utf8mb4' }, support),
    ],
    primaryKey: ['id'],
  };

  it('decodes insert/delete row images with NULLs', () => {
    // row 1: id=1 note='a'; row 2: id=2 note=NULL (null bitmap bit 1)
    const bytes = hex('00 01000000 0161   02 02000000');
    expect(decodeValueRows(plan, new Cursor(bytes, 0), bytes.length)).toEqual({ count: 2, values: [1, 'a', 2, null], before: undefined });
  });

  it('decodes update before/after pairs', () => {
    const bytes = hex('00 01000000 0161  00 01000000 0162');
    expect(decodeChangeRows(plan, new Cursor(bytes, 0), bytes.length)).toEqual({ count: 1, values: [1, 'b'], before: [1, 'a'] });
  });

  it('bitmaps and length-encoded integers', () => {
    expect(bitmapIsFull(hex('ff07'), 0, 11)).toBe(true);
    expect(bitmapIsFull(hex('ff03'), 0, 11)).toBe(false);
    expect(bitmapIsFull(hex('fff8'), 0, 8)).toBe(true);
    expect(lengthEncoded(hex('fa'), 0)).toEqual([250, 1]);
    expect(lengthEncoded(hex('fc0001'), 0)).toEqual([256, 3]);
    expect(lengthEncoded(hex('fd000001'), 0)).toEqual([65536, 4]);
  });
});
