// Stop a source anywhere (between transactions, or in the middle of a transaction of many rows
// events), start a new one from the last commit it delivered: the events of committed
// transactions of all runs, put together, are exactly the binlog's events, none twice, none missing.
// On MariaDB and on MySQL 8.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import { createBinlogSource } from '../../core/source/index.ts';
import { allowRecursion, createTestDatabase, sourceConnection, sourceServers, type SourceServer } from '../helpers/servers.ts';
import { Recorder, binlogEnd, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const DB = 'tunnel_source_resume';
const BIG_ROWS = 20_000;

/** Reads [from, end) completely with one source. */
async function readAll(server: SourceServer, from: BinlogPosition, end: BinlogPosition): Promise<Recorder> {
  const recorder = new Recorder();
  const source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
  await source.start({ kind: 'position', position: from }, recorder);
  await recorder.waitForCommitAt(end, 60_000);
  await source.stop();
  return recorder;
}

/** One run that stops itself once `stopAfter(event, recorder)` says so; resolves when stopped or at `end`. */
async function runUntil(
  server: SourceServer,
  from: BinlogPosition,
  end: BinlogPosition,
  stopWhen: (event: RowEvent, recorder: Recorder) => boolean,
): Promise<{ recorder: Recorder; stoppedEarly: boolean }> {
  let stopped: Promise<void> | undefined;
  const recorder: Recorder = new Recorder({
    onEvent: (event) => {
      if (!stopped && stopWhen(event, recorder)) stopped = source.stop();
    },
  });
  const source = createBinlogSource(sourceOptions([`${DB}.*`], {}, server), silentLogger());
  await source.start({ kind: 'position', position: from }, recorder);
  const deadline = Date.now() + 60_000;
  while (!stopped && !recorder.commits.some((c) => c.position.file === end.file && c.position.offset >= end.offset)) {
    if (recorder.errors.length > 0) throw recorder.errors[0];
    if (Date.now() > deadline) throw new Error('run did not reach the end');
    await new Promise((r) => setTimeout(r, 20));
  }
  const stoppedEarly = stopped !== undefined;
  await (stopped ?? source.stop());
  // nothing arrives after stop() resolved
  const count = recorder.events.length;
  await new Promise((r) => setTimeout(r, 100));
  expect(recorder.events.length).toBe(count);
  return { recorder, stoppedEarly };
}

describe.each(sourceServers)('binlog source resume from committed positions on $label', (server) => {
  let conn: Connection;
  let start: BinlogPosition;
  let end: BinlogPosition;
  let reference: RowEvent[];
  let bigGtid: string;

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server);
    await allowRecursion(server, conn, BIG_ROWS);
    await conn.query(`CREATE TABLE \`${DB}\`.t (id INT AUTO_INCREMENT PRIMARY KEY, batch INT NOT NULL, payload VARCHAR(200) NOT NULL)`);
    await conn.query(`CREATE TABLE \`${DB}\`.other (id INT PRIMARY KEY, v INT)`);
    start = await binlogEnd(server);
    // 30 small transactions of 1..3 statements, over two tables
    for (let n = 1; n <= 30; n++) {
      await conn.query('BEGIN');
      await conn.query(`INSERT INTO \`${DB}\`.t (batch, payload) VALUES (?, ?), (?, ?)`, [n, `a${n}`, n, `b${n}`]);
      if (n % 3 === 0) await conn.query(`UPDATE \`${DB}\`.t SET payload = CONCAT(payload, '!') WHERE batch = ?`, [n - 1]);
      if (n % 4 === 0) await conn.query(`INSERT INTO \`${DB}\`.other VALUES (?, ?) ON DUPLICATE KEY UPDATE v = v + 1`, [n % 7, n]);
      if (n % 5 === 0) await conn.query(`DELETE FROM \`${DB}\`.t WHERE batch = ? LIMIT 1`, [n - 2]);
      await conn.query('COMMIT');
    }
    // one transaction of 20,000 rows: many rows events (a rows event holds about 8 KB)
    await conn.query(
      `INSERT INTO \`${DB}\`.t (batch, payload)
       WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${BIG_ROWS})
       SELECT 1000, CONCAT('big-row-', n, '-', REPEAT('x', 60)) FROM s`,
    );
    // and more small ones after it
    for (let n = 31; n <= 40; n++) await conn.query(`INSERT INTO \`${DB}\`.t (batch, payload) VALUES (?, ?)`, [n, `c${n}`]);
    end = await binlogEnd(server);

    reference = (await readAll(server, start, end)).events;
    const big = reference.filter((e) => e.rows.length > 1 && e.action === 'insert' && e.rows.length > 10);
    bigGtid = big[0]!.position.gtid!;
  }, 180_000);

  afterAll(async () => {
    await conn?.end();
  });

  it('the reference read has every row of the workload', () => {
    const bigEvents = reference.filter((e) => e.position.gtid === bigGtid);
    expect(bigEvents.length).toBeGreaterThan(20); // a multi-rows-event transaction
    expect(bigEvents.reduce((n, e) => n + e.rows.length, 0)).toBe(BIG_ROWS);
    expect(reference.filter((e) => e.table === 't' && e.action === 'insert').reduce((n, e) => n + e.rows.length, 0)).toBe(60 + BIG_ROWS + 10);
    // positions strictly increase: a total order usable to check "none twice"
    for (let i = 1; i < reference.length; i++) {
      const a = reference[i - 1]!.position;
      const b = reference[i]!.position;
      expect(a.file < b.file || (a.file === b.file && a.offset < b.offset)).toBe(true);
    }
  });

  it('stop after N transactions, and in the middle of the 20,000-row transaction, then resume', async () => {
    // run 1: stop after 10 commits
    const first = await runUntil(server, start, end, (_e, r) => r.commits.length >= 10);
    expect(first.stoppedEarly).toBe(true);
    // run 2: from run 1's last commit, stop at the 7th rows event of the big transaction
    let seenBig = 0;
    const second = await runUntil(server, first.recorder.lastCommit!, end, (e) => e.position.gtid === bigGtid && ++seenBig === 7);
    expect(second.stoppedEarly).toBe(true);
    expect(second.recorder.pending.length).toBe(7); // delivered but uncommitted: re-delivered by run 3
    // run 3: to the end
    const third = await runUntil(server, second.recorder.lastCommit!, end, () => false);
    expect(third.stoppedEarly).toBe(false);

    const union = [...first.recorder.committed, ...second.recorder.committed, ...third.recorder.events];
    expect(union).toEqual(reference);
  });

  it('stopped at 25 arbitrary points, the committed events of all runs are the binlog exactly', async () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const union: RowEvent[] = [];
    let from = start;
    let runs = 0;
    let midTransactionStops = 0;
    for (;;) {
      runs += 1;
      const budget = 1 + random(40);
      let seen = 0;
      const run = await runUntil(server, from, end, () => ++seen >= budget && runs <= 25);
      if (run.recorder.pending.length > 0) midTransactionStops += 1;
      if (!run.stoppedEarly) {
        union.push(...run.recorder.events);
        break;
      }
      union.push(...run.recorder.committed);
      from = run.recorder.lastCommit ?? from;
    }
    expect(runs).toBeGreaterThan(5);
    expect(midTransactionStops).toBeGreaterThan(0);
    expect(union).toEqual(reference);
  }, 180_000);
});
