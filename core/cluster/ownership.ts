/**
 * Task ownership: this worker follows the assignment in ZooKeeper and owns exactly the tasks assigned
 * to it, one at a time per task, across sessions.
 *
 *   acquire  = multi[create task/{t}/owner (ephemeral, data nodeId), setData task/{t} (version -1)]
 *              → the new data version of task/{t} is this ownership's fencing epoch (the lease);
 *   fence    = every position write checks the epoch and the owner node (ZooKeeperPositionStore), so
 *              a worker whose ownership ended can never move a position;
 *   release  = emit taskReleasing, wait for the runtime to stop the task (waitUntil), delete the owner;
 *   abandon  = the session is lost: emit tasksLost at once; no task is acquired again before the
 *              runtime has stopped them (the loss barrier).
 * A new owner can only create the owner node once the previous owner's ephemeral is gone.
 */
import { ClusterError } from '../errors/index.ts';
import { Backoff } from '../runtime/backoff.ts';
import { parseAssignment, sameAssignment, type Assignment } from './assignment.ts';
import type { ReleaseReason, TaskLease, TaskNodeData } from './member-events.ts';
import { REGISTRY_BACKOFF, ScopeEnded, asError, nextEvent, retry, waitConnected, type MemberContext, type Scope } from './session-scope.ts';
import { ZkCode, isRetryable, isZkCode, type SessionLossReason, type Stat } from './zk-protocol.ts';

type SlotState = 'idle' | 'acquiring' | 'running' | 'releasing';

interface TaskSlot {
  task: string;
  state: SlotState;
  desired: boolean;
  lease?: TaskLease;
  /** The scope whose loop drives this slot, and that loop's promise. */
  driver?: Scope;
  driving?: Promise<void>;
  /** Wakes the driver out of a wait (the desired state changed). */
  wake?: () => void;
}

export class TaskOwnership {
  private readonly slots = new Map<string, TaskSlot>();
  private lossBarrier: Promise<void> = Promise.resolve();
  private current: Assignment = {};
  /** Per scope: an assignment read is in progress, and whether to read again after it. */
  private readonly reads = new WeakMap<Scope, { busy: boolean; again: boolean; failures: Backoff }>();

  constructor(
    private readonly ctx: MemberContext,
    /** The group's task names (from the configuration): an assigned task not among them is not run. */
    private readonly tasks: ReadonlySet<string>,
    /** The set of running tasks changed (the member data lists them). */
    private readonly onTasksChanged: () => void,
  ) {}

  /** The assignment as last read from ZooKeeper. */
  get assignment(): Readonly<Assignment> {
    return this.current;
  }

  /** Tasks this worker holds the owner node of (running or being released). */
  ownedTasks(): string[] {
    return [...this.slots.values()]
      .filter((s) => s.lease)
      .map((s) => s.task)
      .sort();
  }

  /** Tasks running now (acquired, not being released). */
  runningTasks(): string[] {
    return [...this.slots.values()]
      .filter((s) => s.state === 'running')
      .map((s) => s.task)
      .sort();
  }

  /** The lease of a task this worker owns now, else undefined. */
  lease(task: string): TaskLease | undefined {
    return this.slots.get(task)?.lease;
  }

  /** Read the assignment (and watch it) for the scope's lifetime; acquire and release to match it. */
  async follow(scope: Scope): Promise<void> {
    const { ctx } = this;
    let read = this.reads.get(scope);
    if (!read) this.reads.set(scope, (read = { busy: false, again: false, failures: new Backoff(REGISTRY_BACKOFF) }));
    if (read.busy) {
      read.again = true;
      return;
    }
    read.busy = true;
    const watcher = () => void this.follow(scope);
    try {
      do {
        read.again = false;
        let res = await retry(ctx, scope, 'read the assignment', () => ctx.zk.getData(ctx.paths.assignment, watcher));
        if (!res) {
          const stat = await retry(ctx, scope, 'watch for the assignment', () => ctx.zk.exists(ctx.paths.assignment, watcher));
          if (stat) {
            read.again = true;
            continue;
          }
          res = undefined;
        }
        const next = parseAssignment(res?.data);
        if (!sameAssignment(next, this.current)) {
          this.current = next;
          ctx.emit('assignment', next);
        }
        this.reconcile(scope);
      } while (read.again && scope.alive);
      read.failures.reset();
    } catch (err) {
      if (!(err instanceof ScopeEnded)) {
        ctx.warn(err, 'reading the assignment failed; retrying');
        setTimeout(() => void this.follow(scope), read.failures.next()).unref();
      }
    } finally {
      read.busy = false;
    }
  }

  /**
   * The session is gone: every lease ends now (synchronously, in the tick the loss is detected).
   * Returns the tasks that were running or being released; `stopLost` announces them.
   */
  dropLeases(): string[] {
    const lost: string[] = [];
    for (const slot of this.slots.values()) {
      if (slot.state === 'running' || slot.state === 'releasing') lost.push(slot.task);
      slot.lease = undefined;
      slot.state = 'idle';
      slot.driver = undefined;
      slot.wake?.();
    }
    return lost.sort();
  }

  /** Emit `tasksLost`; nothing is acquired again until the runtime has stopped those tasks. */
  stopLost(lost: string[], reason: SessionLossReason): void {
    if (lost.length === 0) return;
    const waits: Promise<unknown>[] = [];
    this.ctx.emit('tasksLost', { tasks: lost, reason, waitUntil: (p) => void waits.push(Promise.resolve(p)) });
    const previous = this.lossBarrier;
    this.lossBarrier = Promise.allSettled([previous, ...waits]).then(() => undefined);
  }

  /** Closing: release every task (or stop acquiring it) and wait until all are stopped. */
  async releaseAll(scope: Scope | undefined): Promise<void> {
    for (const slot of this.slots.values()) {
      slot.desired = false;
      slot.wake?.();
      if (scope?.alive) this.drive(slot, scope);
      else if (slot.state === 'running' || slot.state === 'releasing') await this.releaseWithoutSession(slot);
    }
    await Promise.allSettled([...this.slots.values()].map((s) => s.driving));
    await this.lossBarrier;
  }

  private slot(task: string): TaskSlot {
    let slot = this.slots.get(task);
    if (!slot) {
      slot = { task, state: 'idle', desired: false };
      this.slots.set(task, slot);
    }
    return slot;
  }

  private reconcile(scope: Scope): void {
    const { ctx } = this;
    const names = new Set([...this.slots.keys(), ...Object.keys(this.current)]);
    for (const task of names) {
      const mine = this.current[task] === ctx.nodeId;
      if (mine && !this.tasks.has(task)) {
        if (!this.slots.has(task))
          ctx.warn(new ClusterError(`task "${task}" is assigned to this worker but not in its configuration; not running it`, { task }), 'unknown task');
        this.slot(task); // remember we warned
        continue;
      }
      const slot = this.slot(task);
      slot.desired = mine && !ctx.isClosing() && scope.alive;
      this.drive(slot, scope);
    }
  }

  /** Move a slot towards its desired state; one driver loop per slot and scope. */
  private drive(slot: TaskSlot, scope: Scope): void {
    if (slot.driver === scope) {
      slot.wake?.();
      return;
    }
    slot.driver = scope;
    const run = async () => {
      try {
        while (scope.alive && slot.driver === scope) {
          if (slot.desired && slot.state === 'idle' && !this.ctx.isClosing()) {
            await Promise.race([this.lossBarrier, scope.ended]);
            if (!scope.alive) break;
            await this.acquire(slot, scope);
          } else if (!slot.desired && slot.state === 'running') {
            await this.release(slot, scope, this.ctx.isClosing() ? 'closing' : 'unassigned');
          } else break;
        }
      } catch (err) {
        if (!(err instanceof ScopeEnded)) this.ctx.warn(err, `driving task "${slot.task}" failed`);
      } finally {
        if (slot.driver === scope) slot.driver = undefined;
      }
    };
    slot.driving = run();
  }

  private async acquire(slot: TaskSlot, scope: Scope): Promise<void> {
    const { ctx } = this;
    const p = ctx.paths;
    const task = slot.task;
    const ownerPath = p.owner(task);
    const taskData = () => Buffer.from(JSON.stringify({ owner: ctx.nodeId, session: scope.sessionId, acquiredAt: Date.now() } satisfies TaskNodeData));
    slot.state = 'acquiring';
    let waitingLogged = false;
    for (;;) {
      if (!scope.alive) throw new ScopeEnded();
      if (!slot.desired || ctx.isClosing()) {
        slot.state = 'idle';
        return;
      }
      try {
        const res = await ctx.zk.multi([
          { op: 'create', path: ownerPath, data: Buffer.from(ctx.nodeId), mode: 'ephemeral' },
          { op: 'setData', path: p.task(task), data: taskData(), version: -1 },
        ]);
        if (!scope.alive) throw new ScopeEnded();
        this.grant(slot, scope, res[1]!.stat!.version, 0);
        return;
      } catch (err) {
        if (!scope.alive || err instanceof ScopeEnded) throw new ScopeEnded();
        if (isRetryable(err)) {
          await waitConnected(ctx, scope);
          continue; // the next round finds the owner node if the create went through
        }
        if (isZkCode(err, ZkCode.NO_NODE)) {
          await retry(ctx, scope, 'create the task node', () => ctx.zk.mkdirp(p.task(task)));
          continue;
        }
        if (!isZkCode(err, ZkCode.NODE_EXISTS)) throw err;
      }
      // The owner node exists: ours (a reply lost), an old session's of ours, or another worker's.
      const change = nextEvent(scope);
      slot.wake = change.fire;
      const stat = await retry(ctx, scope, 'inspect the owner node', () => ctx.zk.exists(ownerPath, change.watcher));
      if (!stat) continue;
      if (ctx.zk.isCurrentSession(stat.ephemeralOwner)) {
        const epoch = await this.adopt(slot, scope, stat, taskData());
        if (epoch !== undefined) {
          this.grant(slot, scope, epoch, stat.version);
          return;
        }
        continue;
      }
      if (ctx.zk.isOwnSession(stat.ephemeralOwner)) {
        await retry(ctx, scope, 'remove an old owner node', () =>
          ctx.zk.remove(ownerPath, stat.version).catch((e) => (isZkCode(e, ZkCode.BAD_VERSION) ? false : Promise.reject(e))),
        );
        continue;
      }
      if (!waitingLogged) {
        waitingLogged = true;
        const holder = await ctx.zk.getData(ownerPath).catch(() => undefined);
        ctx.log.info({ task, holder: holder?.data.toString('utf8') }, 'task assigned here; waiting for the previous owner to let go');
      }
      await change.promise;
    }
  }

  /** The owner node is ours already (a create whose reply was lost): bump the epoch conditionally. */
  private async adopt(slot: TaskSlot, scope: Scope, ownerStat: Stat, data: Buffer): Promise<number | undefined> {
    const { ctx } = this;
    const p = ctx.paths;
    const taskStat = await retry(ctx, scope, 'inspect the task node', () => ctx.zk.exists(p.task(slot.task)));
    if (!taskStat) return undefined;
    try {
      const res = await retry(ctx, scope, 'adopt the owner node', () =>
        ctx.zk.multi([
          { op: 'check', path: p.owner(slot.task), version: ownerStat.version },
          { op: 'setData', path: p.task(slot.task), data, version: taskStat.version },
        ]),
      );
      return res[1]!.stat!.version;
    } catch (err) {
      if (isZkCode(err, ZkCode.BAD_VERSION, ZkCode.NO_NODE)) return undefined;
      throw err;
    }
  }

  private grant(slot: TaskSlot, scope: Scope, epoch: number, ownerVersion: number): void {
    const lease: TaskLease = {
      task: slot.task,
      epoch,
      ownerPath: this.ctx.paths.owner(slot.task),
      ownerVersion,
      sessionId: scope.sessionId,
      acquiredAt: Date.now(),
    };
    slot.lease = lease;
    slot.state = 'running';
    this.ctx.log.info({ task: slot.task, epoch }, 'task acquired');
    this.onTasksChanged();
    this.ctx.emit('taskAcquired', slot.task, lease);
  }

  private async release(slot: TaskSlot, scope: Scope, reason: ReleaseReason): Promise<void> {
    const { ctx } = this;
    slot.state = 'releasing';
    const waits: Promise<unknown>[] = [];
    ctx.log.info({ task: slot.task, reason }, 'releasing task');
    ctx.emit('taskReleasing', { task: slot.task, reason, waitUntil: (p) => void waits.push(Promise.resolve(p)) });
    const results = await Promise.allSettled(waits);
    for (const r of results) if (r.status === 'rejected') ctx.warn(asError(r.reason), `stopping task "${slot.task}" failed; releasing it anyway`);
    if (!scope.alive) throw new ScopeEnded(); // tasksLost covered it
    const lease = slot.lease;
    slot.lease = undefined; // from here on, position writes of this worker are refused locally too
    if (lease) {
      await retry(ctx, scope, 'delete the owner node', async () => {
        const stat = await ctx.zk.exists(lease.ownerPath);
        if (stat && ctx.zk.isCurrentSession(stat.ephemeralOwner)) await ctx.zk.remove(lease.ownerPath, stat.version);
      });
    }
    slot.state = 'idle';
    ctx.log.info({ task: slot.task }, 'task released');
    this.onTasksChanged();
    ctx.emit('taskReleased', slot.task);
  }

  /** Closing without a session: the tasks stop all the same; their owner nodes go with the session. */
  private async releaseWithoutSession(slot: TaskSlot): Promise<void> {
    slot.state = 'releasing';
    const waits: Promise<unknown>[] = [];
    this.ctx.emit('taskReleasing', { task: slot.task, reason: 'closing', waitUntil: (p) => void waits.push(Promise.resolve(p)) });
    await Promise.allSettled(waits);
    slot.lease = undefined;
    slot.state = 'idle';
    this.ctx.emit('taskReleased', slot.task);
  }
}
