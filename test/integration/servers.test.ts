// Each server started by scripts/services is the real thing and is configured the way Tunnel needs it:
// MariaDB 10.11 and MySQL 8.0.31 write ROW events that zongji can read (MySQL with GTIDs on, and its
// tunnel user on MySQL 8's default caching_sha2_password), ZooKeeper drops an ephemeral node with its session and
// accepts short session timeouts, Redis and Elasticsearch store and return what they are given.
import ZongJi, { type AnyBinlogEvent, type TableMapEvent, type WriteRowsEvent } from '@vlasky/zongji';
import zookeeper from 'node-zookeeper-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, esClient, redisClient, sourceConnection, sourceServers, waitFor, zkClient } from '../helpers/servers.ts';

const suffix = `${process.pid}_${Date.now()}`;

describe.each(sourceServers)('$label', (server) => {
  const db = 'tunnel_it_servers';

  it('runs the version scripts/services installs, with a ROW binlog and full row images and metadata', async () => {
    const conn = await sourceConnection(server);
    try {
      const [rows] = await conn.query(
        'SELECT VERSION() AS version, @@log_bin AS logBin, @@binlog_format AS format, @@binlog_row_image AS image, @@binlog_row_metadata AS metadata',
      );
      const [row] = rows as { version: string }[];
      expect(row!.version.startsWith(server.version), row!.version).toBe(true);
      expect(/mariadb/i.test(row!.version)).toBe(server.flavor === 'mariadb');
      expect(rows).toEqual([{ version: row!.version, logBin: '1', format: 'ROW', image: 'FULL', metadata: 'FULL' }]);
    } finally {
      await conn.end();
    }
  });

  if (server.flavor === 'mysql') {
    it('has GTIDs on and the tunnel user on caching_sha2_password, reached over TCP without TLS', async () => {
      const conn = await sourceConnection(server);
      try {
        const [rows] = await conn.query(
          "SELECT @@gtid_mode AS gtidMode, @@enforce_gtid_consistency AS consistency, (SELECT plugin FROM mysql.user WHERE CONCAT(user, '@', host) = CURRENT_USER()) AS plugin",
        );
        expect(rows).toEqual([{ gtidMode: 'ON', consistency: 'ON', plugin: 'caching_sha2_password' }]);
        const [[cipher]] = (await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")) as unknown as [[{ Value: string }]];
        expect(cipher.Value).toBe('');
      } finally {
        await conn.end();
      }
    });
  }

  it('streams an inserted row to a zongji binlog reader', async () => {
    await createTestDatabase(db, server);
    const conn = await sourceConnection(server, { database: db });
    const zongji = new ZongJi({ ...server.connection });
    const events: AnyBinlogEvent[] = [];
    const errors: Error[] = [];
    zongji.on('binlog', (event) => events.push(event));
    zongji.on('error', (error) => errors.push(error));
    try {
      await conn.query('CREATE TABLE orders (id BIGINT UNSIGNED PRIMARY KEY, note VARCHAR(100) NOT NULL, amount DECIMAL(12,2) NULL) ENGINE=InnoDB');
      const ready = new Promise<void>((resolveReady) => zongji.once('ready', () => resolveReady()));
      zongji.start({
        serverId: 1000 + Math.floor(Math.random() * 1_000_000),
        startAtEnd: true,
        includeEvents: ['tablemap', 'writerows'],
        includeSchema: { [db]: ['orders'] },
      });
      await ready;

      await conn.query('INSERT INTO orders (id, note, amount) VALUES (?, ?, ?)', ['9007199254740993', 'grüße 🚀', '12.50']);

      const write = await waitFor(() => events.find((e): e is WriteRowsEvent => e.getEventName() === 'writerows'), {
        timeoutMs: 20_000,
        what: 'a writerows event',
      });
      expect(errors).toEqual([]);
      const tableMap = events.find((e): e is TableMapEvent => e.getEventName() === 'tablemap');
      expect(tableMap?.schemaName).toBe(db);
      expect(tableMap?.tableName).toBe('orders');
      expect(write.rows).toHaveLength(1);
      const row = write.rows[0]!;
      expect(String(row.id)).toBe('9007199254740993');
      expect(row.note).toBe('grüße 🚀');
      expect(Number(row.amount)).toBe(12.5);
    } finally {
      const stopped = new Promise<void>((done) => {
        zongji.once('stopped', () => done());
        setTimeout(done, 5_000);
      });
      zongji.stop();
      await stopped;
      await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await conn.end();
    }
  });
});

describe('ZooKeeper', () => {
  it('removes an ephemeral node when the session that made it closes', async () => {
    const path = `/tunnel-it-servers-${suffix}`;
    const owner = await zkClient(4_000);
    const watcher = await zkClient();
    try {
      // the server accepts a 4 s session (minSessionTimeout=2000), which the failover tests rely on
      expect(owner.getSessionTimeout()).toBe(4_000);
      await new Promise<void>((done, fail) =>
        owner.create(path, Buffer.from('alive'), zookeeper.CreateMode.EPHEMERAL, (error) => (error ? fail(error) : done())),
      );
      const exists = () => new Promise<boolean>((done, fail) => watcher.exists(path, (error, stat) => (error ? fail(error) : done(Boolean(stat)))));
      expect(await exists()).toBe(true);

      owner.close();
      await waitFor(async () => !(await exists()), { timeoutMs: 10_000, what: `${path} to vanish` });
    } finally {
      owner.close();
      watcher.close();
    }
  });
});

describe('Redis', () => {
  const redis = redisClient();
  afterAll(async () => {
    await redis.quit();
  });

  it('stores and returns a value', async () => {
    const key = `tunnel:it:servers:${suffix}`;
    expect(await redis.set(key, '{"id":1,"note":"grüße"}', 'EX', 60)).toBe('OK');
    expect(await redis.get(key)).toBe('{"id":1,"note":"grüße"}');
    expect(await redis.del(key)).toBe(1);
  });
});

describe('Elasticsearch', () => {
  const es = esClient();
  const index = `tunnel-it-servers-${suffix}`.toLowerCase();
  afterAll(async () => {
    await es.indices.delete({ index, ignore_unavailable: true });
    await es.close();
  });

  it('indexes a document and returns it by id', async () => {
    const indexed = await es.index({ index, id: '1', document: { id: 1, note: 'grüße', amount: '12.50' }, refresh: 'wait_for' });
    expect(indexed.result).toBe('created');
    const got = await es.get<{ id: number; note: string; amount: string }>({ index, id: '1' });
    expect(got.found).toBe(true);
    expect(got._source).toEqual({ id: 1, note: 'grüße', amount: '12.50' });
    const found = await es.search({ index, query: { match: { note: 'grüße' } } });
    expect(found.hits.hits.map((hit) => hit._id)).toEqual(['1']);
  });
});
