// ClusterMember, ZooKeeperPositionStore and ZkConnection in this process against the real ZooKeeper:
// digest ACLs, a session the server expires (re-registration from scratch), server-side fencing of a
// position write, and the store's load/save round trip.
import zookeeper from 'node-zookeeper-client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterMember, ZooKeeperPositionAdmin, ZkConnection, ZooKeeperPositionStore, digestId, type TaskLease } from '../../core/cluster/index.ts';
import { FencedError } from '../../core/errors/index.ts';
import { ensureZooKeeper, Registry, zkConnect } from '../helpers/cluster-harness.ts';

const cluster = `its_${process.pid}_${Date.now()}`;
const members: ClusterMember[] = [];
const connections: ZkConnection[] = [];

function member(group: string, nodeId: string, tasks: string[], extra: Partial<ConstructorParameters<typeof ClusterMember>[0]> = {}): ClusterMember {
  const logger = process.env.CLUSTER_DEBUG ? pino({ level: 'debug', base: { group } }, pino.destination(2)) : undefined;
  const m = new ClusterMember({ connect: zkConnect, cluster, group, nodeId, tasks, sessionTimeoutMs: 4000, rebalanceDelayMs: 20, logger, ...extra });
  members.push(m);
  return m;
}

async function connection(options: Partial<ConstructorParameters<typeof ZkConnection>[0]> = {}): Promise<ZkConnection> {
  const zk = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 4000, ...options });
  connections.push(zk);
  await zk.start();
  return zk;
}

function acquiredOnce(m: ClusterMember, task: string): Promise<TaskLease> {
  return new Promise((resolve) => {
    const on = (t: string, lease: TaskLease) => {
      if (t !== task) return;
      m.off('taskAcquired', on);
      resolve(lease);
    };
    m.on('taskAcquired', on);
  });
}

beforeAll(async () => {
  await ensureZooKeeper();
});

afterAll(async () => {
  await Promise.allSettled(members.map((m) => m.close()));
  const zk = await connection({ auth: { user: 'tunnel', password: 's3cret' } });
  const registry = new Registry(zk, cluster, 'x', []);
  await registry.removeCluster().catch(() => undefined);
  await Promise.allSettled(connections.map((c) => c.close()));
});

describe('ZooKeeper digest ACLs', () => {
  it('puts digest:user:base64(sha1(user:password)) on the nodes it creates; others cannot read them', async () => {
    const auth = { user: 'tunnel', password: 's3cret' };
    const m = member('acl', 'n1:1', ['a'], { auth });
    const acquired = acquiredOnce(m, 'a');
    await m.start();
    await acquired;
    const path = m.paths.node('n1:1');

    const anonymous = await connection();
    await expect(anonymous.getData(path)).rejects.toMatchObject({ zkName: 'NO_AUTH' });
    await expect(anonymous.getData(m.paths.owner('a'))).rejects.toMatchObject({ zkName: 'NO_AUTH' });

    const wrong = await connection({ auth: { user: 'tunnel', password: 'nope' } });
    await expect(wrong.getData(path)).rejects.toMatchObject({ zkName: 'NO_AUTH' });

    const right = await connection({ auth });
    const data = await right.getData(path);
    expect(JSON.parse(data!.data.toString())).toMatchObject({ nodeId: 'n1:1' });

    // the ACL itself, read with the raw client
    const acls = await new Promise<Array<{ permission: number; id: { scheme: string; id: string } }>>((resolve, reject) => {
      const raw = zookeeper.createClient(zkConnect);
      raw.addAuthInfo('digest', Buffer.from('tunnel:s3cret'));
      raw.once('connected', () =>
        raw.getACL(path, (err, list) => {
          raw.close();
          if (err) reject(err);
          else resolve(list as unknown as Array<{ permission: number; id: { scheme: string; id: string } }>);
        }),
      );
      raw.connect();
    });
    expect(acls).toEqual([
      expect.objectContaining({ permission: zookeeper.Permission.ALL, id: expect.objectContaining({ scheme: 'digest', id: digestId('tunnel', 's3cret') }) }),
    ]);
    expect(digestId('tunnel', 's3cret')).toMatch(/^tunnel:[A-Za-z0-9+/]{27}=$/);

    // the admin API works with the credentials
    const admin = await ZooKeeperPositionAdmin.connect({ connect: zkConnect, cluster, group: 'acl', auth });
    try {
      expect((await admin.readPosition('a')).owner).toBe('n1:1');
    } finally {
      await admin.close();
    }
  });

  it('lets other groups (other credentials) register beside a protected one, but not into it: start() rejects', async () => {
    const other = member('acl-other', 'n2:1', ['z'], { auth: { user: 'other', password: 'pw' } });
    await other.start();
    expect(other.sessionState).toBe('connected');
    const intruder = member('acl', 'n3:1', ['a']);
    await expect(intruder.start()).rejects.toMatchObject({ zkName: 'NO_AUTH' });
    expect(intruder.sessionState).toBe('closed');
  });
});

describe('a session the server expires', () => {
  it('emits tasksLost at once, then registers from scratch in a new session and takes its tasks again', async () => {
    const m = member('expiry', 'n1:1', ['a', 'b']);
    const first = Promise.all([acquiredOnce(m, 'a'), acquiredOnce(m, 'b')]);
    await m.start();
    const leases = await first;
    const oldSession = m.zk.sessionId!;

    const events: string[] = [];
    m.on('sessionState', (s) => events.push(`state:${s}`));
    const lost = new Promise<{ tasks: string[]; reason: string }>((resolve) => m.once('tasksLost', (l) => resolve({ tasks: l.tasks, reason: l.reason })));
    const registered = new Promise<string>((resolve) => m.once('registered', (r) => resolve(r.sessionId)));
    const again = Promise.all([acquiredOnce(m, 'a'), acquiredOnce(m, 'b')]);

    // Expire the session for real: a second client attaches to it and closes it. The member's own client
    // may win the session back before the close arrives (a session has one connection at a time), so
    // try again until the member hears `expired`.
    const raw = (m.zk as unknown as { client: zookeeper.Client }).client;
    const [sessionId, sessionPassword] = [raw.getSessionId(), raw.getSessionPassword()];
    let heard = false;
    void lost.then(() => (heard = true));
    for (let attempt = 0; attempt < 10 && !heard; attempt++) {
      const hijack = zookeeper.createClient(zkConnect, { sessionTimeout: 4000, sessionId, sessionPassword } as unknown as zookeeper.Option);
      // A hijack that never hears `connected` (the member won the session back first) must not hang
      // the test: give up on it after 3 s and try again.
      await Promise.race([
        new Promise<void>((resolve) => {
          hijack.once('connected', () => resolve());
          hijack.connect();
        }),
        new Promise((r) => setTimeout(r, 3000)),
      ]);
      hijack.close();
      await Promise.race([lost, new Promise((r) => setTimeout(r, 1500))]);
    }

    expect(await lost).toEqual({ tasks: ['a', 'b'], reason: 'expired' });
    expect(events).toContain('state:expired');
    const newSession = await registered;
    expect(newSession).not.toBe(oldSession);
    const reacquired = await again;
    for (let i = 0; i < 2; i++) expect(reacquired[i]!.epoch).toBeGreaterThan(leases[i]!.epoch);
    expect(m.sessionState).toBe('connected');
    expect(m.ownedTasks()).toEqual(['a', 'b']);
    expect(await m.leader()).toBe('n1:1');
  });
});

describe('ZooKeeperPositionStore', () => {
  it('loads nothing at first, round-trips JSON bytes with the writer, and refuses tasks it does not own', async () => {
    const m = member('store', 'n1:1', ['a']);
    const acquired = acquiredOnce(m, 'a');
    await m.start();
    await acquired;
    const store = new ZooKeeperPositionStore(m);
    expect(await store.load('a')).toBeUndefined();
    await store.save('a', { position: { file: 'bin.000001', offset: 4, gtid: '0-1-5' }, updatedAt: 1 });
    await store.save('a', { position: { file: 'bin.000001', offset: 120 }, updatedAt: 2 });
    expect(await store.load('a')).toEqual({ position: { file: 'bin.000001', offset: 120 }, updatedAt: 2 });
    const raw = await m.zk.getData(m.paths.position('a'));
    expect(JSON.parse(raw!.data.toString())).toEqual({
      position: { file: 'bin.000001', offset: 120 },
      updatedAt: 2,
      writtenBy: 'n1:1',
      epoch: m.lease('a')!.epoch,
    });
    expect(raw!.stat.version).toBe(1);
    await expect(store.save('other', { position: { file: 'x', offset: 1 }, updatedAt: 3 })).rejects.toBeInstanceOf(FencedError);
    // saves of one task issued without waiting are applied in call order
    await Promise.all([1, 2, 3, 4, 5].map((n) => store.save('a', { position: { file: 'bin.000002', offset: n }, updatedAt: n })));
    expect((await store.load('a'))!.position).toEqual({ file: 'bin.000002', offset: 5 });
    await store.clear('a');
    expect(await store.load('a')).toBeUndefined();
  });

  it('is fenced by ZooKeeper itself: after another acquisition, a write under the old lease fails and changes nothing', async () => {
    const m = member('fence', 'n1:1', ['a']);
    const acquired = acquiredOnce(m, 'a');
    await m.start();
    const lease = await acquired;
    const store = new ZooKeeperPositionStore(m);
    await store.load('a');
    await store.save('a', { position: { file: 'f', offset: 1 }, updatedAt: 1 });

    // Another worker takes the task over behind this member's back, the way an acquisition does:
    // the owner node is recreated by another session and the epoch (task node version) bumped.
    // (This member does not notice: its local lease is stale, so only ZooKeeper can refuse.)
    const other = await connection();
    await other.remove(m.paths.owner('a'));
    const res = await other.multi([
      { op: 'create', path: m.paths.owner('a'), data: Buffer.from('thief:1'), mode: 'ephemeral' },
      { op: 'setData', path: m.paths.task('a'), data: Buffer.from('{"owner":"thief:1"}'), version: -1 },
    ]);
    expect(res[1]!.stat!.version).toBe(lease.epoch + 1);
    const before = await other.getData(m.paths.position('a'));

    expect(m.lease('a')).toBeDefined();
    const err = await store.save('a', { position: { file: 'f', offset: 2 }, updatedAt: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((err as Error).message).toMatch(/another acquisition/);
    const after = await other.getData(m.paths.position('a'));
    expect(after!.stat.version).toBe(before!.stat.version);
    expect(after!.data.equals(before!.data)).toBe(true);
  });
});
