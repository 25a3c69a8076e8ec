// The table map's optional metadata lists charsets and signedness for classes of columns, and each
// server draws the classes its own way (MariaDB counts GEOMETRY among the character columns; both
// count YEAR among the numeric ones). A column read with the wrong class takes its neighbour's charset
// or signedness, so this decodes tables whose columns interleave every class, in several orders, and
// compares each value with the server's own text of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { createBinlogSource } from '../../core/source/index.ts';
import { Recorder, silentLogger, uniqueServerId } from '../helpers/source-harness.ts';
import { sourceConnection, sourceServers, waitFor } from '../helpers/servers.ts';

/** Columns whose value betrays a wrong charset or signedness, each with its SELECT text expression. */
const COLUMNS: Array<{ name: string; type: string; value: string; text: (c: string) => string }> = [
  { name: 'y', type: 'YEAR', value: '2155', text: (c) => `CAST(${c} AS CHAR)` },
  { name: 'si', type: 'INT', value: '-5', text: (c) => `CAST(${c} AS CHAR)` },
  { name: 'ui', type: 'INT UNSIGNED', value: '4294967295', text: (c) => `CAST(${c} AS CHAR)` },
  { name: 'ss', type: 'SMALLINT', value: '-1', text: (c) => `CAST(${c} AS CHAR)` },
  { name: 'us', type: 'SMALLINT UNSIGNED', value: '65535', text: (c) => `CAST(${c} AS CHAR)` },
  { name: 'ub', type: 'BIGINT UNSIGNED', value: '18446744073709551615', text: (c) => `CAST(${c} AS CHAR)` },
  { name: 'd', type: 'DECIMAL(6,2) UNSIGNED', value: '9999.99', text: (c) => `CAST(${c} AS CHAR)` },
  { name: 'g', type: 'POINT', value: "ST_GeomFromText('POINT(1 2)')", text: (c) => `TO_BASE64(${c})` },
  { name: 'tl', type: 'TEXT CHARACTER SET latin1', value: "'caf\\xe9'", text: (c) => `CONVERT(${c} USING utf8mb4)` },
  { name: 'tu', type: 'VARCHAR(10) CHARACTER SET utf8mb4', value: "'ü😀'", text: (c) => c },
  { name: 'b', type: 'BLOB', value: "x'00FF'", text: (c) => `TO_BASE64(${c})` },
  { name: 'e', type: "ENUM('a','é') CHARACTER SET utf8mb4", value: "'é'", text: (c) => c },
  { name: 'st', type: "SET('x','y') CHARACTER SET latin1", value: "'x,y'", text: (c) => c },
  { name: 'l', type: 'LINESTRING', value: "ST_GeomFromText('LINESTRING(0 0,1 1)')", text: (c) => `TO_BASE64(${c})` },
  { name: 'cg', type: 'CHAR(3) CHARACTER SET gbk', value: "'中文'", text: (c) => `CONVERT(${c} USING utf8mb4)` },
];

/** Column orders that put every class before and after every other. */
const ORDERS = [COLUMNS, [...COLUMNS].reverse(), COLUMNS.filter((_, i) => i % 2 === 0).concat(COLUMNS.filter((_, i) => i % 2 === 1))];

describe.each(sourceServers)('table map metadata on $label', (server) => {
  let conn: Connection;
  const db = `tmap_${server.name}`;
  beforeAll(async () => {
    conn = await sourceConnection(server);
    await conn.query(`DROP DATABASE IF EXISTS ${db}`);
    await conn.query(`CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
  });
  afterAll(async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${db}`);
    await conn.end();
  });

  it.each(ORDERS.map((order, i) => [i, order] as const))('order %i: every value decodes as SELECT shows it', async (i, order) => {
    const table = `${db}.t${i}`;
    await conn.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, ${order.map((c) => `${c.name} ${c.type}`).join(', ')})`);
    const recorder = new Recorder();
    const source = createBinlogSource({ connection: server.connection, serverId: uniqueServerId(), include: [table], exclude: [] }, silentLogger());
    await source.start({ kind: 'latest' }, recorder);
    try {
      await conn.query(`INSERT INTO ${table} (id, ${order.map((c) => c.name).join(', ')}) VALUES (1, ${order.map((c) => c.value).join(', ')})`);
      await waitFor(() => recorder.committed.length > 0, { timeoutMs: 20_000, what: `the insert into ${table}` });
    } finally {
      await source.stop();
    }
    const [rows] = (await conn.query(`SELECT ${order.map((c) => `${c.text(c.name)} AS ${c.name}`).join(', ')} FROM ${table}`)) as unknown as [
      Array<Record<string, string>>,
    ];
    const selected = rows[0]!;
    const decoded = Object.fromEntries(recorder.committed[0]!.rows[0]!.map((cell) => ['value' in cell ? [cell.column, cell.value] : [cell.column, null]][0]!));
    for (const column of order) {
      const value = decoded[column.name];
      const expected = selected[column.name]!;
      // numbers are JSON numbers where exact (BIGINT beyond 2^53 and DECIMAL as text): compare as text
      expect({ column: column.name, value: String(value) }).toEqual({ column: column.name, value: expected });
    }
  });
});
