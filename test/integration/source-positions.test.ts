// Where a source starts (latest, earliest, a stored position, a position the server no longer has)
// and which tables it reads (include/exclude patterns; excluded transactions still commit). On MariaDB
// and on MySQL 8.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { PositionUnavailableError, SourceError } from '../../core/errors/index.ts';
import type { SchemaChangeEvent } from '../../core/event/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, runForGtid, sourceConnection, sourceServers } from '../helpers/servers.ts';
import { Recorder, binlogEnd, canonical, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const DB = 'tunnel_source_positions';

async function binaryLogs(conn: Connection): Promise<{ file: string; size: number }[]> {
  const [rows] = await conn.query('SHOW BINARY LOGS');
  return (rows as { Log_name: string; File_size: string | number }[]).map((r) => ({ file: r.Log_name, size: Number(r.File_size) }));
}

describe.each(sourceServers)('binlog source start positions and table filters on $label', (server) => {
  let conn: Connection;
  const sources: BinlogSource[] = [];
  const track = (s: BinlogSource): BinlogSource => (sources.push(s), s);

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server);
    for (const table of ['keep_a', 'keep_b', 'keep_secret', 'skip_me']) {
      await conn.query(`CREATE TABLE \`${DB}\`.${table} (id INT PRIMARY KEY, v VARCHAR(20))`);
    }
  });

  afterAll(async () => {
    for (const s of sources) await s.stop();
    await conn?.end();
  });

  it('a position in a binlog file the server no longer has is an error naming the oldest file', async () => {
    const logs = await binaryLogs(conn);
    const source = track(createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger()));
    const gtid = server.flavor === 'mariadb' ? '0-1-1' : '3e11fa47-71ca-11e1-9e33-c80aa9429562:1';
    const gone = { file: `${server.binlogBaseName}.000000`, offset: 1234, gtid };
    const error = await source.start({ kind: 'position', position: gone }, new Recorder()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PositionUnavailableError);
    const e = error as PositionUnavailableError;
    expect(e.code).toBe('TUNNEL_ERR_POSITION_UNAVAILABLE');
    expect(e.message).toContain(`${server.binlogBaseName}.000000`);
    expect(e.message).toContain(`the oldest binlog available is ${logs[0]!.file}`);
    expect(e.detail).toMatchObject({ requested: gone, oldestAvailable: logs[0]!.file });
  });

  it('an offset beyond the end of the file is an error too, never a silent jump', async () => {
    const logs = await binaryLogs(conn);
    const last = logs[logs.length - 1]!;
    const source = track(createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger()));
    const error = await source
      .start({ kind: 'position', position: { file: last.file, offset: last.size + 1_000_000 } }, new Recorder())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PositionUnavailableError);
    expect((error as Error).message).toContain(`outside ${last.file}`);
  });

  it('a source cannot be started twice', async () => {
    const source = track(createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger()));
    await source.start({ kind: 'latest' }, new Recorder());
    await expect(source.start({ kind: 'latest' }, new Recorder())).rejects.toBeInstanceOf(SourceError);
    await source.stop();
  });

  it('stop() while start() is still connecting settles both, and nothing is delivered', async () => {
    for (const delayMs of [0, 5, 20]) {
      const recorder = new Recorder();
      const source = track(createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger()));
      const starting = source.start({ kind: 'latest' }, recorder);
      await new Promise((r) => setTimeout(r, delayMs));
      await source.stop();
      await expect(starting).resolves.toBeUndefined();
      await conn.query(`INSERT INTO \`${DB}\`.keep_a VALUES (${100 + delayMs}, 'x')`);
      await new Promise((r) => setTimeout(r, 100));
      expect(recorder.events).toEqual([]);
      expect(recorder.errors).toEqual([]);
    }
  });

  it('latest: only what is written after the start', async () => {
    await conn.query(`INSERT INTO \`${DB}\`.keep_a VALUES (1, 'before')`);
    const recorder = new Recorder();
    const source = track(createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger()));
    await source.start({ kind: 'latest' }, recorder);
    await conn.query(`INSERT INTO \`${DB}\`.keep_a VALUES (2, 'after')`);
    await recorder.waitForCommitAt(await binlogEnd(server));
    await source.stop();
    expect(recorder.events.map(canonical)).toEqual([
      {
        schema: DB,
        table: 'keep_a',
        action: 'insert',
        primaryKey: ['id'],
        rows: [
          [
            { column: 'id', value: 2 },
            { column: 'v', value: 'after' },
          ],
        ],
      },
    ]);
  });

  it('earliest: from the oldest binlog file the server still has', async () => {
    const logs = await binaryLogs(conn);
    const recorder = new Recorder();
    // a pattern that matches nothing: every row is skipped undecoded, commits still arrive
    const source = track(createBinlogSource(sourceOptions(['no_such_schema.*'], {}, server), silentLogger()));
    await source.start({ kind: 'earliest' }, recorder);
    await recorder.waitForCommitAt(await binlogEnd(server), 120_000);
    await source.stop();
    expect(recorder.events).toEqual([]);
    expect(recorder.commits[0]!.position.file).toBe(logs[0]!.file);
    expect(recorder.commits.length).toBeGreaterThan(10);
  }, 180_000);

  it('include/exclude patterns pick the tables; transactions of excluded tables still commit', async () => {
    const start = await binlogEnd(server);
    const recorder = new Recorder();
    const source = track(createBinlogSource({ ...sourceOptions([`${DB}.keep_*`], {}, server), exclude: [`${DB}.keep_secret`] }, silentLogger()));
    await source.start({ kind: 'position', position: start }, recorder);
    const gtids: string[] = [];
    gtids.push(await runForGtid(server, conn, `INSERT INTO \`${DB}\`.keep_b VALUES (1, 'b')`));
    gtids.push(await runForGtid(server, conn, `INSERT INTO \`${DB}\`.keep_secret VALUES (1, 'secret')`));
    gtids.push(await runForGtid(server, conn, `INSERT INTO \`${DB}\`.skip_me VALUES (1, 'skip')`));
    await conn.query('BEGIN');
    await conn.query(`INSERT INTO \`${DB}\`.skip_me VALUES (2, 'skip')`);
    await conn.query(`UPDATE \`${DB}\`.keep_b SET v = 'b2' WHERE id = 1`);
    await conn.query(`INSERT INTO \`${DB}\`.keep_secret VALUES (2, 'secret')`);
    gtids.push(await runForGtid(server, conn, 'COMMIT'));
    const end = await binlogEnd(server);
    await recorder.waitForCommitAt(end);
    await source.stop();
    expect(recorder.events.map((e) => `${e.table}:${e.action}`)).toEqual(['keep_b:insert', 'keep_b:update']);
    // every transaction commits, the ones that touched only excluded tables too (other sessions'
    // transactions on the shared server commit as well, so only ours are counted)
    expect(recorder.commits.map((c) => c.position.gtid).filter((g) => gtids.includes(g!))).toEqual(gtids);
    expect(recorder.commits.map((c) => ({ file: c.position.file, offset: c.position.offset }))).toContainEqual(end);
  });

  it("a start position's generation is on every position the source reports: rows, a schema change, commits, a rotation", async () => {
    await conn.query(`CREATE TABLE IF NOT EXISTS \`${DB}\`.generations (id INT PRIMARY KEY, v VARCHAR(20))`);
    await conn.query(`DELETE FROM \`${DB}\`.generations`);
    const start = { ...(await binlogEnd(server)), generation: 2 };
    const changes: SchemaChangeEvent[] = [];
    const recorder = new Recorder();
    const source = track(createBinlogSource(sourceOptions([`${DB}.generations`], {}, server), silentLogger()));
    await source.start({ kind: 'position', position: start }, Object.assign(recorder, { onSchemaChange: (c: SchemaChangeEvent) => void changes.push(c) }));
    await conn.query(`INSERT INTO \`${DB}\`.generations VALUES (100, 'g')`);
    await conn.query(`TRUNCATE TABLE \`${DB}\`.generations`);
    await conn.query('FLUSH BINARY LOGS');
    await conn.query(`INSERT INTO \`${DB}\`.generations VALUES (101, 'g2')`);
    const end = await binlogEnd(server);
    await recorder.waitForCommitAt(end);
    await source.stop();
    expect(recorder.events.map((e) => [e.rows[0]![0], e.position.generation])).toEqual([
      [{ column: 'id', value: 100 }, 2],
      [{ column: 'id', value: 101 }, 2],
    ]);
    expect(changes.map((c) => [c.change, c.position.generation])).toEqual([['truncate', 2]]);
    expect(recorder.commits.length).toBeGreaterThanOrEqual(4);
    for (const commit of recorder.commits) expect(commit.position.generation).toBe(2);
    // the second insert is in the next file, past the rotation
    expect(recorder.events[1]!.position.file > recorder.events[0]!.position.file).toBe(true);
  });
});
