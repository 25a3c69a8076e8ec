// Every column type, with edge values, inserted, updated and deleted on the real MariaDB and MySQL 8:
// each event the source emits must equal the canonical JSON written out below. The same rows are
// written under each binlog_row_metadata setting the server has: FULL (column names in the binlog,
// the recommended setting), MINIMAL (MySQL's default) and NO_LOG (MariaDB's default); without FULL,
// names and enum labels come from INFORMATION_SCHEMA. JSON documents of every kind (MySQL's binary
// JSON with its opaque DECIMAL/DATE/TIME values, large documents) must equal the server's own text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import type { ChangeCell, ColumnValue, RowEvent, ValueCell } from '../../core/event/index.ts';
import { toCanonicalJson } from '../../core/event/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, serverGtids, sourceConnection, sourceServers, type SourceServer } from '../helpers/servers.ts';
import { Recorder, binlogEnd, canonical, lastWrittenGtid, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const CREATE = `CREATE TABLE all_types (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec6 DECIMAL(20,6), dec65 DECIMAL(65,30), dec0 DECIMAL(5,0),
  f FLOAT, d DOUBLE,
  c CHAR(10), vc VARCHAR(300), tx TEXT,
  l1 VARCHAR(20) CHARACTER SET latin1, l1t TEXT CHARACTER SET latin1,
  bn BINARY(4), vb VARBINARY(10), bl BLOB,
  dt DATE, tm TIME, tm6 TIME(6), dtm DATETIME, dtm6 DATETIME(6),
  ts TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL,
  yr YEAR, e ENUM('a','b,c','it''s'), st SET('x','y','z'), b1 BIT(1), b64 BIT(64),
  j JSON
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

const COLUMNS =
  'id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec6, dec65, dec0, f, d, c, vc, tx, l1, l1t, bn, vb, bl, ' +
  'dt, tm, tm6, dtm, dtm6, ts, ts6, yr, e, st, b1, b64, j';

// The session runs at +02:00 on purpose: TIMESTAMP literals are read in the session's zone and must
// come out as the UTC instant; DATETIME literals are wall clock and must come out unchanged.
const INSERT_MIN = `INSERT INTO all_types (${COLUMNS}) VALUES (
  1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  '-0.000001', '-99999999999999999999999999999999999.999999999999999999999999999999', -99999,
  -3.40282e38, -1.7976931348623157e308,
  '', 'a', '', 'café€', 'Ÿ',
  x'00', x'', x'',
  '1000-01-01', '-838:59:59', '-00:00:01.500000', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000000',
  '1970-01-01 02:00:01', '1970-01-01 02:00:01.000001',
  1901, 'a', '', b'0', 0,
  '{}')`;

const INSERT_MAX = `INSERT INTO all_types (${COLUMNS}) VALUES (
  2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  '99999999999999.999999', '99999999999999999999999999999999999.999999999999999999999999999999', 99999,
  3.40282e38, 1.7976931348623157e308,
  'abcdefghij', 'héllo wörld 😀🎉', 'ñ 𝄞 😀', 'ÿ', '€‰',
  x'ffffffff', x'00ff00ff', x'deadbeef',
  '9999-12-31', '838:59:59', '838:59:58.999999', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999',
  '2038-01-19 05:14:07', '2038-01-19 05:14:07.999999',
  2155, 'it''s', 'z,x,y', b'1', 0xFFFFFFFFFFFFFFFF,
  '{"big": 18446744073709551615, "arr": [1, 2.5, "é", null, true], "nested": {"k": "v"}}')`;

const INSERT_NULLS = `INSERT INTO all_types (id) VALUES (3)`;

// Non-strict session: the invalid ENUM value is stored as index 0 (''), zero dates are accepted.
const INSERT_ZERO = `INSERT INTO all_types (${COLUMNS}) VALUES (
  4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  '0', '0', 0,
  0, -0.000001,
  '', '', '', '', '',
  x'', x'', x'',
  '0000-00-00', '00:00:00', '-00:00:00.000001', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000',
  '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000',
  0, 'not-a-label', '', b'0', 0,
  '""')`;

const UPDATE = `UPDATE all_types SET vc = 'b', dtm6 = '2024-02-29 23:59:59.123456', tm6 = '-00:00:00.000001',
  ts6 = NULL, j = '[1, {"a": null}]', bi = 9007199254740993, biu = 9007199254740991 WHERE id = 1`;

const DELETE = `DELETE FROM all_types WHERE id = 2`;

function row(values: Record<string, ColumnValue>): ValueCell[] {
  return Object.entries(values).map(([column, value]) => ({ column, value }));
}

const ROW_MIN = row({
  id: 1,
  ti: -128,
  tiu: 0,
  si: -32768,
  siu: 0,
  mi: -8388608,
  miu: 0,
  i: -2147483648,
  iu: 0,
  bi: '-9223372036854775808',
  biu: 0,
  dec6: '-0.000001',
  dec65: '-99999999999999999999999999999999999.999999999999999999999999999999',
  dec0: '-99999',
  f: -3.40282e38,
  d: -1.7976931348623157e308,
  c: '',
  vc: 'a',
  tx: '',
  l1: 'café€',
  l1t: 'Ÿ',
  bn: 'AAAAAA==',
  vb: '',
  bl: '',
  dt: '1000-01-01',
  tm: '-838:59:59',
  tm6: '-00:00:01.500000',
  dtm: '1000-01-01 00:00:00',
  dtm6: '1000-01-01 00:00:00.000000',
  ts: '1970-01-01T00:00:01Z',
  ts6: '1970-01-01T00:00:01.000001Z',
  yr: 1901,
  e: 'a',
  st: '',
  b1: 0,
  b64: 0,
  j: {},
});

const ROW_MAX = row({
  id: 2,
  ti: 127,
  tiu: 255,
  si: 32767,
  siu: 65535,
  mi: 8388607,
  miu: 16777215,
  i: 2147483647,
  iu: 4294967295,
  bi: '9223372036854775807',
  biu: '18446744073709551615',
  dec6: '99999999999999.999999',
  dec65: '99999999999999999999999999999999999.999999999999999999999999999999',
  dec0: '99999',
  f: 3.40282e38,
  d: 1.7976931348623157e308,
  c: 'abcdefghij',
  vc: 'héllo wörld 😀🎉',
  tx: 'ñ 𝄞 😀',
  l1: 'ÿ',
  l1t: '€‰',
  bn: '/////w==',
  vb: 'AP8A/w==',
  bl: '3q2+7w==',
  dt: '9999-12-31',
  tm: '838:59:59',
  tm6: '838:59:58.999999',
  dtm: '9999-12-31 23:59:59',
  dtm6: '9999-12-31 23:59:59.999999',
  ts: '2038-01-19T03:14:07Z',
  ts6: '2038-01-19T03:14:07.999999Z',
  yr: 2155,
  e: "it's",
  st: 'x,y,z',
  b1: 1,
  b64: '18446744073709551615',
  j: { big: '18446744073709551615', arr: [1, 2.5, 'é', null, true], nested: { k: 'v' } },
});

const ROW_NULLS = row({
  id: 3,
  ti: null,
  tiu: null,
  si: null,
  siu: null,
  mi: null,
  miu: null,
  i: null,
  iu: null,
  bi: null,
  biu: null,
  dec6: null,
  dec65: null,
  dec0: null,
  f: null,
  d: null,
  c: null,
  vc: null,
  tx: null,
  l1: null,
  l1t: null,
  bn: null,
  vb: null,
  bl: null,
  dt: null,
  tm: null,
  tm6: null,
  dtm: null,
  dtm6: null,
  ts: null,
  ts6: null,
  yr: null,
  e: null,
  st: null,
  b1: null,
  b64: null,
  j: null,
});

const ROW_ZERO = row({
  id: 4,
  ti: 0,
  tiu: 0,
  si: 0,
  siu: 0,
  mi: 0,
  miu: 0,
  i: 0,
  iu: 0,
  bi: 0,
  biu: 0,
  dec6: '0.000000',
  dec65: '0.000000000000000000000000000000',
  dec0: '0',
  f: 0,
  d: -0.000001,
  c: '',
  vc: '',
  tx: '',
  l1: '',
  l1t: '',
  bn: 'AAAAAA==',
  vb: '',
  bl: '',
  dt: '0000-00-00',
  tm: '00:00:00',
  tm6: '-00:00:00.000001',
  dtm: '0000-00-00 00:00:00',
  dtm6: '0000-00-00 00:00:00.000000',
  ts: '0000-00-00 00:00:00',
  ts6: '0000-00-00 00:00:00.000000',
  yr: 0,
  e: '',
  st: '',
  b1: 0,
  b64: 0,
  j: '',
});

/** The update's expected row: every column of ROW_MIN before, the SET values after. */
const UPDATED: Record<string, ColumnValue> = {
  vc: 'b',
  dtm6: '2024-02-29 23:59:59.123456',
  tm6: '-00:00:00.000001',
  ts6: null,
  j: [1, { a: null }],
  bi: '9007199254740993',
  biu: 9007199254740991,
};
const ROW_MIN_UPDATE: ChangeCell[] = ROW_MIN.map(({ column, value }) => ({
  column,
  before: value,
  after: column in UPDATED ? UPDATED[column]! : value,
}));

const expectedEvents = (schema: string) => {
  const table = { schema, table: 'all_types', primaryKey: ['id'] };
  return [
    { ...table, action: 'insert', rows: [ROW_MIN] },
    { ...table, action: 'insert', rows: [ROW_MAX] },
    { ...table, action: 'insert', rows: [ROW_NULLS] },
    { ...table, action: 'insert', rows: [ROW_ZERO] },
    { ...table, action: 'update', rows: [ROW_MIN_UPDATE] },
    { ...table, action: 'delete', rows: [ROW_MAX] },
  ];
};

/** The binlog_row_metadata settings each server has (MySQL has no NO_LOG). */
const METADATA: Record<SourceServer['flavor'], string[]> = { mariadb: ['FULL', 'MINIMAL', 'NO_LOG'], mysql: ['FULL', 'MINIMAL'] };
const CASES = sourceServers.flatMap((server) => METADATA[server.flavor].map((metadata) => ({ server, metadata })));

describe.each(CASES)('binlog source values on $server.label, binlog_row_metadata=$metadata', ({ server, metadata }) => {
  const DB = `tunnel_source_values_${metadata.toLowerCase()}`;
  const EXPECTED = expectedEvents(DB);
  let conn: Connection;
  let source: BinlogSource | undefined;

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server, { database: DB });
    await conn.query("SET SESSION sql_mode = '', time_zone = '+02:00'");
  });

  afterAll(async () => {
    await source?.stop();
    await conn?.end();
  });

  it('emits every type exactly, for insert, update and delete', async () => {
    const start = await binlogEnd(server);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
    await source.start({ kind: 'position', position: start }, recorder);

    const [[{ setting }]] = (await conn.query('SELECT @@GLOBAL.binlog_row_metadata AS setting')) as unknown as [[{ setting: string }]];
    // A global setting, changed only around these writes and put back at once.
    if (setting !== metadata) await conn.query(`SET GLOBAL binlog_row_metadata = ${metadata}`);
    try {
      await conn.query(CREATE);
      for (const sql of [INSERT_MIN, INSERT_MAX, INSERT_NULLS, INSERT_ZERO, UPDATE, DELETE]) await conn.query(sql);
    } finally {
      if (setting !== metadata) await conn.query(`SET GLOBAL binlog_row_metadata = ${setting}`);
    }
    const end = await binlogEnd(server);
    const gtids = await serverGtids(server);
    await recorder.waitForCommitAt(end);
    await source.stop();

    expect(recorder.errors).toEqual([]);
    expect(recorder.events.map(canonical)).toEqual(EXPECTED);
    // byte-exact JSON of the canonical fields, in the wire format sinks see
    const json = recorder.events.map((e) => JSON.parse(toCanonicalJson(e)) as Record<string, unknown>);
    expect(json.map(({ schema, table, action, rows, primaryKey }) => ({ schema, table, action, rows, primaryKey }))).toEqual(EXPECTED);
    expect(JSON.stringify(json[0]!.rows)).toContain('"bi","value":"-9223372036854775808"');

    // metadata: positions inside the file, increasing, each event within its transaction's commit
    const commitOf = (e: RowEvent) => recorder.commits.find((c) => c.position.gtid === e.position.gtid)!;
    let previous = 0;
    for (const event of recorder.events) {
      expect(event.position.file).toBe(end.file);
      expect(event.position.offset).toBeGreaterThan(previous);
      previous = event.position.offset;
      expect(event.position.gtid).toMatch(server.gtidPattern);
      const commit = commitOf(event);
      expect(commit.position.offset).toBeGreaterThan(event.position.offset);
      expect(Math.abs(event.timestamp - Date.now())).toBeLessThan(120_000);
      expect(event.timestamp % 1000).toBe(0);
    }
    // each statement is its own transaction with its own commit; the last at the binlog's end
    expect(new Set(recorder.events.map((e) => e.position.gtid)).size).toBe(6);
    // the commit at the end carries the server's identity and every transaction of its binlog
    expect(recorder.commits.map((c) => c.position)).toContainEqual({
      ...end,
      gtid: expect.stringMatching(server.gtidPattern),
      gtidSet: gtids.executed,
      server: gtids.identity,
    });
  });

  // once is enough: SELECT does not depend on the binlog setting
  if (metadata !== 'FULL') return;
  it('the values equal what SELECT returns for the same row', async () => {
    const [rows] = await conn.query(
      `SELECT dec6, dec65, vc, l1, l1t, dt, tm, tm6, dtm6, CAST(bi AS CHAR) AS bi, e, st, HEX(bn) AS bn FROM all_types WHERE id = 4`,
    );
    const selected = (rows as Record<string, unknown>[])[0]!;
    const zero = Object.fromEntries(ROW_ZERO.map((c) => [c.column, c.value]));
    expect(selected).toEqual({
      dec6: zero.dec6,
      dec65: zero.dec65,
      vc: zero.vc,
      l1: zero.l1,
      l1t: zero.l1t,
      dt: zero.dt,
      tm: zero.tm,
      tm6: zero.tm6,
      dtm6: zero.dtm6,
      bi: String(zero.bi),
      e: zero.e,
      st: zero.st,
      bn: Buffer.from(zero.bn as string, 'base64')
        .toString('hex')
        .toUpperCase(),
    });
  });
});

/**
 * JSON documents of every shape. On MySQL these are binary JSON in the binlog: small and large
 * (over 64 KB) objects and arrays, inlined and pointed-to integers, doubles, literals, and the opaque
 * DECIMAL/DATE/TIME/DATETIME/binary values that JSON_OBJECT keeps from typed SQL values. On MariaDB
 * they are the text JSON_OBJECT writes.
 */
const JSON_DOCS: { id: number; sql: string; mysqlOnly?: boolean }[] = [
  {
    id: 1,
    sql: `JSON_OBJECT('dec', CAST(1.50 AS DECIMAL(5,2)), 'neg', CAST(-0.001 AS DECIMAL(10,3)), 'wide', CAST('-12345678901234.5678' AS DECIMAL(30,4)),
      'dt', CAST('2024-02-29' AS DATE), 'tm', CAST('-12:34:56.5' AS TIME(1)), 'long', CAST('838:59:59' AS TIME),
      'dtm', CAST('2024-02-29 01:02:03.25' AS DATETIME(2)), 'dtm0', CAST('1000-01-01 00:00:00' AS DATETIME))`,
  },
  { id: 2, sql: `JSON_OBJECT('bin', CAST(x'00ff' AS BINARY), 'y', CAST(2024 AS YEAR))`, mysqlOnly: true },
  {
    id: 3,
    sql: `'{"d": 1e300, "tiny": 5e-324, "min": -1.7976931348623157e308, "half": 0.5, "one": 1.0, "negzero": -0.0,
      "ints": [0, -1, 32767, -32768, 65535, 65536, 2147483647, -2147483648, 4294967295, 9007199254740991, -9007199254740991]}'`,
  },
  { id: 4, sql: `'"just a string"'` },
  { id: 5, sql: `'1e300'` },
  { id: 6, sql: `'-42'` },
  { id: 7, sql: `'null'` },
  { id: 8, sql: `'true'` },
  { id: 9, sql: `'[]'` },
  { id: 10, sql: `'{}'` },
  { id: 11, sql: `'{"esc": "quote \\\\" backslash \\\\\\\\ tab \\\\t nl \\\\n u \\\\u0001", "ünï": "😀 𝄞 ñ", "": "empty key"}'` },
  {
    id: 12,
    sql: `JSON_OBJECT('big', REPEAT('x', 70000), 'arr', JSON_ARRAY(1, -40000, 70000, 3000000000, -3000000000, 1.5e0, 'é', NULL, TRUE, JSON_OBJECT()),
      'nested', JSON_OBJECT('a', JSON_ARRAY(JSON_OBJECT('b', 1), JSON_ARRAY(REPEAT('y', 300)))))`,
  },
  { id: 13, sql: `JSON_ARRAY(REPEAT('z', 66000), 7, -7, 100000, 2147483648, 'end')` },
  { id: 14, sql: `'${'['.repeat(30)}1${']'.repeat(30)}'` },
];

/** Integers beyond 2^53 - 1 inside JSON: exact decimal strings (the BIGINT rule), written out here. */
const BIG_JSON = {
  sql: `'{"u": 18446744073709551615, "s": -9223372036854775808, "over": 9007199254740993, "arr": [9007199254740992, 12345678901234567890]}'`,
  expected: { u: '18446744073709551615', s: '-9223372036854775808', over: '9007199254740993', arr: ['9007199254740992', '12345678901234567890'] },
};

describe.each(sourceServers)('binlog source JSON values on $label', (server) => {
  const DB = 'tunnel_source_json';
  let conn: Connection;
  let source: BinlogSource | undefined;
  const docs = JSON_DOCS.filter((d) => server.flavor === 'mysql' || !d.mysqlOnly);

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server, { database: DB });
    await conn.query('CREATE TABLE docs (id INT PRIMARY KEY, j JSON NULL)');
  });

  afterAll(async () => {
    await source?.stop();
    await conn?.end();
  });

  /** The server's own text of every document, parsed with plain JSON.parse (no integer beyond 2^53 in them). */
  async function serverDocs(): Promise<Map<number, unknown>> {
    const [rows] = await conn.query('SELECT id, CAST(j AS CHAR) AS text FROM docs WHERE id < 100 ORDER BY id');
    return new Map((rows as { id: number; text: string }[]).map((r) => [r.id, JSON.parse(r.text) as unknown]));
  }

  it('every document equals the server text of it, for insert, update and delete', async () => {
    const start = await binlogEnd(server);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
    await source.start({ kind: 'position', position: start }, recorder);

    for (const doc of docs) await conn.query(`INSERT INTO docs VALUES (${doc.id}, ${doc.sql})`);
    await conn.query(`INSERT INTO docs VALUES (100, ${BIG_JSON.sql})`);
    const inserted = await serverDocs();
    await conn.query(`UPDATE docs SET j = JSON_SET(j, '$.added', 1, '$.arr[0]', 'first') WHERE id = 12`);
    const updated = await serverDocs();
    await conn.query('DELETE FROM docs WHERE id IN (1, 13)');
    await recorder.waitForCommitOf(await lastWrittenGtid(conn, server));
    await source.stop();
    source = undefined;

    expect(recorder.errors).toEqual([]);
    const value = (cells: readonly unknown[], key: 'value' | 'before' | 'after') => (cells as Record<string, unknown>[]).find((c) => c.column === 'j')![key];
    const id = (cells: readonly unknown[]) => (cells as Record<string, unknown>[]).find((c) => c.column === 'id')!;
    const inserts = recorder.events.filter((e) => e.action === 'insert').flatMap((e) => e.rows);
    expect(inserts).toHaveLength(docs.length + 1);
    for (const row of inserts) {
      const docId = Number(id(row).value);
      if (docId === 100) expect(value(row, 'value')).toEqual(BIG_JSON.expected);
      else expect(value(row, 'value'), `document ${docId}`).toEqual(inserted.get(docId));
    }
    const [update] = recorder.events.filter((e) => e.action === 'update').flatMap((e) => e.rows);
    expect(value(update!, 'before')).toEqual(inserted.get(12));
    expect(value(update!, 'after')).toEqual(updated.get(12));
    const deletes = recorder.events.filter((e) => e.action === 'delete').flatMap((e) => e.rows);
    expect(deletes.map((row) => value(row, 'value'))).toEqual([inserted.get(1), inserted.get(13)]);
    // the server's text spells the big integers the way the expected values do
    const [[big]] = (await conn.query('SELECT CAST(j AS CHAR) AS text FROM docs WHERE id = 100')) as unknown as [[{ text: string }]];
    for (const digits of ['18446744073709551615', '-9223372036854775808', '9007199254740993', '12345678901234567890']) expect(big.text).toContain(digits);
  });
});

describe.each(sourceServers)('binlog source on $label: generated, invisible and functional-index columns', (server) => {
  const DB = 'tunnel_source_generated';

  it('every column a row image holds, with the values SELECT gives', async () => {
    await createTestDatabase(DB, server);
    const conn = await sourceConnection(server, { database: DB });
    const source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
    try {
      // MySQL 8 keeps a functional index part as a hidden column of its own, in neither the binlog
      // nor INFORMATION_SCHEMA; MariaDB has no functional index.
      const functionalIndex = server.flavor === 'mysql' ? ', INDEX ((a + 1))' : '';
      await conn.query(
        `CREATE TABLE t (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL, s INT AS (a * 3) STORED, h INT INVISIBLE DEFAULT 7${functionalIndex})`,
      );
      const start = await binlogEnd(server);
      const recorder = new Recorder();
      await source.start({ kind: 'position', position: start }, recorder);
      await conn.query('INSERT INTO t (id, a) VALUES (1, 5), (2, NULL)');
      await conn.query('UPDATE t SET a = 6, h = 8 WHERE id = 1');
      await recorder.waitForCommitAt(await binlogEnd(server));
      expect(recorder.errors).toEqual([]);
      const [rows] = await conn.query('SELECT id, a, v, s, h FROM t ORDER BY id');
      const selected = rows as Record<string, unknown>[];
      const image = (cells: readonly unknown[], key: 'value' | 'after') =>
        Object.fromEntries((cells as Record<string, unknown>[]).map((c) => [c.column, c[key]]));
      const [insert, update] = recorder.events;
      expect(insert!.rows.map((row) => image(row, 'value'))).toEqual([{ ...selected[0], a: 5, v: 10, s: 15, h: 7 }, selected[1]]);
      expect(update!.rows.map((row) => image(row, 'after'))).toEqual([selected[0]]);
    } finally {
      await source.stop();
      await conn.end();
    }
  });
});
