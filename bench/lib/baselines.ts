// Redis's own rates with the same row changes, without Tunnel: where a Redis catch-up figure meets the
// server's (or its Node client's) limit. The commands are what Tunnel's Redis sink sends for the
// prepared range (an HSET of the row image per insert or update, a DEL per delete), built from the
// row images Tunnel itself sent to Elasticsearch in the capture run (bench/lib/bare-sinks.ts).
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { servers } from '../../test/helpers/servers.ts';
import { BENCH } from './common.ts';

/** The hash Tunnel's Redis sink writes for a row image (strings as they are, other values as JSON, no field for NULL). */
function hsetArgs(key: string, doc: Record<string, unknown>): string[] {
  const args = [key];
  for (const [k, v] of Object.entries(doc)) {
    if (v === null) continue;
    args.push(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  return args;
}

/** Redis commands for the bulk bodies of an Elasticsearch capture: HSET per index action, DEL per delete. */
export function redisCommandsOf(bulkBodies: Buffer[]): string[][] {
  const out: string[][] = [];
  for (const body of bulkBodies) {
    const lines = body.toString('utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line) continue;
      const action = JSON.parse(line) as { index?: { _id: string }; delete?: { _id: string } };
      if (action.delete) out.push(['del', `bench:raw:${action.delete._id}`]);
      else if (action.index) out.push(['hset', ...hsetArgs(`bench:raw:${action.index._id}`, JSON.parse(lines[++i]!) as Record<string, unknown>)]);
      else throw new Error(`unexpected bulk action: ${line.slice(0, 100)}`);
    }
  }
  return out;
}

/** ioredis alone: one pipeline of `batch` commands at a time (what the sink does per batch); rows/s. */
export async function redisRawPipeline(commands: string[][], batch: number): Promise<number> {
  const r = new Redis({ host: servers.redis.host, port: servers.redis.port, db: BENCH.redisDb });
  try {
    await r.flushdb();
    const t0 = performance.now();
    for (let start = 0; start < commands.length; start += batch) await r.pipeline(commands.slice(start, start + batch)).exec();
    return commands.length / ((performance.now() - t0) / 1000);
  } finally {
    await r.flushdb();
    r.disconnect();
  }
}

/** redis-benchmark (C client, pipelined 1000 deep) with `rows` HSETs of the fields of one of the commands; requests/s. */
export function redisBenchmark(commands: string[][], rows: number): Promise<number> {
  const fields = commands.find((c) => c[0] === 'hset')!.slice(2);
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
 * No client library: the same commands encoded as RESP by hand into one string per 1,000 commands
 * and written to a raw socket, replies counted by their line ends; rows/s. What a leaner Redis client
 * could reach on this machine.
 */
export async function redisRawResp(commands: string[][], batch: number): Promise<number> {
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
    for (let start = 0; start < commands.length; start += batch) {
      let out = '';
      const end = Math.min(commands.length, start + batch);
      for (let n = start; n < end; n++) out += resp(commands[n]!);
      await roundTrip(out, end - start);
    }
    const rate = commands.length / ((performance.now() - t0) / 1000);
    await roundTrip(resp(['flushdb']), 1);
    return rate;
  } finally {
    socket.destroy();
  }
}
