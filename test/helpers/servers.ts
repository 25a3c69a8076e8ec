// Where the real servers started by scripts/services listen, and small helpers to use them in tests.
// Settings come from the same environment variables as scripts/services (and .data/env), with the
// same defaults, so a test finds the servers whether or not it was started through `npm test`.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Client as EsClient } from '@elastic/elasticsearch';
import { Redis, type RedisOptions } from 'ioredis';
import mysql from 'mysql2/promise';
import zookeeper from 'node-zookeeper-client';

export const repoRoot = resolve(import.meta.dirname, '../..');

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) throw new Error(`${name}=${raw} is not a port`);
  return value;
}

const zkPort = envInt('TUNNEL_ZK_PORT', 12181);
const redisPort = envInt('TUNNEL_REDIS_PORT', 16379);
const esPort = envInt('TUNNEL_ES_PORT', 19200);

/** Where Tunnel connects to a source server: what a task's `source` takes. */
export interface SourceConnection {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * A source server of scripts/services. The integration tests of decoding, snapshot, resume and the
 * end-to-end path run once per server (`describe.each(sourceServers)`), with the server's name in
 * every test's name.
 */
export interface SourceServer {
  /** The scripts/services name (`scripts/services restart mysql`). */
  name: 'mariadb' | 'mysql';
  flavor: 'mariadb' | 'mysql';
  /** The version scripts/services runs: a prefix of the server's VERSION(). */
  version: string;
  /** "MariaDB 10.11", "MySQL 8.0.31": for test names. */
  label: string;
  connection: SourceConnection;
  /** root's socket (scripts/services); root has no password there. */
  socket: string;
  /** The first part of the binlog file names. */
  binlogBaseName: string;
  /** The form of one transaction's GTID in positions: MariaDB domain-server-seq, MySQL uuid:n. */
  gtidPattern: RegExp;
}

function sourceServer(name: 'mariadb' | 'mysql', defaultPort: number, version: string, label: string, gtidPattern: RegExp): SourceServer {
  const prefix = `TUNNEL_${name.toUpperCase()}`;
  return {
    name,
    flavor: name,
    version,
    label,
    connection: {
      host: process.env[`${prefix}_HOST`] || '127.0.0.1',
      port: envInt(`${prefix}_PORT`, defaultPort),
      user: process.env[`${prefix}_USER`] || 'tunnel',
      password: process.env[`${prefix}_PASSWORD`] ?? 'tunnel',
    },
    socket: process.env[`${prefix}_SOCKET`] || resolve(repoRoot, `.data/${name}/${name}.sock`),
    binlogBaseName: `${name}-bin`,
    gtidPattern,
  };
}

export const mariadbServer = sourceServer('mariadb', 13306, '10.11', 'MariaDB 10.11', /^\d+-\d+-\d+$/);
export const mysqlServer = sourceServer('mysql', 13307, '8.0.31', 'MySQL 8.0.31', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:\d+$/);
/** Both source servers, MariaDB first. */
export const sourceServers: readonly SourceServer[] = [mariadbServer, mysqlServer];

export const servers = {
  mariadb: mariadbServer.connection,
  mysql: mysqlServer.connection,
  zookeeper: {
    port: zkPort,
    connectString: process.env.TUNNEL_ZK_CONNECT || `127.0.0.1:${zkPort}`,
  },
  redis: { host: '127.0.0.1', port: redisPort, url: process.env.TUNNEL_REDIS_URL || `redis://127.0.0.1:${redisPort}` },
  elasticsearch: { port: esPort, url: process.env.TUNNEL_ES_URL || `http://127.0.0.1:${esPort}` },
} as const;

/**
 * A mysql2/promise connection as the tunnel user of `server` (no database selected unless given).
 * Values come back exact: BIGINT/DECIMAL and DATETIME/TIMESTAMP as strings (override with `options`).
 */
export function sourceConnection(server: SourceServer, options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    ...server.connection,
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    ...options,
  });
}

/** A connection to MariaDB (see sourceConnection), for the tests that run on MariaDB only. */
export function mysqlConnection(options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return sourceConnection(mariadbServer, options);
}

/** A pool of connections as the tunnel user of `server`, for writer loads. */
export function sourcePool(server: SourceServer, options: mysql.PoolOptions = {}): mysql.Pool {
  return mysql.createPool({ ...server.connection, connectionLimit: 4, ...options });
}

/** Drops and creates database `name` (utf8mb4) on `server` (default MariaDB); returns the name. */
export async function createTestDatabase(name: string, server: SourceServer = mariadbServer): Promise<string> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`not a safe database name: ${name}`);
  const conn = await sourceConnection(server);
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
  } finally {
    await conn.end();
  }
  return name;
}

/** The server's binlog write position now (SHOW MASTER STATUS: on both MariaDB 10.11 and MySQL 8.0). */
export async function masterPosition(server: SourceServer): Promise<{ file: string; offset: number }> {
  const conn = await sourceConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
    return { file: String(rows[0]!.File), offset: Number(rows[0]!.Position) };
  } finally {
    await conn.end();
  }
}

/**
 * The server's own word on its GTIDs: `executed` is every transaction in its binlog in the server's
 * text form (MariaDB @@gtid_binlog_pos, MySQL @@gtid_executed; sources in the order the server
 * prints them, whitespace removed), `identity` its @@server_id (MariaDB) or @@server_uuid (MySQL).
 */
export async function serverGtids(server: SourceServer, connection?: SourceConnection): Promise<{ executed: string; identity: string }> {
  const conn = await sourceConnection(server, connection ? { ...connection } : {});
  try {
    const sql =
      server.flavor === 'mariadb'
        ? 'SELECT @@GLOBAL.gtid_binlog_pos AS executed, CAST(@@GLOBAL.server_id AS CHAR) AS identity'
        : 'SELECT @@GLOBAL.gtid_executed AS executed, @@GLOBAL.server_uuid AS identity';
    const [rows] = await conn.query<mysql.RowDataPacket[]>(sql);
    return { executed: String(rows[0]!.executed).replace(/\s+/g, ''), identity: String(rows[0]!.identity) };
  } finally {
    await conn.end();
  }
}

const tracksGtids = new WeakSet<mysql.Connection>();

/**
 * Runs `sql` and returns the GTID of the transaction it committed: MariaDB's @@last_gtid, MySQL's
 * own GTID from the OK packet (session_track_gtids = OWN_GTID).
 */
export async function runForGtid(server: SourceServer, conn: mysql.Connection, sql: string, values?: unknown[]): Promise<string> {
  if (server.flavor === 'mariadb') {
    await conn.query(sql, values);
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@last_gtid AS gtid');
    return String(rows[0]!.gtid);
  }
  if (!tracksGtids.has(conn)) {
    // set once, outside any transaction (the server refuses it inside one)
    await conn.query('SET SESSION session_track_gtids = OWN_GTID');
    tracksGtids.add(conn);
  }
  const [result] = await conn.query<mysql.ResultSetHeader>(sql, values);
  const gtid = (result as mysql.ResultSetHeader & { stateChanges?: { gtids?: string[] } }).stateChanges?.gtids?.[0];
  if (!gtid) throw new Error(`no GTID came back for: ${sql}`);
  return gtid;
}

/**
 * Lets a recursive CTE of the session generate `rows` rows (MariaDB's max_recursive_iterations,
 * MySQL's cte_max_recursion_depth).
 */
export async function allowRecursion(server: SourceServer, conn: mysql.Connection, rows: number): Promise<void> {
  const limit = Math.max(rows + 1, 1000);
  await conn.query(server.flavor === 'mariadb' ? `SET SESSION max_recursive_iterations = ${limit}` : `SET SESSION cte_max_recursion_depth = ${limit}`);
}

/** A node-zookeeper-client client, resolved once connected; the caller closes it. */
export function zkClient(sessionTimeoutMs = 10_000, connectTimeoutMs = 15_000): Promise<zookeeper.Client> {
  const client = zookeeper.createClient(servers.zookeeper.connectString, { sessionTimeout: sessionTimeoutMs, spinDelay: 200 });
  return new Promise((resolveConnect, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`ZooKeeper at ${servers.zookeeper.connectString} did not connect in ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    client.once('connected', () => {
      clearTimeout(timer);
      resolveConnect(client);
    });
    client.connect();
  });
}

/** An ioredis client on the test Redis; the caller quits it. */
export function redisClient(options: RedisOptions = {}): Redis {
  return new Redis({ host: servers.redis.host, port: servers.redis.port, maxRetriesPerRequest: 3, ...options });
}

/** An Elasticsearch 8 client on the test node; the caller closes it. */
export function esClient(): EsClient {
  return new EsClient({ node: servers.elasticsearch.url, requestTimeout: 30_000 });
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Said in the error when time runs out. */
  what?: string;
}

/**
 * Calls `fn` until it returns a value other than false/null/undefined (and does not throw), and
 * resolves with that value; rejects after `timeoutMs` with the last error or value seen.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 100, what = 'condition' }: WaitForOptions = {},
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== false && value !== null && value !== undefined) return value as Exclude<T, false | null | undefined>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : String(last);
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms (last: ${detail})`, { cause: last });
    }
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

export interface ServicesResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs scripts/services with `args` (e.g. ['kill', 'mariadb'], ['up', 'mariadb'], ['restart',
 * 'zookeeper']) for fault-injection tests; rejects when it exits non-zero.
 */
export function runServices(args: string[], { timeoutMs = 300_000 }: { timeoutMs?: number } = {}): Promise<ServicesResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('bash', [resolve(repoRoot, 'scripts/services'), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (code === 0) resolveRun(result);
      else reject(new Error(`scripts/services ${args.join(' ')} failed (${signal ?? code}):\n${stdout}${stderr}`));
    });
  });
}
