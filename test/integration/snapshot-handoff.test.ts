import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FilePositionStore, type StoredPosition } from '../../core/checkpoint/index.ts';
import { resolveConfig } from '../../core/config/index.ts';
import type { BinlogPosition } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { Worker } from '../../core/runtime/worker.ts';
import { createSnapshotter, snapshotStatus } from '../../core/snapshot/index.ts';
import { createBinlogSource } from '../../core/source/index.ts';
import { redis } from '../../sinks/redis/index.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import {
  createTestDatabase,
  masterPosition,
  redisClient,
  repoRoot,
  servers,
  sourceConnection,
  sourcePool,
  sourceServers,
  waitFor,
  type SourceServer,
} from '../helpers/servers.ts';
import { WORKER_NODE_FLAGS } from '../helpers/node-flags.ts';

// Done-when of issue 7: a snapshot of a 200,000-row table while a writer updates and deletes random
// rows ends with the sink (the real Redis sink) equal to the table, with the real binlog source
// streaming after the handoff; killing the process mid-snapshot and restarting resumes at the last
// acknowledged chunk. On MariaDB and on MySQL 8.
const ROWS = 200_000;

interface Row {
  id: number;
  note: string;
  amount: string | null;
  qty: number;
  version: number;
}

async function createTable(server: SourceServer, db: string): Promise<void> {
  await createTestDatabase(db, server);
  const conn = await sourceConnection(server, { database: db });
  try {
    await conn.query(RowWriter.createTableSql('t'));
    for (let start = 0; start < ROWS; start += 10_000) {
      const rows = [];
      for (let id = start + 1; id <= start + 10_000; id++) rows.push([id, `row-${id}`, id % 5 === 0 ? null : ((id * 37) % 100_000) / 100, id % 13, 1]);
      await conn.query('INSERT INTO t (id, note, amount, qty, version) VALUES ?', [rows]);
    }
    await conn.query('ANALYZE TABLE t');
  } finally {
    await conn.end();
  }
}

async function clearRedis(db: string): Promise<void> {
  const client = redisClient();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${db}:*`, 'COUNT', 10_000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

async function tableRows(server: SourceServer, db: string): Promise<Map<number, Row>> {
  const conn = await sourceConnection(server, { database: db });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT id, note, amount, qty, version FROM t');
    return new Map(rows.map((r) => [Number(r.id), { id: Number(r.id), note: r.note, amount: r.amount, qty: r.qty, version: r.version }]));
  } finally {
    await conn.end();
  }
}

async function redisRows(db: string): Promise<Map<number, Row>> {
  const client = redisClient();
  const out = new Map<number, Row>();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${db}:t:*`, 'COUNT', 10_000);
      cursor = next;
      if (keys.length === 0) continue;
      const values = await client.mget(...keys);
      values.forEach((value, i) => {
        if (value === null) return;
        const row = JSON.parse(value) as Row;
        expect(keys[i]).toBe(`${db}:t:${row.id}`);
        out.set(row.id, row);
      });
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return out;
}

/** Every row field by field; a readable list of the first differences. */
async function expectSinkEqualsTable(server: SourceServer, db: string): Promise<number> {
  const [table, sink] = await Promise.all([tableRows(server, db), redisRows(db)]);
  const differences: string[] = [];
  for (const [id, row] of table) {
    const got = sink.get(id);
    if (!got) differences.push(`id ${id}: missing in Redis`);
    else {
      for (const field of ['id', 'note', 'amount', 'qty', 'version'] as const) {
        if (got[field] !== row[field]) differences.push(`id ${id}.${field}: table ${JSON.stringify(row[field])}, Redis ${JSON.stringify(got[field])}`);
      }
    }
  }
  for (const id of sink.keys()) if (!table.has(id)) differences.push(`id ${id}: in Redis, deleted from the table`);
  expect(differences.slice(0, 20), `${differences.length} differences`).toEqual([]);
  expect(sink.size).toBe(table.size);
  return table.size;
}

function atOrAfter(a: BinlogPosition | undefined, b: BinlogPosition): boolean {
  if (!a) return false;
  return a.file > b.file || (a.file === b.file && a.offset >= b.offset);
}

describe.each(sourceServers)('snapshot handoff to the binlog ($label, Redis sink, binlog source)', (server) => {
  const pools: mysql.Pool[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });
  afterAll(async () => {
    for (const pool of pools) await pool.end();
  });

  it('a 200,000-row table snapshot while a writer updates and deletes ends with Redis equal to the table', async () => {
    const db = `tunnel_snapshot_handoff_${server.name}`;
    await createTable(server, db);
    await clearRedis(db);
    const pool = sourcePool(server, { database: db });
    pools.push(pool);
    const writer = new RowWriter(pool, 't', { keys: ROWS + 10_000, batch: 5 });
    writer.start();
    await waitFor(() => writer.statements > 50, { what: 'writer running' });

    const dir = mkdtempSync(join(tmpdir(), 'tunnel-handoff-'));
    const config = resolveConfig({
      positions: { dir },
      deadLetters: { dir },
      tasks: [
        {
          name: 'handoff',
          source: { ...server.connection, serverId: 30_001, include: [`${db}.*`] },
          plugins: [redis({ connection: servers.redis.url, value: 'json' })],
          snapshot: 'initial',
          snapshotChunkRows: 5000,
        },
      ],
    });
    const worker = new Worker(config, { createSource: createBinlogSource, logger: silentLogger(), snapshot: createSnapshotter({ progress: 'off' }) });
    const started = Date.now();
    let snapshotSeconds = 0;
    let writesDuringSnapshot = 0;
    worker.on('taskCreated', (_name, runner) => {
      runner.on('stateChange', (state) => {
        if (state === 'running' && snapshotSeconds === 0) {
          snapshotSeconds = (Date.now() - started) / 1000;
          writesDuringSnapshot = writer.statements;
        }
      });
    });
    try {
      await worker.startAll();
      const runner = worker.tasks.get('handoff')!;
      const snap = snapshotStatus(runner)!;
      expect(snap.state).toBe('done');
      expect(snap.rowsDone).toBeGreaterThanOrEqual(ROWS - 5000);
      // keep writing a little while the binlog streams, then stop and let it catch up
      await new Promise((r) => setTimeout(r, 1000));
      await writer.stop();
      const end = await masterPosition(server);
      await waitFor(() => atOrAfter(runner.stats.committedPosition, end), { timeoutMs: 60_000, what: 'binlog caught up' });
      const rows = await expectSinkEqualsTable(server, db);
      console.log(
        `[snapshot-handoff ${server.name}] ${snap.rowsDone} rows snapshot in ${snapshotSeconds.toFixed(1)} s (${Math.round(snap.rowsDone / snapshotSeconds)} rows/s, Redis sink); ` +
          `${writesDuringSnapshot} writer statements during the snapshot, ${writer.statements} in all; ${rows} rows equal`,
      );
      expect(writesDuringSnapshot).toBeGreaterThan(100);
    } finally {
      await writer.stop();
      await worker.close();
    }
  });

  it('killed with SIGKILL mid-snapshot, a restarted process resumes at the last acknowledged chunk and ends equal', async () => {
    const db = `tunnel_snapshot_crash_${server.name}`;
    await createTable(server, db);
    await clearRedis(db);
    const pool = sourcePool(server, { database: db });
    pools.push(pool);
    const writer = new RowWriter(pool, 't', { keys: ROWS + 10_000, batch: 5 });
    writer.start();

    const dir = mkdtempSync(join(tmpdir(), 'tunnel-crash-'));
    const countFile = join(dir, 'snapshot-events.txt');
    const store = new FilePositionStore(join(dir, 'positions'));
    const logs: string[] = [];
    const run = () => {
      const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', resolve(repoRoot, 'test/helpers/snapshot-task.ts')], {
        cwd: repoRoot,
        env: { ...process.env, SNAP_DB: db, SNAP_DIR: dir, SNAP_COUNT_FILE: countFile, SNAP_CHUNK_ROWS: '2000', SNAP_SERVER: server.name },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const index = logs.push('') - 1;
      child.stdout!.on('data', (c: Buffer) => (logs[index] += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (logs[index] += c.toString()));
      children.push(child);
      return { child, output: () => logs[index]!, exited: new Promise<number | null>((done) => child.on('exit', (code) => done(code))) };
    };
    /** The snapshot's batches written so far: events and lowest id of each. */
    const batches = () =>
      existsSync(countFile)
        ? readFileSync(countFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => line.split(' ').map(Number) as [number, number])
        : [];
    const sent = () => batches().reduce((sum, [n]) => sum + n, 0);

    try {
      // 1st run: kill -9 once a good part of the table is acknowledged
      const first = run();
      await waitFor(async () => ((await store.load('handoff'))?.snapshot?.rowsDone ?? 0) >= 60_000 || first.child.exitCode !== null, {
        timeoutMs: 120_000,
        intervalMs: 20,
        what: 'snapshot progress saved',
      });
      expect(first.child.exitCode, first.output()).toBeNull();
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = (await store.load('handoff')) as StoredPosition;
      const sentBeforeKill = sent();
      const batchesBeforeKill = batches().length;
      expect(atKill.snapshot).toBeDefined();
      expect(atKill.snapshot!.rowsDone).toBeGreaterThan(0);
      expect(atKill.snapshot!.rowsDone).toBeLessThan(ROWS);
      expect(atKill.snapshot!.lastKey).toBeDefined();
      expect(atKill.position).toEqual(atKill.snapshot!.startPosition);

      // 2nd run: resumes after the stored key, not from the start
      const second = run();
      await waitFor(
        async () => {
          if (second.child.exitCode !== null) throw new Error(`worker exited ${second.child.exitCode}:\n${second.output().slice(-3000)}`);
          const stored = await store.load('handoff');
          return stored !== undefined && stored.snapshot === undefined;
        },
        { timeoutMs: 180_000, intervalMs: 50, what: 'snapshot done after the restart' },
      );
      const resumedLine = second
        .output()
        .split('\n')
        .find((line) => line.includes('resuming the snapshot'));
      expect(resumedLine, second.output().slice(-2000)).toBeDefined();
      expect(JSON.parse(resumedLine!)).toMatchObject({ rowsDone: atKill.snapshot!.rowsDone, lastKey: atKill.snapshot!.lastKey });
      const total = sent();
      expect(total).toBeGreaterThanOrEqual(ROWS - 10_000);
      // nothing before the last acknowledged chunk is read again (docs/snapshot.md): every batch of the
      // second run starts after its last key, and the second run sends at most the rows after it (the
      // writer adds at most 10,000 keys beyond the table's)
      const lastKey = Number((atKill.snapshot!.lastKey as unknown[])[0]);
      const secondRun = batches().slice(batchesBeforeKill);
      expect(secondRun.length).toBeGreaterThan(0);
      expect(secondRun.filter(([, minId]) => !(minId > lastKey))).toEqual([]);
      expect(total - sentBeforeKill).toBeLessThanOrEqual(ROWS + 10_000 - atKill.snapshot!.rowsDone);
      // rows sent before the kill past the last saved chunk, which the second run sends again
      const resent = sentBeforeKill - atKill.snapshot!.rowsDone;
      // at most what the runtime had in flight past the saved chunk: its cap, maxInFlightRows (20,000)
      expect(resent).toBeLessThanOrEqual(20_000);

      await new Promise((r) => setTimeout(r, 500));
      await writer.stop();
      const end = await masterPosition(server);
      await waitFor(async () => atOrAfter((await store.load('handoff'))?.position, end), { timeoutMs: 60_000, what: 'binlog caught up' });
      const rows = await expectSinkEqualsTable(server, db);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      console.log(
        `[snapshot-crash ${server.name}] killed at ${atKill.snapshot!.rowsDone} acknowledged rows (${sentBeforeKill} written by then, ${resent} re-sent after restart); ` +
          `${total} snapshot rows written in all for a ${ROWS}-row table; ${writer.statements} writer statements; ${rows} rows equal`,
      );
    } finally {
      await writer.stop();
    }
  });
});
