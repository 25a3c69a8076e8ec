// The servers' own rates with the same rows, without Tunnel: where a catch-up figure meets the
// server's (or its Node client's) limit. The documents are the row images Tunnel produces for the
// prepared table (same fields, types and sizes; checked against one read from the binlog).
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { Client } from '@elastic/elasticsearch';
import { servers } from '../../test/helpers/servers.ts';
import { BENCH } from './common.ts';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Row n of the prepared table as Tunnel's row image (see rowValuesSql in dataset.ts). */
export function rowImageOf(n: number): Record<string, unknown> {
  const created = new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + n * 1000);
  const updated = new Date(Date.UTC(2024, 5, 1, 0, 0, 0) + n * 1000);
  const dt = (d: Date) =>
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return {
    id: n,
    customer_id: n % 977,
    status: ['new', 'paid', 'shipped', 'cancelled'][n % 4],
    amount: (n * 1.25).toFixed(2),
    note: n % 10 === 0 ? null : `order note ${n}`,
    created_at: `${dt(created)}.123456`,
    updated_at: `${dt(updated).replace(' ', 'T')}Z`,
    flags: n % 256,
    score: Math.trunc((n / 7) * 1e9) / 1e9,
    attrs: { tier: n % 5, tags: ['a', 'b'] },
  };
}

/**
 * Elasticsearch alone: the same documents in bulk requests of `bulk` index actions, `lanes` requests
 * in flight (the sink's defaults: 1000 and 2), bodies built on the fly; docs/s until the last answer.
 */
export async function esRawBulk(rows: number, index: string, opts: { bulk: number; lanes: number }): Promise<number> {
  const es = new Client({ node: servers.elasticsearch.url, requestTimeout: 60_000 });
  try {
    await es.indices.delete({ index }, { ignore: [404] });
    await es.indices.create({ index, settings: { number_of_shards: 1, number_of_replicas: 0 } });
    let next = 1;
    let errors = 0;
    const t0 = performance.now();
    const lane = async () => {
      while (next <= rows) {
        const start = next;
        const end = Math.min(rows, start + opts.bulk - 1);
        next = end + 1;
        let body = '';
        for (let n = start; n <= end; n++) body += `{"index":{"_index":"${index}","_id":"${n}"}}\n${JSON.stringify(rowImageOf(n))}\n`;
        const res = (await es.transport.request(
          { method: 'POST', path: '/_bulk', querystring: { filter_path: 'errors' }, bulkBody: body },
          { meta: false },
        )) as { errors?: boolean };
        if (res.errors) errors++;
      }
    };
    await Promise.all(Array.from({ length: opts.lanes }, lane));
    const rate = rows / ((performance.now() - t0) / 1000);
    if (errors) throw new Error(`ES raw bulk: ${errors} bulk requests had item errors`);
    return rate;
  } finally {
    await es.indices.delete({ index }, { ignore: [404] }).catch(() => undefined);
    await es.close();
  }
}

/** The hash Tunnel's Redis sink writes for a row (strings as they are, other values as JSON, no field for NULL). */
function hsetArgs(n: number): string[] {
  const args = [`bench:raw:${n}`];
  for (const [k, v] of Object.entries(rowImageOf(n))) {
    if (v === null) continue;
    args.push(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  return args;
}

/** ioredis alone: one pipeline of `batch` HSETs at a time (what the sink does per batch); rows/s. */
export async function redisRawPipeline(rows: number, batch: number): Promise<number> {
  const r = new Redis({ host: servers.redis.host, port: servers.redis.port, db: BENCH.redisDb });
  try {
    await r.flushdb();
    const t0 = performance.now();
    for (let start = 1; start <= rows; start += batch) {
      const p = r.pipeline();
      for (let n = start; n < Math.min(rows + 1, start + batch); n++) p.hset(...(hsetArgs(n) as [string, ...string[]]));
      await p.exec();
    }
    return rows / ((performance.now() - t0) / 1000);
  } finally {
    await r.flushdb();
    r.disconnect();
  }
}

/** redis-benchmark (C client, pipelined 1000 deep) with an HSET of the same 10 fields; requests/s. */
export function redisBenchmark(rows: number): Promise<number> {
  const fields = hsetArgs(123457).slice(1);
  const args = [
    '-h',
    servers.redis.host,
    '-p',
    String(servers.redis.port),
    '--dbnum',
    String(BENCH.redisDb),
    '-P',
    '1000',
    '-n',
    String(rows),
    '-r',
    String(rows),
    '-q',
    '--csv',
    'HSET',
    'bench:raw:__rand_int__',
    ...fields,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', async () => {
      const line = out.trim().split('\n').pop() ?? '';
      const rps = Number(/"[^"]*","([\d.]+)"/.exec(line)?.[1]);
      const r = new Redis({ host: servers.redis.host, port: servers.redis.port, db: BENCH.redisDb });
      await r.flushdb().catch(() => undefined);
      r.disconnect();
      if (Number.isFinite(rps)) resolve(rps);
      else reject(new Error(`redis-benchmark: cannot read its output: ${out.slice(-300)}`));
    });
  });
}

/**
 * No client library: the same HSETs encoded as RESP by hand into one string per 1,000 commands and
 * written to a raw socket, replies counted by their line ends; rows/s. What a leaner Redis client
 * could reach on this machine.
 */
export async function redisRawResp(rows: number, batch: number): Promise<number> {
  const socket = connect(servers.redis.port, servers.redis.host);
  await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
  let pending = 0;
  let wake: (() => void) | undefined;
  let carry = '';
  socket.on('data', (chunk: Buffer) => {
    // every reply here is one line (":1\r\n", "+OK\r\n"); a reply split across chunks is carried over
    const text = carry + chunk.toString('latin1');
    let last = 0;
    for (let i = text.indexOf('\r\n'); i >= 0; i = text.indexOf('\r\n', last)) {
      pending--;
      last = i + 2;
    }
    carry = text.slice(last);
    if (pending <= 0 && wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  });
  const resp = (args: string[]) => {
    let s = `*${args.length}\r\n`;
    for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return s;
  };
  const roundTrip = (text: string, replies: number) =>
    new Promise<void>((ok) => {
      pending = replies;
      wake = ok;
      socket.write(text);
    });
  try {
    await roundTrip(resp(['select', String(BENCH.redisDb)]) + resp(['flushdb']), 2);
    const t0 = performance.now();
    for (let start = 1; start <= rows; start += batch) {
      let out = '';
      const end = Math.min(rows, start + batch - 1);
      for (let n = start; n <= end; n++) out += resp(['hset', ...hsetArgs(n)]);
      await roundTrip(out, end - start + 1);
    }
    const rate = rows / ((performance.now() - t0) / 1000);
    await roundTrip(resp(['flushdb']), 1);
    return rate;
  } finally {
    socket.destroy();
  }
}
