// Task-level HA against the real ZooKeeper: worker processes (test/helpers/cluster-worker.ts) each run a
// real ClusterMember with a fake task runner that writes a counter position every 100 ms through
// ZooKeeperPositionStore. One group of workers goes through: the initial spread, kill -9 of the leader,
// SIGSTOP past the session timeout, a ZooKeeper restart, a graceful leave, and the position admin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZooKeeperPositionAdmin } from '../../core/cluster/index.ts';
import { ClusterError } from '../../core/errors/index.ts';
import { ensureZooKeeper, PositionRecorder, Registry, WorkerProcess, workerConfig, zkConnect, type RegistrySnapshot } from '../helpers/cluster-harness.ts';
import { runServices, waitFor } from '../helpers/servers.ts';

const SESSION_TIMEOUT = 4000;
const tasks = ['t1', 't2', 't3', 't4', 't5', 't6'];
const cluster = `it_${process.pid}_${Date.now()}`;
const group = 'g1';

let registry: Registry;
let recorder: PositionRecorder;
const workers: WorkerProcess[] = [];

function start(): WorkerProcess {
  const w = new WorkerProcess(workerConfig(cluster, group, tasks, { sessionTimeoutMs: SESSION_TIMEOUT }));
  workers.push(w);
  return w;
}
const live = () => workers.filter((w) => w.alive);

function counts(owners: Record<string, string | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of Object.values(owners)) if (n) out[n] = (out[n] ?? 0) + 1;
  return out;
}

/** Every task owned by a live worker, matching the assignment, spread evenly, each worker agreeing. */
async function settled(expectedWorkers: WorkerProcess[]): Promise<RegistrySnapshot | false> {
  const s = await registry.snapshot();
  const ids = expectedWorkers.map((w) => w.nodeId).sort();
  if (JSON.stringify(s.nodes) !== JSON.stringify(ids)) return false;
  for (const t of tasks) {
    if (!s.owners[t] || s.owners[t] !== s.assignment[t]) return false;
  }
  const c = Object.values(counts(s.owners));
  if (c.length !== ids.length || Math.max(...c) - Math.min(...c) > 1) return false;
  // each worker's own view: exactly the tasks it holds
  for (const w of expectedWorkers) {
    const mine = tasks.filter((t) => s.owners[t] === w.nodeId).sort();
    if (JSON.stringify([...w.running()].sort()) !== JSON.stringify(mine)) return false;
    if (JSON.stringify(s.nodeData[w.nodeId]?.tasks ?? []) !== JSON.stringify(mine)) return false;
  }
  return s;
}

function currentLeader(): WorkerProcess | undefined {
  return live().find((w) => {
    const e = w.lines.filter((l) => l.ev === 'elected' || l.ev === 'deposed');
    return e.at(-1)?.ev === 'elected';
  });
}

/** The offsets each task's position went through, in order of version, are strictly increasing. */
function expectMonotonic(until = Infinity) {
  for (const t of tasks) {
    const offsets = recorder
      .of(t)
      .filter((w) => w.seenAt <= until)
      .map((w) => w.position.offset);
    for (let i = 1; i < offsets.length; i++) {
      if (!(offsets[i]! > offsets[i - 1]!)) throw new Error(`position of ${t} went from ${offsets[i - 1]} to ${offsets[i]}`);
    }
  }
}

beforeAll(async () => {
  await ensureZooKeeper();
  registry = await Registry.open(cluster, group, tasks);
  recorder = new PositionRecorder(registry);
  recorder.start();
});

afterAll(async () => {
  recorder?.stop();
  for (const w of workers) if (w.alive) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await registry?.removeCluster().catch(() => undefined);
  await registry?.close();
});

describe('a group of three workers and six tasks', () => {
  it('spreads the tasks 2/2/2, shows the fixed layout, and election holds the leader address', async () => {
    start();
    start();
    start();
    const s = await waitFor(() => settled(live()), { timeoutMs: 20_000, what: 'tasks spread over 3 workers' });
    expect(Object.values(counts(s.owners))).toEqual([2, 2, 2]);
    // fixed layout + additions, nothing else
    expect(s.groupChildren).toEqual(['assignment', 'candidates', 'election', 'nodes', 'task']);
    expect(s.nodes).toEqual(
      live()
        .map((w) => w.nodeId)
        .sort(),
    );
    const leader = currentLeader();
    expect(leader).toBeDefined();
    expect(live().filter((w) => w.of('elected').length > 0)).toHaveLength(1);
    expect(s.election).toBe(leader!.nodeId);
    for (const id of s.nodes) {
      expect(s.nodeData[id]).toMatchObject({ nodeId: id, address: id, tasks: expect.any(Array), startedAt: expect.any(String), version: expect.any(String) });
    }
    // candidates: one ephemeral sequential per worker
    const candidates = await registry.zk.getChildren(registry.paths.candidates);
    expect(candidates).toHaveLength(3);
    // positions move
    await waitFor(async () => ((await registry.snapshot()).positions.t1?.position.offset ?? 0) > 5, { what: 't1 position moving' });
    const before = await registry.snapshot();
    await new Promise((r) => setTimeout(r, 400));
    const after = await registry.snapshot();
    for (const t of tasks) expect(after.positions[t]!.position.offset).toBeGreaterThan(before.positions[t]!.position.offset);
    console.log(`[cluster] spread: ${JSON.stringify(counts(s.owners))}, leader ${leader!.nodeId}, election=${s.election}`);
  });

  it('kill -9 of the leader: a new leader within the session timeout, its tasks resume on the survivors from the stored positions', async () => {
    const leader = currentLeader()!;
    const before = await registry.snapshot();
    const orphans = tasks.filter((t) => before.owners[t] === leader.nodeId);
    expect(orphans.length).toBe(2);
    const killedAt = Date.now();
    leader.kill('SIGKILL');
    await leader.exited;

    const newLeader = await waitFor(() => currentLeader(), { timeoutMs: SESSION_TIMEOUT + 4000, intervalMs: 20, what: 'a new leader' });
    const electedAt = newLeader.of('elected').at(-1)!.t;
    const acquired = await waitFor(
      () => {
        const hits = orphans.map((t) => live().flatMap((w) => w.of('taskAcquired', killedAt).filter((l) => l.task === t))[0]);
        return hits.every(Boolean) ? hits.map((h) => h!) : undefined;
      },
      { timeoutMs: SESSION_TIMEOUT + 6000, intervalMs: 20, what: 'orphaned tasks acquired' },
    );
    const firstWrite = await waitFor(
      () => {
        const hits = orphans.map((t) => live().flatMap((w) => w.of('saved', killedAt).filter((l) => l.task === t))[0]);
        return hits.every(Boolean) ? hits.map((h) => h!) : undefined;
      },
      { timeoutMs: 5000, intervalMs: 20, what: 'orphaned tasks writing positions' },
    );
    const acquiredMs = Math.max(...acquired.map((a) => a.t)) - killedAt;
    const writeMs = Math.max(...firstWrite.map((a) => a.t)) - killedAt;
    console.log(
      `[cluster] failover after kill -9 of leader ${leader.nodeId} (session timeout ${SESSION_TIMEOUT} ms): ` +
        `new leader ${newLeader.nodeId} elected after ${electedAt - killedAt} ms; orphaned tasks ${orphans.join(',')} acquired after ${acquiredMs} ms; ` +
        `first position written by the new owners after ${writeMs} ms`,
    );
    // the figures are reported; the waits above bound them (a new leader within the session timeout
    // plus 4 s, the tasks acquired within it plus 6 s) without promising what a loaded 2-core machine cannot
    expect(electedAt).toBeGreaterThanOrEqual(killedAt);

    const s = await waitFor(() => settled(live()), { timeoutMs: 10_000, what: 'tasks spread over 2 workers' });
    expect(Object.values(counts(s.owners))).toEqual([3, 3]);
    expect(s.election).toBe(newLeader.nodeId);

    // resumed from the stored positions: the new owner starts at the killed worker's last write
    for (const t of orphans) {
      const lastByKilled = Math.max(
        0,
        ...leader
          .of('saved')
          .filter((l) => l.task === t)
          .map((l) => l.offset),
      );
      const started = live().flatMap((w) => w.of('taskStarted', killedAt).filter((l) => l.task === t))[0]!;
      expect(started.from === lastByKilled || started.from === lastByKilled + 1).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 500));
    expectMonotonic();
    for (const w of live()) expect(w.of('fenced')).toEqual([]);
  });

  it('SIGSTOP past the session timeout, then SIGCONT: the stopped worker writes no position after its tasks moved', async () => {
    // back to three workers
    start();
    await waitFor(() => settled(live()), { timeoutMs: 15_000, what: 'tasks spread over 3 workers again' });
    const victim = live().find((w) => w !== currentLeader() && w.running().size > 0)!;
    const before = await registry.snapshot();
    const moved = tasks.filter((t) => before.owners[t] === victim.nodeId);
    const oldEpochs = new Map(
      moved.map((t) => [
        t,
        victim
          .of('taskAcquired')
          .filter((l) => l.task === t)
          .at(-1)!.epoch,
      ]),
    );

    const stoppedAt = Date.now();
    victim.kill('SIGSTOP');
    // wait until every task of the frozen worker has a new owner (its session expired on the server)
    const movedAt = await waitFor(
      async () => {
        const s = await registry.snapshot();
        return moved.every((t) => s.owners[t] && s.owners[t] !== victim.nodeId) ? Date.now() : undefined;
      },
      { timeoutMs: SESSION_TIMEOUT + 8000, intervalMs: 50, what: 'tasks of the frozen worker moved' },
    );
    await new Promise((r) => setTimeout(r, 1000)); // the new owners write meanwhile
    const contAt = Date.now();
    victim.kill('SIGCONT');
    await victim.waitLine('tasksLost', (l) => l.t >= contAt, 5000);
    await new Promise((r) => setTimeout(r, 2000));
    console.log(
      `[cluster] SIGSTOP of ${victim.nodeId} for ${contAt - stoppedAt} ms: its tasks ${moved.join(',')} moved after ${movedAt - stoppedAt} ms; ` +
        `after SIGCONT it reported tasksLost (${victim.of('tasksLost', contAt)[0]!.reason}) and refused ${victim.of('fenced', contAt).length} writes locally`,
    );

    for (const t of moved) {
      const oldEpoch = oldEpochs.get(t)!;
      // the position node history: no write by the frozen worker under its old ownership after the move
      const stale = recorder.of(t).filter((w) => w.writtenBy === victim.nodeId && w.epoch === oldEpoch && w.seenAt >= movedAt);
      expect(stale).toEqual([]);
      // its own log: no successful write of the task after SIGCONT unless it acquired the task anew
      const reacquiredAt = victim.of('taskAcquired', contAt).find((l) => l.task === t)?.t ?? Infinity;
      expect(victim.of('saved', contAt).filter((l) => l.task === t && l.t < reacquiredAt)).toEqual([]);
      // every version after the move carries a newer epoch
      const after = recorder.of(t).filter((w) => w.seenAt >= movedAt);
      expect(after.length).toBeGreaterThan(0);
      for (const w of after) expect(w.epoch).toBeGreaterThan(oldEpoch);
    }
    // the new owners were never disturbed
    for (const w of live()) if (w !== victim) expect(w.of('fenced')).toEqual([]);
    expectMonotonic();
    // the frozen worker rejoins with a new session and gets its share again
    await waitFor(() => settled(live()), { timeoutMs: 15_000, what: 'tasks spread over 3 workers after SIGCONT' });
  });

  it('restart of the ZooKeeper server mid-run: workers ride it out or re-register; every task ends owned by exactly one worker', async () => {
    const restartAt = Date.now();
    await runServices(['restart', 'zookeeper']);
    const upAt = Date.now();
    const s = await waitFor(() => settled(live()), { timeoutMs: 30_000, intervalMs: 200, what: 'tasks owned again after the restart' });
    // the positions move again
    const snap = s.positions;
    await waitFor(
      async () => {
        const now = await registry.snapshot();
        return tasks.every((t) => now.positions[t]!.position.offset > snap[t]!.position.offset);
      },
      { timeoutMs: 5000, what: 'positions moving after the restart' },
    );
    const settledAt = Date.now();
    const lost = live().flatMap((w) => w.of('tasksLost', restartAt).map((l) => `${w.nodeId}:${l.reason}`));
    console.log(
      `[cluster] ZooKeeper restart took ${upAt - restartAt} ms; all tasks owned and writing again ${settledAt - restartAt} ms after it began; ` +
        (lost.length ? `sessions lost and re-registered: ${lost.join(', ')}` : 'every worker kept its session'),
    );
    // exactly one owner per task: the owner node is unique, and the workers' own views do not overlap
    const views = live().map((w) => [...w.running()]);
    const all = views.flat().sort();
    expect(all).toEqual([...tasks].sort());
    expectMonotonic();
    for (const w of live()) expect(w.of('error', restartAt).filter((l) => l.task)).toEqual([]);
  });

  it('ZooKeeper down for longer than the session timeout: every worker stops its tasks by its own timer, and re-registers once it is back', async () => {
    const downAt = Date.now();
    await runServices(['down', 'zookeeper']);
    const stoppedAt = Date.now();
    await waitFor(() => live().every((w) => w.running().size === 0 && w.of('tasksLost', downAt).length > 0), {
      timeoutMs: SESSION_TIMEOUT + 4000,
      intervalMs: 20,
      what: 'every worker stopped its tasks while ZooKeeper is down',
    });
    const disconnectedAt = Math.min(...live().map((w) => w.of('sessionState', downAt).find((l) => l.state === 'disconnected')!.t));
    const lostAt = Math.max(...live().map((w) => w.of('tasksLost', downAt)[0]!.t));
    for (const w of live()) expect(w.of('tasksLost', downAt)[0]!.reason).toBe('timeout');
    // nothing runs and nothing is written while ZooKeeper is away
    const quietFrom = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    for (const w of live()) expect(w.of('saved', quietFrom)).toEqual([]);

    const upStart = Date.now();
    await runServices(['up', 'zookeeper']);
    const upAt = Date.now();
    const s = await waitFor(() => settled(live()), { timeoutMs: 30_000, intervalMs: 100, what: 'tasks owned again after the outage' });
    await waitFor(
      async () => {
        const now = await registry.snapshot();
        return tasks.every((t) => now.positions[t]!.position.offset > s.positions[t]!.position.offset);
      },
      { timeoutMs: 5000, what: 'positions moving after the outage' },
    );
    const runningAt = Date.now();
    console.log(
      `[cluster] ZooKeeper down ${upStart - stoppedAt} ms: workers disconnected ${disconnectedAt - downAt} ms after the stop began, ` +
        `all tasks stopped ${lostAt - disconnectedAt} ms after the disconnect (session timeout ${SESSION_TIMEOUT} ms); ` +
        `ZooKeeper answered again after ${upAt - upStart} ms, every task owned and writing ${runningAt - upAt} ms later`,
    );
    // the safety bound: a worker stops its tasks by its own timer before the server can expire its
    // session and give them to another (measured in the worker's own log times)
    expect(lostAt - disconnectedAt).toBeLessThan(SESSION_TIMEOUT + 1000);
    expectMonotonic();
  });

  it('graceful close hands the tasks over at once, not after the session timeout', async () => {
    const leaver = live().find((w) => w !== currentLeader() && w.running().size > 0)!;
    const itsTasks = [...leaver.running()];
    const termAt = Date.now();
    leaver.kill('SIGTERM');
    await leaver.exited;
    expect(leaver.exitCode).toBe(0);
    const acquired = await waitFor(
      () => {
        const hits = itsTasks.map((t) => live().flatMap((w) => w.of('taskAcquired', termAt).filter((l) => l.task === t))[0]);
        return hits.every(Boolean) ? hits.map((h) => h!) : undefined;
      },
      { timeoutMs: SESSION_TIMEOUT, intervalMs: 20, what: 'tasks of the leaving worker acquired' },
    );
    const ms = Math.max(...acquired.map((a) => a.t)) - termAt;
    console.log(`[cluster] graceful close of ${leaver.nodeId}: its tasks ${itsTasks.join(',')} running elsewhere after ${ms} ms`);
    // at once rather than after the session timeout: the wait above gives up at SESSION_TIMEOUT (the
    // figure itself is reported, not asserted)
    // released only after the task stopped: its last write precedes the new owner's acquisition
    for (const t of itsTasks) {
      const released = leaver.of('taskReleased', termAt).find((l) => l.task === t)!;
      const lastSave = leaver
        .of('saved')
        .filter((l) => l.task === t)
        .at(-1)!;
      expect(lastSave.t).toBeLessThanOrEqual(released.t);
    }
    await waitFor(() => settled(live()), { timeoutMs: 10_000, what: 'tasks spread over 2 workers' });
    expectMonotonic();
  });

  it('position admin: reset refuses while the task runs, works when it does not, and the next owner resumes there', async () => {
    recorder.stop();
    const admin = await ZooKeeperPositionAdmin.connect({ connect: zkConnect, cluster, group });
    try {
      const listed = await admin.listPositions();
      expect(listed.map((p) => p.task)).toEqual(tasks);
      for (const p of listed) expect(p.owner).toBeDefined();
      const err = await admin.resetPosition('t1', { file: 'counter', offset: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClusterError);
      expect((err as Error).message).toMatch(/t1.*running on worker/);
      const unchanged = await admin.readPosition('t1');
      expect(unchanged.stored!.position.offset).toBeLessThan(5000);

      for (const w of live()) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
      const idle = await admin.listPositions();
      for (const p of idle) expect(p.owner).toBeUndefined();

      const reset = await admin.resetPosition('t1', { file: 'counter', offset: 5000 });
      expect(reset.stored).toMatchObject({ position: { file: 'counter', offset: 5000 }, writtenBy: 'admin' });
      const cleared = await admin.resetPosition('t2', null);
      expect(cleared.stored).toBeUndefined();

      const fresh = start();
      await fresh.waitLine('taskStarted', (l) => l.task === 't1');
      await fresh.waitLine('taskStarted', (l) => l.task === 't2');
      expect(fresh.of('taskStarted').find((l) => l.task === 't1')!.from).toBe(5000);
      expect(fresh.of('taskStarted').find((l) => l.task === 't2')!.from).toBe(0);
      await fresh.waitLine('saved', (l) => l.task === 't1' && l.offset === 5001);
    } finally {
      await admin.close();
    }
  });
});
