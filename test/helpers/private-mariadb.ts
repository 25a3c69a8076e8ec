// A MariaDB server a test owns (its own data directory under the test's folder, a free port, a ROW
// binlog like scripts/services' one), for tests that need a server configured otherwise than the
// shared one: with `tls`, it serves TLS with the test's certificates, and its tunnel user may only
// log in over TLS (REQUIRE SSL), so a connection that works is a TLS connection.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort, sleep } from './chaos-harness.ts';
import type { TestCertificates } from './chaos-servers.ts';

export class PrivateMariaDb {
  port = 0;
  readonly user = 'tunnel';
  readonly password = 'tunnel-private-mariadb-pw';
  private proc: ChildProcess | undefined;

  constructor(
    readonly dir: string,
    readonly options: { tls?: TestCertificates } = {},
  ) {}

  get socket(): string {
    return join(this.dir, 'mariadb.sock');
  }

  /** Creates the data directory (about 2 s), starts the server and the tunnel user. */
  async start(): Promise<number> {
    if (!this.port) this.port = await freePort();
    mkdirSync(join(this.dir, 'binlog'), { recursive: true });
    execFileSync(
      'mariadb-install-db',
      [
        '--no-defaults',
        '--user=root',
        `--datadir=${join(this.dir, 'data')}`,
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
        '--skip-name-resolve',
      ],
      { stdio: 'pipe' },
    );
    const tls = this.options.tls;
    const args = [
      '--no-defaults',
      '--user=root',
      `--datadir=${join(this.dir, 'data')}`,
      `--socket=${this.socket}`,
      `--pid-file=${join(this.dir, 'mariadbd.pid')}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      '--skip-name-resolve',
      `--log-error=${join(this.dir, 'mariadb.log')}`,
      `--log-bin=${join(this.dir, 'binlog', 'mariadb-bin')}`,
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--binlog-row-metadata=FULL',
      '--server-id=1',
      '--innodb-buffer-pool-size=32M',
      '--character-set-server=utf8mb4',
      ...(tls ? [`--ssl-ca=${tls.caFile}`, `--ssl-cert=${tls.certFile}`, `--ssl-key=${tls.keyFile}`] : []),
    ];
    this.proc = spawn('/usr/sbin/mariadbd', args, { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    let root: mysql.Connection | undefined;
    while (!root) {
      try {
        root = await mysql.createConnection({ socketPath: this.socket, user: 'root' });
      } catch (error) {
        if (this.proc.exitCode !== null) throw new Error(`mariadbd exited (${this.proc.exitCode}); log: ${join(this.dir, 'mariadb.log')}`, { cause: error });
        if (Date.now() > deadline) throw new Error(`mariadbd on ${this.port} did not answer in 30 s`, { cause: error });
        await sleep(100);
      }
    }
    try {
      for (const host of ['%', '127.0.0.1', 'localhost']) {
        await root.query(`CREATE USER '${this.user}'@'${host}' IDENTIFIED BY '${this.password}' ${tls ? 'REQUIRE SSL' : ''}`);
        await root.query(`GRANT ALL PRIVILEGES ON *.* TO '${this.user}'@'${host}'`);
      }
    } finally {
      await root.end();
    }
    return this.port;
  }

  /** A root connection over the socket (no TLS needed there). */
  rootConnection(): Promise<mysql.Connection> {
    return mysql.createConnection({ socketPath: this.socket, user: 'root', multipleStatements: true });
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await exited;
  }
}
