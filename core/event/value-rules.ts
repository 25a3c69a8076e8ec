import type { ColumnValue } from './event.ts';

/**
 * The column-value rules, written once as data: per MySQL/MariaDB column type, the JSON type and form
 * Tunnel emits for it, with examples. Every value is exact and JSON-safe: the same table read by
 * `SELECT` shows the same values. The binlog decoder (core/source/decode.ts) and the snapshot's reader
 * (core/snapshot/values.ts) implement these rules; test/integration/value-rules.test.ts writes every
 * example below to the server and checks that the binlog source emits its `value`; the docs' table
 * is `valueRulesTable()`'s output.
 */
export interface ValueRule {
  /** The column types the rule covers, as written in a table definition. */
  types: readonly string[];
  /** The JSON type of the emitted value. */
  json: 'number' | 'string' | 'number or string' | 'any JSON value' | 'null';
  /** The form, and how edge values come out. */
  form: string;
  examples: readonly ValueExample[];
}

export interface ValueExample {
  /** A column definition, e.g. `DECIMAL(20,6)`. */
  column: string;
  /** The value written, as an SQL literal. */
  sql: string;
  /** What Tunnel emits for it. */
  value: ColumnValue;
  /**
   * The session's sql_mode and time_zone matter for some literals: examples are written with
   * `sql_mode = ''` (zero dates and invalid ENUM values are stored) and `time_zone = '+00:00'`.
   */
  note?: string;
}

export const VALUE_RULES: readonly ValueRule[] = [
  {
    types: ['TINYINT', 'SMALLINT', 'MEDIUMINT', 'INT'],
    json: 'number',
    form: 'the integer, signed or UNSIGNED',
    examples: [
      { column: 'TINYINT', sql: '-128', value: -128 },
      { column: 'INT UNSIGNED', sql: '4294967295', value: 4294967295 },
    ],
  },
  {
    types: ['YEAR'],
    json: 'number',
    form: 'the year; YEAR `0000` is `0`',
    examples: [
      { column: 'YEAR', sql: '2155', value: 2155 },
      { column: 'YEAR', sql: '0', value: 0 },
    ],
  },
  {
    types: ['BIGINT', 'BIGINT UNSIGNED'],
    json: 'number or string',
    form: 'a number when it is a safe integer (|v| ≤ 2^53-1), else its exact decimal string',
    examples: [
      { column: 'BIGINT', sql: '9007199254740991', value: 9007199254740991 },
      { column: 'BIGINT UNSIGNED', sql: '18446744073709551615', value: '18446744073709551615' },
    ],
  },
  {
    types: ['BIT(n)'],
    json: 'number or string',
    form: 'the bits as an unsigned integer, like BIGINT: a number when safe, else its decimal string; BIT(1) is `0` or `1`',
    examples: [
      { column: 'BIT(1)', sql: "b'1'", value: 1 },
      { column: 'BIT(64)', sql: '0xFFFFFFFFFFFFFFFF', value: '18446744073709551615' },
    ],
  },
  {
    types: ['DECIMAL(p,s)'],
    json: 'string',
    form: "always the exact decimal string with the column's scale",
    examples: [
      { column: 'DECIMAL(20,6)', sql: "'-0.000001'", value: '-0.000001' },
      { column: 'DECIMAL(5,2)', sql: '1.5', value: '1.50' },
    ],
  },
  {
    types: ['FLOAT'],
    json: 'number',
    form: 'the shortest decimal that reads back as the stored 32-bit float (`3.14`, not `3.140000104904175`)',
    examples: [{ column: 'FLOAT', sql: '3.14', value: 3.14 }],
  },
  {
    types: ['DOUBLE'],
    json: 'number',
    form: 'the stored 64-bit float',
    examples: [{ column: 'DOUBLE', sql: '-1.7976931348623157e308', value: -1.7976931348623157e308 }],
  },
  {
    types: ['CHAR', 'VARCHAR', 'TEXT'],
    json: 'string',
    form: "the text as the server's SELECT gives it to a utf8mb4 client, in every character set (the server's own mapping: latin1 is cp1252, big5 and sjis are MySQL's tables)",
    examples: [
      { column: 'VARCHAR(20) CHARACTER SET utf8mb4', sql: "'héllo 😀'", value: 'héllo 😀' },
      { column: 'VARCHAR(20) CHARACTER SET latin1', sql: "'café€'", value: 'café€' },
      { column: 'VARCHAR(20) CHARACTER SET big5', sql: "'Ж①'", value: 'Ж①' },
      { column: 'VARCHAR(20) CHARACTER SET sjis', sql: "'\\\\〜'", value: '\\〜' },
    ],
  },
  {
    types: ['BINARY(n)', 'VARBINARY', 'BLOB', 'GEOMETRY'],
    json: 'string',
    form: 'base64 of the stored bytes; BINARY(n) zero-padded to n bytes, as SELECT returns it',
    examples: [
      { column: 'BINARY(4)', sql: "x'ff'", value: '/wAAAA==' },
      { column: 'BLOB', sql: "x'deadbeef'", value: '3q2+7w==' },
      { column: 'POINT', sql: "ST_GeomFromText('POINT(1 2)')", value: 'AAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQA==' },
    ],
  },
  {
    types: ['DATE'],
    json: 'string',
    form: '`YYYY-MM-DD`; the zero date stays `0000-00-00`',
    examples: [
      { column: 'DATE', sql: "'2024-02-29'", value: '2024-02-29' },
      { column: 'DATE', sql: "'0000-00-00'", value: '0000-00-00', note: "sql_mode ''" },
    ],
  },
  {
    types: ['TIME(n)'],
    json: 'string',
    form: '`[-]HH:MM:SS[.f]` with n fraction digits; hours may exceed 99',
    examples: [
      { column: 'TIME', sql: "'-838:59:59'", value: '-838:59:59' },
      { column: 'TIME(6)', sql: "'-00:00:01.5'", value: '-00:00:01.500000' },
    ],
  },
  {
    types: ['DATETIME(n)'],
    json: 'string',
    form: '`YYYY-MM-DD HH:MM:SS[.f]`: the wall-clock value exactly as stored, n fraction digits, no time zone applied; `0000-00-00 00:00:00` stays',
    examples: [
      { column: 'DATETIME(6)', sql: "'2024-01-02 03:04:05.000007'", value: '2024-01-02 03:04:05.000007' },
      { column: 'DATETIME', sql: "'0000-00-00 00:00:00'", value: '0000-00-00 00:00:00', note: "sql_mode ''" },
    ],
  },
  {
    types: ['TIMESTAMP(n)'],
    json: 'string',
    form: 'the UTC instant `YYYY-MM-DDTHH:MM:SS[.f]Z`: the binlog stores a TIMESTAMP as UTC seconds, so no session, server or Tunnel time zone is involved; the zero TIMESTAMP stays `0000-00-00 00:00:00`',
    examples: [
      { column: 'TIMESTAMP(3) NULL', sql: "'2038-01-19 03:14:07.999'", value: '2038-01-19T03:14:07.999Z', note: "time_zone '+00:00'" },
      { column: 'TIMESTAMP NULL', sql: "'0000-00-00 00:00:00'", value: '0000-00-00 00:00:00', note: "sql_mode ''" },
    ],
  },
  {
    types: ['ENUM'],
    json: 'string',
    form: 'its label; `""` for the invalid-value index 0',
    examples: [
      { column: "ENUM('small','large')", sql: "'large'", value: 'large' },
      { column: "ENUM('small','large')", sql: "'huge'", value: '', note: "sql_mode ''" },
    ],
  },
  {
    types: ['SET'],
    json: 'string',
    form: 'its labels joined by `,` in definition order, as SELECT shows them; `""` when empty',
    examples: [
      { column: "SET('x','y','z')", sql: "'z,x'", value: 'x,z' },
      { column: "SET('x','y','z')", sql: "''", value: '' },
    ],
  },
  {
    types: ['JSON (MySQL)', 'MariaDB JSON (LONGTEXT with CHECK (json_valid(col)))'],
    json: 'any JSON value',
    form:
      "the parsed value of the server's text of it (what `CAST(col AS CHAR)` prints); integers beyond 2^53-1 inside it become decimal strings, like BIGINT; " +
      'SQL values inside a MySQL document as MySQL prints them (a DECIMAL 1.50 is the number `1.5`)',
    examples: [
      { column: 'JSON', sql: '\'{"n": 18446744073709551615, "a": [1, 2.5, null]}\'', value: { n: '18446744073709551615', a: [1, 2.5, null] } },
      { column: 'JSON', sql: "JSON_OBJECT('price', CAST(1.50 AS DECIMAL(5,2)))", value: { price: 1.5 } },
    ],
  },
  {
    types: ['UUID (MariaDB)', 'INET4 (MariaDB)', 'INET6 (MariaDB)'],
    json: 'string',
    form: "their text form, as SELECT prints it (INET6 the server's way: a single zero group is '::' too, unlike RFC 5952)",
    examples: [
      { column: 'UUID', sql: "'123e4567-e89b-12d3-a456-426655440000'", value: '123e4567-e89b-12d3-a456-426655440000' },
      { column: 'INET6', sql: "'2001:db8::1'", value: '2001:db8::1' },
      { column: 'INET6', sql: "'1:0:2:3:4:5:6:7'", value: '1::2:3:4:5:6:7' },
    ],
  },
  {
    types: ['NULL, in every type'],
    json: 'null',
    form: '`null`',
    examples: [{ column: 'INT', sql: 'NULL', value: null }],
  },
];

/** The rules as the Markdown table of the docs: type, JSON type, form and one example each. */
export function valueRulesTable(rules: readonly ValueRule[] = VALUE_RULES): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const example = (e: ValueExample) => `\`${e.column}\` ${cell(e.sql)} → \`${cell(JSON.stringify(e.value))}\``;
  const lines = ['| type | JSON | value | example |', '| --- | --- | --- | --- |'];
  for (const rule of rules) lines.push(`| ${cell(rule.types.join(', '))} | ${rule.json} | ${cell(rule.form)} | ${rule.examples.map(example).join('<br>')} |`);
  return lines.join('\n');
}
