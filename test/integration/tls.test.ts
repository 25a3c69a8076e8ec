// TLS for real: the test makes a CA and a server certificate for 127.0.0.1 (openssl), and starts a
// MariaDB (its tunnel user REQUIRE SSL: a login that works is a TLS login) and a Redis that listens
// on a TLS port only, both with that certificate, in its own folder on free ports. A `tunnel start`
// given the CA (`source.ssl.ca`, the Redis sink's `connection.tls.ca`) streams the table into Redis;
// given another CA, the task stops at once with one TlsError (TUNNEL_ERR_TLS) naming the server it
// refused, no reconnect attempts, and neither the password nor a private key in its output.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import mysql from 'mysql2/promise';
import { makeCertificates, PrivateRedis, type TestCertificates } from '../helpers/chaos-servers.ts';
import { PrivateMariaDb } from '../helpers/private-mariadb.ts';
import { tableRows } from '../helpers/compare-rows.ts';
import { RowWriter } from '../helpers/row-writer.ts';
import { waitFor } from '../helpers/servers.ts';
import { diffSize, diff, redisRows, removeDir, startTunnel, stopTunnel, taskDir, writeConfig, type RunningTunnel } from '../helpers/chaos-harness.ts';

const DB = 'tls_db';

describe('TLS to MariaDB and Redis with certificates the test makes', () => {
  const dir = taskDir('tls');
  let trusted: TestCertificates;
  let other: TestCertificates;
  let mariadb: PrivateMariaDb;
  let redis: PrivateRedis;
  let root: mysql.Connection;
  const started: RunningTunnel[] = [];

  beforeAll(async () => {
    trusted = makeCertificates(`${dir}/ca-trusted`);
    other = makeCertificates(`${dir}/ca-other`);
    mariadb = new PrivateMariaDb(`${dir}/mariadb`, { tls: trusted });
    redis = new PrivateRedis(`${dir}/redis`, { tls: trusted });
    await Promise.all([mariadb.start(), redis.start()]);
    root = await mariadb.rootConnection();
    await root.query(`CREATE DATABASE ${DB}`);
    await root.query(RowWriter.createTableSql(`${DB}.orders`));
  });

  afterAll(async () => {
    for (const tunnel of started) await stopTunnel(tunnel);
    await root?.end().catch(() => undefined);
    await redis?.stop();
    await mariadb?.stop();
    removeDir(dir);
  });

  /** A tunnel start reading the private MariaDB into the TLS Redis, with the CAs given. */
  async function start(name: string, sourceCa: TestCertificates, redisCa: TestCertificates): Promise<RunningTunnel> {
    const source =
      `{ host: '127.0.0.1', port: ${mariadb.port}, user: '${mariadb.user}', password: '${mariadb.password}', serverId: 7990, ` +
      `include: ['${DB}.*'], startFrom: 'earliest', ssl: { ca: fromFile('${sourceCa.caFile}') } }`;
    const redisSink = `redis({ name: 'redis', connection: { host: '127.0.0.1', port: ${redis.port}, tls: { ca: fromFile('${redisCa.caFile}') } }, key: '${name}:{table}:{id}', value: 'json' })`;
    mkdirSync(`${dir}/${name}`, { recursive: true });
    const configFile = writeConfig({ dir: `${dir}/${name}`, tasks: [{ name, db: DB, serverId: 7990, source, plugins: [redisSink] }] }, `${name}.config.ts`);
    const tunnel = await startTunnel(configFile);
    started.push(tunnel);
    onTestFailed(() => console.log(`tunnel output (last lines):\n${tunnel.proc.output.slice(-4000)}`));
    return tunnel;
  }

  it('with the CA: Tunnel verifies both servers and every row reaches Redis over TLS', async () => {
    const tunnel = await start('trusted', trusted, trusted);
    const pool = mysql.createPool({ socketPath: mariadb.socket, user: 'root', connectionLimit: 2 });
    try {
      const writer = new RowWriter(pool, `${DB}.orders`, { keys: 100, batch: 2 });
      writer.start();
      await new Promise((r) => setTimeout(r, 1500));
      await writer.stop();
      expect(writer.statements).toBeGreaterThan(20);
      const expected = await tableRows(root, `${DB}.orders`);
      expect(expected.size).toBeGreaterThan(0);
      const client = redis.client();
      try {
        await waitFor(async () => (diffSize(diff(expected, await redisRows(client, 'trusted:orders:'))) === 0 ? true : undefined), {
          timeoutMs: 30_000,
          what: 'Redis equal to the table',
        });
      } finally {
        client.disconnect();
      }
    } finally {
      await pool.end();
    }
    // the server saw TLS sessions from the tunnel user only (REQUIRE SSL refuses any other)
    const [sessions] = await root.query<mysql.RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'tunnel' AND COMMAND = 'Binlog Dump'",
    );
    expect(Number(sessions[0]!.n)).toBe(1);
    expect(tunnel.proc.output).not.toContain('TUNNEL_ERR_TLS');
    await stopTunnel(tunnel);
  });

  /** The one failure line of a task that could not start or stopped: its error. */
  async function failure(tunnel: RunningTunnel): Promise<{ type: string; code: string; message: string }> {
    const line = await tunnel.proc.waitForLog((l) => l.msg === 'task could not start' || l.msg === 'task failed and stops', 20_000);
    return line.err as { type: string; code: string; message: string };
  }

  /** The distinct TlsError messages logged (the worker and the command each log a task's failure). */
  function tlsErrors(lines: Array<Record<string, unknown>>): string[] {
    const messages = lines.map((l) => l.err as { code?: string; message: string } | undefined).filter((e) => e?.code === 'TUNNEL_ERR_TLS');
    return [...new Set(messages.map((e) => e!.message))];
  }

  function expectNoSecrets(output: string): void {
    expect(output).not.toContain(mariadb.password);
    for (const certificates of [trusted, other]) {
      const keyBody = certificates.key.split('\n')[1]!;
      expect(output).not.toContain(keyBody);
    }
  }

  it('with another CA for the database: one TlsError naming the database, no reconnect attempts, no secret printed', async () => {
    const tunnel = await start('wrong-source-ca', other, trusted);
    const err = await failure(tunnel);
    expect(err.type).toBe('TlsError');
    expect(err.code).toBe('TUNNEL_ERR_TLS');
    expect(err.message).toContain(`the source database 127.0.0.1:${mariadb.port}`);
    expect(err.message).toContain('not signed by a trusted CA');
    // it stays failed: no reconnect loop
    await new Promise((r) => setTimeout(r, 2000));
    const lines = tunnel.proc.logs();
    expect(lines.filter((l) => l.msg === 'binlog connection lost; reconnecting')).toEqual([]);
    expect(tlsErrors(lines)).toEqual([err.message]);
    expectNoSecrets(tunnel.proc.output);
    await stopTunnel(tunnel);
  });

  it('with another CA for Redis: one TlsError naming Redis, the task does not start, no secret printed', async () => {
    const tunnel = await start('wrong-redis-ca', trusted, other);
    const err = await failure(tunnel);
    expect(err.type).toBe('TlsError');
    expect(err.code).toBe('TUNNEL_ERR_TLS');
    expect(err.message).toContain(`Redis 127.0.0.1:${redis.port}`);
    expect(err.message).toContain('not signed by a trusted CA');
    await new Promise((r) => setTimeout(r, 2000));
    const lines = tunnel.proc.logs();
    expect(tlsErrors(lines)).toEqual([err.message]);
    // the connection is not tried again after the refusal
    expect(lines.filter((l) => l.msg === 'redis connection error').length).toBeLessThanOrEqual(1);
    expectNoSecrets(tunnel.proc.output);
    await stopTunnel(tunnel);
  });
});
