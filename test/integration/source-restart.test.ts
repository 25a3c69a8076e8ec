// The server restarts under the source (zongji does not reconnect by itself): the source retries
// with backoff while the server is down, resumes from its last commit in the old binlog file, follows
// into the file the restarted server writes, and delivers every row once. On MariaDB and on MySQL 8.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { pino } from 'pino';
import type { Logger } from '../../core/log/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, runServices, sourceConnection, sourceServers, waitFor } from '../helpers/servers.ts';
import { Recorder, binlogEnd, sourceOptions } from '../helpers/source-harness.ts';

const DB = 'tunnel_source_restart';

describe.each(sourceServers)('binlog source across a server restart on $label', (server) => {
  let conn: Connection | undefined;
  let source: BinlogSource | undefined;

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server);
    await conn.query(`CREATE TABLE \`${DB}\`.t (id INT PRIMARY KEY, phase VARCHAR(10) NOT NULL)`);
  });

  afterAll(async () => {
    await source?.stop();
    await conn?.end().catch(() => undefined);
  });

  it('reconnects after `scripts/services restart` of the server and loses nothing', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger: Logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const start = await binlogEnd(server);
    const recorder = new Recorder();
    source = createBinlogSource({ ...sourceOptions([`${DB}.*`], {}, server), reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 120 } }, logger);
    await source.start({ kind: 'position', position: start }, recorder);

    for (let id = 1; id <= 5; id++) await conn!.query(`INSERT INTO \`${DB}\`.t VALUES (?, 'before')`, [id]);
    await recorder.waitForCommitAt(await binlogEnd(server));

    await conn!.end();
    conn = undefined;
    await runServices(['restart', server.name]);
    conn = await waitFor(() => sourceConnection(server), { timeoutMs: 60_000, what: `${server.label} back after restart` });

    for (let id = 6; id <= 10; id++) await conn.query(`INSERT INTO \`${DB}\`.t VALUES (?, 'after')`, [id]);
    const end = await binlogEnd(server);
    await recorder.waitForCommitAt(end, 60_000);
    await source.stop();
    source = undefined;

    expect(recorder.errors).toEqual([]);
    const ids = recorder.events.flatMap((e) => e.rows.map((row) => (row as { column: string; value: unknown }[])[0]!.value));
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(end.file > start.file).toBe(true); // the restarted server writes a new binlog file
    expect(recorder.events[9]!.position.file).toBe(end.file);
    expect(lines.filter((l) => l.msg === 'binlog connection lost; reconnecting').length).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => l.msg === 'binlog connection re-established')).toBe(true);
  }, 240_000);
});
