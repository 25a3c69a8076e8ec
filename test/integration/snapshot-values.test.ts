import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { resolveConfig } from '../../core/config/index.ts';
import type { ColumnValue, RowEvent } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { createSnapshotter } from '../../core/snapshot/index.ts';
import { createBinlogSource } from '../../core/source/index.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';
import { createTestDatabase, sourceConnection, sourceServers, waitFor } from '../helpers/servers.ts';
import { diffRows, describeDiff, tableRows } from '../helpers/compare-rows.ts';

// The sink must equal the table whichever path a row came by: a row of every column type read by
// the snapshot (text protocol) must have the values the server gives for it (SELECT with CAST, HEX
// and JSON text, test/helpers/differential/expected.ts: never Tunnel's code), and the same canonical
// values as the same row decoded from the binlog (its delete's before-image). On MariaDB and on MySQL 8.

const COLUMNS = `
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  b BIGINT, bu BIGINT UNSIGNED,
  d DECIMAL(20,6), d0 DECIMAL(5,0), f FLOAT, f2 FLOAT(7,3), dbl DOUBLE,
  bit1 BIT(1), bit12 BIT(12), bit64 BIT(64),
  dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, tm TIME, tm2 TIME(2), y YEAR,
  c CHAR(5), vc VARCHAR(40), l1 VARCHAR(20) CHARACTER SET latin1, tx TEXT, bn BINARY(4), vb VARBINARY(10), bl BLOB,
  e ENUM('small','medium','large'), st SET('red','green','blue'), j JSON, jt JSON, g POINT NULL`;

const ROWS = [
  `(1, -128, 255, -32768, 16777215, -2147483648, 4294967295,
    -9223372036854775808, 18446744073709551615,
    '-12345678901234.000001', 99999, 123456.789, 1234.5678, 0.1,
    b'1', b'101010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
    '2024-02-29', '1999-12-31 23:59:59', '2024-01-02 03:04:05.000007', '2024-06-30 12:00:00', '2038-01-19 03:14:07.999', '-838:59:59', '-00:00:01.50', 2155,
    'ab', 'héllo wörld 🎉', 'café', 'long text', 'ab', x'00ff00', x'deadbeef00',
    'medium', 'red,blue', '{"n": 12345678901234567890, "s": "x é 😀", "a": [1, 2.5, null, true]}',
    JSON_OBJECT('dec', CAST(1.50 AS DECIMAL(5,2)), 'day', CAST('2024-02-29' AS DATE), 'at', CAST('2024-02-29 01:02:03.25' AS DATETIME(2)), 'big', CAST(12345678901234567890 AS DECIMAL(20,0))),
    ST_GeomFromText('POINT(1 2)'))`,
  `(2, 0, 0, 0, 0, 0, 0, 9007199254740993, 9007199254740991, '0.000000', 0, 0, 0, -1.5e300,
    b'0', b'0', b'0', '0000-00-00', '0000-00-00 00:00:00', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01', '0000-00-00 00:00:00', '00:00:00', '838:59:59.99', 1901,
    '', '', '', '', '', '', '', '', '', '[]', '"ünï"', NULL)`,
  `(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
];

const image = (event: RowEvent): Record<string, ColumnValue> => Object.fromEntries(event.rows[0]!.map((c) => [c.column, 'value' in c ? c.value : c.after]));

describe.each(sourceServers)('snapshot values equal binlog values on $label', (server) => {
  let db: string;
  let conn: Connection;

  beforeAll(async () => {
    db = await createTestDatabase('tunnel_snapshot_values', server);
    conn = await sourceConnection(server, { database: db });
    await conn.query("SET SESSION sql_mode = ''");
    await conn.query(`CREATE TABLE every_type (${COLUMNS})`);
    await conn.query(`INSERT INTO every_type VALUES ${ROWS.join(',')}`);
  });

  afterAll(async () => {
    await conn?.end();
  });

  it('reads a row of every column type the same by the snapshot and by the binlog', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-values-'));
    const sink = new MemorySink();
    let fromServer = new Map<string, Record<string, unknown>>();
    const config = resolveConfig({
      positions: { dir },
      deadLetters: { dir },
      tasks: [
        {
          name: 'values',
          source: { ...server.connection, serverId: 33_001, include: [`${db}.*`] },
          plugins: [memorySinkPlugin('mem', sink)],
          snapshot: 'initial',
          batch: { maxWaitMs: 1 },
        },
      ],
    });
    const worker = new Worker(config, { createSource: createBinlogSource, logger: silentLogger(), snapshot: createSnapshotter({ progress: 'off' }) });
    try {
      await worker.startAll();
      await waitFor(() => sink.events.length === 3, { what: 'snapshot rows' });
      fromServer = await tableRows(conn, `${db}.every_type`);
      await conn.query('DELETE FROM every_type ORDER BY id');
      await waitFor(() => sink.events.filter((e) => e.action === 'delete').reduce((n, e) => n + e.rows.length, 0) === 3, { what: 'binlog deletes' });
    } finally {
      await worker.close();
    }
    const snapshot = new Map(sink.events.filter((e) => e.action === 'insert').map((e) => [image(e).id, e]));
    // every column of every row as the server reads it
    const snapshotRows = new Map([...snapshot.values()].map((e) => [String(image(e).id), image(e) as Record<string, unknown>]));
    const fromTheServer = diffRows(fromServer, snapshotRows);
    expect(describeDiff(fromTheServer)).toBe(describeDiff({ missing: [], extra: [], different: [] }));
    const deletes = sink.events.filter((e) => e.action === 'delete').flatMap((e) => e.rows.map((row) => ({ ...e, rows: [row] }) as RowEvent));
    expect(deletes).toHaveLength(3);
    for (const binlog of deletes) {
      const row = image(binlog);
      const snap = snapshot.get(row.id)!;
      expect(snap.primaryKey).toEqual(binlog.primaryKey);
      expect(snap.rows[0]!.map((c) => c.column)).toEqual(binlog.rows[0]!.map((c) => c.column));
      expect(image(snap), `row ${row.id}`).toEqual(row);
    }
    // a few values spelled out, so a shared drift of both paths is caught too
    const first = image(snapshot.get(1)!);
    expect(first).toMatchObject({
      b: '-9223372036854775808',
      bu: '18446744073709551615',
      d: '-12345678901234.000001',
      f: 123456.79,
      f2: 1234.568,
      bit64: '18446744073709551615',
      dtm6: '2024-01-02 03:04:05.000007',
      ts3: '2038-01-19T03:14:07.999Z',
      tm2: '-00:00:01.50',
      vc: 'héllo wörld 🎉',
      l1: 'café',
      bn: Buffer.from([0x61, 0x62, 0, 0]).toString('base64'),
      st: 'red,blue',
      j: { n: '12345678901234567890', s: 'x é 😀', a: [1, 2.5, null, true] },
    });
  });
});
