// Bad input: a plugin (in the team's own file) throws on one event — the row with id 777 — while a
// writer changes other rows. The error must name the plugin, the hook, the task and the event's
// position. Policy 'stop': the task stops there (its position never passes the event, nothing after
// it is delivered, and a restart stops at the same event again). Policy 'dead-letter': the event is
// dead-lettered, the rest goes on, and the sinks equal the table minus that row; `tunnel
// dead-letters` shows it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, repoRoot, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { PrivateRedis } from '../helpers/chaos-servers.ts';
import {
  apiStatus,
  comparePositions,
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

const DB = 'chaos_plugin';
const SECRET = 'chaos-plugin-webhook-secret-012';
const TASK = 'plugin';

const PLUGIN = `
import { definePlugin, rowImage, type RowEvent } from '${repoRoot}/core/index.ts';

/** Throws on any event holding the row with id 777. */
export const poisonPill = definePlugin({
  name: 'poison-pill',
  apply(hooks) {
    hooks.transform.tap('poison', (event: RowEvent) => {
      for (let i = 0; i < event.rows.length; i++) if (Number(rowImage(event, i).id) === 777) throw new Error('poison row 777');
      return event;
    });
  },
});
`;

describe('bad input: a plugin that throws on one event', () => {
  const dir = taskDir('plugin');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  let redis: ReturnType<PrivateRedis['client']>;
  let conn: mysql.Connection;
  let pool: mysql.Pool;
  let tunnel: RunningTunnel | undefined;
  let start: { file: string; offset: number };
  /** Where the failing event is (its rows event's end), as the error says. */
  let poisonAt: { file: string; offset: number };

  const readers = () => ({ redis: () => redisRows(redis, `${DB}:orders:`), webhook: async () => receiver.rows(`${DB}.orders`) });
  const config = (policy: 'stop' | 'dead-letter') =>
    writeConfig(
      {
        dir,
        imports: [`import { poisonPill } from './plugin.ts';`],
        tasks: [
          {
            name: TASK,
            db: DB,
            serverId: 7905,
            startFrom: start,
            extra: `onPluginError: '${policy}',`,
            plugins: ['poisonPill', sinkText.redis(redisServer.port, `${DB}:{table}:{id}`), sinkText.webhook(receiver.url, SECRET)],
          },
        ],
      },
      `tunnel.${policy}.config.ts`,
    );
  const writeFor = async (ms: number) => {
    const writer = new RowWriter(pool, `${DB}.orders`, { keys: 300, batch: 4, pauseMs: 4 });
    writer.start();
    await sleep(ms);
    await writer.stop();
    return writer.statements;
  };
  const storedPosition = () =>
    (JSON.parse(readFileSync(join(dir, 'positions', `${TASK}.json`), 'utf8')) as { position: { file: string; offset: number } }).position;

  beforeAll(async () => {
    await redisServer.start();
    redis = redisServer.client();
    await receiver.start();
    writeFileSync(join(dir, 'plugin.ts'), PLUGIN);
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
    start = await masterPosition(conn);
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

  it("policy 'stop': the error names plugin, hook, task and position; the task stops at the event and skips nothing", async () => {
    const configFile = config('stop');
    tunnel = await startTunnel(configFile);
    await writeFor(2000);
    const stateA = await tableRows(conn, `${DB}.orders`);
    const before = await waitUntilEqual(stateA, readers());
    expect(before.lost, describeComparison(before)).toBe(0);

    // the poison row, then later changes the task must not deliver
    await conn.query(`INSERT INTO ${DB}.orders (id, note, amount, qty, version) VALUES (777, 'poison', 1.00, 1, 1)`);
    const laterStatements = await writeFor(2000);

    const line = await tunnel.proc.waitForLog((l) => l.msg === 'task failed and stops', 30_000);
    const err = line.err as { message: string; code: string; plugin: string; hook: string; task: string };
    expect(err.code).toBe('TUNNEL_ERR_PLUGIN');
    expect(err.message).toContain('plugin "poison-pill"');
    expect(err.message).toContain('hook "transform"');
    expect(err.message).toContain(`task "${TASK}"`);
    expect(err.message).toContain('poison row 777');
    const at = /at (\S+):(\d+)/.exec(err.message);
    expect(at, err.message).not.toBeNull();
    poisonAt = { file: at![1]!, offset: Number(at![2]) };

    const status = await apiStatus(tunnel);
    expect(status.tasks.find((t) => t.name === TASK)?.state).toBe('failed');
    await sleep(1500);
    // nothing after the poison event arrived, nothing before it is missing
    const held = await waitUntilEqual(stateA, readers(), 0);
    expect(held.lost, describeComparison(held)).toBe(0);
    expect(comparePositions(storedPosition(), poisonAt)).toBeLessThan(0);
    await stopTunnel(tunnel);

    // a restart with the same policy stops at the same event: it was not skipped
    tunnel = await startTunnel(configFile);
    const again = await tunnel.proc.waitForLog((l) => l.msg === 'task failed and stops', 30_000);
    expect((again.err as { message: string }).message).toBe(err.message);
    expect(comparePositions(storedPosition(), poisonAt)).toBeLessThan(0);
    await stopTunnel(tunnel);

    reportFault({
      fault: "plugin throws on one event, onPluginError 'stop'",
      lost: held.lost,
      duplicates: receiver.duplicates,
      error: err.message,
      laterStatementsNotDelivered: laterStatements,
      positionStayedBefore: `${storedPosition().file}:${storedPosition().offset}`,
    });
  });

  it("policy 'dead-letter': the event is dead-lettered, the rest goes on; tunnel dead-letters shows it", async () => {
    const configFile = config('dead-letter');
    const resumedAt = Date.now();
    tunnel = await startTunnel(configFile);
    await writeFor(2000);
    const table = await tableRows(conn, `${DB}.orders`);
    expect(table.has('777')).toBe(true);
    const expected = new Map(table);
    expected.delete('777');
    const comparison = await waitUntilEqual(expected, readers());
    expect(comparison.lost, describeComparison(comparison)).toBe(0);

    const list = await runCli(['dead-letters', TASK, '-c', configFile]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/plugin:poison-pill\s+chaos_plugin\.orders\s+insert\s+plugin "poison-pill" failed in hook "transform"/);
    const json = await runCli(['dead-letters', TASK, '--json', '-c', configFile]);
    const letters = JSON.parse(json.stdout) as Array<{
      origin: string;
      reason: string;
      event: { position: { file: string; offset: number }; rows: Array<Array<{ column: string; value: unknown }>> };
    }>;
    expect(letters).toHaveLength(1);
    expect(letters[0]!.origin).toBe('plugin:poison-pill');
    expect(letters[0]!.reason).toContain('poison row 777');
    expect(letters[0]!.event.position).toMatchObject(poisonAt);
    expect(letters[0]!.event.rows[0]!.find((c) => c.column === 'id')?.value).toBe(777);

    // One rows event holding the poison row and a clean one (a multi-row UPDATE): the unit of a
    // dead letter is the event, so the clean row's change goes to the dead letters with it.
    await conn.query(`INSERT INTO ${DB}.orders (id, note, amount, qty, version) VALUES (778, 'clean', 2.00, 1, 1)`);
    await conn.query(`UPDATE ${DB}.orders SET qty = qty + 1, version = version + 1 WHERE id IN (777, 778)`);
    const after = await tableRows(conn, `${DB}.orders`);
    const letterFile = join(dir, 'dead-letters', `${TASK}.jsonl`);
    await waitFor(() => readFileSync(letterFile, 'utf8').trim().split('\n').length === 2, { timeoutMs: 10_000, what: 'the second dead letter' });
    // compare-rows names the first column that differs: `<id>.<column>: <table> != <sink>`
    const THE_778_UPDATE = '778.qty: 2 != 1';
    const onlyThe778Update = (c: { bySink: Record<string, { missing: string[]; extra: string[]; different: string[] }> }) =>
      Object.values(c.bySink).every((d) => d.missing.length === 0 && d.extra.length === 0 && d.different.join() === THE_778_UPDATE);
    const sharing = await waitUntilEqual(new Map([...after].filter(([id]) => id !== '777')), readers(), 10_000, onlyThe778Update);
    const letters2 = JSON.parse((await runCli(['dead-letters', TASK, '--json', '-c', configFile])).stdout) as typeof letters;
    expect(letters2).toHaveLength(2);
    const ids = letters2[1]!.event.rows.map((row) => (row as unknown as Array<{ column: string; after: unknown }>).find((c) => c.column === 'id')?.after);
    expect(ids).toEqual([777, 778]);
    // the sinks keep 778 as inserted (qty 1, where the table now has 2): its update is in the dead
    // letter, not lost silently
    expect(sharing.bySink.redis?.different).toEqual([THE_778_UPDATE]);
    await stopTunnel(tunnel);

    reportFault({
      fault: "plugin throws on one event, onPluginError 'dead-letter'",
      lost: comparison.lost,
      duplicates: receiver.duplicates,
      duplicatesBySink: { webhook: receiver.duplicates },
      recoveryMs: comparison.endedAt - resumedAt,
      deadLetters: letters.length,
      cli: list.stdout.split('\n')[2]?.replace(/\s+/g, ' ').slice(0, 140),
      note: 'a multi-row rows event holding the poison row is dead-lettered whole (the other rows of that event with it)',
    });
  });
});
