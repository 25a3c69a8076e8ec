// Redis as it is deployed, from scripts/services: a Sentinel group (`up redis-sentinel`: a primary and a
// replica, sentinel-redis1/2, watched by sentinel1..3 under the master name "tunnel") and a Redis
// Cluster of three primaries (`up redis-cluster`: cluster-redis1..3). Where their members listen,
// which member is the primary, starting a group for a test, reading a sink's rows from them, and
// counting SETs run twice (MONITOR on every data node).
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { runServices, waitFor } from './servers.ts';
import type { Row } from './compare-rows.ts';

const sentinelBase = Number(process.env.TUNNEL_REDIS_SENTINEL_PORT || 16380);
const clusterBase = Number(process.env.TUNNEL_REDIS_CLUSTER_PORT || 16385);

/** Data nodes of the Sentinel group by their scripts/services names, then the three sentinels (as scripts/services). */
export const sentinelMembers = { 'sentinel-redis1': sentinelBase, 'sentinel-redis2': sentinelBase + 1 } as const;
export type SentinelMember = keyof typeof sentinelMembers;
export const sentinelPorts = [sentinelBase + 2, sentinelBase + 3, sentinelBase + 4];
export const SENTINEL_MASTER = process.env.TUNNEL_REDIS_SENTINEL_MASTER || 'tunnel';

export const clusterMembers = { 'cluster-redis1': clusterBase, 'cluster-redis2': clusterBase + 1, 'cluster-redis3': clusterBase + 2 } as const;
export type ClusterMember = keyof typeof clusterMembers;

/** A plain connection to one node (no retries: a node that is down fails at once). */
export function nodeClient(port: number, options: RedisOptions = {}): Redis {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: false, ...options });
  client.on('error', () => undefined);
  return client;
}

async function answers(port: number): Promise<boolean> {
  const client = nodeClient(port, { lazyConnect: true, connectTimeout: 1000 });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** The port the sentinels name as the primary now (asked of the first that answers). */
export async function sentinelPrimaryPort(): Promise<number | undefined> {
  for (const port of sentinelPorts) {
    const client = nodeClient(port, { lazyConnect: true, connectTimeout: 1000 });
    try {
      await client.connect();
      const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)) as [string, string] | null;
      if (addr) return Number(addr[1]);
    } catch {
      // the next one
    } finally {
      client.disconnect();
    }
  }
  return undefined;
}

/** 'master' or 'slave' as the node says of itself (ROLE), undefined when it does not answer. */
export async function roleOf(port: number): Promise<string | undefined> {
  const client = nodeClient(port, { lazyConnect: true, connectTimeout: 1000 });
  try {
    await client.connect();
    return String(((await client.call('ROLE')) as unknown[])[0]);
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

export function sentinelMemberOf(port: number): SentinelMember {
  const member = (Object.keys(sentinelMembers) as SentinelMember[]).find((m) => sentinelMembers[m] === port);
  if (!member) throw new Error(`port ${port} is not a data node of the Sentinel group`);
  return member;
}

/**
 * Waits until the group is whole: a primary the sentinels agree on, its replica connected and in
 * sync (master_link_status up), every sentinel answering.
 */
export async function waitForSentinelGroup(timeoutMs = 60_000): Promise<{ primary: SentinelMember; replica: SentinelMember }> {
  return waitFor(
    async () => {
      const port = await sentinelPrimaryPort();
      if (port === undefined || (await roleOf(port)) !== 'master') return undefined;
      for (const p of sentinelPorts) if (!(await answers(p))) return undefined;
      const primary = sentinelMemberOf(port);
      const replica = (Object.keys(sentinelMembers) as SentinelMember[]).find((m) => m !== primary)!;
      const client = nodeClient(sentinelMembers[replica]);
      const info = await client.info('replication').finally(() => client.disconnect());
      if (!/master_link_status:up/.test(info) || !info.includes(`master_port:${port}`)) return undefined;
      return { primary, replica };
    },
    { timeoutMs, intervalMs: 200, what: 'the Redis Sentinel group with a primary and a replica in sync' },
  );
}

/** Starts the Sentinel group unless every member answers; true when it started any. */
export async function ensureSentinelGroup(): Promise<boolean> {
  const ports = [...Object.values(sentinelMembers), ...sentinelPorts];
  if ((await Promise.all(ports.map(answers))).every(Boolean)) return false;
  await runServices(['up', 'redis-sentinel']);
  return true;
}

/** Starts the cluster unless every member answers with cluster_state:ok; true when it started any. */
export async function ensureRedisCluster(): Promise<boolean> {
  const ok = await Promise.all(Object.values(clusterMembers).map((port) => clusterStateOk(port)));
  if (ok.every(Boolean)) return false;
  await runServices(['up', 'redis-cluster']);
  return true;
}

export async function clusterStateOk(port: number): Promise<boolean> {
  const client = nodeClient(port, { lazyConnect: true, connectTimeout: 1000 });
  try {
    await client.connect();
    return /cluster_state:ok/.test(String(await client.call('CLUSTER', 'INFO')));
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** The cluster nodes as ioredis seeds. */
export const clusterSeeds = Object.values(clusterMembers).map((port) => ({ host: '127.0.0.1', port }));

/**
 * Every `prefix*` key of the given nodes, stored as JSON strings, by id (each node SCANned on its own
 * and its values read with GET, so keys of different slots never meet in one command).
 */
export async function jsonRowsOfNodes(ports: readonly number[], prefix: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  for (const port of ports) {
    const client = nodeClient(port);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
        cursor = next;
        if (keys.length === 0) continue;
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.get(key);
        const values = (await pipeline.exec()) ?? [];
        keys.forEach((key, i) => {
          const [error, value] = values[i] ?? [new Error('no reply'), null];
          if (error) throw error;
          if (value !== null) out.set(key.slice(prefix.length), JSON.parse(value as string) as Row);
        });
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  }
  return out;
}

/** Deletes `pattern` keys on each node (SCAN + DEL one key at a time: keys of several slots). */
export async function deleteKeysOfNodes(ports: readonly number[], pattern: string): Promise<void> {
  for (const port of ports) {
    const client = nodeClient(port);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
        cursor = next;
        for (const key of keys) await client.del(key);
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  }
}

/**
 * Counts SETs of keys under `prefix` that a node ran from a script (MONITOR source "lua": the sink's
 * fenced writes) with a key and value it had seen run before, on any of the nodes watched: a row
 * written again. Commands a replica applies from its primary (source: the primary's address) are
 * not writes of Tunnel and are left out, so a Sentinel replica can be watched from the start and
 * counts once it is promoted. Values of RowWriter's rows are unique per write.
 */
export class MultiNodeSetCounter {
  duplicates = 0;
  sets = 0;
  /** SETs from Tunnel's script per node port. */
  readonly setsByPort = new Map<number, number>();
  private readonly seen = new Set<string>();
  private readonly monitors = new Map<number, Redis>();

  constructor(private readonly prefix: string) {}

  /**
   * MONITOR on `port`, resumed whenever its connection is cut (a node restarted; Sentinel closing every
   * client of a replica it promotes) within 20 ms of the node answering again.
   */
  async watch(port: number): Promise<void> {
    this.monitors.get(port)?.disconnect();
    const monitor = new Redis({ host: '127.0.0.1', port, monitor: true, lazyConnect: true, retryStrategy: () => 20 });
    monitor.on('error', () => undefined);
    const monitoring = new Promise<void>((resolve) => monitor.once('monitoring', () => resolve()));
    await monitor.connect();
    await monitoring;
    this.monitors.set(port, monitor);
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' || args[0]?.toLowerCase() !== 'set' || args.length < 3 || !args[1]!.startsWith(this.prefix)) return;
      this.sets++;
      this.setsByPort.set(port, (this.setsByPort.get(port) ?? 0) + 1);
      const id = createHash('sha1').update(args[1]!).update('\u0000').update(args[2]!).digest('base64');
      if (this.seen.has(id)) this.duplicates++;
      else this.seen.add(id);
    });
  }

  stop(): void {
    for (const monitor of this.monitors.values()) monitor.disconnect();
    this.monitors.clear();
  }
}
