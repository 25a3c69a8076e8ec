// KILL the replication connection on the server (its `Binlog Dump` thread), in the middle of a
// transaction and repeatedly under load: the source reconnects from its last commit and the handler
// sees every event exactly once, as a single uninterrupted read would have. On MariaDB and on MySQL 8
// (where the source's user has MySQL's default caching_sha2_password).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { pino } from 'pino';
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import type { Logger } from '../../core/log/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { allowRecursion, createTestDatabase, sourceConnection, sourceServers, waitFor, type SourceServer } from '../helpers/servers.ts';
import { Recorder, binlogEnd, lastWrittenGtid, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const DB = 'tunnel_source_reconnect';
const USER = 'tunnel_src_kill';
const PASSWORD = 'kill-me';

/** A logger whose JSON lines are kept, to see the source's reconnects. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** The source under test logs in as its own user, so its Binlog Dump thread is recognisable. */
function killableOptions(server: SourceServer) {
  const options = sourceOptions([`${DB}.*`], {}, server);
  return { ...options, connection: { ...options.connection, user: USER, password: PASSWORD } };
}

async function dumpThreads(admin: Connection): Promise<number[]> {
  const [rows] = await admin.query(`SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND = 'Binlog Dump'`, [USER]);
  return (rows as { id: number }[]).map((r) => Number(r.id));
}

async function killDump(admin: Connection): Promise<number> {
  const [id] = await waitFor(
    async () => {
      const ids = await dumpThreads(admin);
      return ids.length === 1 ? ids : undefined;
    },
    { what: 'exactly one Binlog Dump thread of the source', timeoutMs: 30_000 },
  );
  await admin.query(`KILL ${id}`);
  return id!;
}

/** Everything from `from` up to the commit of transaction `last`, read without interruption. */
async function readAll(server: SourceServer, from: BinlogPosition, last: string): Promise<RowEvent[]> {
  const recorder = new Recorder();
  const source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
  await source.start({ kind: 'position', position: from }, recorder);
  await recorder.waitForCommitOf(last, 60_000);
  await source.stop();
  return recorder.events;
}

describe.each(sourceServers)('binlog source reconnects after KILL on $label', (server) => {
  let admin: Connection;
  let writer: Connection;
  let source: BinlogSource | undefined;

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    admin = await sourceConnection(server);
    writer = await sourceConnection(server);
    await allowRecursion(server, writer, 20_000);
    await admin.query(`CREATE USER IF NOT EXISTS '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`);
    const binlogGrants = server.flavor === 'mariadb' ? 'REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR' : 'REPLICATION SLAVE, REPLICATION CLIENT';
    await admin.query(`GRANT ${binlogGrants}, SELECT ON *.* TO '${USER}'@'%'`);
    await writer.query(`CREATE TABLE \`${DB}\`.t (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, payload VARCHAR(120) NOT NULL)`);
    await writer.query(`CREATE TABLE \`${DB}\`.wide (id INT AUTO_INCREMENT PRIMARY KEY, payload TEXT NOT NULL)`);
  });

  afterAll(async () => {
    await source?.stop();
    await admin?.end();
    await writer?.end();
  });

  const bulk = (k: number, rows: number) =>
    writer.query(
      `INSERT INTO \`${DB}\`.t (k, payload)
       WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${rows})
       SELECT ${k}, CONCAT('row-', n, '-', REPEAT('y', 80)) FROM s`,
    );

  it('a KILL in the middle of a 20,000-row transaction: nothing lost, nothing repeated', async () => {
    const start = await binlogEnd(server);
    await writer.query(`INSERT INTO \`${DB}\`.t (k, payload) VALUES (1, 'before')`);
    // ~20 MB: more than the socket buffers hold, so the server is still sending it when killed
    await writer.query(
      `INSERT INTO \`${DB}\`.wide (payload)
       WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 20000)
       SELECT CONCAT(n, '-', REPEAT('w', 1000)) FROM s`,
    );
    await writer.query(`INSERT INTO \`${DB}\`.t (k, payload) VALUES (3, 'after')`);
    const last = await lastWrittenGtid(writer, server);
    const reference = await readAll(server, start, last);

    // The handler pauses the source on the 3rd rows event of the big transaction; the test kills the
    // dump thread while the source is paused mid-transaction, then resumes it.
    let bigEvents = 0;
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    const { logger, lines } = capturingLogger();
    const recorder = new Recorder({
      onEvent: (event) => {
        if (event.rows.length > 1 && ++bigEvents === 3) {
          source!.pause();
          release();
        }
      },
    });
    source = createBinlogSource(killableOptions(server), logger);
    await source.start({ kind: 'position', position: start }, recorder);
    await paused;
    const pausedAt = killDump(admin).then(() => undefined);
    await pausedAt;
    await new Promise((r) => setTimeout(r, 300));
    source.resume();
    await recorder.waitForCommitOf(last, 60_000);
    await source.stop();
    source = undefined;

    const reconnects = lines.filter((l) => l.msg === 'binlog connection lost; reconnecting');
    expect(reconnects.length).toBeGreaterThanOrEqual(1);
    expect(Number(reconnects[0]!.skipRowsEvents)).toBeGreaterThanOrEqual(3); // resumed mid-transaction
    expect(recorder.errors).toEqual([]);
    expect(recorder.events).toEqual(reference);
  }, 120_000);

  it('repeated KILLs under a live write load: the events equal an uninterrupted read', async () => {
    const start = await binlogEnd(server);
    const { logger, lines } = capturingLogger();
    const recorder = new Recorder();
    source = createBinlogSource({ ...killableOptions(server), reconnect: { initialDelayMs: 20, maxDelayMs: 500 } }, logger);
    await source.start({ kind: 'position', position: start }, recorder);

    let writing = true;
    const load = (async () => {
      let k = 0;
      while (writing) {
        k += 1;
        await writer.query('BEGIN');
        await writer.query(`INSERT INTO \`${DB}\`.t (k, payload) VALUES (?, 'one'), (?, 'two')`, [k, k]);
        await writer.query(`UPDATE \`${DB}\`.t SET payload = 'changed' WHERE k = ?`, [k - 1]);
        await writer.query('COMMIT');
        if (k % 10 === 0) await bulk(k, 3_000);
      }
    })();
    let kills = 0;
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 600));
      await killDump(admin);
      kills += 1;
    }
    await new Promise((r) => setTimeout(r, 400));
    writing = false;
    await load;
    const last = await lastWrittenGtid(writer, server);
    // a rotation after the last transaction: the new file's end holds no commit to wait for
    await admin.query('FLUSH BINARY LOGS');
    await recorder.waitForCommitOf(last, 60_000);
    await source.stop();
    source = undefined;

    const reference = await readAll(server, start, last);
    expect(kills).toBe(4);
    expect(lines.filter((l) => l.msg === 'binlog connection lost; reconnecting').length).toBeGreaterThanOrEqual(4);
    expect(recorder.errors).toEqual([]);
    expect(reference.length).toBeGreaterThan(100);
    expect(recorder.events.length).toBe(reference.length);
    expect(recorder.events).toEqual(reference);
  }, 120_000);
});
