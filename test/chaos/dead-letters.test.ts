// Bad input: rows a sink rejects for good. Elasticsearch has an explicit mapping (the sink's
// `indices` option: items.code is an integer) and one row's code is not a number — a mapping
// conflict; the webhook receiver answers 422 for one other row. Both must be dead-lettered with
// the reason while everything else flows (a writer changes random orders meanwhile), and the
// dead letters must be where the task says — a file, a Redis list (redisDeadLetterStore +
// deadLetter {type: 'plugin'}) or another sink (deadLetter {type: 'sink'}) — and shown by
// `tunnel dead-letters`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, esClient, mysqlConnection, servers, waitFor } from '../helpers/servers.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { PrivateRedis } from '../helpers/chaos-servers.ts';
import type { RowEvent } from '../../core/index.ts';
import {
  describeComparison,
  esRows,
  masterPosition,
  redisRows,
  removeDir,
  reportFault,
  runCli,
  sleep,
  startTunnel,
  stopTunnel,
  taskDir,
  waitUntilAllEqual,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_dlq';
const SECRET = 'chaos-dlq-webhook-secret-012345';
const ES_POISON = '7';
const HOOK_POISON = '13';
const mapping = (index: string) => `'${index}': { mappings: { properties: { code: { type: 'integer' } } } }`;

interface Letter {
  task: string;
  origin: string;
  reason: string;
  at: string;
  event: RowEvent;
}

describe('bad input: rows a sink rejects permanently are dead-lettered where the task says', () => {
  const dir = taskDir('dlq');
  const receiver = new WebhookReceiver(SECRET, { keepEvents: false });
  const redisServer = new PrivateRedis(`${dir}/redis`);
  const es = esClient();
  let redis: ReturnType<PrivateRedis['client']>;
  let conn: mysql.Connection;
  let pool: mysql.Pool;
  let tunnel: RunningTunnel | undefined;
  let configFile: string;

  beforeAll(async () => {
    await redisServer.start();
    redis = redisServer.client();
    receiver.reject = (event) => {
      if (event.table !== 'items') return undefined;
      const ids = event.rows.map((cells) => {
        const id = cells.find((c) => c.column === 'id');
        return String(id && ('value' in id ? id.value : id.after));
      });
      return ids.includes(HOOK_POISON) ? { status: 422, body: `unknown item ${HOOK_POISON}` } : undefined;
    };
    await receiver.start();
    for (const index of [`${DB}_orders`, `${DB}_items`, `${DB}_items_r`, `${DB}_items_s`]) await es.indices.delete({ index, ignore_unavailable: true });
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(RowWriter.createTableSql(`${DB}.orders`));
    await conn.query(`CREATE TABLE ${DB}.items (id INT PRIMARY KEY, code VARCHAR(32) NOT NULL, note VARCHAR(64) NULL)`);
    pool = mysql.createPool({ ...servers.mariadb, connectionLimit: 4 });
    const start = await masterPosition(conn);
    const esSink = (index: string, extra = '') =>
      `elasticsearch({ name: 'es', node: '${servers.elasticsearch.url}', index: '${index}', indices: { ${mapping(index.replace('{schema}', DB).replace('{table}', 'items'))} } ${extra} })`;
    configFile = writeConfig({
      dir,
      imports: [`import { routeTables } from '${join(import.meta.dirname, '../../plugins/index.ts')}';`],
      tasks: [
        {
          // dead letters in a file of its own
          name: 'dlq_file',
          db: DB,
          serverId: 7906,
          startFrom: start,
          extra: `deadLetter: { type: 'file', path: '${dir}/rejects.jsonl' },`,
          plugins: [esSink('{schema}_{table}'), `webhook({ name: 'webhook', url: '${receiver.url}', secret: '${SECRET}', mode: 'event', retries: 1 })`],
        },
        {
          // dead letters in a Redis list
          name: 'dlq_redis',
          db: DB,
          serverId: 7907,
          startFrom: start,
          source: `{ host: '${servers.mariadb.host}', port: ${servers.mariadb.port}, user: '${servers.mariadb.user}', password: '${servers.mariadb.password}', serverId: 7907, include: ['${DB}.items'], startFrom: ${JSON.stringify(start)} }`,
          extra: `deadLetter: { type: 'plugin' },`,
          plugins: [
            esSink('{schema}_{table}_r'),
            `redisDeadLetterStore({ connection: { host: '127.0.0.1', port: ${redisServer.port} }, key: 'chaos:dlq:{task}' })`,
          ],
        },
        {
          // dead letters into another sink of the task (a Redis sink that gets nothing else)
          name: 'dlq_sink',
          db: DB,
          serverId: 7908,
          source: `{ host: '${servers.mariadb.host}', port: ${servers.mariadb.port}, user: '${servers.mariadb.user}', password: '${servers.mariadb.password}', serverId: 7908, include: ['${DB}.items'], startFrom: ${JSON.stringify(start)} }`,
          extra: `deadLetter: { type: 'sink', sink: 'rejects' },`,
          plugins: [
            esSink('{schema}_{table}_s'),
            `redis({ name: 'rejects', connection: { host: '127.0.0.1', port: ${redisServer.port} }, key: '${DB}:rejects:{table}:{id}', value: 'json' })`,
            `routeTables({ rules: [{ tables: ['*.*'], sinks: ['es'] }] })`,
          ],
        },
      ],
    });
  });

  afterAll(async () => {
    await stopTunnel(tunnel, 'SIGKILL');
    redis?.disconnect();
    await redisServer.stop();
    await receiver.close();
    await es.close();
    await pool?.end();
    await conn?.end();
    removeDir(dir);
  });

  it('an ES mapping conflict and a webhook 422 are dead-lettered with the reason; the rest arrives', async () => {
    const startedAt = Date.now();
    tunnel = await startTunnel(configFile);
    const writer = new RowWriter(pool, `${DB}.orders`, { keys: 300, batch: 4, pauseMs: 8 });
    writer.start();
    for (let id = 1; id <= 20; id++) {
      const code = String(id) === ES_POISON ? 'seven' : String(id * 100);
      await conn.query(`INSERT INTO ${DB}.items (id, code, note) VALUES (?, ?, ?)`, [id, code, `item ${id}`]);
      await sleep(50);
    }
    await conn.query(`UPDATE ${DB}.items SET code = '555', note = 'changed' WHERE id = 5`);
    await conn.query(`DELETE FROM ${DB}.items WHERE id = 20`);
    await sleep(1000);
    await writer.stop();

    const orders = await tableRows(conn, `${DB}.orders`);
    const items = await tableRows(conn, `${DB}.items`);
    const without = (id: string) => new Map([...items].filter(([key]) => key !== id));
    const comparison = await waitUntilAllEqual({
      'es orders': { expected: orders, read: () => esRows(es, `${DB}_orders`) },
      'webhook orders': { expected: orders, read: async () => receiver.rows(`${DB}.orders`) },
      'es items': { expected: without(ES_POISON), read: () => esRows(es, `${DB}_items`) },
      'webhook items': { expected: without(HOOK_POISON), read: async () => receiver.rows(`${DB}.items`) },
      'es items (redis-list task)': { expected: without(ES_POISON), read: () => esRows(es, `${DB}_items_r`) },
      'es items (sink task)': { expected: without(ES_POISON), read: () => esRows(es, `${DB}_items_s`) },
    });
    if (comparison.lost > 0) console.log(describeComparison(comparison));
    expect(comparison.lost).toBe(0);

    // the file
    const fileLetters = await waitFor(
      () => {
        const lines = readFileSync(join(dir, 'rejects.jsonl'), 'utf8').trim().split('\n');
        return lines.length >= 2 ? lines.map((l) => JSON.parse(l) as Letter) : undefined;
      },
      { what: 'two dead letters in the file' },
    );
    expect(fileLetters).toHaveLength(2);
    const esLetter = fileLetters.find((l) => l.origin === 'es')!;
    const hookLetter = fileLetters.find((l) => l.origin === 'webhook')!;
    expect(esLetter.reason).toMatch(/^400 document_parsing_exception: .*failed to parse field \[code\] of type \[integer\]/);
    expect(esLetter.event).toMatchObject({ schema: DB, table: 'items', action: 'insert' });
    expect(esLetter.event.rows[0]).toContainEqual({ column: 'code', value: 'seven' });
    expect(hookLetter.reason).toBe(`webhook: HTTP 422: unknown item ${HOOK_POISON}`);
    expect(hookLetter.event.rows[0]).toContainEqual({ column: 'id', value: Number(HOOK_POISON) });

    const fileCli = await runCli(['dead-letters', 'dlq_file', '-c', configFile]);
    expect(fileCli.code, fileCli.stderr).toBe(0);
    expect(fileCli.stdout).toMatch(/dlq_file\s+es\s+chaos_dlq\.items\s+insert\s+400 document_parsing_exception/);
    expect(fileCli.stdout).toMatch(/dlq_file\s+webhook\s+chaos_dlq\.items\s+insert\s+webhook: HTTP 422: unknown item 13/);

    // the Redis list
    const listed = (await redis.lrange('chaos:dlq:dlq_redis', 0, -1)).map((l) => JSON.parse(l) as Letter);
    expect(listed).toHaveLength(1);
    expect(listed[0]!.reason).toMatch(/failed to parse field \[code\]/);
    const redisCli = await runCli(['dead-letters', 'dlq_redis', '--json', '-c', configFile]);
    expect(redisCli.code, redisCli.stderr).toBe(0);
    expect((JSON.parse(redisCli.stdout) as Letter[]).map((l) => [l.task, l.origin, l.event.table])).toEqual([['dlq_redis', 'es', 'items']]);

    // the other sink: the rejected row, in the 'rejects' Redis sink (and only it)
    const rejects = await redisRows(redis, `${DB}:rejects:items:`);
    expect([...rejects.keys()]).toEqual([ES_POISON]);
    expect(rejects.get(ES_POISON)).toMatchObject({ id: 7, code: 'seven' });

    const all = await runCli(['dead-letters', '-c', configFile]);
    expect(all.code).toBe(0);
    await stopTunnel(tunnel);
    reportFault({
      fault: 'rows a sink rejects (ES mapping conflict, webhook 422)',
      lost: comparison.lost,
      duplicates: receiver.duplicates,
      duplicatesBySink: { webhook: receiver.duplicates },
      caughtUpMs: comparison.endedAt - startedAt,
      deadLetters: `file ${fileLetters.length}, redis list ${listed.length}, sink ${rejects.size}`,
      esReason: esLetter.reason.slice(0, 120),
      webhookReason: hookLetter.reason,
      statements: writer.statements,
    });
  });

  // Dead letters sent to another sink are recorded in the task's file too, so the CLI lists them.
  it('tunnel dead-letters lists the dead letters of a task whose deadLetter is another sink', async () => {
    const cli = await runCli(['dead-letters', 'dlq_sink', '-c', configFile]);
    console.log(`tunnel dead-letters dlq_sink (deadLetter {type: 'sink'}) printed: ${JSON.stringify(cli.stdout.trim())}`);
    expect(cli.stdout).toContain('document_parsing_exception');
  });
});
