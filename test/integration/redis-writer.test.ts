// The Redis sink's writer (sinks/redis/resp-connection.ts) against the real Redis of scripts/services:
// database selection, ACL users, replies in order over many writes, a connection the server kills,
// and a server that stops answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RespConnection, RespConnectionError, respEndpoint, type RespEndpoint } from '../../sinks/redis/resp-connection.ts';
import { RespEncoder, RespError } from '../../sinks/redis/resp.ts';
import { servers } from '../helpers/servers.ts';

const RUN = `tsk_resp_${process.pid}_${Date.now().toString(36)}`;
const USER = `${RUN}_user`;
const base: RespEndpoint = { host: servers.redis.host, port: servers.redis.port, db: 0, connectTimeoutMs: 5000, commandTimeoutMs: 5000 };
let admin: Redis;
const open: RespConnection[] = [];
const connection = (endpoint: Partial<RespEndpoint> = {}) => {
  const c = new RespConnection({ ...base, ...endpoint });
  open.push(c);
  return c;
};
const encode = (...commands: (string | number)[][]) => {
  const encoder = new RespEncoder();
  for (const command of commands) encoder.push(command);
  return encoder.take();
};

beforeAll(async () => {
  admin = new Redis({ host: servers.redis.host, port: servers.redis.port, maxRetriesPerRequest: 1 });
  await admin.call('ACL', 'SETUSER', USER, 'on', '>s3cret-pass', `~${RUN}*`, '+@all');
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await admin.call('ACL', 'DELUSER', USER);
  for (const db of [0, 5]) {
    await admin.select(db);
    const keys = await admin.keys(`${RUN}*`);
    if (keys.length > 0) await admin.del(...keys);
  }
  admin.disconnect();
});

describe('redis writer (real Redis)', () => {
  it('writes to the database it selects, and reads the replies of each command', async () => {
    const c = connection({ db: 5 });
    const replies = await c.send(encode(['set', `${RUN}:a`, 'é'], ['hset', `${RUN}:h`, 'f', '1', 'g', '2'], ['lpush', `${RUN}:a`, 'x']), 3);
    expect(replies).toEqual(['OK', 2, new RespError('WRONGTYPE Operation against a key holding the wrong kind of value')]);
    await admin.select(5);
    expect(await admin.get(`${RUN}:a`)).toBe('é');
    expect(await admin.hgetall(`${RUN}:h`)).toEqual({ f: '1', g: '2' });
    await admin.select(0);
    expect(await admin.exists(`${RUN}:a`)).toBe(0);
  });

  it('keeps the order of many writes in flight at once', async () => {
    const c = connection();
    const writes: Promise<unknown[]>[] = [];
    for (let w = 0; w < 20; w++) writes.push(c.send(encode(...Array.from({ length: 500 }, () => ['incr', `${RUN}:n`])), 500));
    const replies = (await Promise.all(writes)).flat();
    expect(replies).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
  });

  it('logs in as an ACL user, and a wrong password fails with the server reason and no password', async () => {
    expect(await connection({ username: USER, password: 's3cret-pass' }).send(encode(['set', `${RUN}:acl`, '1']), 1)).toEqual(['OK']);
    const error = await connection({ username: USER, password: 'wrong-pass' })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error).toBeInstanceOf(RespConnectionError);
    expect(error!.message).toMatch(/WRONGPASS/);
    expect(error!.message).not.toMatch(/wrong-pass/);
  });

  it('connects again after the server closed the connection', async () => {
    const c = connection();
    expect(await c.send(encode(['client', 'setname', `${RUN}-victim`]), 1)).toEqual(['OK']);
    const list = (await admin.call('CLIENT', 'LIST')) as string;
    const id = /id=(\d+) [^\n]* name=([^ ]+)/g;
    let victim: string | undefined;
    for (const match of list.matchAll(id)) if (match[2] === `${RUN}-victim`) victim = match[1];
    expect(victim).toBeDefined();
    await admin.call('CLIENT', 'KILL', 'ID', victim!);
    // the first write after the kill may meet the closed socket; the one after it connects again
    await c.send(encode(['ping']), 1).catch((e: unknown) => expect(e).toBeInstanceOf(RespConnectionError));
    expect(await c.send(encode(['set', `${RUN}:again`, 'yes']), 1)).toEqual(['OK']);
    expect(await admin.get(`${RUN}:again`)).toBe('yes');
  });

  it('fails what is in flight when no reply comes within the command timeout, then works again', async () => {
    const c = connection({ commandTimeoutMs: 200 });
    await c.connect();
    await admin.call('CLIENT', 'PAUSE', '1000', 'WRITE');
    const error = await c.send(encode(['set', `${RUN}:late`, '1']), 1).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(RespConnectionError);
    expect(error!.message).toBe('no reply within 200 ms (commandTimeoutMs)');
    await admin.call('CLIENT', 'UNPAUSE');
    expect(await c.send(encode(['set', `${RUN}:late`, '2']), 1)).toEqual(['OK']);
    expect(await admin.get(`${RUN}:late`)).toBe('2');
  });

  it('reports a server that is not there as a connection error', async () => {
    const error = await connection({ port: 1, connectTimeoutMs: 1000 })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error).toBeInstanceOf(RespConnectionError);
    expect(error!.message).toMatch(/ECONNREFUSED|timed out/);
  });
});

describe('redis writer endpoints', () => {
  it('reads a URL as ioredis does, and leaves Sentinel and Cluster to ioredis', () => {
    expect(respEndpoint('redis://me:p%40ss@cache.local:6390/3')).toEqual({
      host: 'cache.local',
      port: 6390,
      username: 'me',
      password: 'p@ss',
      db: 3,
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 10_000,
    });
    expect(respEndpoint('rediss://cache.local')).toMatchObject({ host: 'cache.local', port: 6379, db: 0, tls: {} });
    expect(respEndpoint({ host: 'h', port: 1, db: 2, connectTimeoutMs: 5, commandTimeoutMs: 6 })).toEqual({
      host: 'h',
      port: 1,
      db: 2,
      connectTimeoutMs: 5,
      commandTimeoutMs: 6,
    });
    expect(respEndpoint({ sentinels: [{ host: 'h', port: 1 }], name: 'm', connectTimeoutMs: 5, commandTimeoutMs: 6 })).toBeUndefined();
    expect(respEndpoint({ cluster: [{ host: 'h', port: 1 }], connectTimeoutMs: 5, commandTimeoutMs: 6 })).toBeUndefined();
  });
});
