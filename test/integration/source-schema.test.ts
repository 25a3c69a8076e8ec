// Schema changes between rows events of a table: events before an ALTER carry the old column list,
// events after it the new one, both when read live and when the binlog is read after the fact
// (binlog_row_metadata=FULL puts each table map's column names in the binlog itself). On MariaDB and
// on MySQL 8.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import type { BinlogPosition } from '../../core/event/index.ts';
import { SourceError } from '../../core/errors/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, runForGtid, sourceConnection, sourceServers, waitFor } from '../helpers/servers.ts';
import { Recorder, binlogEnd, canonical, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const DB = 'tunnel_source_schema';
const T = `\`${DB}\`.people`;

const STATEMENTS = [
  `INSERT INTO ${T} (id, name) VALUES (1, 'ada')`,
  `ALTER TABLE ${T} ADD COLUMN email VARCHAR(50) NOT NULL DEFAULT 'none'`,
  `INSERT INTO ${T} (id, name, email) VALUES (2, 'bob', 'bob@example.com')`,
  `UPDATE ${T} SET name = 'ada l.' WHERE id = 1`,
  `ALTER TABLE ${T} CHANGE COLUMN name full_name VARCHAR(40) NOT NULL, ADD COLUMN profile JSON`,
  `INSERT INTO ${T} (id, full_name, email, profile) VALUES (3, 'cy', 'cy@example.com', '{"langs": ["sql"]}')`,
  `ALTER TABLE ${T} DROP COLUMN email, DROP PRIMARY KEY, ADD PRIMARY KEY (full_name)`,
  `DELETE FROM ${T} WHERE id = 2`,
];

const people = { schema: DB, table: 'people' };
const EXPECTED = [
  {
    ...people,
    action: 'insert',
    primaryKey: ['id'],
    rows: [
      [
        { column: 'id', value: 1 },
        { column: 'name', value: 'ada' },
      ],
    ],
  },
  {
    ...people,
    action: 'insert',
    primaryKey: ['id'],
    rows: [
      [
        { column: 'id', value: 2 },
        { column: 'name', value: 'bob' },
        { column: 'email', value: 'bob@example.com' },
      ],
    ],
  },
  {
    ...people,
    action: 'update',
    primaryKey: ['id'],
    rows: [
      [
        { column: 'id', before: 1, after: 1 },
        { column: 'name', before: 'ada', after: 'ada l.' },
        { column: 'email', before: 'none', after: 'none' },
      ],
    ],
  },
  {
    ...people,
    action: 'insert',
    primaryKey: ['id'],
    rows: [
      [
        { column: 'id', value: 3 },
        { column: 'full_name', value: 'cy' },
        { column: 'email', value: 'cy@example.com' },
        { column: 'profile', value: { langs: ['sql'] } },
      ],
    ],
  },
  {
    ...people,
    action: 'delete',
    primaryKey: ['full_name'],
    rows: [
      [
        { column: 'id', value: 2 },
        { column: 'full_name', value: 'bob' },
        { column: 'profile', value: null },
      ],
    ],
  },
];

describe.each(sourceServers)('binlog source across schema changes on $label', (server) => {
  let conn: Connection;
  let start: BinlogPosition;
  let source: BinlogSource | undefined;

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server);
    await conn.query(`CREATE TABLE ${T} (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL)`);
  });

  afterAll(async () => {
    await source?.stop();
    await conn?.end();
  });

  it('live: events before an ALTER have the old columns, after it the new ones', async () => {
    start = await binlogEnd(server);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
    await source.start({ kind: 'position', position: start }, recorder);
    const gtids: string[] = [];
    for (const sql of STATEMENTS) {
      gtids.push(await runForGtid(server, conn, sql));
      // read each statement before the next runs, so the source fetches metadata "live"
      await recorder.waitForCommitAt(await binlogEnd(server));
    }
    await source.stop();
    source = undefined;
    expect(recorder.errors).toEqual([]);
    expect(recorder.events.map(canonical)).toEqual(EXPECTED);
    // each statement, each ALTER included, is a transaction of its own with its own commit
    expect(recorder.commits.map((c) => c.position.gtid).filter((g) => gtids.includes(g!))).toEqual(gtids);
  });

  it('reading the same binlog after all the ALTERs gives the same events', async () => {
    const end = await binlogEnd(server);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
    await source.start({ kind: 'position', position: start }, recorder);
    await recorder.waitForCommitAt(end);
    await source.stop();
    source = undefined;
    expect(recorder.events.map(canonical)).toEqual(EXPECTED);
  });

  it('without FULL metadata, binlog written before an ADD COLUMN is refused, not decoded under guessed names', async () => {
    await conn.query(`CREATE TABLE \`${DB}\`.legacy (id INT PRIMARY KEY, a VARCHAR(10))`);
    const from = await binlogEnd(server);
    const [[{ setting }]] = (await conn.query('SELECT @@GLOBAL.binlog_row_metadata AS setting')) as unknown as [[{ setting: string }]];
    await conn.query(`SET GLOBAL binlog_row_metadata = ${server.flavor === 'mariadb' ? 'NO_LOG' : 'MINIMAL'}`);
    try {
      await conn.query(`INSERT INTO \`${DB}\`.legacy VALUES (1, 'x')`);
    } finally {
      await conn.query(`SET GLOBAL binlog_row_metadata = ${setting}`);
    }
    await conn.query(`ALTER TABLE \`${DB}\`.legacy ADD COLUMN b INT FIRST`);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${DB}.legacy`], {}, server), silentLogger());
    await source.start({ kind: 'position', position: from }, recorder);
    await waitFor(() => recorder.errors.length > 0, { what: 'the source to fail' });
    expect(recorder.events).toEqual([]);
    expect(recorder.errors).toHaveLength(1);
    expect(recorder.errors[0]).toBeInstanceOf(SourceError);
    expect(recorder.errors[0]!.message).toContain('binlog_row_metadata=FULL');
    await source.stop();
    source = undefined;
  });
});
