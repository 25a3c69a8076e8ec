// MySQL 8 settings whose binlog events Tunnel cannot decode: a compressed transaction
// (binlog_transaction_compression=ON) and a partial JSON update (binlog_row_value_options=PARTIAL_JSON).
// Either stops the source with a SourceError that names the setting; the rows are never skipped
// (a partial update of a table the task does not read is, like that table's other rows events).
// Both are session settings here, changed only for the statements that need them.
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../core/errors/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, mysqlServer, sourceConnection, waitFor } from '../helpers/servers.ts';
import { Recorder, binlogEnd, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const DB = 'tunnel_source_mysql_settings';

describe(`binlog source on ${mysqlServer.label} settings it cannot decode`, () => {
  let conn: Connection;
  let source: BinlogSource | undefined;
  let updates = 0;

  beforeAll(async () => {
    await createTestDatabase(DB, mysqlServer);
    conn = await sourceConnection(mysqlServer, { database: DB });
    await conn.query('CREATE TABLE t (id INT PRIMARY KEY, j JSON)');
    await conn.query('CREATE TABLE other (id INT PRIMARY KEY, j JSON)');
    await conn.query(`INSERT INTO t VALUES (1, '{"a": 1, "b": "x"}')`);
    await conn.query(`INSERT INTO other VALUES (1, '{"a": 1, "b": "x"}')`);
  });

  afterAll(async () => {
    await source?.stop();
    // Every later reader of these binlog files would stop at the compressed transaction (as it
    // should), e.g. a test that reads from the oldest file: they go, the server starts a new one.
    await conn?.query('FLUSH BINARY LOGS');
    const [logs] = (await conn?.query('SHOW BINARY LOGS')) as unknown as [{ Log_name: string }[]];
    await conn?.query('PURGE BINARY LOGS TO ?', [logs.at(-1)!.Log_name]);
    await conn?.end();
  });

  async function readAfter(write: () => Promise<void>): Promise<Recorder> {
    const start = await binlogEnd(mysqlServer);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${DB}.*`], {}, mysqlServer), silentLogger());
    await source.start({ kind: 'position', position: start }, recorder);
    // a decodable transaction first (a new value, so the row does change)
    await conn.query('UPDATE t SET j = JSON_SET(j, "$.before", ?) WHERE id = 1', [++updates]);
    await write();
    await waitFor(() => recorder.errors.length > 0, { what: 'the source to stop on the event' });
    await source.stop();
    source = undefined;
    return recorder;
  }

  it('a compressed transaction stops the source, naming binlog_transaction_compression', async () => {
    const recorder = await readAfter(async () => {
      await conn.query('SET SESSION binlog_transaction_compression = ON');
      try {
        await conn.query(`INSERT INTO t VALUES (2, '{"c": 2}')`);
      } finally {
        await conn.query('SET SESSION binlog_transaction_compression = OFF');
      }
    });
    // the update before it arrived; the compressed insert did not, and was not skipped silently
    expect(recorder.committed.map((e) => e.action)).toEqual(['update']);
    expect(recorder.errors[0]).toBeInstanceOf(SourceError);
    expect(recorder.errors[0]!.message).toContain('binlog_transaction_compression');
  });

  it('a partial JSON update of a table the task does not read is skipped like its other rows', async () => {
    const start = await binlogEnd(mysqlServer);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${DB}.t`], {}, mysqlServer), silentLogger());
    await source.start({ kind: 'position', position: start }, recorder);
    await conn.query("SET SESSION binlog_row_value_options = 'PARTIAL_JSON', SESSION binlog_row_image = MINIMAL");
    try {
      await conn.query('UPDATE other SET j = JSON_SET(j, "$.a", ?) WHERE id = 1', [1000 + ++updates]);
    } finally {
      await conn.query("SET SESSION binlog_row_value_options = '', SESSION binlog_row_image = FULL");
    }
    await conn.query(`INSERT INTO t VALUES (${100 + updates}, '{}')`);
    await recorder.waitForCommitAt(await binlogEnd(mysqlServer));
    await source.stop();
    source = undefined;
    expect(recorder.errors).toEqual([]);
    expect(recorder.events.map((e) => `${e.table}:${e.action}`)).toEqual(['t:insert']);
  });

  it('a partial JSON update stops the source, naming binlog_row_value_options', async () => {
    const recorder = await readAfter(async () => {
      await conn.query("SET SESSION binlog_row_value_options = 'PARTIAL_JSON', SESSION binlog_row_image = MINIMAL");
      try {
        await conn.query('UPDATE t SET j = JSON_SET(j, "$.a", 2) WHERE id = 1');
      } finally {
        await conn.query("SET SESSION binlog_row_value_options = '', SESSION binlog_row_image = FULL");
      }
    });
    expect(recorder.committed.map((e) => e.action)).toEqual(['update']);
    expect(recorder.errors[0]).toBeInstanceOf(SourceError);
    expect(recorder.errors[0]!.message).toContain('binlog_row_value_options');
  });
});
