/**
 * ClusterMember: one worker's part in its group. It keeps the worker registered (`nodes/{node}`) in
 * every ZooKeeper session and composes the three jobs of a member: leader election (election.ts),
 * the leader's rebalancing (rebalancer.ts) and task ownership with fencing (ownership.ts). The runtime
 * listens to its events and runs exactly the tasks it was handed; docs/architecture.md describes the
 * registry layout and the protocol.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { packageInfo } from '../package/index.ts';
import { ClusterError } from '../errors/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { Backoff } from '../runtime/backoff.ts';
import type { Assignment } from './assignment.ts';
import { LeaderElection } from './election.ts';
import type { ClusterMemberEvents, MemberData, TaskLease } from './member-events.ts';
import { TaskOwnership } from './ownership.ts';
import { Rebalancer } from './rebalancer.ts';
import type { RegistryConnectOptions } from './registry-options.ts';
import { registryPaths, type RegistryPaths } from './registry-paths.ts';
import { REGISTRY_BACKOFF, Scope, ScopeEnded, asError, holdEphemeral, pause, retry, type MemberContext } from './session-scope.ts';
import { ZkConnection } from './zk-client.ts';
import { ZkCode, isZkCode, type SessionLossReason, type SessionState } from './zk-protocol.ts';

export interface ClusterMemberOptions extends RegistryConnectOptions {
  /** This worker's id in `nodes/`; by convention host:port of its status endpoint. */
  nodeId: string;
  /** Written to `election` while this worker leads. Default: nodeId. */
  address?: string;
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
}

/** The parts of one session: this worker's election, and its rebalancing while it leads. */
interface Session {
  scope: Scope;
  election: LeaderElection;
  rebalancer?: Rebalancer;
  /** A member-data write is in progress, and whether to write again after it. */
  memberDataBusy: boolean;
  memberDataDirty: boolean;
  registrationFailures: Backoff;
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
  private readonly context: MemberContext;
  private readonly ownership: TaskOwnership;
  private session: Session | undefined;
  private closing = false;
  private closed = false;
  private started = false;
  private registered = false;
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
    this.context = {
      zk: this.zk,
      paths: this.paths,
      nodeId: this.nodeId,
      log: this.log,
      isClosing: () => this.closing,
      isClosed: () => this.closed,
      warn: (err, what) => this.warn(err, what),
      emit: (event, ...args) => this.safeEmit(event, ...args),
    };
    this.ownership = new TaskOwnership(this.context, this.tasks, () => this.updateMemberData());
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
    return this.session?.election.leader === true;
  }
  /** The assignment as last read from ZooKeeper. */
  get assignment(): Readonly<Assignment> {
    return this.ownership.assignment;
  }
  /** Tasks this worker holds the owner node of (running or being released). */
  ownedTasks(): string[] {
    return this.ownership.ownedTasks();
  }
  /** The lease of a task this worker owns now, else undefined. */
  lease(task: string): TaskLease | undefined {
    return this.ownership.lease(task);
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
    const session = this.session;
    const scope = session?.scope;
    this.firstRegistration.reject(new ClusterError('cluster member closed before it registered'));
    if (session && scope?.alive && this.zk.state === 'connected') {
      await this.tryZk('leave the group', () => this.zk.remove(this.paths.node(this.nodeId)));
      if (await session.election.resign()) this.safeEmit('deposed');
      await session.election.withdraw();
    }
    await this.ownership.releaseAll(scope);
    scope?.end();
    this.session = undefined;
    await this.zk.close();
    this.closed = true;
    this.log.info('left the cluster');
  }

  // ------------------------------------------------------------------------------------------------
  // sessions

  private onSession(sessionId: string, generation: number): void {
    if (this.closing) return;
    this.session?.scope.end();
    const scope = new Scope(generation, sessionId);
    const session: Session = {
      scope,
      election: new LeaderElection(this.context, scope, this.address, () => this.onElected(session)),
      memberDataBusy: false,
      memberDataDirty: false,
      registrationFailures: new Backoff(REGISTRY_BACKOFF),
    };
    this.session = session;
    void this.registerInSession(session);
  }

  private onElected(session: Session): void {
    session.rebalancer = new Rebalancer(this.context, session.scope, {
      tasks: [...this.tasks],
      ...(this.opts.pins ? { pins: this.opts.pins } : {}),
      delayMs: this.opts.rebalanceDelayMs ?? 100,
      leading: () => session.election.leader,
      candidatePath: () => session.election.candidatePath,
    });
    session.rebalancer.schedule();
  }

  private async registerInSession(session: Session): Promise<void> {
    const { scope } = session;
    try {
      await this.register(session);
      this.registered = true;
      this.log.info({ sessionId: scope.sessionId }, 'registered in the group');
      this.safeEmit('registered', { sessionId: scope.sessionId, nodeId: this.nodeId });
      this.firstRegistration.resolve();
    } catch (err) {
      if (err instanceof ScopeEnded || !scope.alive || this.closing) return;
      this.warn(err, 'registration in the group failed');
      if (!this.registered) {
        // start() fails (and closes) on a first registration that cannot succeed, e.g. NO_AUTH.
        this.firstRegistration.reject(asError(err));
        return;
      }
      await pause(session.registrationFailures.next()!, scope);
      if (scope.alive && !this.closing) void this.registerInSession(session);
    }
  }

  /** Synchronous on purpose: the runtime hears `tasksLost` in the same tick the loss is detected. */
  private onSessionLost(reason: SessionLossReason): void {
    const session = this.session;
    this.session = undefined;
    const wasLeader = session?.election.leader === true;
    session?.scope.end();
    const lost = this.ownership.dropLeases();
    if (wasLeader) this.safeEmit('deposed');
    this.log.warn({ reason, tasks: lost }, 'zookeeper session lost: every task stops now');
    this.ownership.stopLost(lost, reason);
  }

  private async register(session: Session): Promise<void> {
    const { scope } = session;
    const p = this.paths;
    await retry(this.context, scope, 'create the group paths', async () => {
      const shared = p.groupRoot.slice(0, p.groupRoot.lastIndexOf('/')); // /tunnel/{cluster}
      await this.zk.mkdirp(p.nodes, { shared });
      await this.zk.mkdirp(p.candidates);
      await this.zk.mkdirp(p.tasks);
    });
    await this.cleanupOwnStaleNodes(scope);
    await this.createMemberNode(scope);
    await session.election.join();
    void this.ownership.follow(scope);
    session.election.run();
  }

  /**
   * Ephemeral nodes left by an earlier session of this process (abandoned after a presumed loss) are
   * deleted, so the new session need not wait for the old one to expire.
   */
  private async cleanupOwnStaleNodes(scope: Scope): Promise<void> {
    const p = this.paths;
    const removeIfStale = async (path: string) => {
      const stat = await retry(this.context, scope, 'inspect ' + path, () => this.zk.exists(path));
      if (stat && this.zk.isOwnSession(stat.ephemeralOwner) && !this.zk.isCurrentSession(stat.ephemeralOwner)) {
        await retry(this.context, scope, 'remove ' + path, () =>
          this.zk.remove(path, stat.version).catch((err) => (isZkCode(err, ZkCode.BAD_VERSION) ? false : Promise.reject(err))),
        );
        this.log.info({ path }, 'removed a node of an earlier session of this worker');
      }
    };
    const candidates = (await retry(this.context, scope, 'list candidates', () => this.zk.getChildren(p.candidates))) ?? [];
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
      version: this.opts.version ?? packageInfo().version,
      startedAt: this.startedAt,
      host: hostname(),
      pid: process.pid,
      tasks: this.ownership.runningTasks(),
    };
  }

  private async createMemberNode(scope: Scope): Promise<void> {
    const path = this.paths.node(this.nodeId);
    let warned = false;
    await holdEphemeral(this.context, scope, {
      path,
      data: () => Buffer.from(JSON.stringify(this.memberData())),
      what: 'the member node',
      onTaken: () => {
        if (warned) return;
        warned = true;
        const message = `node id "${this.nodeId}" is registered by another session (a previous process of this worker, or a second worker with the same id); waiting for it to go`;
        this.warn(new ClusterError(message, { path }), 'member node taken');
      },
    });
  }

  /** Schedule a member-data update (the tasks list changed). Coalesces. */
  private updateMemberData(): void {
    const session = this.session;
    const scope = session?.scope;
    if (!session || !scope?.alive || this.closing) return;
    session.memberDataDirty = true;
    if (session.memberDataBusy) return;
    session.memberDataBusy = true;
    void (async () => {
      try {
        while (session.memberDataDirty && scope.alive && !this.closing) {
          session.memberDataDirty = false;
          await retry(this.context, scope, 'update the member data', async () => {
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
        session.memberDataBusy = false;
      }
    })();
  }

  // ------------------------------------------------------------------------------------------------
  // helpers

  private async tryZk(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.debug({ err }, `${what} failed (closing)`);
    }
  }

  private warn(err: unknown, what: string): void {
    const error = asError(err);
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
