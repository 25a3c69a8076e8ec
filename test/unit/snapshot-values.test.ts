import { describe, expect, it } from 'vitest';
import { float32Value } from '../../core/source/decode.ts';
import {
  bigintValue,
  bitValue,
  binaryValue,
  convertValue,
  enumMembers,
  floatValue,
  keyParameter,
  timestampText,
  timestampValue,
  valueKind,
  type ColumnInfo,
} from '../../core/snapshot/index.ts';

const col = (dataType: string, columnType = dataType, json = false): ColumnInfo => ({ name: 'c', dataType, columnType, json, nullable: true });

describe('snapshot values (canonical rules shared with the binlog source)', () => {
  it('BIGINT is a number when exact, else its decimal text', () => {
    expect(bigintValue('9007199254740991')).toBe(9007199254740991);
    expect(bigintValue('9007199254740992')).toBe('9007199254740992');
    expect(bigintValue('-9223372036854775808')).toBe('-9223372036854775808');
    expect(bigintValue('18446744073709551615')).toBe('18446744073709551615');
    expect(bigintValue(42n)).toBe(42);
  });

  it('FLOAT is the shortest decimal of the float32, whatever the input width', () => {
    expect(floatValue(Math.fround(1.1))).toBe(1.1);
    expect(floatValue('1.100000023841858')).toBe(1.1);
    expect(floatValue('123456.7890625')).toBe(123456.79);
    expect(floatValue(Math.fround(16777217))).toBe(16777216);
    expect(floatValue(0)).toBe(0);
    // the same number as the binlog decoder gives for the stored float32
    for (const x of [123456.789, 1.1, 3.14, -0.001, 16777217, 3.4e38]) expect(floatValue(String(Math.fround(x)))).toBe(float32Value(Math.fround(x)));
  });

  it('BIT is the unsigned value of its bytes', () => {
    expect(bitValue(Buffer.from([0b101]))).toBe(5);
    expect(bitValue(Buffer.from([1, 0]))).toBe(256);
    expect(bitValue(Buffer.alloc(8, 0xff))).toBe('18446744073709551615');
  });

  it('TIMESTAMP is UTC ISO with the column precision, from text or epoch', () => {
    expect(timestampValue('2024-01-02 03:04:05.123')).toBe('2024-01-02T03:04:05.123Z');
    expect(timestampValue('2024-01-02 03:04:05')).toBe('2024-01-02T03:04:05Z');
    expect(timestampValue('0000-00-00 00:00:00.000')).toBe('0000-00-00 00:00:00.000'); // the zero value, as the binlog source gives it
    expect(timestampText('0000-00-00 00:00:00')).toBe('0000-00-00 00:00:00');
    expect(timestampText('2024-01-02T03:04:05.123Z')).toBe('2024-01-02 03:04:05.123');
  });

  it('binary is base64, JSON parsed, DECIMAL kept as text, NULL null', () => {
    expect(binaryValue(Buffer.from('ab\0\0'))).toBe('YWIAAA==');
    expect(convertValue('json', '{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(convertValue('json', '{"big":12345678901234567890}')).toEqual({ big: '12345678901234567890' });
    expect(convertValue('decimal', '12.50')).toBe('12.50');
    expect(convertValue('int', null)).toBeNull();
    expect(convertValue('year', '2024')).toBe(2024);
  });

  it('maps information_schema types to kinds', () => {
    expect(valueKind(col('int', 'int(10) unsigned'))).toBe('int');
    expect(valueKind(col('bigint'))).toBe('bigint');
    expect(valueKind(col('longtext', 'longtext', true))).toBe('json');
    expect(valueKind(col('varbinary'))).toBe('binary');
    expect(valueKind(col('uuid'))).toBe('text');
  });

  it('turns key values back into SQL parameters that compare like the column sorts', () => {
    expect(keyParameter(col('varbinary'), 'binary', 'YWIAAA==')).toEqual(Buffer.from('ab\0\0'));
    expect(keyParameter(col('timestamp'), 'timestamp', '2024-01-02T03:04:05Z')).toBe('2024-01-02 03:04:05');
    expect(keyParameter(col('enum', "enum('b','a','c')"), 'enum', 'a')).toBe(2);
    expect(keyParameter(col('int'), 'int', 7)).toBe(7);
  });

  it('parses ENUM/SET members with quotes', () => {
    expect(enumMembers("enum('a','it''s','x,y')")).toEqual(['a', "it's", 'x,y']);
  });
});
