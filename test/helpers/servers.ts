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

const mariadbPort = envInt('TUNNEL_MARIADB_PORT', 13306);
const zkPort = envInt('TUNNEL_ZK_PORT', 12181);
const redisPort = envInt('TUNNEL_REDIS_PORT', 16379);
const esPort = envInt('TUNNEL_ES_PORT', 19200);

export const servers = {
  mariadb: {
    host: process.env.TUNNEL_MARIADB_HOST || '127.0.0.1',
    port: mariadbPort,
    user: process.env.TUNNEL_MARIADB_USER || 'tunnel',
    password: process.env.TUNNEL_MARIADB_PASSWORD ?? 'tunnel',
  },
  zookeeper: {
    port: zkPort,
    connectString: process.env.TUNNEL_ZK_CONNECT || `127.0.0.1:${zkPort}`,
  },
  redis: { host: '127.0.0.1', port: redisPort, url: process.env.TUNNEL_REDIS_URL || `redis://127.0.0.1:${redisPort}` },
  elasticsearch: { port: esPort, url: process.env.TUNNEL_ES_URL || `http://127.0.0.1:${esPort}` },
} as const;

/**
 * A mysql2/promise connection as the tunnel user (no database selected unless given). Values come back
 * exact: BIGINT/DECIMAL and DATETIME/TIMESTAMP as strings (override with `options`).
 */
export function mysqlConnection(options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: servers.mariadb.host,
    port: servers.mariadb.port,
    user: servers.mariadb.user,
    password: servers.mariadb.password,
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    ...options,
  });
}

/** Drops and creates database `name` (utf8mb4); returns the name. */
export async function createTestDatabase(name: string): Promise<string> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`not a safe database name: ${name}`);
  const conn = await mysqlConnection();
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
  } finally {
    await conn.end();
  }
  return name;
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
