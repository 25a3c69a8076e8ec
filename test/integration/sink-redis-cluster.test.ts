/**
 * The Redis sink on a Redis Cluster with one primary down (scripts/services up redis-cluster: three
 * primaries, no replicas). A batch's commands go out as one script per slot group; with a node gone
 * the groups of its slots fail while the others land, and the sink answers per event: retry for the
 * events with a key on the dead node, ok for the others, so the runtime sends again only from the
 * first failed event. After the node is back, the events sent again land, and the epoch of each slot
 * still refuses an older owner. Expected values are written in the test.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import { FencedError } from '../../core/errors/index.ts';
import type { SinkBatch } from '../../core/sink/index.ts';
import { redis, type RedisSink } from '../../sinks/redis/index.ts';
import { runServices, waitFor } from '../helpers/servers.ts';
import { clusterMembers, clusterSeeds, clusterStateOk, deleteKeysOfNodes, ensureRedisCluster, jsonRowsOfNodes, nodeClient } from '../helpers/redis-ha.ts';

const RUN = `rc_${process.pid}_${Date.now().toString(36)}`;
const TASK = `cluster-${RUN}`;
const ports = Object.values(clusterMembers);
const signal = new AbortController().signal;

const insert = (id: number, v: string, position: BinlogPosition): RowEvent => ({
  schema: RUN,
  table: 't',
  action: 'insert',
  rows: [
    [
      { column: 'id', value: id },
      { column: 'v', value: v },
    ],
  ],
  position,
  timestamp: 1_700_000_000_000,
  primaryKey: ['id'],
});
const batch = (events: RowEvent[], epoch: number): SinkBatch => ({ events, attempt: 1, signal, task: TASK, epoch });

describe('redis sink on a Redis Cluster with a primary down', () => {
  let startedCluster = false;
  let down: keyof typeof clusterMembers | undefined;
  const sinks: RedisSink[] = [];

  beforeAll(async () => {
    startedCluster = await ensureRedisCluster();
  });

  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    if (down) await runServices(['up', down]).catch((error: unknown) => console.log(String(error)));
    await deleteKeysOfNodes(ports, `${RUN}:*`).catch(() => undefined);
    await deleteKeysOfNodes(ports, `tunnel:*${RUN}*`).catch(() => undefined);
    if (startedCluster) await runServices(['down', 'redis-cluster']).catch(() => undefined);
  });

  it('answers retry for the events whose keys are on the dead node and ok for the rest; they land once it is back', async () => {
    const s = redis({ connection: { cluster: clusterSeeds }, key: `${RUN}:{table}:{id}`, value: 'json' }).sink;
    sinks.push(s);
    await s.start();
    const ids = Array.from({ length: 30 }, (_, i) => i + 1);
    const first = ids.map((id) => insert(id, `first ${id}`, { file: 'b.000001', offset: 100 + id }));
    expect(await s.write(batch(first, 2))).toEqual(ids.map(() => ({ status: 'ok' })));

    // the node each key lives on, as the cluster says (CLUSTER KEYSLOT, CLUSTER SLOTS)
    const admin = nodeClient(ports[0]!);
    const slots = (await admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    const portOfKey = async (key: string) => {
      const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', key));
      return slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
    };
    const portOf = (id: number) => portOfKey(`${RUN}:t:${id}`);
    const where = new Map<number, number>();
    for (const id of ids) where.set(id, await portOf(id));
    // a node without the table registry's keys: a batch whose registry commands fail is retried whole
    const registryPorts = await Promise.all([`tunnel:ids:${RUN}.t`, `tunnel:tables:${RUN}`].map(portOfKey));
    admin.disconnect();
    const victim = (Object.keys(clusterMembers) as Array<keyof typeof clusterMembers>).find((m) => !registryPorts.includes(clusterMembers[m]))!;
    const onVictim = ids.filter((id) => where.get(id) === clusterMembers[victim]);
    expect(onVictim.length).toBeGreaterThan(0);
    expect(onVictim.length).toBeLessThan(ids.length);

    await runServices(['kill', victim]);
    down = victim;
    // written at once, within the cluster's node timeout (2 s): the other primaries still serve
    const second = ids.map((id) => insert(id, `second ${id}`, { file: 'b.000001', offset: 200 + id }));
    const results = await s.write(batch(second, 2));
    expect(results.map((r) => r.status)).toEqual(ids.map((id) => (onVictim.includes(id) ? 'retry' : 'ok')));
    const live = await jsonRowsOfNodes(
      ports.filter((p) => p !== clusterMembers[victim]),
      `${RUN}:t:`,
    );
    expect(new Map([...live].map(([id, row]) => [Number(id), row.v]))).toEqual(
      new Map(ids.filter((id) => !onVictim.includes(id)).map((id) => [id, `second ${id}`])),
    );

    await runServices(['up', victim]);
    down = undefined;
    await waitFor(async () => (await Promise.all(ports.map(clusterStateOk))).every(Boolean), { timeoutMs: 30_000, what: 'cluster_state:ok' });
    // the runtime sends again from the first event that did not land (the dispatcher's rule)
    const from = results.findIndex((r) => r.status === 'retry');
    await waitFor(async () => (await s.write(batch(second.slice(from), 2))).every((r) => r.status === 'ok'), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'the retried events written',
    });
    const all = await jsonRowsOfNodes(ports, `${RUN}:t:`);
    expect(new Map([...all].map(([id, row]) => [Number(id), row.v]))).toEqual(new Map(ids.map((id) => [id, `second ${id}`])));

    // the restarted node kept its slots' epoch keys (append-only file): an older owner is refused there too
    const stale = await s.write(batch([insert(onVictim[0]!, 'stale', { file: 'b.000001', offset: 50 })], 1)).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(FencedError);
    const check = new Cluster(clusterSeeds);
    try {
      expect(JSON.parse((await check.get(`${RUN}:t:${onVictim[0]}`))!)).toEqual({ id: onVictim[0], v: `second ${onVictim[0]}` });
    } finally {
      check.disconnect();
    }
  });
});
