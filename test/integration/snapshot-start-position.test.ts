// The position a snapshot records must have every earlier transaction visible to the snapshot's
// reads: a transaction written to the binlog before it but not yet committed in the storage engine
// would be in neither the snapshot nor the stream. Under six writers committing as fast as they can,
// each of many recorded positions, followed by a read of the table and a stream from the position,
// must together hold every row. On MariaDB and on MySQL 8, with the grants the README names for a
// Tunnel user (on MySQL with and without RELOAD, which the snapshot's FLUSH BINARY LOGS needs).
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BinlogPosition } from '../../core/event/index.ts';
import { recordStartPosition } from '../../core/snapshot/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, masterPosition, sourceConnection, sourceServers, type SourceConnection, type SourceServer } from '../helpers/servers.ts';
import { comparePositions, silentLogger, uniqueServerId } from '../helpers/source-harness.ts';

const DB = 'tunnel_snapshot_start';
const PASSWORD = 'start-position';
const TRIALS = 15;
const WRITERS = 6;

/** The grants of a Tunnel user on each server (README): the snapshot's and the binlog source's needs. */
const GRANTS: { server: SourceServer; user: string; grants: string; method: RegExp }[] = sourceServers.flatMap((server) =>
  server.flavor === 'mariadb'
    ? [{ server, user: 'tunnel_start_min', grants: 'SELECT, REPLICATION SLAVE, BINLOG MONITOR', method: /consistent snapshot/ }]
    : [
        { server, user: 'tunnel_start_reload', grants: 'SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT', method: /^FLUSH BINARY LOGS/ },
        { server, user: 'tunnel_start_min', grants: 'SELECT, REPLICATION SLAVE, REPLICATION CLIENT', method: /start of the current binlog file/ },
      ],
);

interface Trial {
  snapshot: Set<number>;
  streamed: Set<number>;
  last: BinlogPosition;
  source: BinlogSource;
  errors: Error[];
}

describe.each(GRANTS)('snapshot start position on $server.label, user with $grants', ({ server, user, grants, method }) => {
  let admin: mysql.Connection;
  let connection: SourceConnection;

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    admin = await sourceConnection(server);
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'`);
    await admin.query(`GRANT ${grants} ON *.* TO '${user}'@'%'`);
    await admin.query(`CREATE TABLE \`${DB}\`.t (id INT AUTO_INCREMENT PRIMARY KEY, writer INT NOT NULL)`);
    connection = { ...server.connection, user, password: PASSWORD };
  });

  afterAll(async () => {
    await admin?.end();
  });

  it('a read of the table after it plus the stream from it hold every row, for every one of many positions under load', async () => {
    let writing = true;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      const conn = await sourceConnection(server);
      try {
        while (writing) await conn.query(`INSERT INTO \`${DB}\`.t (writer) VALUES (?)`, [w]);
      } finally {
        await conn.end();
      }
    });
    const trials: Trial[] = [];
    const methods = new Set<string>();
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < TRIALS; i++) {
        const conn = await mysql.createConnection(connection);
        let position: BinlogPosition;
        let snapshot: Set<number>;
        try {
          const recorded = await recordStartPosition(conn);
          methods.add(recorded.method);
          position = recorded.position;
          const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT id FROM \`${DB}\`.t`);
          snapshot = new Set(rows.map((r) => Number(r.id)));
        } finally {
          await conn.end();
        }
        const source = createBinlogSource({ connection, serverId: uniqueServerId(), include: [`${DB}.t`], exclude: [] }, silentLogger());
        const trial: Trial = { snapshot, streamed: new Set(), last: position, source, errors: [] };
        await source.start(
          { kind: 'position', position },
          {
            onEvent: (event) => {
              for (const row of event.rows) trial.streamed.add(Number((row[0] as { value: unknown }).value));
            },
            onCommit: (at) => (trial.last = at),
            onError: (error) => trial.errors.push(error),
          },
        );
        trials.push(trial);
        await new Promise((r) => setTimeout(r, 30));
      }
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    const end = await masterPosition(server);
    const [all] = await admin.query<mysql.RowDataPacket[]>(`SELECT id FROM \`${DB}\`.t`);
    const ids = all.map((r) => Number(r.id));
    const lost: string[] = [];
    for (const [i, trial] of trials.entries()) {
      const deadline = Date.now() + 60_000;
      while (comparePositions(trial.last, end) < 0 && trial.errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await trial.source.stop();
      expect(trial.errors).toEqual([]);
      const missing = ids.filter((id) => !trial.snapshot.has(id) && !trial.streamed.has(id));
      if (missing.length > 0) lost.push(`position ${i}: ${missing.length} rows in neither the read nor the stream (ids ${missing.slice(0, 5).join(', ')})`);
    }
    expect(ids.length).toBeGreaterThan(TRIALS * WRITERS);
    expect(lost).toEqual([]);
    expect(
      [...methods].every((m) => method.test(m)),
      [...methods].join('; '),
    ).toBe(true);
  });
});
