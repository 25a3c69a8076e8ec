import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilePositionStore, type SnapshotProgress } from '../../core/checkpoint/index.ts';
import { resolveConfig } from '../../core/config/index.ts';
import type { RowEvent, ValueCell } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { createSnapshotter, snapshotStatus, type SnapshotterOptions } from '../../core/snapshot/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';
import { createTestDatabase, masterPosition, sourceConnection, sourceServers, waitFor, type SourceServer } from '../helpers/servers.ts';

// The snapshot's reading against the real server: keyset chunks over every kind of key, tables
// without a key, the recorded position, values in the canonical form, and resuming from stored
// progress. On MariaDB and on MySQL 8.
const DB = 'tunnel_snapshot_chunks';

async function createTables(server: SourceServer): Promise<Connection> {
  const db = await createTestDatabase(DB, server);
  const conn = await sourceConnection(server, { database: db, multipleStatements: true });
  await conn.query(`
    CREATE TABLE by_int (id INT PRIMARY KEY, v VARCHAR(10));
    CREATE TABLE by_composite (a INT, b VARCHAR(8), c INT, PRIMARY KEY (a, b));
    CREATE TABLE by_binary (k VARBINARY(8) PRIMARY KEY, v INT);
    CREATE TABLE by_ts (k TIMESTAMP(3) NOT NULL PRIMARY KEY, v INT);
    CREATE TABLE by_enum (k ENUM('zz','aa','mm') NOT NULL PRIMARY KEY, v INT);
    CREATE TABLE by_bigint (k BIGINT UNSIGNED PRIMARY KEY, v INT);
    CREATE TABLE by_unique (u INT NOT NULL, v INT, UNIQUE KEY (u));
    CREATE TABLE no_key (a INT, b VARCHAR(10));
    CREATE TABLE skipped (id INT PRIMARY KEY);
    CREATE TABLE empty_one (id INT PRIMARY KEY);
    CREATE DATABASE IF NOT EXISTS tunnel_snapshot_slow;
    DROP TABLE IF EXISTS tunnel_snapshot_slow.big;
    CREATE TABLE tunnel_snapshot_slow.big (id INT PRIMARY KEY, v VARCHAR(20));
    CREATE DATABASE IF NOT EXISTS tunnel_snapshot_nokey;
    DROP TABLE IF EXISTS tunnel_snapshot_nokey.heap;
    CREATE TABLE tunnel_snapshot_nokey.heap (a INT, v VARCHAR(20));
  `);
  await conn.query('INSERT INTO tunnel_snapshot_nokey.heap VALUES ?', [Array.from({ length: 30_000 }, (_, i) => [i % 100, `v${i}`])]);
  await conn.query('INSERT INTO tunnel_snapshot_slow.big VALUES ?', [Array.from({ length: 20_000 }, (_, i) => [i + 1, `v${i}`])]);
  await conn.query('INSERT INTO by_int VALUES ?', [Array.from({ length: 23 }, (_, i) => [i * 3 - 10, `v${i}`])]);
  await conn.query('INSERT INTO by_composite VALUES ?', [Array.from({ length: 20 }, (_, i) => [i % 4, `b${(i * 7) % 10}`, i])]);
  await conn.query('INSERT INTO by_binary VALUES ?', [Array.from({ length: 11 }, (_, i) => [Buffer.from([i % 3, 255 - i, 0]), i])]);
  await conn.query('INSERT INTO by_ts VALUES ?', [Array.from({ length: 10 }, (_, i) => [`2024-03-10 0${i}:00:00.${100 + i}`, i])]);
  await conn.query("INSERT INTO by_enum VALUES ('zz', 1), ('aa', 2), ('mm', 3)");
  await conn.query('INSERT INTO by_bigint VALUES (1, 1), (9007199254740993, 2), (18446744073709551615, 3), (5, 4)');
  await conn.query('INSERT INTO by_unique VALUES ?', [Array.from({ length: 7 }, (_, i) => [100 - i, i])]);
  await conn.query('INSERT INTO no_key VALUES ?', [Array.from({ length: 8 }, (_, i) => [i % 2, i % 3 === 0 ? null : `x${i}`])]);
  await conn.query('INSERT INTO skipped VALUES (1)');
  return conn;
}

interface RunOptions extends SnapshotterOptions {
  store?: FilePositionStore;
  include?: string[];
  mode?: 'initial' | 'always';
  /** Delay of every sink write, ms. */
  slowMs?: number;
  /** Called once the worker started (and the snapshot runs); the worker closes when it resolves. */
  during?: (worker: Worker, sink: MemorySink) => Promise<void>;
}

async function runServerSnapshot(server: SourceServer, options: RunOptions = {}) {
  const db = DB;
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-snapshot-chunks-'));
  const sink = new MemorySink();
  if (options.slowMs) {
    const delay = options.slowMs;
    sink.answer = async (batch) => {
      await new Promise((r) => setTimeout(r, delay));
      return batch.events.map(() => ({ status: 'ok' }) as const);
    };
  }
  const config = resolveConfig({
    positions: { dir },
    deadLetters: { dir },
    tasks: [
      {
        name: 'chunks',
        source: { ...server.connection, serverId: 4242, include: options.include ?? [db], exclude: [`${db}.skipped`] },
        plugins: [memorySinkPlugin('mem', sink)],
        snapshot: options.mode ?? 'initial',
        snapshotChunkRows: options.chunkRows ?? 3,
        batch: { maxRows: options.slowMs ? 500 : 4, maxWaitMs: 1 },
      },
    ],
  });
  const store = options.store ?? new FilePositionStore(dir);
  const source = new FakeSource();
  const chunks: SnapshotProgress[] = [];
  const worker = new Worker(config, {
    createSource: () => source,
    positionStore: store,
    logger: silentLogger(),
    snapshot: createSnapshotter({ progress: 'off', onChunk: (p) => chunks.push(structuredClone(p)), ...options }),
  });
  if (options.during) {
    const starting = worker.startAll();
    await options.during(worker, sink);
    await worker.close();
    await starting;
  } else {
    await worker.startAll();
    await worker.close();
  }
  return { events: sink.events, source, store, chunks };
}

const byTable = (events: RowEvent[], table: string) =>
  events.filter((e) => e.table === table).map((e) => Object.fromEntries(e.rows[0]!.map((c) => [c.column, 'value' in c ? c.value : null])));

describe.each(sourceServers)('snapshot chunks against $label', (server) => {
  const db = DB;
  let conn: Connection;
  const runSnapshot = (options: RunOptions = {}) => runServerSnapshot(server, options);

  beforeAll(async () => {
    conn = await createTables(server);
  });

  afterAll(async () => {
    await conn?.end();
  });

  it('reads every row once, in key order, over every kind of key, and starts streaming at the recorded position', async () => {
    const master = await masterPosition(server);
    const { events, source, store, chunks } = await runSnapshot();
    expect(events.every((e) => e.action === 'insert' && e.schema === db)).toBe(true);
    expect(events.some((e) => e.table === 'skipped')).toBe(false);

    const ints = byTable(events, 'by_int').map((r) => r.id);
    expect(ints).toEqual(Array.from({ length: 23 }, (_, i) => i * 3 - 10));
    const composite = byTable(events, 'by_composite').map((r) => `${r.a}/${r.b}`);
    expect(composite).toHaveLength(20);
    expect(new Set(composite).size).toBe(20);
    expect(byTable(events, 'by_binary').map((r) => Buffer.from(r.k as string, 'base64').toString('hex'))).toEqual(
      Array.from({ length: 11 }, (_, i) => Buffer.from([i % 3, 255 - i, 0]).toString('hex')).sort(),
    );
    expect(byTable(events, 'by_ts').map((r) => r.k)).toEqual(Array.from({ length: 10 }, (_, i) => `2024-03-10T0${i}:00:00.${100 + i}Z`));
    expect(byTable(events, 'by_enum').map((r) => r.k)).toEqual(['zz', 'aa', 'mm']); // ENUM sorts by index
    expect(byTable(events, 'by_bigint').map((r) => r.k)).toEqual([1, 5, '9007199254740993', '18446744073709551615']);
    expect(byTable(events, 'by_unique').map((r) => r.u)).toEqual([94, 95, 96, 97, 98, 99, 100]);
    expect(byTable(events, 'no_key')).toHaveLength(8);
    expect(events.find((e) => e.table === 'by_unique')!.primaryKey).toEqual([]);
    expect(events.find((e) => e.table === 'by_composite')!.primaryKey).toEqual(['a', 'b']);

    // Every event carries the recorded start position; streaming starts there; the store holds it without progress.
    const start = events[0]!.position;
    expect(events.every((e) => e.position === start)).toBe(true);
    if (server.flavor === 'mariadb') {
      expect(start.file).toBe(master.file);
      expect(start.offset).toBeGreaterThanOrEqual(master.offset);
    } else {
      // MySQL: the start of the binlog file the snapshot's FLUSH BINARY LOGS opened
      expect(start.file > master.file).toBe(true);
      expect(start.offset).toBe(4);
    }
    expect(source.from).toEqual({ kind: 'position', position: start });
    const stored = await store.load('chunks');
    expect(stored?.position).toEqual(start);
    expect(stored?.snapshot).toBeUndefined();
    // progress was saved after acknowledged chunks, rowsDone growing
    expect(chunks.length).toBeGreaterThan(20);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.rowsDone).toBeGreaterThanOrEqual(chunks[i - 1]!.rowsDone);
    expect(chunks.at(-1)!.rowsDone).toBe(events.length);
  });

  it('resumes from stored progress: the table in progress after its last key, then the tables after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-snapshot-resume-'));
    const store = new FilePositionStore(dir);
    const startPosition = { file: `${server.binlogBaseName}.000001`, offset: 4 };
    await store.save('chunks', {
      position: startPosition,
      updatedAt: Date.now(),
      snapshot: { startPosition, pendingTables: [`${db}.by_int`, `${db}.by_unique`], lastKey: [14], rowsDone: 8 },
    });
    const { events, source } = await runSnapshot({ store });
    expect(byTable(events, 'by_int').map((r) => r.id)).toEqual(Array.from({ length: 23 }, (_, i) => i * 3 - 10).filter((id) => id > 14));
    expect(byTable(events, 'by_unique')).toHaveLength(7);
    expect(new Set(events.map((e) => e.table))).toEqual(new Set(['by_int', 'by_unique']));
    expect(events.every((e) => e.position.offset === 4)).toBe(true);
    expect(source.from).toEqual({ kind: 'position', position: startPosition });
    expect((await store.load('chunks'))?.snapshot).toBeUndefined();
  });

  it('with "initial" and a stored position, does not snapshot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-snapshot-initial-'));
    const store = new FilePositionStore(dir);
    const old = { file: `${server.binlogBaseName}.000001`, offset: 4 };
    await store.save('chunks', { position: old, updatedAt: Date.now() });
    const { events, source } = await runSnapshot({ store });
    expect(events).toHaveLength(0);
    expect(source.from).toEqual({ kind: 'position', position: old });
  });

  it('a graceful stop mid-snapshot keeps the acknowledged progress and never starts the source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-snapshot-stop-'));
    const store = new FilePositionStore(dir);
    const { events, source, chunks } = await runSnapshot({
      store,
      include: ['tunnel_snapshot_slow'],
      chunkRows: 1000,
      slowMs: 30,
      during: async (_worker, sink) => {
        await waitFor(() => sink.events.length >= 3000, { timeoutMs: 60_000, intervalMs: 5, what: '3,000 snapshot rows at the sink' });
      },
    });
    expect(source.from).toBeUndefined();
    const stored = await store.load('chunks');
    expect(stored?.snapshot).toBeDefined();
    expect(stored!.snapshot!.rowsDone).toBeGreaterThanOrEqual(3000);
    expect(stored!.snapshot!.rowsDone).toBeLessThan(20_000);
    expect(stored!.snapshot!.rowsDone).toBe(chunks.at(-1)!.rowsDone);
    // everything acknowledged was saved: nothing delivered beyond the saved progress but the chunk(s) in flight
    expect(events.length - stored!.snapshot!.rowsDone).toBeLessThanOrEqual(2000);
    expect(stored!.snapshot!.lastKey).toEqual([stored!.snapshot!.rowsDone]);
  });

  it('a stop in the middle of a table without a key ends promptly; the table is read again from its start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-snapshot-nokey-'));
    const store = new FilePositionStore(dir);
    const started = Date.now();
    const { events, source } = await runSnapshot({
      store,
      include: ['tunnel_snapshot_nokey'],
      chunkRows: 1000,
      slowMs: 30,
      during: async (_worker, sink) => {
        await waitFor(() => sink.events.length >= 3000, { timeoutMs: 60_000, intervalMs: 5, what: '3,000 snapshot rows at the sink' });
      },
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(events.length).toBeLessThan(30_000);
    expect(source.from).toBeUndefined();
    const stored = await store.load('chunks');
    expect(stored?.snapshot).toMatchObject({ pendingTables: ['tunnel_snapshot_nokey.heap'], rowsDone: 0 });
    expect(stored?.snapshot?.lastKey).toBeUndefined();
    // the restart reads the whole table
    const again = await runSnapshot({ store, include: ['tunnel_snapshot_nokey'], chunkRows: 1000 });
    expect(again.events.filter((e) => e.table === 'heap')).toHaveLength(30_000);
    expect(again.events[0]!.primaryKey).toEqual([]);
  });

  it('reconnects when its database connection is killed and reads the chunk again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-snapshot-kill-'));
    const killer = await sourceConnection(server);
    let killed = 0;
    try {
      const { events, source } = await runSnapshot({
        store: new FilePositionStore(dir),
        include: ['tunnel_snapshot_slow'],
        chunkRows: 1000,
        slowMs: 20,
        during: async (worker, sink) => {
          await waitFor(() => sink.events.length >= 4000, { timeoutMs: 60_000, intervalMs: 5, what: '4,000 snapshot rows at the sink' });
          const id = snapshotStatus(worker.tasks.get('chunks')!)!.connectionId!;
          expect(id).toBeGreaterThan(0);
          await killer.query(`KILL ${Number(id)}`);
          killed++;
          await waitFor(() => snapshotStatus(worker.tasks.get('chunks')!)!.connectionId !== id, {
            timeoutMs: 60_000,
            intervalMs: 5,
            what: 'the snapshot on a new connection',
          });
          await waitFor(() => worker.tasks.get('chunks')?.stats.state !== 'snapshotting', {
            timeoutMs: 120_000,
            intervalMs: 10,
            what: 'the snapshot finished',
          });
        },
      });
      expect(killed).toBeGreaterThan(0);
      const ids = events.filter((e) => e.table === 'big').map((e) => (e.rows[0]![0] as ValueCell).value as number);
      expect(new Set(ids).size).toBe(20_000);
      expect(source.from?.kind).toBe('position');
    } finally {
      await killer.end();
    }
  });

  it('snapshots only the given tables, keeping the stored position of a task that already streams', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-snapshot-subset-'));
    const store = new FilePositionStore(dir);
    const old = { file: `${server.binlogBaseName}.000001`, offset: 4 };
    await store.save('chunks', { position: old, updatedAt: Date.now() });
    const { events, source } = await runSnapshot({ store, tables: [`${db}.by_enum`], mode: 'always' });
    // with 'always' the given table is read again; streaming resumes at the old position, so the
    // other tables lose none of the changes made since
    expect(byTable(events, 'by_enum').map((r) => r.k)).toEqual(['zz', 'aa', 'mm']);
    expect(new Set(events.map((e) => e.table))).toEqual(new Set(['by_enum']));
    expect(events.every((e) => e.position.offset === 4)).toBe(true);
    expect(source.from).toEqual({ kind: 'position', position: old });
    expect(await store.load('chunks')).toMatchObject({ position: old });
    expect((await store.load('chunks'))?.snapshot).toBeUndefined();
  });

  it("the progress total is the table's row count, also when the server cached its statistics before the rows were written", async () => {
    const estimateDb = await createTestDatabase('tunnel_snapshot_estimate', server);
    await conn.query(`CREATE TABLE \`${estimateDb}\`.filled (id INT PRIMARY KEY)`);
    const tableRows = async () => {
      const [[row]] = (await conn.query('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
        estimateDb,
        'filled',
      ])) as unknown as [[{ n: number | string }]];
      return Number(row.n);
    };
    expect(await tableRows()).toBe(0);
    await conn.query(`INSERT INTO \`${estimateDb}\`.filled VALUES ?`, [Array.from({ length: 5000 }, (_, i) => [i + 1])]);
    // MySQL 8 goes on answering from the statistics it cached a moment ago (for a day, by default)
    if (server.flavor === 'mysql') expect(await tableRows()).toBe(0);
    let total = -1;
    const { events } = await runSnapshot({
      include: [estimateDb],
      chunkRows: 1000,
      during: async (worker) => {
        const task = worker.tasks.get('chunks')!;
        await waitFor(() => snapshotStatus(task)?.state === 'done', { timeoutMs: 120_000, intervalMs: 10, what: 'the snapshot done' });
        total = snapshotStatus(task)!.rowsTotal;
      },
    });
    expect(events).toHaveLength(5000);
    // InnoDB's estimate, not an exact count
    expect(total).toBeGreaterThan(2500);
    expect(total).toBeLessThan(10_000);
  });
});
