/**
 * PositionStore backed by ZooKeeper: `/tunnel/{cluster}/{group}/task/{task}/position`, JSON bytes.
 *
 * Every write is one multi:
 *   check  task/{task}        version == the lease's epoch   (no other acquisition since ours)
 *   check  task/{task}/owner  version == the lease's         (our owner node still exists)
 *   setData position          version == the one we last read or wrote   (create when there was none)
 * so a worker that lost its ownership — its session expired, the task moved, it was frozen — can never
 * move a position forwards or backwards; it gets FencedError and the node is unchanged.
 */
import type { PositionStore, StoredPosition } from '../checkpoint/position-store.ts';
import { ClusterError, FencedError } from '../errors/index.ts';
import type { TaskLease } from './member-events.ts';
import type { ClusterMember } from './member.ts';
import { decodePosition, encodePosition, storedOnly } from './position-codec.ts';
import { ZkCode, isRetryable, isZkCode, type ZkOp } from './zk-protocol.ts';
import { ZooKeeperSaveAvailability } from './save-availability.ts';

interface Known {
  /** The lease epoch the version was learnt under. */
  epoch: number;
  /** Data version of the position node, or -1 when it did not exist. */
  version: number;
}

export class ZooKeeperPositionStore implements PositionStore {
  private readonly known = new Map<string, Known>();
  private readonly queues = new Map<string, Promise<void>>();

  /** Not while the session is disconnected, nor while a save goes unanswered (save-availability.ts). */
  readonly availability: ZooKeeperSaveAvailability;

  constructor(
    private readonly member: ClusterMember,
    options: { stalledSaveMs?: number } = {},
  ) {
    this.availability = new ZooKeeperSaveAvailability(member.zk, options.stalledSaveMs);
  }

  /** The stored position, or undefined when the task has none. Remembers the node's version. */
  async load(task: string): Promise<StoredPosition | undefined> {
    const path = this.member.paths.position(task);
    const res = await this.withReconnect(() => this.member.zk.getData(path));
    const lease = this.member.lease(task);
    if (lease) this.known.set(task, { epoch: lease.epoch, version: res ? res.stat.version : -1 });
    if (!res) return undefined;
    return storedOnly(decodePosition(res.data, path));
  }

  /**
   * Fenced, version-conditional write; FencedError when this worker does not own the task (any more).
   * Saves of one task are applied one after the other, in call order.
   */
  save(task: string, stored: StoredPosition): Promise<void> {
    const previous = this.queues.get(task) ?? Promise.resolve();
    const next = this.availability.track(previous.catch(() => undefined).then(() => this.saveNow(task, stored)));
    const tail = next.catch(() => undefined);
    this.queues.set(task, tail);
    void tail.then(() => {
      if (this.queues.get(task) === tail) this.queues.delete(task);
    });
    return next;
  }

  private async saveNow(task: string, stored: StoredPosition): Promise<void> {
    const lease = this.requireLease(task, 'save its position');
    const path = this.member.paths.position(task);
    const bytes = encodePosition(stored, this.member.nodeId, lease.epoch);
    let version = await this.expectedVersion(task, lease);
    for (let attempt = 0; attempt < 5; attempt++) {
      const write: ZkOp = version < 0 ? { op: 'create', path, data: bytes } : { op: 'setData', path, data: bytes, version };
      try {
        const res = await this.member.zk.multi([...this.fence(lease), write]);
        this.known.set(task, { epoch: lease.epoch, version: version < 0 ? 0 : res[2]!.stat!.version });
        return;
      } catch (err) {
        this.known.delete(task);
        if (isZkCode(err, ZkCode.SESSION_EXPIRED)) throw this.fenced(task, lease, 'the ZooKeeper session was lost', err);
        if (isRetryable(err)) await this.member.zk.waitConnected().catch(() => undefined);
        else if (isZkCode(err, ZkCode.BAD_VERSION, ZkCode.NO_NODE, ZkCode.NODE_EXISTS)) {
          const broken = err.failedOp === 0 || err.failedOp === 1 ? err.failedOp : err.failedOp === undefined ? await this.brokenFence(lease) : undefined;
          if (broken === 0) throw this.fenced(task, lease, 'another acquisition (or a reset) happened since this worker acquired the task', err);
          if (broken === 1) throw this.fenced(task, lease, 'this worker no longer holds the owner node', err);
        } else throw err;
        // The write may have gone through with its reply lost, or the version we knew is stale.
        const current = this.requireLease(task, 'save its position');
        if (current.epoch !== lease.epoch) throw this.fenced(task, lease, 'the task was acquired again since');
        const now = await this.withReconnect(() => this.member.zk.getData(path));
        if (now && now.data.equals(bytes)) {
          this.known.set(task, { epoch: lease.epoch, version: now.stat.version });
          return;
        }
        if (!isRetryable(err)) {
          throw this.fenced(task, lease, 'the position node was changed by someone else since this worker read it', err);
        }
        version = now ? now.stat.version : -1;
      }
    }
    throw new ClusterError(`could not save the position of task "${task}": ZooKeeper kept failing`, { task });
  }

  /** Remove the task's position (fenced like save). */
  async clear(task: string): Promise<void> {
    const lease = this.requireLease(task, 'clear its position');
    const path = this.member.paths.position(task);
    try {
      await this.member.zk.multi([...this.fence(lease), { op: 'remove', path, version: -1 }]);
    } catch (err) {
      if (isZkCode(err, ZkCode.NO_NODE) && (err.failedOp === 2 || (err.failedOp === undefined && (await this.brokenFence(lease)) === undefined))) {
        // nothing stored: fine
      } else if (isZkCode(err, ZkCode.BAD_VERSION, ZkCode.NO_NODE, ZkCode.SESSION_EXPIRED)) {
        throw this.fenced(task, lease, 'this worker no longer owns the task', err);
      } else throw err;
    }
    this.known.set(task, { epoch: lease.epoch, version: -1 });
  }

  /** The member owns the connection; nothing to close here. */
  async close(): Promise<void> {
    this.known.clear();
  }

  private fence(lease: TaskLease): ZkOp[] {
    return [
      { op: 'check', path: this.member.paths.task(lease.task), version: lease.epoch },
      { op: 'check', path: lease.ownerPath, version: lease.ownerVersion },
    ];
  }

  /** Which fence op fails now (0: the epoch moved, 1: the owner node is gone or changed), if any. */
  private async brokenFence(lease: TaskLease): Promise<0 | 1 | undefined> {
    const [taskStat, ownerStat] = await Promise.all([
      this.withReconnect(() => this.member.zk.exists(this.member.paths.task(lease.task))),
      this.withReconnect(() => this.member.zk.exists(lease.ownerPath)),
    ]);
    if (!taskStat || taskStat.version !== lease.epoch) return 0;
    if (!ownerStat || ownerStat.version !== lease.ownerVersion) return 1;
    return undefined;
  }

  private requireLease(task: string, what: string): TaskLease {
    const lease = this.member.lease(task);
    // checkAlive: a process that was frozen longer than the session timeout must not write before it
    // knows its session survived.
    if (!lease || !this.member.zk.checkAlive() || !this.member.lease(task)) {
      throw new FencedError(`task "${task}" is not owned by this worker (${this.member.nodeId}); refusing to ${what}`, { task, node: this.member.nodeId });
    }
    return lease;
  }

  private async expectedVersion(task: string, lease: TaskLease): Promise<number> {
    const known = this.known.get(task);
    if (known && known.epoch === lease.epoch) return known.version;
    const stat = await this.withReconnect(() => this.member.zk.exists(this.member.paths.position(task)));
    return stat ? stat.version : -1;
  }

  private fenced(task: string, lease: TaskLease, why: string, cause?: unknown): FencedError {
    return new FencedError(`position write for task "${task}" refused: ${why}`, { task, node: this.member.nodeId, epoch: lease.epoch }, { cause });
  }

  private async withReconnect<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isRetryable(err) || attempt >= 5) throw err;
        await this.member.zk.waitConnected();
      }
    }
  }
}
