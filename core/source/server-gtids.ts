/**
 * What a source server says about GTIDs and its place in a replication topology: its identity, the
 * GTID state at a binlog position, what its binlog holds and has purged, and whether it replicates
 * from another server. The binlog source asks before it reads (core/source/candidates.ts), the
 * snapshot when it records where streaming starts.
 *
 * MariaDB keeps a GTID per replication domain and answers BINLOG_GTID_POS(file, offset) for any
 * position in its binlog. MySQL keeps GTID sets; the set at a position is the Previous_gtids event
 * at the start of its file plus the GTIDs of the file's transactions before it (SHOW BINLOG EVENTS).
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { parseGtidState, type GtidFlavor, type GtidState } from './gtid-set.ts';

/** Events read per SHOW BINLOG EVENTS page while a MySQL binlog file is scanned for its GTIDs. */
const SCAN_PAGE = 10_000;

async function one(conn: Connection, sql: string, values?: unknown[]): Promise<RowDataPacket | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, values);
  return rows[0];
}

/**
 * The server's identity in its replication topology: MariaDB's @@server_id, MySQL's @@server_uuid.
 * A binlog file name and offset mean something on this server only.
 */
export async function serverIdentity(conn: Connection, flavor: GtidFlavor): Promise<string> {
  const row = await one(conn, flavor === 'mariadb' ? 'SELECT @@GLOBAL.server_id AS id' : 'SELECT @@GLOBAL.server_uuid AS id');
  return String(row?.id ?? '');
}

/** Whether the server gives every transaction a GTID: always on MariaDB, gtid_mode=ON on MySQL. */
export async function gtidsOn(conn: Connection, flavor: GtidFlavor): Promise<boolean> {
  if (flavor === 'mariadb') return true;
  const row = await one(conn, 'SELECT @@GLOBAL.gtid_mode AS mode');
  return String(row?.mode ?? '').toUpperCase() === 'ON';
}

/** The transactions the server's binlog holds (MariaDB @@gtid_binlog_pos, MySQL @@gtid_executed). */
export async function executedGtids(conn: Connection, flavor: GtidFlavor): Promise<GtidState> {
  const sql = flavor === 'mariadb' ? 'SELECT @@GLOBAL.gtid_binlog_pos AS g' : 'SELECT @@GLOBAL.gtid_executed AS g';
  return parseGtidState(flavor, String((await one(conn, sql))?.g ?? ''), 'the server GTID state');
}

/**
 * The transactions the server no longer has in its binlog: MySQL @@gtid_purged; MariaDB the GTID
 * state at the start of its oldest binlog file.
 */
export async function purgedGtids(conn: Connection, flavor: GtidFlavor, oldestFile: string): Promise<GtidState> {
  if (flavor === 'mysql') return parseGtidState(flavor, String((await one(conn, 'SELECT @@GLOBAL.gtid_purged AS g'))?.g ?? ''), 'gtid_purged');
  return parseGtidState(flavor, String((await one(conn, 'SELECT BINLOG_GTID_POS(?, 4) AS g', [oldestFile]))?.g ?? ''), 'the oldest binlog GTID state');
}

/**
 * The GTID state at `offset` of binlog `file` (a transaction boundary): every transaction before it.
 * `read` counts the events a MySQL scan read (0 on MariaDB).
 */
export async function gtidStateAt(conn: Connection, flavor: GtidFlavor, file: string, offset: number): Promise<{ state: GtidState; read: number }> {
  if (flavor === 'mariadb') {
    const row = await one(conn, 'SELECT BINLOG_GTID_POS(?, ?) AS g', [file, offset]);
    return { state: parseGtidState(flavor, String(row?.g ?? ''), `the GTID state at ${file}:${offset}`), read: 0 };
  }
  let state = parseGtidState(flavor, '');
  let from = 4;
  let read = 0;
  for (;;) {
    // FROM/LIMIT are literals: SHOW BINLOG EVENTS takes no placeholders there
    const [rows] = await conn.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN ? FROM ${Math.trunc(from)} LIMIT ${SCAN_PAGE}`, [file]);
    for (const row of rows) {
      if (Number(row.Pos) >= offset) return { state, read };
      read++;
      const type = String(row.Event_type);
      if (type === 'Previous_gtids') state = parseGtidState(flavor, String(row.Info ?? ''), `the Previous_gtids event of ${file}`);
      else if (type === 'Gtid') {
        const gtid = /'([^']+)'/.exec(String(row.Info ?? ''))?.[1];
        if (gtid) state.add(gtid);
      }
      from = Number(row.End_log_pos);
    }
    if (rows.length < SCAN_PAGE) return { state, read };
  }
}

/**
 * MySQL's binlog end and GTID state at one instant (performance_schema.log_status, which needs
 * BACKUP_ADMIN); undefined where it cannot be read.
 */
export async function mysqlLogStatus(conn: Connection): Promise<{ file: string; offset: number; gtids: GtidState } | undefined> {
  try {
    const row = await one(conn, 'SELECT LOCAL AS local FROM performance_schema.log_status');
    const local = (typeof row?.local === 'string' ? JSON.parse(row.local) : row?.local) as
      { gtid_executed?: string; binary_log_file?: string; binary_log_position?: number } | undefined;
    if (!local?.binary_log_file || typeof local.binary_log_position !== 'number') return undefined;
    return {
      file: local.binary_log_file,
      offset: local.binary_log_position,
      gtids: parseGtidState('mysql', local.gtid_executed ?? '', 'gtid_executed'),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether a server that lacks the transactions `lacking` may still get them by replication: a
 * replication channel's receiver runs (or is connecting), or its applier runs and has received them
 * already. False when it replicates from nowhere (a primary, a promoted replica); undefined when it
 * cannot be asked (MariaDB needs REPLICA MONITOR, MySQL REPLICATION CLIENT).
 */
export async function mayCatchUp(conn: Connection, flavor: GtidFlavor, lacking: GtidState): Promise<boolean | undefined> {
  const running = (value: unknown) => /^(yes|connecting|preparing)$/i.test(String(value ?? ''));
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>(flavor === 'mariadb' ? 'SHOW ALL SLAVES STATUS' : 'SHOW REPLICA STATUS');
  } catch {
    return undefined;
  }
  for (const row of rows) {
    const receiving = flavor === 'mariadb' ? row.Slave_IO_Running : row.Replica_IO_Running;
    const applying = flavor === 'mariadb' ? row.Slave_SQL_Running : row.Replica_SQL_Running;
    if (running(receiving)) return true;
    const received = String((flavor === 'mariadb' ? row.Gtid_IO_Pos : row.Retrieved_Gtid_Set) ?? '');
    if (running(applying) && lacking.missingFrom(parseGtidState(flavor, received, 'the received GTIDs')) === undefined) return true;
  }
  return false;
}
