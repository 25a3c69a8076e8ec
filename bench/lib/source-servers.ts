// The source servers the benchmark reads binlogs from: MariaDB 10.11 (always, scripts/services) and
// MySQL 8 (when scripts/services has started one: TUNNEL_MYSQL_PORT, user tunnel/tunnel). Where each
// listens, a connection to it, and what the binlog looks like there now.
import mysql from 'mysql2/promise';
import type { BinlogPosition } from '../../core/event/index.ts';
import { servers } from '../../test/helpers/servers.ts';

export type SourceName = 'mariadb' | 'mysql';

export interface SourceServer {
  name: SourceName;
  /** As printed in the report. */
  label: string;
  host: string;
  port: number;
  user: string;
  password: string;
}

const envPort = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

export const SOURCES: Record<SourceName, SourceServer> = {
  mariadb: { name: 'mariadb', label: 'MariaDB', ...servers.mariadb },
  mysql: {
    name: 'mysql',
    label: 'MySQL',
    host: process.env.TUNNEL_MYSQL_HOST || '127.0.0.1',
    port: envPort('TUNNEL_MYSQL_PORT', 13307),
    user: process.env.TUNNEL_MYSQL_USER || 'tunnel',
    password: process.env.TUNNEL_MYSQL_PASSWORD ?? 'tunnel',
  },
};

/** A connection as the tunnel user, values exact (BIGINT, DECIMAL and dates as strings). */
export function connectTo(server: SourceServer, options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    connectTimeout: 5000,
    ...options,
  });
}

/** Whether the server answers a query now. */
export async function isUp(server: SourceServer): Promise<boolean> {
  try {
    const conn = await connectTo(server, { connectTimeout: 2000 });
    await conn.query('SELECT 1');
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

type Conn = Awaited<ReturnType<typeof connectTo>>;

export async function serverVersion(conn: Conn): Promise<string> {
  const [rows] = (await conn.query('SELECT VERSION() AS v')) as unknown as [{ v: string }[]];
  return rows[0]!.v;
}

/** The end of the last binlog file now: where the next transaction will start. */
export async function binlogEndOf(conn: Conn): Promise<BinlogPosition> {
  const [rows] = (await conn.query('SHOW BINARY LOGS')) as unknown as [{ Log_name: string; File_size: number | string }[]];
  const last = rows[rows.length - 1]!;
  return { file: last.Log_name, offset: Number(last.File_size) };
}

/**
 * The GTID position of the current end of the binlog, for a reader that starts there by GTID
 * (Debezium's connectors need it beside file and position, or fail with a NullPointerException on
 * gtidSet): MariaDB's gtid_binlog_pos, MySQL's gtid_executed when gtid_mode is ON; undefined on
 * MySQL without GTIDs.
 */
export async function gtidPosition(conn: Conn, server: SourceServer): Promise<string | undefined> {
  if (server.name === 'mariadb') {
    const [rows] = (await conn.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos')) as unknown as [{ pos: string }[]];
    return rows[0]!.pos || undefined;
  }
  const [rows] = (await conn.query('SELECT @@GLOBAL.gtid_mode AS mode, @@GLOBAL.gtid_executed AS executed')) as unknown as [
    { mode: string; executed: string }[],
  ];
  const r = rows[0]!;
  return r.mode === 'ON' && r.executed ? r.executed.replace(/\s+/g, '') : undefined;
}

/** Bytes of binlog between two positions (across files). */
export async function rangeBytes(conn: Conn, from: BinlogPosition, end: BinlogPosition): Promise<number> {
  if (from.file === end.file) return end.offset - from.offset;
  const [list] = (await conn.query('SHOW BINARY LOGS')) as unknown as [{ Log_name: string; File_size: string | number }[]];
  let bytes = 0;
  for (const { Log_name: name, File_size: size } of list) {
    if (name < from.file || name > end.file) continue;
    const start = name === from.file ? from.offset : 0;
    const stop = name === end.file ? end.offset : Number(size);
    bytes += stop - start;
  }
  return bytes;
}
