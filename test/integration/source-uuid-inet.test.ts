import { describe, expect, it } from 'vitest';
import { createBinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, sourceConnection, sourceServers } from '../helpers/servers.ts';
import { Recorder, binlogEnd, lastWrittenGtid, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

// MariaDB's UUID, INET4 and INET6 are fixed-width binary in the row image (a UUID's groups stored in
// an order of their own, so that it sorts by time); each must reach the sinks as the text the server
// prints for it. The values are written as literals, decoded from the real binlog bytes, and compared
// with both the literal text below and the server's CAST(... AS CHAR).
describe('binlog source on MariaDB: UUID, INET4 and INET6 as the server prints them', () => {
  const server = sourceServers.find((s) => s.flavor === 'mariadb')!;
  const DB = 'tunnel_source_uuid_inet';
  const VALUES: Array<{ id: number; u: string; v4: string; v6: string }> = [
    { id: 1, u: '00000000-0000-0000-0000-000000000000', v4: '0.0.0.0', v6: '::' },
    { id: 2, u: 'ffffffff-ffff-ffff-ffff-ffffffffffff', v4: '255.255.255.255', v6: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
    { id: 3, u: '123e4567-e89b-12d3-a456-426614174000', v4: '10.0.0.1', v6: '2001:db8::ff00:42:8329' },
    { id: 4, u: '01234567-89ab-7def-8123-456789abcdef', v4: '192.168.255.1', v6: '::ffff:1.2.3.4' },
    { id: 5, u: 'a0b1c2d3-e4f5-0617-b829-3a4b5c6d7e8f', v4: '1.2.3.4', v6: 'fe80::1' },
  ];

  it('every value, inserted, updated and deleted, is the literal text and the server text', async () => {
    await createTestDatabase(DB, server);
    const conn = await sourceConnection(server, { database: DB });
    const source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
    try {
      await conn.query('CREATE TABLE t (id INT PRIMARY KEY, u UUID, v4 INET4, v6 INET6)');
      const start = await binlogEnd(server);
      const recorder = new Recorder();
      await source.start({ kind: 'position', position: start }, recorder);
      await conn.query('INSERT INTO t VALUES ?', [VALUES.map((v) => [v.id, v.u, v.v4, v.v6])]);
      // an update moves each value to the next row's, so before- and after-images are read too
      await conn.query('UPDATE t SET u = ?, v4 = ?, v6 = ? WHERE id = 1', [VALUES[2]!.u, VALUES[2]!.v4, VALUES[2]!.v6]);
      const [rows] = await conn.query('SELECT id, CAST(u AS CHAR) AS u, CAST(v4 AS CHAR) AS v4, CAST(v6 AS CHAR) AS v6 FROM t ORDER BY id');
      await conn.query('DELETE FROM t WHERE id IN (2, 4)');
      await recorder.waitForCommitOf(await lastWrittenGtid(conn, server));
      expect(recorder.errors).toEqual([]);

      const image = (cells: readonly unknown[], key: 'value' | 'before' | 'after') =>
        Object.fromEntries((cells as Record<string, unknown>[]).map((c) => [c.column, c[key]]));
      // the server prints exactly the literals (so the literal expectations are the server's text)
      const afterUpdate = VALUES.map((v) => (v.id === 1 ? { ...VALUES[2]!, id: 1 } : v));
      expect(rows).toEqual(afterUpdate);
      const [insert, update, remove] = recorder.events;
      expect(insert!.rows.map((row) => image(row, 'value'))).toEqual(VALUES);
      expect(update!.rows.map((row) => image(row, 'before'))).toEqual([VALUES[0]]);
      expect(update!.rows.map((row) => image(row, 'after'))).toEqual([{ ...VALUES[2]!, id: 1 }]);
      expect(remove!.rows.map((row) => image(row, 'value'))).toEqual([VALUES[1], VALUES[3]]);
    } finally {
      await source.stop();
      await conn.end();
    }
  });
});
