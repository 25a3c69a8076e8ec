/**
 * The Redis sink through Sentinel (scripts/services up redis-sentinel: a primary, its replica, three
 * sentinels) and `waitForReplicas`: Redis replicates asynchronously, so a write the primary
 * acknowledged can be lost with it when the replica is promoted. With the option a batch counts as
 * written only once the replica has it: while the replica is stopped (SIGSTOP) the sink answers retry
 * for the batch; once it runs again the same batch is written and the replica holds it. Without the
 * option the same write counts as done with no copy on the replica. A sink connected to a replica
 * (a primary demoted under it) retries instead of dead-lettering the replica's READONLY answers.
 * Expected values are written in the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowEvent } from '../../core/event/index.ts';
import { ConfigError } from '../../core/errors/index.ts';
import type { SinkBatch } from '../../core/sink/index.ts';
import { redis, type RedisSink } from '../../sinks/redis/index.ts';
import { runServices } from '../helpers/servers.ts';
import {
  deleteKeysOfNodes,
  ensureSentinelGroup,
  nodeClient,
  SENTINEL_MASTER,
  sentinelMembers,
  sentinelPorts,
  waitForSentinelGroup,
} from '../helpers/redis-ha.ts';

const RUN = `rs_${process.pid}_${Date.now().toString(36)}`;
const TASK = `sentinel-${RUN}`;
const signal = new AbortController().signal;
const sentinels = sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));

const insert = (id: number, v: string, offset: number): RowEvent => ({
  schema: RUN,
  table: 't',
  action: 'insert',
  rows: [
    [
      { column: 'id', value: id },
      { column: 'v', value: v },
    ],
  ],
  position: { file: 'b.000001', offset },
  timestamp: 1_700_000_000_000,
  primaryKey: ['id'],
});
const batch = (events: RowEvent[]): SinkBatch => ({ events, attempt: 1, signal, task: TASK, epoch: 0 });

describe('redis sink through Sentinel: waitForReplicas', () => {
  let startedGroup = false;
  let stoppedPid: number | undefined;
  let ports = { primary: 0, replica: 0 };
  const sinks: RedisSink[] = [];

  const valueOn = async (port: number, id: number): Promise<string | null> => {
    const client = nodeClient(port);
    try {
      const text = await client.get(`${RUN}:t:${id}`);
      return text === null ? null : (JSON.parse(text) as { v: string }).v;
    } finally {
      client.disconnect();
    }
  };

  beforeAll(async () => {
    startedGroup = await ensureSentinelGroup();
    const { primary, replica } = await waitForSentinelGroup();
    ports = { primary: sentinelMembers[primary], replica: sentinelMembers[replica] };
  });

  afterAll(async () => {
    if (stoppedPid) process.kill(stoppedPid, 'SIGCONT');
    await Promise.all(sinks.map((s) => s.close()));
    await deleteKeysOfNodes([ports.primary], `${RUN}:*`).catch(() => undefined);
    await deleteKeysOfNodes([ports.primary], `tunnel:*${RUN}*`).catch(() => undefined);
    if (startedGroup) await runServices(['down', 'redis-sentinel']).catch(() => undefined);
  });

  it('connected to a replica, a batch is retried, never dead-lettered (onReplyError reject), and nothing is written', async () => {
    const key = `${RUN}:{table}:{id}`;
    const primary = redis({ connection: { sentinels, name: SENTINEL_MASTER }, key, value: 'json', waitForReplicas: { replicas: 1 } }).sink;
    // no table registry: its commands would fail too and send the batch again whatever the rows did
    const onReplica = redis({ connection: { host: '127.0.0.1', port: ports.replica }, key, value: 'json', onReplyError: 'reject', registry: false }).sink;
    sinks.push(primary, onReplica);
    await primary.start();
    await onReplica.start();
    // the task's epoch key reaches the replica, so the script gets past its epoch check to the writes
    expect(await primary.write(batch([insert(10, 'ten', 5)]))).toEqual([{ status: 'ok' }]);
    const results = await onReplica.write(batch([insert(11, 'eleven', 6), insert(12, 'twelve', 7)]));
    expect(results).toEqual([
      { status: 'retry', reason: expect.stringMatching(/^redis: READONLY .*connected to a replica/) as unknown },
      { status: 'retry', reason: expect.stringMatching(/^redis: READONLY .*connected to a replica/) as unknown },
    ]);
    expect(await valueOn(ports.primary, 11)).toBeNull();
  });

  it('is refused with cluster at config load', () => {
    expect(() => redis({ connection: { cluster: [{ host: 'c1', port: 7000 }] }, waitForReplicas: { replicas: 1 } })).toThrow(ConfigError);
    expect(() => redis({ connection: { cluster: [{ host: 'c1', port: 7000 }] }, waitForReplicas: { replicas: 1 } })).toThrow(
      /redis\.waitForReplicas: not available with `cluster`/,
    );
  });

  it('a batch counts as written only once the replica has it', async () => {
    const connection = { sentinels, name: SENTINEL_MASTER };
    const waiting = redis({ connection, key: `${RUN}:{table}:{id}`, value: 'json', waitForReplicas: { replicas: 1, timeoutMs: 300 } }).sink;
    const plain = redis({ connection, key: `${RUN}:{table}:{id}`, value: 'json' }).sink;
    sinks.push(waiting, plain);
    await waiting.start();
    await plain.start();

    expect(await waiting.write(batch([insert(1, 'one', 10)]))).toEqual([{ status: 'ok' }]);
    expect(await valueOn(ports.replica, 1)).toBe('one');

    const info = nodeClient(ports.replica);
    const pid = Number(/process_id:(\d+)/.exec(await info.info('server'))![1]);
    info.disconnect();
    process.kill(pid, 'SIGSTOP');
    stoppedPid = pid;
    try {
      const refused = await waiting.write(batch([insert(2, 'two', 20)]));
      expect(refused).toEqual([{ status: 'retry', reason: expect.stringMatching(/^redis: 0 of the 1 replicas asked for \(waitForReplicas\)/) as unknown }]);
      // on the primary, but not counted as written: the runtime sends the batch again
      expect(await valueOn(ports.primary, 2)).toBe('two');
      // without the option the same kind of write counts as done with no copy anywhere else
      expect(await plain.write(batch([insert(3, 'three', 30)]))).toEqual([{ status: 'ok' }]);
    } finally {
      process.kill(pid, 'SIGCONT');
      stoppedPid = undefined;
    }
    expect(await waiting.write(batch([insert(2, 'two', 20)]))).toEqual([{ status: 'ok' }]);
    expect(await valueOn(ports.replica, 2)).toBe('two');
  });
});
