/**
 * ClusterMember: one worker's part in its group — membership, leader election, the leader's task
 * assignment, and task ownership with fencing. The runtime listens to its events and runs exactly the
 * tasks it was handed; see the README ("Cluster (ZooKeeper)") for the registry layout and the protocol.
 *
 * Ownership protocol (per task):
 *   acquire  = multi[create task/{t}/owner (ephemeral, data nodeId), setData task/{t} (version -1)]
 *              → the new data version of task/{t} is this ownership's fencing epoch;
 *   position = multi[check task/{t} == epoch, check owner == its version, setData position == expected]
 *              (ZooKeeperPositionStore), so a worker whose ownership ended can never move a position;
 *   release  = emit taskReleasing, wait for the runtime to stop the task (waitUntil), delete the owner.
 * A new owner can only create the owner node once the previous owner's ephemeral is gone.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { ClusterError } from '../errors/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { computeAssignment, movedTasks, parseAssignment, sameAssignment, type Assignment } from './assignment.ts';
import { registryPaths, type RegistryPaths } from './registry-paths.ts';
import { ZkConnection, ZkCode, ZkError, isRetryable, isZkCode, type SessionLossReason, type SessionState, type Stat, type ZkAuth } from './zk-client.ts';

export interface ClusterMemberOptions {
  /** ZooKeeper connect string `host:port[,host:port...][/chroot]`. */
  connect: string;
  cluster: string;
  group: string;
  /** This worker's id in `nodes/`; by convention host:port of its status endpoint. */
  nodeId: string;
  /** Written to `election` while this worker leads. Default: nodeId. */
  address?: string;
  /** Requested ZooKeeper session timeout. Default 10 000 ms. */
  sessionTimeoutMs?: number;
  /** Digest credentials (authenticate and put digest ACLs on created nodes). */
  auth?: ZkAuth;
  /** With auth: let anyone read the nodes (operators' tools). Default false. */
  worldReadable?: boolean;
  /** The group's task names (from the configuration). */
  tasks: readonly string[];
  /** `{task: nodeId}`: the leader puts the task on that node whenever it is alive. */
  pins?: Readonly<Record<string, string>>;
  /** Extra fields for this worker's `nodes/{node}` data. */
  advertise?: Readonly<Record<string, unknown>>;
  /** Tunnel version for the member data. Default: package.json's. */
  version?: string;
  /** The leader waits this long after a membership change before rebalancing (coalesces bursts). Default 100 ms. */
  rebalanceDelayMs?: number;
  logger?: Logger;
}

/** The JSON data of `nodes/{node}`. */
export interface MemberData {
  nodeId: string;
  address: string;
  version: string;
  /** ISO-8601 start time of this worker process. */
  startedAt: string;
  host: string;
  pid: number;
  /** Tasks this worker runs now (holds the owner node of). */
  tasks: string[];
  [extra: string]: unknown;
}

/** The JSON data of `task/{task}`: the last acquisition (or reset). Its data version is the fencing epoch. */
export interface TaskNodeData {
  owner?: string;
  session?: string;
  acquiredAt?: number;
  resetAt?: number;
}

/** What this worker holds while it owns a task. */
export interface TaskLease {
  task: string;
  /** Data version of `task/{task}` set by this acquisition; position writes are checked against it. */
  epoch: number;
  ownerPath: string;
  /** Data version of the owner node (0 unless someone changed it). */
  ownerVersion: number;
  sessionId: string;
  acquiredAt: number;
}

export type ReleaseReason = 'unassigned' | 'closing';

/** Payload of `taskReleasing`: stop the task, and pass the stop's promise to waitUntil. */
export interface TaskRelease {
  task: string;
  reason: ReleaseReason;
  /** The owner node is kept until every promise given here has settled (the task has stopped). */
  waitUntil(promise: PromiseLike<unknown>): void;
}

/** Payload of `tasksLost`: the session is gone (or presumed gone); stop these tasks now. */
export interface TasksLost {
  tasks: string[];
  reason: SessionLossReason;
  /** No task is acquired again (in the next session) before these promises have settled. */
  waitUntil(promise: PromiseLike<unknown>): void;
}

export interface ClusterMemberEvents {
  /** Member node and election candidate are in place in a (new) session. */
  registered: [info: { sessionId: string; nodeId: string }];
  /** This worker became the group's leader. */
  elected: [];
  /** This worker is no longer leader (session lost or closing). */
  deposed: [];
  /** The assignment as read from ZooKeeper changed. */
  assignment: [assignment: Readonly<Assignment>];
  /** The leader wrote a new assignment; `moved` lists tasks whose owner changed. */
  rebalanced: [info: { assignment: Readonly<Assignment>; moved: string[] }];
  /** This worker now holds the task's owner node: start the task (load its position first). */
  taskAcquired: [task: string, lease: TaskLease];
  /** Stop the task; give the stop's promise to `waitUntil`. The owner node is deleted afterwards. */
  taskReleasing: [release: TaskRelease];
  /** The owner node is deleted; another worker may take the task. */
  taskReleased: [task: string];
  /** Session lost: stop every listed task at once. Emitted synchronously when the loss is detected. */
  tasksLost: [lost: TasksLost];
  sessionState: [state: SessionState];
  /** A non-fatal problem (logged too); the member keeps trying. */
  warning: [error: Error];
}

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

/** Everything that belongs to one ZooKeeper session; ends when the session is lost or closed. */
class Scope {
  alive = true;
  readonly ended: Promise<void>;
  private endFn!: () => void;
  candidatePath?: string;
  leader = false;
  rebalanceTimer?: NodeJS.Timeout;
  rebalancing = false;
  rebalanceAgain = false;
  readingAssignment = false;
  readAssignmentAgain = false;
  memberDataBusy = false;
  memberDataDirty = false;
  nodesWatcher?: () => void;
  constructor(
    readonly generation: number,
    readonly sessionId: string,
  ) {
    this.ended = new Promise((resolve) => (this.endFn = resolve));
  }
  end(): void {
    if (!this.alive) return;
    this.alive = false;
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    this.endFn();
  }
}

class ScopeEnded extends Error {
  constructor() {
    super('session scope ended');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function sequenceOf(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

export class ClusterMember extends EventEmitter<ClusterMemberEvents> {
  readonly nodeId: string;
  readonly address: string;
  readonly paths: RegistryPaths;
  readonly zk: ZkConnection;
  private readonly opts: ClusterMemberOptions;
  private readonly log: Logger;
  private readonly tasks: Set<string>;
  private readonly startedAt = new Date().toISOString();
  private readonly slots = new Map<string, TaskSlot>();
  private scope: Scope | undefined;
  private lossBarrier: Promise<void> = Promise.resolve();
  private closing = false;
  private closed = false;
  private started = false;
  private registered = false;
  private _assignment: Assignment = {};
  private firstRegistration: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };

  constructor(options: ClusterMemberOptions) {
    super();
    this.opts = { ...options };
    this.nodeId = options.nodeId;
    this.address = options.address ?? options.nodeId;
    this.paths = registryPaths(options.cluster, options.group);
    this.paths.node(this.nodeId); // validates the node id
    this.tasks = new Set(options.tasks);
    for (const t of this.tasks) this.paths.task(t); // validates task names
    this.log = (options.logger ?? silentLogger()).child({ component: 'cluster', node: this.nodeId });
    this.zk = new ZkConnection({
      connect: options.connect,
      sessionTimeoutMs: options.sessionTimeoutMs,
      auth: options.auth,
      worldReadable: options.worldReadable,
      logger: options.logger,
    });
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.firstRegistration = { promise, resolve, reject };
  }

  // ------------------------------------------------------------------------------------------------
  // public state

  get sessionState(): SessionState {
    return this.zk.state;
  }
  get isLeader(): boolean {
    return this.scope?.leader === true;
  }
  /** The assignment as last read from ZooKeeper. */
  get assignment(): Readonly<Assignment> {
    return this._assignment;
  }
  /** Tasks this worker holds the owner node of (running or being released). */
  ownedTasks(): string[] {
    return [...this.slots.values()]
      .filter((s) => s.lease)
      .map((s) => s.task)
      .sort();
  }
  /** The lease of a task this worker owns now, else undefined. */
  lease(task: string): TaskLease | undefined {
    return this.slots.get(task)?.lease;
  }
  /** The leader's address from `election`, or undefined when there is no leader. */
  async leader(): Promise<string | undefined> {
    const res = await this.zk.getData(this.paths.election);
    return res?.data.toString('utf8');
  }

  // ------------------------------------------------------------------------------------------------
  // lifecycle

  /**
   * Connect and register; resolves once this worker is in `nodes/` and in the election. Rejects (after
   * closing) when the first registration cannot succeed, e.g. NO_AUTH on the registry paths.
   */
  async start(): Promise<void> {
    if (this.started) return this.firstRegistration.promise;
    this.started = true;
    this.zk.on('state', (s) => this.safeEmit('sessionState', s));
    this.zk.on('session', ({ sessionId, generation }) => this.onSession(sessionId, generation));
    this.zk.on('sessionLost', ({ reason }) => this.onSessionLost(reason));
    try {
      await this.zk.start();
      await this.firstRegistration.promise;
    } catch (err) {
      await this.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Leave gracefully: the member node goes first (the leader reassigns at once), then the election;
   * every task is released (taskReleasing, waiting for the runtime) and its owner node deleted; then the
   * session is closed.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const scope = this.scope;
    this.firstRegistration.reject(new ClusterError('cluster member closed before it registered'));
    if (scope?.alive && this.zk.state === 'connected') {
      await this.tryZk('leave the group', () => this.zk.remove(this.paths.node(this.nodeId)));
      if (scope.leader) {
        await this.tryZk('give up leadership', async () => {
          const stat = await this.zk.exists(this.paths.election);
          if (stat && this.zk.isCurrentSession(stat.ephemeralOwner)) await this.zk.remove(this.paths.election, stat.version);
        });
        scope.leader = false;
        this.safeEmit('deposed');
      }
      if (scope.candidatePath) {
        const path = scope.candidatePath;
        scope.candidatePath = undefined;
        await this.tryZk('leave the election', () => this.zk.remove(path));
      }
    }
    // Release every task (or stop wanting the ones being acquired).
    for (const slot of this.slots.values()) {
      slot.desired = false;
      slot.wake?.();
      if (scope?.alive) this.drive(slot, scope);
      else if (slot.state === 'running' || slot.state === 'releasing') await this.releaseWithoutSession(slot);
    }
    await Promise.allSettled([...this.slots.values()].map((s) => s.driving));
    await this.lossBarrier;
    scope?.end();
    this.scope = undefined;
    await this.zk.close();
    this.closed = true;
    this.log.info('left the cluster');
  }

  // ------------------------------------------------------------------------------------------------
  // sessions

  private onSession(sessionId: string, generation: number): void {
    if (this.closing) return;
    this.scope?.end();
    const scope = new Scope(generation, sessionId);
    this.scope = scope;
    void this.registerInScope(scope);
  }

  private async registerInScope(scope: Scope): Promise<void> {
    try {
      await this.register(scope);
      this.registered = true;
      this.log.info({ sessionId: scope.sessionId }, 'registered in the group');
      this.safeEmit('registered', { sessionId: scope.sessionId, nodeId: this.nodeId });
      this.firstRegistration.resolve();
    } catch (err) {
      if (err instanceof ScopeEnded || !scope.alive || this.closing) return;
      this.warn(err, 'registration in the group failed');
      if (!this.registered) {
        // start() fails (and closes) on a first registration that cannot succeed, e.g. NO_AUTH.
        this.firstRegistration.reject(err instanceof Error ? err : new ClusterError(String(err)));
        return;
      }
      await Promise.race([sleep(1000), scope.ended]);
      if (scope.alive && !this.closing) void this.registerInScope(scope);
    }
  }

  /** Synchronous on purpose: the runtime hears `tasksLost` in the same tick the loss is detected. */
  private onSessionLost(reason: SessionLossReason): void {
    const scope = this.scope;
    this.scope = undefined;
    const wasLeader = scope?.leader === true;
    scope?.end();
    const lost: string[] = [];
    for (const slot of this.slots.values()) {
      if (slot.state === 'running' || slot.state === 'releasing') lost.push(slot.task);
      slot.lease = undefined;
      slot.state = 'idle';
      slot.driver = undefined;
      slot.wake?.();
    }
    if (wasLeader) this.safeEmit('deposed');
    this.log.warn({ reason, tasks: lost }, 'zookeeper session lost: every task stops now');
    if (lost.length > 0) {
      const waits: Promise<unknown>[] = [];
      this.safeEmit('tasksLost', { tasks: lost.sort(), reason, waitUntil: (p) => void waits.push(Promise.resolve(p)) });
      const previous = this.lossBarrier;
      this.lossBarrier = Promise.allSettled([previous, ...waits]).then(() => undefined);
    }
  }

  private async register(scope: Scope): Promise<void> {
    const p = this.paths;
    await this.retry(scope, 'create the group paths', async () => {
      const shared = p.groupRoot.slice(0, p.groupRoot.lastIndexOf('/')); // /tunnel/{cluster}
      await this.zk.mkdirp(p.nodes, { shared });
      await this.zk.mkdirp(p.candidates);
      await this.zk.mkdirp(p.tasks);
    });
    await this.cleanupOwnStaleNodes(scope);
    await this.createMemberNode(scope);
    await this.joinElection(scope);
    void this.watchAssignment(scope);
    void this.runElection(scope).catch((err) => {
      if (!(err instanceof ScopeEnded)) this.warn(err, 'election failed');
    });
  }

  /**
   * Ephemeral nodes left by an earlier session of this process (abandoned after a presumed loss) are
   * deleted, so the new session need not wait for the old one to expire.
   */
  private async cleanupOwnStaleNodes(scope: Scope): Promise<void> {
    const p = this.paths;
    const removeIfStale = async (path: string) => {
      const stat = await this.retry(scope, 'inspect ' + path, () => this.zk.exists(path));
      if (stat && this.zk.isOwnSession(stat.ephemeralOwner) && !this.zk.isCurrentSession(stat.ephemeralOwner)) {
        await this.retry(scope, 'remove ' + path, () =>
          this.zk.remove(path, stat.version).catch((err) => (isZkCode(err, ZkCode.BAD_VERSION) ? false : Promise.reject(err))),
        );
        this.log.info({ path }, 'removed a node of an earlier session of this worker');
      }
    };
    const candidates = (await this.retry(scope, 'list candidates', () => this.zk.getChildren(p.candidates))) ?? [];
    await Promise.all([
      removeIfStale(p.node(this.nodeId)),
      removeIfStale(p.election),
      ...candidates.map((c) => removeIfStale(`${p.candidates}/${c}`)),
      ...[...this.tasks].map((t) => removeIfStale(p.owner(t))),
    ]);
  }

  private memberData(): MemberData {
    return {
      ...(this.opts.advertise ?? {}),
      nodeId: this.nodeId,
      address: this.address,
      version: this.opts.version ?? packageVersion(),
      startedAt: this.startedAt,
      host: hostname(),
      pid: process.pid,
      tasks: [...this.slots.values()]
        .filter((s) => s.state === 'running')
        .map((s) => s.task)
        .sort(),
    };
  }

  private async createMemberNode(scope: Scope): Promise<void> {
    const path = this.paths.node(this.nodeId);
    let warned = false;
    for (;;) {
      try {
        await this.retry(scope, 'register the member node', () => this.zk.create(path, Buffer.from(JSON.stringify(this.memberData())), 'ephemeral'));
        return;
      } catch (err) {
        if (!isZkCode(err, ZkCode.NODE_EXISTS)) throw err;
      }
      const deleted = this.nextEvent(scope);
      const stat = await this.retry(scope, 'inspect the member node', () => this.zk.exists(path, deleted.watcher));
      if (!stat) continue;
      if (this.zk.isCurrentSession(stat.ephemeralOwner)) return; // created by us; the reply was lost
      if (this.zk.isOwnSession(stat.ephemeralOwner)) {
        await this.retry(scope, 'remove the old member node', () => this.zk.remove(path));
        continue;
      }
      if (!warned) {
        warned = true;
        this.warn(
          new ClusterError(
            `node id "${this.nodeId}" is registered by another session (a previous process of this worker, or a second worker with the same id); waiting for it to go`,
            { path },
          ),
          'member node taken',
        );
      }
      await deleted.promise;
    }
  }

  /** Schedule a member-data update (the tasks list changed). Coalesces. */
  private updateMemberData(): void {
    const scope = this.scope;
    if (!scope?.alive || this.closing) return;
    scope.memberDataDirty = true;
    if (scope.memberDataBusy) return;
    scope.memberDataBusy = true;
    void (async () => {
      try {
        while (scope.memberDataDirty && scope.alive && !this.closing) {
          scope.memberDataDirty = false;
          await this.retry(scope, 'update the member data', async () => {
            try {
              await this.zk.setData(this.paths.node(this.nodeId), Buffer.from(JSON.stringify(this.memberData())));
            } catch (err) {
              if (!isZkCode(err, ZkCode.NO_NODE)) throw err; // closing: the node is gone already
            }
          });
        }
      } catch (err) {
        if (!(err instanceof ScopeEnded)) this.warn(err, 'member data update failed');
      } finally {
        scope.memberDataBusy = false;
      }
    })();
  }

  // ------------------------------------------------------------------------------------------------
  // election: ephemeral sequential candidates, each watching only its predecessor

  private async joinElection(scope: Scope): Promise<void> {
    const data = Buffer.from(JSON.stringify({ nodeId: this.nodeId, address: this.address }));
    for (;;) {
      // A create whose reply was lost may have made a candidate: find ours before making another.
      const existing = await this.findOwnCandidate(scope);
      if (existing) {
        scope.candidatePath = existing;
        return;
      }
      try {
        scope.candidatePath = await this.zk.create(this.paths.candidatePrefix(), data, 'ephemeral_sequential');
        return;
      } catch (err) {
        if (!scope.alive) throw new ScopeEnded();
        if (!isRetryable(err)) throw err;
        await this.waitConnected(scope);
      }
    }
  }

  private async findOwnCandidate(scope: Scope): Promise<string | undefined> {
    const children = (await this.retry(scope, 'list candidates', () => this.zk.getChildren(this.paths.candidates))) ?? [];
    for (const c of children) {
      const path = `${this.paths.candidates}/${c}`;
      const stat = await this.retry(scope, 'inspect a candidate', () => this.zk.exists(path));
      if (stat && this.zk.isCurrentSession(stat.ephemeralOwner)) return path;
    }
    return undefined;
  }

  private async runElection(scope: Scope): Promise<void> {
    while (scope.alive && !this.closing) {
      const mine = scope.candidatePath;
      if (!mine) return; // left the election (closing)
      const myName = mine.slice(mine.lastIndexOf('/') + 1);
      const children = ((await this.retry(scope, 'list candidates', () => this.zk.getChildren(this.paths.candidates))) ?? []).sort(
        (a, b) => sequenceOf(a) - sequenceOf(b) || (a < b ? -1 : 1),
      );
      const index = children.indexOf(myName);
      if (index < 0) {
        if (this.closing || !scope.alive) return;
        this.warn(new ClusterError("this worker's election candidate disappeared; joining again", { path: mine }), 'election');
        scope.candidatePath = undefined;
        await this.joinElection(scope);
        continue;
      }
      if (index === 0) {
        await this.lead(scope);
        return;
      }
      const predecessor = `${this.paths.candidates}/${children[index - 1]!}`;
      const change = this.nextEvent(scope);
      const stat = await this.retry(scope, 'watch the predecessor candidate', () => this.zk.exists(predecessor, change.watcher));
      if (!stat) continue;
      this.log.debug({ predecessor }, 'waiting for the predecessor candidate');
      await change.promise;
    }
  }

  private async lead(scope: Scope): Promise<void> {
    await this.claimElectionNode(scope);
    if (!scope.alive || this.closing) return;
    scope.leader = true;
    this.log.info({ address: this.address }, 'elected leader');
    this.safeEmit('elected');
    this.watchNodes(scope);
    this.scheduleRebalance(scope);
  }

  /** Write our address to the (ephemeral) election node; wait out a leftover of a departing leader. */
  private async claimElectionNode(scope: Scope): Promise<void> {
    const path = this.paths.election;
    const data = Buffer.from(this.address);
    for (;;) {
      if (!scope.alive || this.closing) return;
      try {
        await this.retry(scope, 'claim the election node', () => this.zk.create(path, data, 'ephemeral'));
        return;
      } catch (err) {
        if (!isZkCode(err, ZkCode.NODE_EXISTS)) throw err;
      }
      const gone = this.nextEvent(scope);
      const stat = await this.retry(scope, 'inspect the election node', () => this.zk.exists(path, gone.watcher));
      if (!stat) continue;
      if (this.zk.isCurrentSession(stat.ephemeralOwner)) {
        await this.retry(scope, 'update the election node', () => this.zk.setData(path, data));
        return;
      }
      if (this.zk.isOwnSession(stat.ephemeralOwner)) {
        await this.retry(scope, 'remove an old election node', () => this.zk.remove(path));
        continue;
      }
      this.log.info("the previous leader's election node is still there; waiting for it to go");
      await gone.promise;
    }
  }

  // ------------------------------------------------------------------------------------------------
  // leader: assignment

  private watchNodes(scope: Scope): void {
    const watcher = () => {
      if (scope.alive && scope.leader) this.scheduleRebalance(scope);
    };
    // The watch is (re)armed by every rebalance's getChildren (the library keeps one per function).
    scope.nodesWatcher = watcher;
  }

  private scheduleRebalance(scope: Scope): void {
    if (!scope.alive) return;
    if (scope.rebalanceTimer) return;
    scope.rebalanceTimer = setTimeout(() => {
      scope.rebalanceTimer = undefined;
      void this.rebalance(scope);
    }, this.opts.rebalanceDelayMs ?? 100);
  }

  private async rebalance(scope: Scope): Promise<void> {
    if (scope.rebalancing) {
      scope.rebalanceAgain = true;
      return;
    }
    scope.rebalancing = true;
    try {
      do {
        scope.rebalanceAgain = false;
        if (!scope.alive || !scope.leader) return;
        const nodes = (await this.retry(scope, 'list the members', () => this.zk.getChildren(this.paths.nodes, scope.nodesWatcher))) ?? [];
        const live = this.closing ? nodes.filter((n) => n !== this.nodeId) : nodes;
        const current = await this.retry(scope, 'read the assignment', () => this.zk.getData(this.paths.assignment));
        const previous = parseAssignment(current?.data);
        const next = computeAssignment({ tasks: [...this.tasks], nodes: live, previous, pins: this.opts.pins });
        if (current && sameAssignment(previous, next)) continue;
        const bytes = Buffer.from(JSON.stringify(next));
        const guard = { op: 'check' as const, path: scope.candidatePath ?? this.paths.candidates + '/-', version: -1 };
        try {
          await this.retry(scope, 'write the assignment', () =>
            this.zk.multi(
              current
                ? [guard, { op: 'setData', path: this.paths.assignment, data: bytes, version: current.stat.version }]
                : [guard, { op: 'create', path: this.paths.assignment, data: bytes }],
            ),
          );
        } catch (err) {
          if (isZkCode(err, ZkCode.BAD_VERSION, ZkCode.NODE_EXISTS, ZkCode.NO_NODE)) {
            scope.rebalanceAgain = true; // someone wrote in between (or a write of ours whose reply was lost): read again
            continue;
          }
          throw err;
        }
        const moved = movedTasks(previous, next);
        this.log.info({ nodes: live, moved, assignment: next }, 'assignment written');
        this.safeEmit('rebalanced', { assignment: next, moved });
      } while (scope.rebalanceAgain && scope.alive);
    } catch (err) {
      if (!(err instanceof ScopeEnded)) {
        this.warn(err, 'rebalance failed; retrying');
        setTimeout(() => this.scheduleRebalance(scope), 500).unref();
      }
    } finally {
      scope.rebalancing = false;
    }
  }

  // ------------------------------------------------------------------------------------------------
  // everyone: follow the assignment, own the assigned tasks

  private async watchAssignment(scope: Scope): Promise<void> {
    if (scope.readingAssignment) {
      scope.readAssignmentAgain = true;
      return;
    }
    scope.readingAssignment = true;
    const watcher = () => void this.watchAssignment(scope);
    try {
      do {
        scope.readAssignmentAgain = false;
        let res = await this.retry(scope, 'read the assignment', () => this.zk.getData(this.paths.assignment, watcher));
        if (!res) {
          const stat = await this.retry(scope, 'watch for the assignment', () => this.zk.exists(this.paths.assignment, watcher));
          if (stat) {
            scope.readAssignmentAgain = true;
            continue;
          }
          res = undefined;
        }
        const next = parseAssignment(res?.data);
        if (!sameAssignment(next, this._assignment)) {
          this._assignment = next;
          this.safeEmit('assignment', next);
        }
        this.reconcile(scope);
      } while (scope.readAssignmentAgain && scope.alive);
    } catch (err) {
      if (!(err instanceof ScopeEnded)) {
        this.warn(err, 'reading the assignment failed; retrying');
        setTimeout(() => void this.watchAssignment(scope), 500).unref();
      }
    } finally {
      scope.readingAssignment = false;
    }
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
    const names = new Set([...this.slots.keys(), ...Object.keys(this._assignment)]);
    for (const task of names) {
      const mine = this._assignment[task] === this.nodeId;
      if (mine && !this.tasks.has(task)) {
        if (!this.slots.has(task))
          this.warn(new ClusterError(`task "${task}" is assigned to this worker but not in its configuration; not running it`, { task }), 'unknown task');
        this.slot(task); // remember we warned
        continue;
      }
      const slot = this.slot(task);
      slot.desired = mine && !this.closing && scope.alive;
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
          if (slot.desired && slot.state === 'idle' && !this.closing) {
            await Promise.race([this.lossBarrier, scope.ended]);
            if (!scope.alive) break;
            await this.acquire(slot, scope);
          } else if (!slot.desired && slot.state === 'running') {
            await this.release(slot, scope, this.closing ? 'closing' : 'unassigned');
          } else break;
        }
      } catch (err) {
        if (!(err instanceof ScopeEnded)) this.warn(err, `driving task "${slot.task}" failed`);
      } finally {
        if (slot.driver === scope) slot.driver = undefined;
      }
    };
    slot.driving = run();
  }

  private async acquire(slot: TaskSlot, scope: Scope): Promise<void> {
    const p = this.paths;
    const task = slot.task;
    const ownerPath = p.owner(task);
    const taskData = () => Buffer.from(JSON.stringify({ owner: this.nodeId, session: scope.sessionId, acquiredAt: Date.now() } satisfies TaskNodeData));
    slot.state = 'acquiring';
    let waitingLogged = false;
    for (;;) {
      if (!scope.alive) throw new ScopeEnded();
      if (!slot.desired || this.closing) {
        slot.state = 'idle';
        return;
      }
      try {
        const res = await this.zk.multi([
          { op: 'create', path: ownerPath, data: Buffer.from(this.nodeId), mode: 'ephemeral' },
          { op: 'setData', path: p.task(task), data: taskData(), version: -1 },
        ]);
        if (!scope.alive) throw new ScopeEnded();
        this.grant(slot, scope, res[1]!.stat!.version, 0);
        return;
      } catch (err) {
        if (!scope.alive || err instanceof ScopeEnded) throw new ScopeEnded();
        if (isRetryable(err)) {
          await this.waitConnected(scope);
          continue; // the next round finds the owner node if the create went through
        }
        if (isZkCode(err, ZkCode.NO_NODE)) {
          await this.retry(scope, 'create the task node', () => this.zk.mkdirp(p.task(task)));
          continue;
        }
        if (!isZkCode(err, ZkCode.NODE_EXISTS)) throw err;
      }
      // The owner node exists: ours (a reply lost), an old session's of ours, or another worker's.
      const change = this.nextEvent(scope, slot);
      const stat = await this.retry(scope, 'inspect the owner node', () => this.zk.exists(ownerPath, change.watcher));
      if (!stat) continue;
      if (this.zk.isCurrentSession(stat.ephemeralOwner)) {
        const epoch = await this.adopt(slot, scope, stat, taskData());
        if (epoch !== undefined) {
          this.grant(slot, scope, epoch, stat.version);
          return;
        }
        continue;
      }
      if (this.zk.isOwnSession(stat.ephemeralOwner)) {
        await this.retry(scope, 'remove an old owner node', () =>
          this.zk.remove(ownerPath, stat.version).catch((e) => (isZkCode(e, ZkCode.BAD_VERSION) ? false : Promise.reject(e))),
        );
        continue;
      }
      if (!waitingLogged) {
        waitingLogged = true;
        const holder = await this.zk.getData(ownerPath).catch(() => undefined);
        this.log.info({ task, holder: holder?.data.toString('utf8') }, 'task assigned here; waiting for the previous owner to let go');
      }
      await change.promise;
    }
  }

  /** The owner node is ours already (a create whose reply was lost): bump the epoch conditionally. */
  private async adopt(slot: TaskSlot, scope: Scope, ownerStat: Stat, data: Buffer): Promise<number | undefined> {
    const p = this.paths;
    const taskStat = await this.retry(scope, 'inspect the task node', () => this.zk.exists(p.task(slot.task)));
    if (!taskStat) return undefined;
    try {
      const res = await this.retry(scope, 'adopt the owner node', () =>
        this.zk.multi([
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
      ownerPath: this.paths.owner(slot.task),
      ownerVersion,
      sessionId: scope.sessionId,
      acquiredAt: Date.now(),
    };
    slot.lease = lease;
    slot.state = 'running';
    this.log.info({ task: slot.task, epoch }, 'task acquired');
    this.updateMemberData();
    this.safeEmit('taskAcquired', slot.task, lease);
  }

  private async release(slot: TaskSlot, scope: Scope, reason: ReleaseReason): Promise<void> {
    slot.state = 'releasing';
    const waits: Promise<unknown>[] = [];
    this.log.info({ task: slot.task, reason }, 'releasing task');
    this.safeEmit('taskReleasing', { task: slot.task, reason, waitUntil: (p) => void waits.push(Promise.resolve(p)) });
    const results = await Promise.allSettled(waits);
    for (const r of results)
      if (r.status === 'rejected')
        this.warn(r.reason instanceof Error ? r.reason : new Error(String(r.reason)), `stopping task "${slot.task}" failed; releasing it anyway`);
    if (!scope.alive) throw new ScopeEnded(); // tasksLost covered it
    const lease = slot.lease;
    slot.lease = undefined; // from here on, position writes of this worker are refused locally too
    if (lease) {
      await this.retry(scope, 'delete the owner node', async () => {
        const stat = await this.zk.exists(lease.ownerPath);
        if (stat && this.zk.isCurrentSession(stat.ephemeralOwner)) await this.zk.remove(lease.ownerPath, stat.version);
      });
    }
    slot.state = 'idle';
    this.log.info({ task: slot.task }, 'task released');
    this.updateMemberData();
    this.safeEmit('taskReleased', slot.task);
  }

  /** Closing without a session: the tasks stop all the same; their owner nodes go with the session. */
  private async releaseWithoutSession(slot: TaskSlot): Promise<void> {
    slot.state = 'releasing';
    const waits: Promise<unknown>[] = [];
    this.safeEmit('taskReleasing', { task: slot.task, reason: 'closing', waitUntil: (p) => void waits.push(Promise.resolve(p)) });
    await Promise.allSettled(waits);
    slot.lease = undefined;
    slot.state = 'idle';
    this.safeEmit('taskReleased', slot.task);
  }

  // ------------------------------------------------------------------------------------------------
  // helpers

  /** A one-shot watcher and a promise that settles when it fires, the slot is woken, or the scope ends. */
  private nextEvent(scope: Scope, slot?: TaskSlot): { watcher: () => void; promise: Promise<void> } {
    let fire!: () => void;
    const fired = new Promise<void>((resolve) => (fire = resolve));
    if (slot) slot.wake = fire;
    return { watcher: () => fire(), promise: Promise.race([fired, scope.ended]) };
  }

  private async waitConnected(scope: Scope): Promise<void> {
    await Promise.race([this.zk.waitConnected().catch(() => undefined), scope.ended]);
    if (!scope.alive) throw new ScopeEnded();
  }

  /** Run a ZooKeeper step; connection losses wait for the reconnect and retry; a lost scope ends it. */
  private async retry<T>(scope: Scope, what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (!scope.alive) throw new ScopeEnded();
      try {
        const value = await fn();
        if (!scope.alive) throw new ScopeEnded();
        return value;
      } catch (err) {
        if (!scope.alive || err instanceof ScopeEnded || isZkCode(err, ZkCode.SESSION_EXPIRED)) throw new ScopeEnded();
        if (this.closed) throw err;
        if (isRetryable(err)) {
          await this.waitConnected(scope);
          continue;
        }
        if (err instanceof ZkError) throw err; // a ZooKeeper answer: the caller decides
        if (attempt >= 5) throw err;
        this.warn(err instanceof Error ? err : new Error(String(err)), `${what} failed; retrying`);
        await Promise.race([sleep(500), scope.ended]);
      }
    }
  }

  private async tryZk(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.debug({ err }, `${what} failed (closing)`);
    }
  }

  private warn(err: unknown, what: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.log.warn({ err: error }, what);
    if (this.listenerCount('warning') > 0) this.safeEmit('warning', error);
  }

  private safeEmit<K extends keyof ClusterMemberEvents>(event: K, ...args: ClusterMemberEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: ClusterMemberEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log.error({ err, event }, 'a cluster event listener threw');
    }
  }
}
