// The three ways the sinks stopped equalling the table that users found, as regression tests through
// `tunnel start` into Elasticsearch, Redis and a webhook, on each source server (expected values from
// SELECT): a spatial column before text and blob columns (MariaDB's table map counts it among the
// character columns), TRUNCATE and DROP leaving documents and keys behind, and values Elasticsearch's
// dynamic mapping refused.
import { afterAll, describe, expect, it } from 'vitest';
import { SinkHarness, type TableCheck } from '../helpers/differential/harness.ts';
import { esDocuments, redisHashes, webhookRows } from '../helpers/differential/sink-contents.ts';
import { sourceServers } from '../helpers/servers.ts';

const targets = sourceServers;

const failures = (checks: TableCheck[]) =>
  checks
    .filter((c) => !c.ok)
    .map(
      (c) =>
        `${c.table}: ${c.diffs.map((d) => `${d.sink} missing ${d.missing.length} extra ${d.extra.length} different ${JSON.stringify(d.different.slice(0, 3))}`).join('; ')}; dead letters ${JSON.stringify(c.deadLetters)}`,
    )
    .join('\n');

describe.each(targets)('the sinks equal the table on $name', (server) => {
  let h: SinkHarness;
  afterAll(async () => {
    await h?.close();
  });

  it('a spatial column before text, blob, JSON and INET columns; TRUNCATE and DROP; values dynamic mapping refused', async () => {
    h = await SinkHarness.start(server, `truth_${server.name}`);
    const inet = server.name === 'mariadb' ? ', i INET4' : '';
    const inetValue = server.name === 'mariadb' ? ", '97.126.3.21'" : '';
    await h.sql(
      `CREATE TABLE geo (id INT PRIMARY KEY, g POINT, t TEXT, b BLOB, j JSON, l LINESTRING, c VARCHAR(10) CHARACTER SET latin1${inet})`,
      `INSERT INTO geo VALUES (1, ST_GeomFromText('POINT(1 2)'), 'text', x'00FF', '{"a":1}', ST_GeomFromText('LINESTRING(0 0,1 1)'), 'café'${inetValue})`,
      `CREATE TABLE mapped (id INT PRIMARY KEY, u BIGINT UNSIGNED, d DOUBLE, j JSON)`,
      `INSERT INTO mapped VALUES (1, 18446744073709551615, 0, '{"a":{"b":1}}')`,
      `INSERT INTO mapped VALUES (2, 0, -1.7976931348623157e308, '{"a":[1,2,3]}'), (3, 1, 1.5, '[1,"x",null]'), (4, 2, 1e-300, '{"x":1e300}'), (5, 3, 2, '"just a string"')`,
      `CREATE TABLE gone (id INT PRIMARY KEY, v VARCHAR(10))`,
      `CREATE TABLE emptied (id INT PRIMARY KEY, v VARCHAR(10))`,
    );
    await h.sql(
      `INSERT INTO gone VALUES ${Array.from({ length: 100 }, (_, i) => `(${i + 1}, 'g${i}')`).join(',')}`,
      `INSERT INTO emptied VALUES ${Array.from({ length: 100 }, (_, i) => `(${i + 1}, 'e${i}')`).join(',')}`,
      'TRUNCATE TABLE emptied',
      `INSERT INTO emptied VALUES (500, 'after')`,
      'DROP TABLE gone',
    );
    expect(await h.catchUp(90_000), h.stalled).toBe(true);
    const checks = await Promise.all(['geo', 'mapped', 'emptied'].map((t) => h.check(t)));
    expect(failures(checks)).toBe('');
    const shape = { schema: h.schema, name: 'gone', flavor: server.name as 'mariadb' | 'mysql', columns: [], key: ['id'] };
    expect({
      elasticsearch: (await esDocuments(h.es, shape)).size,
      redis: (await redisHashes(h.redis, shape)).size,
      webhook: webhookRows(h.receiver.received, shape).size,
    }).toEqual({ elasticsearch: 0, redis: 0, webhook: 0 });
    expect(await h.stop()).toBe(0);
  });
});
