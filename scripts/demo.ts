// Drives the demo: creates `shop`, starts `tunnel start` with the repository's tunnel.config.ts,
// writes orders for a while, shows what arrived in Elasticsearch and Redis, then stops Tunnel.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import { Client } from '@elastic/elasticsearch';

const seconds = Number(process.env.DEMO_SECONDS ?? '20');
const mariadbPort = Number(process.env.TUNNEL_MARIADB_PORT ?? '13306');
const redisPort = Number(process.env.TUNNEL_REDIS_PORT ?? '16379');
const esUrl = `http://127.0.0.1:${process.env.TUNNEL_ES_PORT ?? '19200'}`;
const say = (text: string) => process.stdout.write(`\x1b[1m[demo]\x1b[0m ${text}\n`);

const db = await mysql.createConnection({ host: '127.0.0.1', port: mariadbPort, user: 'tunnel', password: 'tunnel', multipleStatements: true });
const redis = new Redis({ host: '127.0.0.1', port: redisPort, lazyConnect: true });
await redis.connect();
const es = new Client({ node: esUrl });

say('creating the sample database `shop` (200 customers, 500 orders)');
await db.query(`DROP DATABASE IF EXISTS shop; CREATE DATABASE shop; USE shop;
  CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL,
    password_hash CHAR(60) NOT NULL, status ENUM('active','blocked') NOT NULL DEFAULT 'active');
  CREATE TABLE orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, status VARCHAR(20) NOT NULL,
    quantity INT NOT NULL, unit_price DECIMAL(10,2) NOT NULL, note TEXT NULL, created_at DATETIME(3) NOT NULL);`);
for (let i = 1; i <= 200; i++) {
  await db.query('INSERT INTO shop.customers VALUES (?, ?, ?, ?, ?)', [i, `Customer ${i} 🛒`, `c${i}@example.com`, '$2b$12$'.padEnd(60, 'x'), 'active']);
}
const newOrder = () => [1 + Math.floor(Math.random() * 200), 'new', 1 + Math.floor(Math.random() * 5), (Math.random() * 100).toFixed(2)];
for (let i = 0; i < 500; i++)
  await db.query('INSERT INTO shop.orders (customer_id, status, quantity, unit_price, created_at) VALUES (?, ?, ?, ?, NOW(3))', newOrder());

// A fresh start: no stored position, no documents or keys from an earlier demo.
rmSync('.tunnel/positions/shop.json', { force: true });
await es.indices.delete({ index: 'shop_*', ignore_unavailable: true, allow_no_indices: true }).catch(() => undefined);
const stale = await redis.keys('shop:*');
if (stale.length > 0) await redis.del(...stale);

say('starting Tunnel: node bin/tunnel.js start -c tunnel.config.ts');
const tunnel = spawn('node', ['bin/tunnel.js', 'start', '-c', 'tunnel.config.ts'], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
const exited = new Promise<number | null>((resolve) => tunnel.on('exit', (code) => resolve(code)));
// a demo that fails midway stops its Tunnel too, instead of leaving it holding the status port
process.on('exit', () => {
  if (tunnel.exitCode === null && tunnel.signalCode === null) tunnel.kill('SIGTERM');
});

const counts = async () => {
  const [[row]] = (await db.query('SELECT COUNT(*) AS n FROM shop.orders')) as unknown as [[{ n: number }]];
  await es.indices.refresh({ index: 'shop_orders', ignore_unavailable: true }).catch(() => undefined);
  const docs = await es
    .count({ index: 'shop_orders', ignore_unavailable: true })
    .then((r) => r.count)
    .catch(() => 0);
  const keys = (await redis.keys('shop:orders:*')).filter((k) => !k.includes(':by:')).length;
  return { orders: Number(row.n), docs, keys };
};

say(`writing orders for ${seconds} s (inserts, status changes, cancellations)`);
const statuses = ['paid', 'shipped', 'delivered'];
const end = Date.now() + seconds * 1000;
let writes = 0;
let lastReport = 0;
while (Date.now() < end) {
  const roll = Math.random();
  if (roll < 0.6) await db.query('INSERT INTO shop.orders (customer_id, status, quantity, unit_price, created_at) VALUES (?, ?, ?, ?, NOW(3))', newOrder());
  else if (roll < 0.9)
    await db.query('UPDATE shop.orders SET status = ? WHERE id = (SELECT id FROM (SELECT id FROM shop.orders ORDER BY RAND() LIMIT 1) t)', [
      statuses[Math.floor(Math.random() * 3)],
    ]);
  else await db.query('DELETE FROM shop.orders ORDER BY RAND() LIMIT 1');
  writes++;
  if (Date.now() - lastReport > 3000) {
    lastReport = Date.now();
    const c = await counts();
    say(`${writes} writes so far; orders in MariaDB ${c.orders}, documents in Elasticsearch ${c.docs}, order keys in Redis ${c.keys}`);
  }
  await new Promise((r) => setTimeout(r, 10));
}

say('writes stopped; waiting for Tunnel to catch up');
let c = await counts();
for (let i = 0; i < 60 && (c.docs !== c.orders || c.keys !== c.orders); i++) {
  await new Promise((r) => setTimeout(r, 500));
  c = await counts();
}
say(`orders in MariaDB ${c.orders}, documents in Elasticsearch ${c.docs}, order keys in Redis ${c.keys}`);
const sample = await es.search({ index: 'shop_orders', size: 1, sort: [{ id: 'desc' }] });
say(`newest order in Elasticsearch: ${JSON.stringify(sample.hits.hits[0]?._source)}`);
// a row's key (`shop:customers:<id>`), not one of the index keys beside it (`shop:customers:by:status:…`)
const [sampleKey] = await redis.keys('shop:customers:[0-9]*');
if (sampleKey) say(`a customer in Redis (${sampleKey}): ${JSON.stringify(await redis.hgetall(sampleKey))}`);
say(`ids of paid orders (Redis set shop:orders:by:status:paid): ${await redis.scard('shop:orders:by:status:paid')} members`);

say('stopping Tunnel with SIGTERM (drain, commit, exit)');
tunnel.kill('SIGTERM');
const code = await exited;
say(`Tunnel exited with code ${code}`);
await db.end();
redis.disconnect();
await es.close();
const ok = code === 0 && c.docs === c.orders && c.keys === c.orders;
say(ok ? 'demo finished: every order is in Elasticsearch and Redis' : 'demo finished with a mismatch (see above)');
process.exit(ok ? 0 : 1);
