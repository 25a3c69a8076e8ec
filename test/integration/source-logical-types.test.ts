// MariaDB's INET6, INET4 and UUID columns through the binlog source equal the server's own text of
// them (CAST(col AS CHAR)). INET6 is printed the server's way, which is not RFC 5952's: every
// pattern of zero and non-zero groups (all 256, which covers single zero groups, leading and
// trailing runs and ties), each again with ffff in the sixth group, and IPv4-mapped and
// IPv4-compatible addresses with small and large last groups.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { createBinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, mariadbServer, sourceConnection } from '../helpers/servers.ts';
import { Recorder, binlogEnd, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const DB = 'tunnel_source_logical';

/** 16 bytes of eight groups, in hex. */
const groups = (words: number[]) => words.map((w) => w.toString(16).padStart(4, '0')).join('');

function inet6Cases(): string[] {
  const cases: string[] = [];
  for (let mask = 0; mask < 256; mask++) {
    // group i is zero where bit i is set; else a value with leading zeros to drop (or ffff in group 5)
    cases.push(groups(Array.from({ length: 8 }, (_, i) => ((mask >> i) & 1 ? 0 : 0x0a0 * (i + 1)))));
    cases.push(groups(Array.from({ length: 8 }, (_, i) => (i === 5 ? 0xffff : (mask >> i) & 1 ? 0 : i + 1))));
  }
  for (const last of [0, 1, 0x102, 0xffff, 0x10000, 0x1020304, 0xffffffff]) {
    const v4 = [last >>> 16, last & 0xffff];
    cases.push(
      groups([0, 0, 0, 0, 0, 0xffff, ...v4]),
      groups([0, 0, 0, 0, 0, 0, ...v4]),
      groups([0, 0, 0, 0, 1, 0xffff, ...v4]),
      groups([0, 0, 0, 0, 0xffff, 0, ...v4]),
    );
    cases.push(groups([1, 0, 0, 0, 0, 0xffff, ...v4]), groups([0, 0, 0, 0, 0, 0xfffe, ...v4]));
  }
  return [...new Set(cases)];
}

describe(`MariaDB UUID, INET4 and INET6 through the binlog source on ${mariadbServer.label}`, () => {
  let conn: Connection;

  beforeAll(async () => {
    await createTestDatabase(DB, mariadbServer);
    conn = await sourceConnection(mariadbServer, { database: DB });
  });

  afterAll(async () => {
    await conn?.end();
  });

  it('each value equals the text SELECT prints for it', async () => {
    const recorder = new Recorder();
    const source = createBinlogSource(sourceOptions([`${DB}.*`], {}, mariadbServer), silentLogger());
    await source.start({ kind: 'position', position: await binlogEnd(mariadbServer) }, recorder);
    try {
      await conn.query('CREATE TABLE addr (id INT PRIMARY KEY, a INET6, b INET4, u UUID)');
      const inet6 = inet6Cases();
      const uuids = [
        '00000000-0000-0000-0000-000000000000',
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
        '123e4567-e89b-12d3-a456-426655440000',
        '01890a5d-ac96-774b-bcce-b302099a8057',
        '6ccd780c-baba-1026-1564-5b8c656024db',
      ];
      const inet4 = ['0.0.0.0', '255.255.255.255', '1.2.3.4', '10.0.0.255'];
      const rows = inet6.map(
        (hex, k) => `(${k}, UNHEX('${hex}'), ${k < inet4.length ? `'${inet4[k]}'` : 'NULL'}, ${k < uuids.length ? `'${uuids[k]}'` : 'UUID()'})`,
      );
      await conn.query(`INSERT INTO addr (id, a, b, u) VALUES ${rows.join(', ')}`);
      await conn.query("UPDATE addr SET a = '1:0:2:3:4:5:6:7', u = UUID() WHERE id = 0");
      await recorder.waitForCommitAt(await binlogEnd(mariadbServer));
    } finally {
      await source.stop();
    }
    expect(recorder.errors).toEqual([]);

    const [selected] = await conn.query<RowDataPacket[]>('SELECT id, CAST(a AS CHAR) AS a, CAST(b AS CHAR) AS b, CAST(u AS CHAR) AS u FROM addr ORDER BY id');
    const emitted = new Map<number, Record<string, unknown>>();
    for (const event of recorder.events) {
      for (const row of event.rows) {
        const cells = row.map((c) => ('after' in c ? { column: c.column, value: c.after } : c));
        const values = Object.fromEntries(cells.map((c) => [c.column, c.value]));
        emitted.set(values.id as number, values);
      }
    }
    expect(selected.length).toBe(inet6Cases().length);
    const differing = selected.filter((r) => JSON.stringify(emitted.get(r.id as number)) !== JSON.stringify({ id: r.id, a: r.a, b: r.b, u: r.u }));
    expect(differing.map((r) => ({ server: r, source: emitted.get(r.id as number) }))).toEqual([]);
    expect(selected.find((r) => r.id === 0)!.a).toBe('1::2:3:4:5:6:7');
  });
});
