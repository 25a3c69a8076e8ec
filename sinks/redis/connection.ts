import { Redis, Cluster, type RedisOptions as IORedisOptions, type ClusterOptions } from 'ioredis';
import { TunnelError } from '../../core/errors/index.ts';
import { redactUrlCredentials } from '../../core/redact/index.ts';
import type { ResolvedRedisConnection } from './options.ts';

export type RedisClient = Redis | Cluster;

/**
 * An ioredis client for a validated connection (standalone, Sentinel or Cluster), not yet
 * connected (`lazyConnect`): `connect()` happens in the sink's start(). Commands fail fast when
 * the server is unreachable (the runtime retries the batch with backoff) instead of queueing.
 */
export function createRedisClient(connection: string | ResolvedRedisConnection): RedisClient {
  const common: IORedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 10_000,
    commandTimeout: 10_000,
  };
  if (typeof connection === 'string') return new Redis(connection, common);
  const c = connection;
  const tls = c.tls ? { ...c.tls } : undefined;
  const base: IORedisOptions = {
    ...common,
    connectTimeout: c.connectTimeoutMs,
    commandTimeout: c.commandTimeoutMs,
    ...(c.username ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(tls ? { tls } : {}),
  };
  if (c.cluster) {
    const options: ClusterOptions = {
      lazyConnect: true,
      // Commands of a batch are grouped per node by ioredis (a plain pipeline must stay in one slot).
      enableAutoPipelining: true,
      redisOptions: base,
      ...(c.natMap ? { natMap: c.natMap } : {}),
    };
    return new Cluster(c.cluster, options);
  }
  if (c.sentinels) {
    return new Redis({
      ...base,
      // a primary demoted while this connection stays open answers READONLY: ask the sentinels again
      reconnectOnError: (error) => /^READONLY\b/.test(error.message),
      sentinels: c.sentinels,
      name: c.name as string,
      ...(c.db !== undefined ? { db: c.db } : {}),
      ...(c.sentinelUsername ? { sentinelUsername: c.sentinelUsername } : {}),
      ...(c.sentinelPassword !== undefined ? { sentinelPassword: c.sentinelPassword } : {}),
      ...(tls ? { enableTLSForSentinelMode: true } : {}),
      ...(c.natMap ? { natMap: c.natMap } : {}),
    });
  }
  if (c.url) return new Redis(c.url, { ...base, ...(c.db !== undefined ? { db: c.db } : {}) });
  return new Redis({ ...base, host: c.host ?? '127.0.0.1', port: c.port ?? 6379, ...(c.db !== undefined ? { db: c.db } : {}) });
}

/** Where a connection leads, for messages: host:port, the URL's host and port, or the seed nodes; never credentials. */
export function redisWhere(connection: string | ResolvedRedisConnection): string {
  const fromUrl = (url: string) => {
    try {
      const u = new URL(url);
      return `${u.hostname}:${u.port || 6379}`;
    } catch {
      return 'the configured URL';
    }
  };
  if (typeof connection === 'string') return fromUrl(connection);
  const c = connection;
  if (c.cluster) return `cluster ${c.cluster.map((n) => `${n.host}:${n.port}`).join(', ')}`;
  if (c.sentinels) return `master "${c.name}" of sentinels ${c.sentinels.map((n) => `${n.host}:${n.port}`).join(', ')}`;
  if (c.url) return fromUrl(c.url);
  return `${c.host ?? '127.0.0.1'}:${c.port ?? 6379}`;
}

/** Connect a lazy client (no-op when already connecting or connected). */
export async function connectRedis(client: RedisClient): Promise<void> {
  if (client.status === 'wait' || client.status === 'end') await client.connect();
}

/** Error text without anything but the message (ioredis messages carry no passwords). */
export function redisErrorText(error: unknown): string {
  const plain = (e: Error) => e.name === 'ReplyError' || e.name === 'Error' || e instanceof TunnelError;
  const text = error instanceof Error ? `${plain(error) ? '' : `${error.name}: `}${error.message}` : String(error);
  return redactUrlCredentials(text).slice(0, 300);
}

/** Close politely (QUIT waits for replies in flight); a client that cannot QUIT is cut off. */
export async function closeRedisClient(client: RedisClient | undefined): Promise<void> {
  if (!client) return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
