// A source server's replica from scripts/services (`up mariadb-replica`, `up mysql-replica`) and the
// replication statements the failover tests run on it, in each server's dialect: stop and start its
// receiver (IO thread) and applier (SQL thread), wait until it has received or applied the primary's
// transactions, and promote it.
import type mysql from 'mysql2/promise';
import { sourceConnection, type SourceServer } from './servers.ts';

export interface ReplicaOf {
  primary: SourceServer;
  /** The replica, as a source server (its own port). */
  replica: SourceServer;
  /** The scripts/services name of the replica. */
  service: string;
}

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw ? Number(raw) : fallback;
}

export function replicaOf(primary: SourceServer): ReplicaOf {
  const port = primary.flavor === 'mariadb' ? envPort('TUNNEL_MARIADB_REPLICA_PORT', 13308) : envPort('TUNNEL_MYSQL_REPLICA_PORT', 13309);
  return {
    primary,
    replica: { ...primary, label: `${primary.label} replica`, connection: { ...primary.connection, port } },
    service: `${primary.name}-replica`,
  };
}

const mariadb = (server: SourceServer) => server.flavor === 'mariadb';

/** The primary's executed GTIDs, as MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET take them. */
export async function executedOn(server: SourceServer, conn: mysql.Connection): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(mariadb(server) ? 'SELECT @@GLOBAL.gtid_binlog_pos AS g' : 'SELECT @@GLOBAL.gtid_executed AS g');
  return String(rows[0]!.g).replace(/\s+/g, '');
}

export const replicationSql = {
  stopReceiving: (s: SourceServer) => (mariadb(s) ? 'STOP SLAVE IO_THREAD' : 'STOP REPLICA IO_THREAD'),
  stopApplying: (s: SourceServer) => (mariadb(s) ? 'STOP SLAVE SQL_THREAD' : 'STOP REPLICA SQL_THREAD'),
  startApplying: (s: SourceServer) => (mariadb(s) ? 'START SLAVE SQL_THREAD' : 'START REPLICA SQL_THREAD'),
  /** What a failover tool does to the replica it promotes: no more replication, writes its own binlog. */
  promote: (s: SourceServer) => (mariadb(s) ? ['STOP SLAVE', 'RESET SLAVE ALL'] : ['STOP REPLICA', 'RESET REPLICA ALL']),
};

/** Waits (up to `timeoutS`) until the replica has received every transaction of `executed`. */
export async function waitReceived(server: SourceServer, replica: mysql.Connection, executed: string, timeoutS = 30): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const [rows] = await replica.query<mysql.RowDataPacket[]>(mariadb(server) ? 'SHOW ALL SLAVES STATUS' : 'SHOW REPLICA STATUS');
    const received = String((mariadb(server) ? rows[0]?.Gtid_IO_Pos : rows[0]?.Retrieved_Gtid_Set) ?? '').replace(/\s+/g, '');
    // MySQL: what the receiver got since it started, with what the replica had before (gtid_purged)
    const [[check]] = (await replica.query(
      mariadb(server) ? 'SELECT ? = ? AS done' : "SELECT GTID_SUBSET(?, CONCAT_WS(',', NULLIF(?, ''), NULLIF(@@GLOBAL.gtid_executed, ''))) AS done",
      [executed, received],
    )) as unknown as [[{ done: number }]];
    if (Number(check.done) === 1) return;
    if (Date.now() > deadline) throw new Error(`the replica did not receive ${executed} within ${timeoutS} s (it has ${received})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits (up to `timeoutS`) until the replica has applied every transaction of `executed`. */
export async function waitApplied(server: SourceServer, replica: mysql.Connection, executed: string, timeoutS = 30): Promise<void> {
  const [[row]] = (await replica.query(mariadb(server) ? 'SELECT MASTER_GTID_WAIT(?, ?) AS r' : 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r', [
    executed,
    timeoutS,
  ])) as unknown as [[{ r: number }]];
  if (Number(row.r) !== 0) throw new Error(`the replica did not apply ${executed} within ${timeoutS} s`);
}

/** A connection to the replica as the tunnel user. */
export function replicaConnection(pair: ReplicaOf): Promise<mysql.Connection> {
  return sourceConnection(pair.replica);
}
