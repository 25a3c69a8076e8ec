// Security: secrets read from environment variables and files never appear in anything a run
// prints or serves; ZooKeeper digest ACLs keep an unauthenticated client from writing the nodes a
// worker created; the webhook signature's timestamp refuses replays; TLS options for Redis,
// Elasticsearch and MariaDB validate and reach their clients.
import { randomBytes, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, esClient, mysqlConnection, repoRoot, servers, waitFor } from '../helpers/servers.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import { makeCertificates, PrivateRedis, TlsTerminator, type TestCertificates } from '../helpers/chaos-servers.ts';
import { ensureZooKeeper, Registry, zkConnect } from '../helpers/cluster-harness.ts';
import { ZkConnection, registryPaths } from '../../core/cluster/index.ts';
import { resolveConfig, type RowEvent } from '../../core/index.ts';
import { redis as redisPlugin } from '../../sinks/redis/index.ts';
import { elasticsearch as esPlugin } from '../../sinks/elasticsearch/index.ts';
import { verifyWebhookSignature } from '../../sinks/http/index.ts';
import { signatureHeader } from '../../sinks/http/signature.ts';
import {
  masterPosition,
  removeDir,
  reportFault,
  runCli,
  sleep,
  startTunnel,
  stopTunnel,
  taskDir,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'chaos_security';
const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

/** Every file under `dir` (text), for the grep. */
function filesUnder(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out += filesUnder(path);
    else if (!name.endsWith('-password')) out += `\n--- ${path}\n${readFileSync(path, 'utf8')}`;
  }
  return out;
}

function insertEvent(id: number): RowEvent {
  return {
    schema: DB,
    table: 'tls',
    action: 'insert',
    rows: [
      [
        { column: 'id', value: id },
        { column: 'note', value: `over tls ${id}` },
      ],
    ],
    position: { file: 'mariadb-bin.000001', offset: 4 },
    timestamp: Date.now(),
    primaryKey: ['id'],
  } as RowEvent;
}

describe('security', () => {
  const dir = taskDir('security');
  let conn: mysql.Connection;

  beforeAll(async () => {
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(`CREATE TABLE ${DB}.orders (id INT PRIMARY KEY, note VARCHAR(64) NOT NULL)`);
  });

  afterAll(async () => {
    await conn?.end();
    removeDir(dir);
  });

  describe('secrets from environment variables and files are never printed or served', () => {
    const secrets = {
      mariadbPassword: secret('mdb'),
      webhookSecret: secret('hook'),
      webhookToken: secret('hooktoken'),
      statusToken: secret('status'),
      redisPassword: secret('redis'),
      wrongMariadbPassword: secret('wrongmdb'),
      wrongRedisPassword: secret('wrongredis'),
    };
    const user = 'chaos_secret_user';
    const receiver = new WebhookReceiver(secrets.webhookSecret, { keepEvents: false });
    /** A receiver that knows another secret: every request is refused with 401. */
    const stranger = new WebhookReceiver(secret('other'), { keepEvents: false });
    const redisServer = new PrivateRedis(`${dir}/redis`, { password: secrets.redisPassword });
    let tunnel: RunningTunnel | undefined;

    afterAll(async () => {
      await stopTunnel(tunnel, 'SIGKILL');
      await redisServer.stop();
      await receiver.close();
      await stranger.close();
      await conn.query(`DROP USER IF EXISTS '${user}'@'%', '${user}'@'127.0.0.1', '${user}'@'localhost'`).catch(() => undefined);
    });

    it('a run with failures, every CLI command and every endpoint: no secret anywhere', async () => {
      await redisServer.start();
      receiver.recordRequests = true;
      await receiver.start();
      await stranger.start();
      for (const host of ['%', '127.0.0.1', 'localhost']) {
        await conn.query(`CREATE USER IF NOT EXISTS '${user}'@'${host}' IDENTIFIED BY '${secrets.mariadbPassword}'`);
        await conn.query(`ALTER USER '${user}'@'${host}' IDENTIFIED BY '${secrets.mariadbPassword}'`);
        await conn.query(`GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR ON *.* TO '${user}'@'${host}'`);
      }
      writeFileSync(join(dir, 'mariadb-password'), `${secrets.mariadbPassword}\n`);
      writeFileSync(join(dir, 'redis-password'), secrets.redisPassword);
      const env = {
        CHAOS_WEBHOOK_SECRET: secrets.webhookSecret,
        CHAOS_WEBHOOK_TOKEN: secrets.webhookToken,
        CHAOS_STATUS_TOKEN: secrets.statusToken,
        CHAOS_WRONG_MARIADB_PASSWORD: secrets.wrongMariadbPassword,
        CHAOS_WRONG_REDIS_PASSWORD: secrets.wrongRedisPassword,
      };
      const start = await masterPosition(conn);
      const source = (serverId: number, password: string) =>
        `{ host: '${servers.mariadb.host}', port: ${servers.mariadb.port}, user: '${user}', password: ${password}, serverId: ${serverId}, include: ['${DB}.orders'], startFrom: ${JSON.stringify(start)} }`;
      const redisSink = (password: string) =>
        `redis({ name: 'redis', connection: { host: '127.0.0.1', port: ${redisServer.port}, password: ${password} }, key: '${DB}:{table}:{id}', value: 'json' })`;
      writeFileSync(
        join(dir, 'plugin.ts'),
        `import { definePlugin, rowImage } from '${repoRoot}/core/index.ts';
export const failOn13 = definePlugin({ name: 'fail-on-13', apply(hooks) {
  hooks.transform.tap('fail-on-13', (event) => { if (event.rows.some((_, i) => rowImage(event, i).id === 13)) throw new Error('refusing row 13'); return event; });
} });`,
      );
      const configFile = writeConfig({
        dir,
        imports: [`import { failOn13 } from './plugin.ts';`],
        status: `{ port: 0, token: fromEnv('CHAOS_STATUS_TOKEN') }`,
        extra: `log: { level: 'debug' },`,
        tasks: [
          {
            name: 'secrets',
            db: DB,
            serverId: 7920,
            source: source(7920, `fromFile('${dir}/mariadb-password')`),
            extra: `onPluginError: 'dead-letter',`,
            plugins: [
              'failOn13',
              redisSink(`fromFile('${dir}/redis-password')`),
              `webhook({ name: 'webhook', url: '${receiver.url}', secret: fromEnv('CHAOS_WEBHOOK_SECRET'), headers: { authorization: \`Bearer \${fromEnv('CHAOS_WEBHOOK_TOKEN')}\` }, retries: 1 })`,
              // the wrong URL: a receiver that refuses the signature (401): dead letters
              `webhook({ name: 'wrong-url', url: '${stranger.url}', secret: fromEnv('CHAOS_WEBHOOK_SECRET'), headers: { authorization: \`Bearer \${fromEnv('CHAOS_WEBHOOK_TOKEN')}\` }, retries: 0 })`,
            ],
          },
          // a wrong MariaDB password: the task cannot start
          {
            name: 'bad_mariadb',
            db: DB,
            serverId: 7921,
            source: source(7921, `fromEnv('CHAOS_WRONG_MARIADB_PASSWORD')`),
            plugins: [redisSink(`fromFile('${dir}/redis-password')`)],
          },
          // a wrong Redis password: the sink cannot start
          {
            name: 'bad_redis',
            db: DB,
            serverId: 7922,
            source: source(7922, `fromFile('${dir}/mariadb-password')`),
            plugins: [redisSink(`fromEnv('CHAOS_WRONG_REDIS_PASSWORD')`)],
          },
        ],
      });

      const outputs: Record<string, string> = {};
      const validate = await runCli(['validate', '-c', configFile], env);
      expect(validate.code, validate.stderr).toBe(0);
      outputs.validate = validate.stdout + validate.stderr;

      tunnel = await startTunnel(configFile, env);
      for (let id = 1; id <= 20; id++) await conn.query(`INSERT INTO ${DB}.orders (id, note) VALUES (?, ?)`, [id, `row ${id}`]);
      await conn.query(`UPDATE ${DB}.orders SET note = 'changed' WHERE id <= 5`);
      const redis = redisServer.client();
      await waitFor(async () => (await redis.get(`${DB}:orders:20`)) !== null && (receiver.rows(`${DB}.orders`).size === 19 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'rows at Redis and the webhook',
      });
      redis.disconnect();
      // what went wrong, went wrong: 401s dead-lettered, the plugin failed, the bad tasks failed
      await waitFor(() => tunnel!.proc.logs().filter((l) => l.msg === 'events dead-lettered' && l.sink === 'wrong-url').length > 0, {
        what: '401s dead-lettered',
      });
      const logs = tunnel.proc.logs();
      expect(logs.some((l) => l.msg === 'plugin failed on an event; it goes to the dead letters')).toBe(true);
      expect(stranger.badSignatures).toBeGreaterThan(0);

      const auth = { authorization: `Bearer ${secrets.statusToken}` };
      for (const path of ['/api/status', '/metrics', '/readyz', '/healthz', '/']) {
        const response = await fetch(`${tunnel.statusUrl}${path}`, { headers: auth });
        outputs[`GET ${path}`] = `${response.status}\n${JSON.stringify([...response.headers])}\n${await response.text()}`;
      }
      const unauthorized = await fetch(`${tunnel.statusUrl}/api/status`);
      expect(unauthorized.status).toBe(401);
      outputs['GET /api/status without token'] = await unauthorized.text();
      const status = JSON.parse(outputs['GET /api/status']!.split('\n').slice(2).join('\n')) as {
        tasks: Array<{ name: string; state: string; lastError?: string }>;
      };
      expect(status.tasks.find((t) => t.name === 'bad_mariadb')?.lastError).toMatch(/Access denied/);
      // ioredis closes the connection on a failed AUTH; the task says "Connection is closed." (not WRONGPASS)
      const badRedisError = status.tasks.find((t) => t.name === 'bad_redis')?.lastError ?? '';
      expect(badRedisError).toMatch(/^redis: cannot connect: (WRONGPASS|NOAUTH|Connection is closed)/);

      for (const [name, args] of Object.entries({
        'status --json': ['status', '--json'],
        status: ['status'],
        positions: ['positions'],
        'dead-letters': ['dead-letters', '--json', '--limit', '1000'],
      })) {
        const result = await runCli([...args, '-c', configFile], env);
        outputs[`tunnel ${name}`] = `${result.code}\n${result.stdout}\n${result.stderr}`;
      }
      const deadLetters = JSON.parse(outputs['tunnel dead-letters']!.split('\n')[1]!) as Array<{ origin: string; reason: string }>;
      expect(deadLetters.some((l) => l.origin === 'wrong-url' && l.reason.startsWith('webhook: HTTP 401'))).toBe(true);
      expect(deadLetters.some((l) => l.origin === 'plugin:fail-on-13')).toBe(true);

      expect(await stopTunnel(tunnel)).toBe(0);
      outputs['tunnel start (stdout+stderr, log level debug)'] = tunnel.proc.output;
      outputs['files (positions, dead letters, redis data)'] = filesUnder(dir);

      const found: string[] = [];
      for (const [secretName, value] of Object.entries(secrets)) {
        for (const [where, text] of Object.entries(outputs)) {
          const count = text.split(value).length - 1;
          if (count > 0) found.push(`${secretName} ${count}x in ${where}`);
        }
      }
      const bytes = Object.values(outputs).reduce((n, t) => n + t.length, 0);
      reportFault({
        fault: 'secrets from env/files in a run with failures (grep of all output)',
        lost: 0,
        duplicates: receiver.duplicates,
        secretsChecked: Object.keys(secrets).length,
        occurrences: found.length,
        searched: `${Object.keys(outputs).length} outputs, ${bytes} bytes`,
        wrongRedisPasswordShownAs: badRedisError,
      });
      expect(found).toEqual([]);

      // The signature of a real delivery: valid now, refused as a replay once older than the tolerance.
      const [headersText, body] = [receiver.recorded[0]!.split('\n')[0]!, receiver.recorded[0]!.split('\n').slice(1).join('\n')];
      const headers = JSON.parse(headersText) as Record<string, string>;
      const sentAt = Number(headers['x-tunnel-timestamp']) * 1000;
      expect(verifyWebhookSignature(secrets.webhookSecret, headers, body, 300, sentAt + 1000)).toBe(true);
      expect(verifyWebhookSignature(secrets.webhookSecret, headers, body, 300, sentAt + 301_000)).toBe(false);
    }, 120_000);
  });

  describe('the webhook signature with a timestamp refuses replays', () => {
    it('valid within the tolerance; a replay older than it, a future stamp, another body or secret are refused', () => {
      const key = 'replay-secret-0123456789';
      const body = Buffer.from('[{"schema":"s","table":"t","action":"insert","rows":[]}]');
      const now = Date.now();
      const stamp = Math.floor(now / 1000);
      const headers = { 'x-tunnel-timestamp': String(stamp), 'x-tunnel-signature': signatureHeader([key], stamp, body) };
      expect(verifyWebhookSignature(key, headers, body, 300, now)).toBe(true);
      expect(verifyWebhookSignature(key, headers, body, 300, now + 299_000)).toBe(true);
      expect(verifyWebhookSignature(key, headers, body, 300, now + 301_000)).toBe(false); // replayed 5 min later
      expect(verifyWebhookSignature(key, headers, body, 300, now - 301_000)).toBe(false); // stamped in the future
      expect(verifyWebhookSignature(key, headers, Buffer.from(`${body.toString()} `), 300, now)).toBe(false);
      expect(verifyWebhookSignature('another-secret-0123456789', headers, body, 300, now)).toBe(false);
      // a replay with a fresh timestamp but the old signature: the timestamp is signed
      expect(verifyWebhookSignature(key, { ...headers, 'x-tunnel-timestamp': String(stamp + 400) }, body, 300, now + 400_000)).toBe(false);
      // rotation: either secret verifies
      const rotated = { ...headers, 'x-tunnel-signature': signatureHeader(['new-secret-0123456789ab', key], stamp, body) };
      expect(verifyWebhookSignature(key, rotated, body, 300, now)).toBe(true);
      expect(verifyWebhookSignature(['new-secret-0123456789ab'], rotated, body, 300, now)).toBe(true);
    });
  });

  describe('ZooKeeper digest ACLs on the /tunnel tree', () => {
    const cluster = `chaos_acl_${process.pid}`;
    const zkPassword = secret('zk');
    let tunnel: RunningTunnel | undefined;
    const connections: ZkConnection[] = [];
    const connect = async (auth?: { user: string; password: string }) => {
      const zk = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 4000, ...(auth ? { auth } : {}) });
      connections.push(zk);
      await zk.start();
      return zk;
    };

    afterAll(async () => {
      await stopTunnel(tunnel, 'SIGKILL');
      const admin = await connect({ user: 'tunnel', password: zkPassword }).catch(() => undefined);
      if (admin) await new Registry(admin, cluster, 'g', []).removeCluster().catch(() => undefined);
      await Promise.allSettled(connections.map((c) => c.close()));
    });

    it('a worker with auth (tunnel start, cluster mode) creates its nodes; an unauthenticated client cannot write them', async () => {
      await ensureZooKeeper();
      const redisServer = new PrivateRedis(`${dir}/redis-acl`);
      await redisServer.start();
      try {
        const configFile = writeConfig(
          {
            dir,
            extra: `cluster: { name: '${cluster}', group: 'g', node: 'acl-n1', zookeeper: { connect: '${zkConnect}', sessionTimeoutMs: 4000, auth: { user: 'tunnel', password: fromEnv('CHAOS_ZK_PASSWORD') } } },`,
            tasks: [
              {
                name: 'acl',
                db: DB,
                serverId: 7923,
                startFrom: await masterPosition(conn),
                plugins: [`redis({ connection: { host: '127.0.0.1', port: ${redisServer.port} }, key: '${DB}:acl:{table}:{id}', value: 'json' })`],
              },
            ],
          },
          'tunnel.acl.config.ts',
        );
        const env = { CHAOS_ZK_PASSWORD: zkPassword };
        tunnel = await startTunnel(configFile, env);
        const p = registryPaths(cluster, 'g');
        const owner = await connect({ user: 'tunnel', password: zkPassword });
        // the worker took its task and wrote a position
        await conn.query(`INSERT INTO ${DB}.orders (id, note) VALUES (1000, 'acl')`);
        await waitFor(async () => (await owner.getData(p.position('acl'))) !== undefined, { timeoutMs: 30_000, what: 'the task position in ZooKeeper' });
        await waitFor(async () => (await owner.getData(p.owner('acl')))?.data.toString() === 'acl-n1', { timeoutMs: 30_000, what: 'the task owner node' });

        const anonymous = await connect();
        const wrong = await connect({ user: 'tunnel', password: 'not-the-password' });
        const refusals: string[] = [];
        for (const [who, zk] of [
          ['anonymous', anonymous],
          ['wrong password', wrong],
        ] as const) {
          const attempts: Array<[string, () => Promise<unknown>]> = [
            ['overwrite the position', () => zk.setData(p.position('acl'), Buffer.from('{"position":{"file":"x","offset":4}}'))],
            ['overwrite the assignment', () => zk.setData(p.assignment, Buffer.from('{"acl":"intruder"}'))],
            ['bump the fencing epoch', () => zk.setData(p.task('acl'), Buffer.from('{}'))],
            ['delete the owner node', () => zk.remove(p.owner('acl'))],
            ['delete the member node', () => zk.remove(p.node('acl-n1'))],
            ['register a member', () => zk.create(`${p.nodes}/intruder`, Buffer.from('{}'), 'ephemeral')],
            ['create under the group', () => zk.create(`${p.groupRoot}/intruder`)],
            ['read the position', () => zk.getData(p.position('acl'))],
          ];
          for (const [what, attempt] of attempts) {
            await expect(attempt(), `${who}: ${what}`).rejects.toMatchObject({ zkName: 'NO_AUTH' });
            refusals.push(`${who}: ${what}`);
          }
        }
        // the worker is unharmed
        await conn.query(`INSERT INTO ${DB}.orders (id, note) VALUES (1001, 'acl')`);
        const check = redisServer.client();
        await waitFor(async () => (await check.get(`${DB}:acl:orders:1001`)) !== null, { timeoutMs: 15_000, what: 'a row after the attempts' });
        check.disconnect();
        expect(tunnel.proc.child.exitCode).toBeNull();
        expect(await stopTunnel(tunnel)).toBe(0);
        expect(tunnel.proc.output).not.toContain(zkPassword);
        reportFault({
          fault: 'ZooKeeper digest ACLs: writes without the credentials',
          lost: 0,
          duplicates: 0,
          refused: `${refusals.length} of ${refusals.length} (NO_AUTH)`,
        });
      } finally {
        await redisServer.stop();
      }
    }, 120_000);
  });

  describe('TLS options validate and reach the clients', () => {
    let certs: TestCertificates;
    const terminators: TlsTerminator[] = [];
    const tlsRedis = new PrivateRedis(`${dir}/redis-tls`);

    beforeAll(async () => {
      certs = makeCertificates(join(dir, 'tls'));
      await tlsRedis.start();
    });
    afterAll(async () => {
      await Promise.all(terminators.map((t) => t.close()));
      await tlsRedis.stop();
    });
    const terminate = async (port: number, chain = false) => {
      const t = new TlsTerminator(port, chain ? { ...certs, cert: `${certs.cert}${certs.ca}` } : certs);
      terminators.push(t);
      await t.start();
      return t;
    };
    const write = (
      sink: {
        write: (b: {
          events: RowEvent[];
          attempt: number;
          signal: AbortSignal;
          task: string;
          epoch: number;
        }) => Promise<Array<{ status: string; reason?: string }>>;
      },
      id: number,
    ) => sink.write({ events: [insertEvent(id)], attempt: 1, signal: new AbortController().signal, task: 'security', epoch: 0 });

    it('Redis: tls.ca makes the sink talk TLS to a TLS endpoint; without the CA it is refused', async () => {
      const tls = await terminate(tlsRedis.port);
      const good = redisPlugin({
        connection: { host: '127.0.0.1', port: tls.port, tls: { ca: certs.ca, servername: 'localhost' } },
        key: 'tls:{id}',
        value: 'json',
      }).sink;
      expect(await write(good, 1)).toEqual([{ status: 'ok' }]);
      await good.close();
      const plain = tlsRedis.client();
      expect(JSON.parse((await plain.get('tls:1'))!)).toMatchObject({ id: 1, note: 'over tls 1' });
      plain.disconnect();
      const noCa = redisPlugin({
        connection: { host: '127.0.0.1', port: tls.port, tls: {}, connectTimeoutMs: 2000, commandTimeoutMs: 2000 },
        key: 'tls:{id}',
        value: 'json',
      }).sink;
      const refused = await write(noCa, 2);
      noCa.client.disconnect();
      expect(refused[0]!.status).toBe('retry');
      expect(tls.handshakes).toBeGreaterThanOrEqual(1);
    });

    it('Elasticsearch: tls.ca, or tls.caFingerprint, reach the client; without them the certificate is refused', async () => {
      const tls = await terminate(servers.elasticsearch.port, true);
      const index = `${DB}_tls`;
      const es = esClient();
      await es.indices.delete({ index, ignore_unavailable: true });
      const node = `https://127.0.0.1:${tls.port}`;
      const withCa = esPlugin({ node, index, refresh: 'wait_for', tls: { ca: certs.ca } }).sink;
      expect(await write(withCa, 1)).toEqual([{ status: 'ok' }]);
      await withCa.close();
      const fingerprint = new X509Certificate(certs.ca).fingerprint256;
      const withFingerprint = esPlugin({ node, index, refresh: 'wait_for', tls: { caFingerprint: fingerprint, rejectUnauthorized: false } }).sink;
      expect(await write(withFingerprint, 2)).toEqual([{ status: 'ok' }]);
      await withFingerprint.close();
      const wrongFingerprint = esPlugin({
        node,
        index,
        maxRetries: 0,
        tls: { caFingerprint: fingerprint.replace(/^../, '00'), rejectUnauthorized: false },
      }).sink;
      const [mismatch] = await write(wrongFingerprint, 3);
      await wrongFingerprint.close();
      expect(mismatch!.status).toBe('retry');
      expect(mismatch!.reason).toMatch(/fingerprint does not match/);
      const noCa = esPlugin({ node, index, maxRetries: 0 }).sink;
      const [refused] = await write(noCa, 4);
      await noCa.close();
      expect(refused!.status).toBe('retry');
      expect(refused!.reason).toMatch(/certificate|self.signed|SELF_SIGNED/i);
      const docs = await es.search({ index, query: { match_all: {} } });
      expect(docs.hits.hits.map((h) => h._id).sort()).toEqual(['1', '2']);
      await es.indices.delete({ index, ignore_unavailable: true });
      await es.close();
    });

    it('MariaDB: source.ssl validates and reaches mysql2 (the test server has no TLS, so asking for it fails the start)', async () => {
      const config = resolveConfig({
        tasks: [
          { name: 't', source: { host: 'h', user: 'u', serverId: 1, ssl: { ca: certs.ca, rejectUnauthorized: true } }, plugins: [{ name: 'p', apply() {} }] },
        ],
      });
      expect(config.tasks[0]!.source.ssl).toMatchObject({ rejectUnauthorized: true });
      const redisServer = new PrivateRedis(`${dir}/redis-ssl`);
      await redisServer.start();
      try {
        const configFile = writeConfig(
          {
            dir,
            tasks: [
              {
                name: 'ssl',
                db: DB,
                serverId: 7924,
                source: `{ host: '${servers.mariadb.host}', port: ${servers.mariadb.port}, user: '${servers.mariadb.user}', password: '${servers.mariadb.password}', serverId: 7924, include: ['${DB}.*'], ssl: { rejectUnauthorized: false } }`,
                plugins: [`redis({ connection: { host: '127.0.0.1', port: ${redisServer.port} }, value: 'json' })`],
              },
            ],
          },
          'tunnel.ssl.config.ts',
        );
        const validate = await runCli(['validate', '-c', configFile]);
        expect(validate.code, validate.stderr).toBe(0);
        expect(validate.stdout).toContain('"ssl"');
        const tunnel = await startTunnel(configFile);
        const line = await tunnel.proc.waitForLog((l) => l.msg === 'task could not start', 20_000);
        await sleep(100);
        await stopTunnel(tunnel);
        // mysql2 asked the server for TLS because the option reached it: the server cannot do TLS
        expect(JSON.stringify(line.err)).toMatch(/does not support secure connection|HANDSHAKE_NO_SSL_SUPPORT/);
        reportFault({
          fault: 'TLS options (config acceptance; Redis and ES through a TLS terminator)',
          lost: 0,
          duplicates: 0,
          mariadb: 'ssl reaches mysql2: start fails with "server does not support secure connection" on the non-TLS test server',
        });
      } finally {
        await redisServer.stop();
      }
    });
  });
});
