// Chaos: the stored position names a binlog file the server purged while Tunnel was down.
// `tunnel start` must say so clearly (the purged file, the oldest available), the task must stop
// rather than skip the lost changes (state failed, position unchanged, nothing later reaches the
// sinks), and the explicit commands re-snapshot it: `tunnel reset-position <task> --to none`, then a
// start with `snapshot: 'initial'`, after which the sinks equal the table again.
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { PrivateRedis } from '../helpers/chaos-servers.ts';
import {
  apiStatus,
  deleteRedisKeys,
  describeComparison,
  masterPosition,
  redisRows,
  removeDir,
  reportFault,
  runCli,
  sinkText,
  sleep,
  startTunnel,
  stopTunnel,
  taskDir,
  waitUntilEqual,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_purge';
const SECRET = 'chaos-purge-webhook-secret-0123';
const TASK = 'purge';

describe('chaos: a stored position whose binlog file was purged', () => {
  const dir = taskDir('purge');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  let conn: mysql.Connection;
  let pool: mysql.Pool;
  let tunnel: RunningTunnel | undefined;
  let configFile: string;
  let redis: ReturnType<PrivateRedis['client']>;

  const readers = () => ({ redis: () => redisRows(redis, `${DB}:orders:`), webhook: async () => receiver.rows(`${DB}.orders`) });
  const writeFor = async (ms: number) => {
    const writer = new RowWriter(pool, `${DB}.orders`, { keys: 300, batch: 4, pauseMs: 4 });
    writer.start();
    await sleep(ms);
    await writer.stop();
    return writer.statements;
  };

  beforeAll(async () => {
    await redisServer.start();
    redis = redisServer.client();
    await receiver.start();
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
    configFile = writeConfig({
      dir,
      tasks: [
        {
          name: TASK,
          db: DB,
          serverId: 7904,
          extra: `snapshot: 'initial', snapshotChunkRows: 100,`,
          plugins: [sinkText.redis(redisServer.port, `${DB}:{table}:{id}`), sinkText.webhook(receiver.url, SECRET)],
        },
      ],
    });
  });

  afterAll(async () => {
    await stopTunnel(tunnel, 'SIGKILL');
    redis?.disconnect();
    await redisServer.stop();
    await receiver.close();
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  it('start fails naming the purged file and the oldest available, skips nothing; reset-position + snapshot recovers', async () => {
    // 1. rows before the first start (the initial snapshot reads them), then streaming under writes
    await writeFor(1000);
    tunnel = await startTunnel(configFile);
    await writeFor(2000);
    const stateA = await tableRows(conn, `${DB}.orders`);
    const first = await waitUntilEqual(stateA, readers());
    expect(first.lost, describeComparison(first)).toBe(0);
    expect(await stopTunnel(tunnel)).toBe(0);
    const stored = JSON.parse(readFileSync(`${dir}/positions/${TASK}.json`, 'utf8')) as { position: { file: string; offset: number } };
    const purgedFile = stored.position.file;

    // 2. changes while Tunnel is down, then their binlog goes: rotate twice and purge up to the newest file
    const gapStatements = await writeFor(2000);
    const stateB = await tableRows(conn, `${DB}.orders`);
    await conn.query('FLUSH BINARY LOGS');
    await conn.query('FLUSH BINARY LOGS');
    const current = (await masterPosition(conn)).file;
    const logs = await waitFor(
      async () => {
        await conn.query(`PURGE BINARY LOGS TO '${current}'`).catch(() => undefined); // a file another reader still reads stays
        const [rows] = (await conn.query('SHOW BINARY LOGS')) as unknown as [Array<{ Log_name: string }>];
        const names = rows.map((r) => r.Log_name);
        return names.includes(purgedFile) ? undefined : names;
      },
      { timeoutMs: 30_000, intervalMs: 1000, what: `${purgedFile} purged (another replica may still be reading an older binlog)` },
    );
    const oldest = logs[0]!;

    // 3. start: a clear error, the task failed, nothing skipped or delivered
    tunnel = await startTunnel(configFile);
    const line = await tunnel.proc.waitForLog((l) => l.msg === 'task could not start' || l.msg === 'task failed and stops', 30_000);
    const message = String((line.err as { message?: string } | undefined)?.message ?? '');
    expect(message).toContain(purgedFile);
    expect(message).toContain(`the oldest binlog available is ${oldest}`);
    expect((line.err as { code?: string }).code).toBe('TUNNEL_ERR_POSITION_UNAVAILABLE');
    const status = await apiStatus(tunnel);
    const task = status.tasks.find((t) => t.name === TASK)!;
    expect(task.state).toBe('failed');
    expect(task.lastError).toContain(purgedFile);
    const readyz = await fetch(`${tunnel.statusUrl}/readyz`);
    expect(readyz.status).toBe(503);
    await sleep(2000);
    // the sinks still hold state A: none of the gap's changes arrived, and nothing after them
    const held = await waitUntilEqual(stateA, readers(), 0);
    expect(held.lost, describeComparison(held)).toBe(0);
    const afterFailure = JSON.parse(readFileSync(`${dir}/positions/${TASK}.json`, 'utf8')) as typeof stored;
    expect(afterFailure.position).toEqual(stored.position);
    await stopTunnel(tunnel);

    // 4a. the explicit command `tunnel snapshot <task>` (the stored position is left as it is):
    // re-read under writes, over the sinks as they are. Rows deleted in the lost range stay behind.
    const resnapshotAt = Date.now();
    tunnel = await startTunnel(configFile, {}, 60_000, ['snapshot', TASK]);
    const afterStatements = await writeFor(1500);
    const stateC = await tableRows(conn, `${DB}.orders`);
    const noneMissing = (c: { bySink: Record<string, { missing: string[]; different: string[] }> }) =>
      Object.values(c.bySink).every((d) => d.missing.length === 0 && d.different.length === 0);
    const over = await waitUntilEqual(stateC, readers(), 60_000, noneMissing);
    expect(await stopTunnel(tunnel)).toBe(0);
    expect(tunnel.proc.logs().some((l) => /snapshot/i.test(String(l.msg)))).toBe(true);
    const deletedInGap = new Set([...stateA.keys()].filter((id) => !stateB.has(id)));
    let stale = 0;
    for (const d of Object.values(over.bySink)) {
      expect(d.missing).toEqual([]);
      expect(d.different).toEqual([]);
      for (const id of d.extra) expect(deletedInGap.has(id), `extra ${id} was not deleted in the lost range`).toBe(true);
      stale = Math.max(stale, d.extra.length);
    }

    // 4b. the resync the error message asks for: clear the sinks' rows, `tunnel reset-position <task>
    // --to none`, and start with snapshot: 'initial'
    await deleteRedisKeys(redis, `${DB}:orders:*`);
    receiver.applied.tables.delete(`${DB}.orders`);
    const reset = await runCli(['reset-position', TASK, '--to', 'none', '-c', configFile]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`task "${TASK}" has no position now`);
    const resyncAt = Date.now();
    tunnel = await startTunnel(configFile);
    const finalState = await tableRows(conn, `${DB}.orders`);
    const final = await waitUntilEqual(finalState, readers());
    expect(tunnel.proc.logs().some((l) => /snapshot/i.test(String(l.msg)))).toBe(true);

    reportFault({
      fault: 'stored position in a purged binlog file',
      lost: final.lost,
      duplicates: receiver.duplicates,
      duplicatesBySink: { webhook: receiver.duplicates },
      recoveryMs: final.endedAt - resyncAt,
      error: message.slice(0, 160),
      gapStatements,
      staleRowsIfSinksNotCleared: stale,
      tunnelSnapshotUnderWritesMs: over.endedAt - resnapshotAt,
      statementsDuringSnapshot: afterStatements,
      rows: finalState.size,
    });
    if (final.lost > 0) console.log(describeComparison(final));
    expect(final.lost).toBe(0);
  });
});
