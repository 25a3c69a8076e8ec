/**
 * A promise wrapper over node-zookeeper-client with the session semantics Tunnel needs.
 *
 * - `disconnected` that recovers within the session keeps the ephemeral nodes: only the state changes.
 * - The session counts as lost (event `sessionLost`) when the server says `expired`, when the
 *   connection stayed down for longer than the negotiated session timeout (a local timer started at
 *   `disconnected`: the server may already have expired the session, and we must not wait for it to say
 *   so), or when this process was frozen (SIGSTOP, a long pause) for longer than the session timeout.
 *   Then the old client is closed and a new client with a new session is built; listeners of `session`
 *   re-register everything from scratch. Ephemeral nodes of an abandoned session of this process can be
 *   recognised with `isOwnSession(stat.ephemeralOwner)` and deleted.
 * - Digest ACLs: with `auth`, the client authenticates with `digest user:password` and every node it
 *   creates gets `digest:user:base64(sha1(user:password))` with all permissions.
 *
 * Errors are ZkError (a ClusterError) carrying the ZooKeeper error code.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import zookeeper from 'node-zookeeper-client';
import type { ACL, Client, Event as ZkEvent } from 'node-zookeeper-client';
import { ClusterError } from '../errors/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { MODES, closeClient, watchType } from './zk-library.ts';
import {
  ZkCode,
  ZkError,
  digestId,
  isZkCode,
  sessionIdHex,
  toZkError,
  type CreateModeName,
  type SessionLossReason,
  type SessionState,
  type Stat,
  type Watcher,
  type ZkAuth,
  type ZkOp,
  type ZkOpResult,
} from './zk-protocol.ts';

const { createClient, Exception, State, ACL: AclClass, Id, Permission } = zookeeper;

export interface ZkConnectionOptions {
  /** `host:port[,host:port...][/chroot]` */
  connect: string;
  /** Requested session timeout; the server may negotiate it within its min/max. Default 10 000 ms. */
  sessionTimeoutMs?: number;
  /** Digest credentials: authenticate, and put a digest ACL on every node created. */
  auth?: ZkAuth;
  /** With `auth`: also let anyone read the nodes this client creates (operators' tools). Default false. */
  worldReadable?: boolean;
  /** Upper bound of the random pause between reconnect rounds. Default 250 ms (the library's is 1 s). */
  spinDelayMs?: number;
  logger?: Logger;
}

export interface ZkConnectionEvents {
  state: [state: SessionState];
  /** Connected, to a new session (`newSession`) or back to the same one. */
  connected: [info: { sessionId: string; newSession: boolean }];
  disconnected: [];
  /** The server said the session expired. `sessionLost` follows. */
  expired: [];
  /** The session is gone (or presumed gone): every ephemeral node of it must be considered lost. */
  sessionLost: [info: { reason: SessionLossReason; sessionId: string | undefined }];
  /** A new session is established (the first one, or one after a loss): register from scratch. */
  session: [info: { sessionId: string; generation: number }];
  closed: [];
}

interface NetSocketLike {
  on(event: 'data', listener: () => void): unknown;
  destroy(): void;
}

interface Inflight {
  reject: (err: Error) => void;
}

/** One process's connection to ZooKeeper: a chain of sessions, one at a time. */
export class ZkConnection extends EventEmitter<ZkConnectionEvents> {
  private readonly options: Readonly<ZkConnectionOptions>;
  /** ACL of the nodes this connection creates (digest with auth, open without). */
  readonly acls: ACL[];
  /** ACL of shared ancestors created by mkdirp's `shared` prefix: with auth, world may READ and CREATE. */
  readonly sharedAcls: ACL[];
  private readonly log: Logger;
  private readonly requestedTimeout: number;
  private client: Client | undefined;
  /** Increments with every client built; events and ops of an older one are ignored / rejected. */
  private gen = 0;
  private _state: SessionState = 'disconnected';
  private _sessionId: string | undefined;
  private negotiatedTimeout: number;
  private readonly ownSessions = new Set<string>();
  private inflight = new Set<Inflight>();
  private lossTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastTick = performance.now();
  private trackedSocket: NetSocketLike | undefined;
  private lastData = performance.now();
  private closing = false;
  private connectWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(options: ZkConnectionOptions) {
    super();
    this.options = { ...options };
    this.log = (options.logger ?? silentLogger()).child({ component: 'zk' });
    this.requestedTimeout = options.sessionTimeoutMs ?? 10_000;
    this.negotiatedTimeout = this.requestedTimeout;
    if (options.auth) {
      const owner = new AclClass(Permission.ALL, new Id('digest', digestId(options.auth.user, options.auth.password)));
      this.acls = options.worldReadable ? [owner, new AclClass(Permission.READ, new Id('world', 'anyone'))] : [owner];
      // Shared ancestors (/tunnel, /tunnel/{cluster}): other groups, maybe with other credentials, must
      // be able to create their nodes beside ours; nobody else may change or delete them.
      this.sharedAcls = [owner, new AclClass(Permission.READ | Permission.CREATE, new Id('world', 'anyone'))];
    } else {
      this.acls = (AclClass as unknown as { OPEN_ACL_UNSAFE: ACL[] }).OPEN_ACL_UNSAFE;
      this.sharedAcls = this.acls;
    }
  }

  get state(): SessionState {
    return this._state;
  }
  /** Hex id of the current session, once connected. */
  get sessionId(): string | undefined {
    return this._sessionId;
  }
  /** Which client (session) generation is current; bumps on every session loss. */
  get generation(): number {
    return this.gen;
  }
  /** The session timeout the server granted (the requested one until connected). */
  get sessionTimeoutMs(): number {
    return this.negotiatedTimeout;
  }

  /** True when `ephemeralOwner` is a session of this process (the current one or an abandoned one). */
  isOwnSession(ephemeralOwner: Buffer | string | undefined): boolean {
    const hex = typeof ephemeralOwner === 'string' ? ephemeralOwner : sessionIdHex(ephemeralOwner);
    return hex !== '' && hex !== '0000000000000000' && (hex === this._sessionId || this.ownSessions.has(hex));
  }
  /** True when `ephemeralOwner` is the current session. */
  isCurrentSession(ephemeralOwner: Buffer | string | undefined): boolean {
    const hex = typeof ephemeralOwner === 'string' ? ephemeralOwner : sessionIdHex(ephemeralOwner);
    return this._sessionId !== undefined && hex === this._sessionId;
  }

  /** Connect; resolves once the first session is established. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(new ClusterError('ZooKeeper connection is closed'));
    if (!this.client) {
      this.spawn();
      this.lastTick = performance.now();
      this.watchdog = setInterval(() => this.tick(), 200);
      this.watchdog.unref();
    }
    return this.waitConnected();
  }

  /** Resolves when connected (now or later); rejects when closed. */
  waitConnected(): Promise<void> {
    if (this._state === 'connected') return Promise.resolve();
    if (this.closing) return Promise.reject(new ClusterError('ZooKeeper connection is closed'));
    return new Promise((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
  }

  /**
   * False (and the session is declared lost) when this process did not run for longer than the session
   * timeout (frozen, suspended): the server may have expired the session meanwhile. Call before an
   * action that must only happen while the session is surely alive.
   */
  checkAlive(): boolean {
    this.tick();
    return this._state === 'connected' || this._state === 'disconnected';
  }

  /** Close the session (its ephemeral nodes go at once). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.clearLossTimer();
    const client = this.client;
    this.client = undefined;
    this.gen++;
    this.rejectInflight(new ClusterError('ZooKeeper connection closed'));
    for (const w of this.connectWaiters.splice(0)) w.reject(new ClusterError('ZooKeeper connection closed'));
    if (client) await closeClient(client, this.log);
    this.setState('closed');
    this.emit('closed');
  }

  // ------------------------------------------------------------------------------------------------
  // session handling

  private spawn(): void {
    const gen = ++this.gen;
    const client = createClient(this.options.connect, {
      sessionTimeout: this.requestedTimeout,
      spinDelay: this.options.spinDelayMs ?? 250,
      retries: 0,
    });
    if (this.options.auth) client.addAuthInfo('digest', Buffer.from(`${this.options.auth.user}:${this.options.auth.password}`));
    client.on('state', (s) => this.onClientState(gen, client, s));
    this.client = client;
    client.connect();
  }

  private onClientState(gen: number, client: Client, s: InstanceType<typeof State>): void {
    if (gen !== this.gen) return; // an abandoned client
    if (s === State.SYNC_CONNECTED || s === State.CONNECTED_READ_ONLY) {
      this.clearLossTimer();
      const sid = sessionIdHex(client.getSessionId());
      const newSession = sid !== this._sessionId;
      this._sessionId = sid;
      this.negotiatedTimeout = client.getSessionTimeout() || this.requestedTimeout;
      this.lastTick = performance.now();
      this.setState('connected');
      this.log.info(
        { sessionId: sid, newSession, timeoutMs: this.negotiatedTimeout },
        newSession ? 'zookeeper session established' : 'zookeeper reconnected within the session',
      );
      this.emit('connected', { sessionId: sid, newSession });
      if (newSession) this.emit('session', { sessionId: sid, generation: gen });
      for (const w of this.connectWaiters.splice(0)) w.resolve();
    } else if (s === State.DISCONNECTED) {
      if (this._state !== 'connected') return;
      this.setState('disconnected');
      this.log.warn({ sessionId: this._sessionId, timeoutMs: this.negotiatedTimeout }, 'zookeeper disconnected; the session holds until its timeout');
      this.emit('disconnected');
      this.clearLossTimer();
      this.lossTimer = setTimeout(() => {
        this.lossTimer = undefined;
        if (gen === this.gen && this._state === 'disconnected') this.loseSession('timeout');
      }, this.negotiatedTimeout);
    } else if (s === State.EXPIRED) {
      this.log.warn({ sessionId: this._sessionId }, 'zookeeper session expired');
      this.setState('expired');
      this.emit('expired');
      this.loseSession('expired');
    } else if (s === State.AUTH_FAILED) {
      this.log.error('zookeeper authentication failed');
      const err = new ClusterError('ZooKeeper authentication failed: check the configured user and password');
      for (const w of this.connectWaiters.splice(0)) w.reject(err);
      void this.close();
    }
  }

  private tick(): void {
    const now = performance.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap > this.negotiatedTimeout && this.client && !this.closing && (this._state === 'connected' || this._state === 'disconnected')) {
      this.log.warn({ pausedMs: Math.round(gap) }, 'this process was paused for longer than the session timeout; treating the session as lost');
      this.loseSession('stalled');
      return;
    }
    if (gap < 1000) this.checkReadTimeout(now);
  }

  /**
   * The client library has no read timeout: a server that stops answering without closing the
   * connection (a partition, a server stuck while starting) would leave it "connected" or "connecting"
   * for ever, and the session would expire on the server unnoticed. Like the Java client, drop a
   * connection that received nothing for 2/3 of the session timeout (pings go every 1/3), or whose
   * connect got no answer within 1/3 of it; the library then reconnects.
   */
  private checkReadTimeout(now: number): void {
    const cm = (this.client as unknown as { connectionManager?: { socket?: NetSocketLike; state?: number } } | undefined)?.connectionManager;
    const socket = cm?.socket;
    if (!cm || !socket) return;
    if (socket !== this.trackedSocket) {
      this.trackedSocket = socket;
      this.lastData = now;
      socket.on('data', () => (this.lastData = performance.now()));
    }
    const connecting = cm.state === 1;
    const connected = cm.state === 2 || cm.state === 3;
    if (!connecting && !connected) return;
    const limit = connected ? (this.negotiatedTimeout * 2) / 3 : Math.max(1000, this.negotiatedTimeout / 3);
    if (now - this.lastData > limit) {
      this.log.warn({ silentMs: Math.round(now - this.lastData), connecting }, 'no answer from zookeeper; dropping the connection to reconnect');
      this.lastData = now;
      socket.destroy();
    }
  }

  private loseSession(reason: SessionLossReason): void {
    if (this.closing) return;
    this.clearLossTimer();
    const old = this.client;
    const oldSid = this._sessionId;
    if (oldSid) this.ownSessions.add(oldSid);
    this.gen++; // events of the old client are ignored from now on
    this.client = undefined;
    this.rejectInflight(new ZkError(ZkCode.SESSION_EXPIRED, 'SESSION_EXPIRED', undefined, `ZooKeeper session lost (${reason})`));
    if (old) void closeClient(old, this.log);
    this.setState('expired');
    this.log.warn({ reason, sessionId: oldSid }, 'zookeeper session lost; building a new session');
    this.emit('sessionLost', { reason, sessionId: oldSid });
    if (!this.closing) this.spawn();
  }

  private clearLossTimer(): void {
    if (this.lossTimer) clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
  }

  private setState(state: SessionState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
  }

  private rejectInflight(err: Error): void {
    const all = [...this.inflight];
    this.inflight.clear();
    for (const op of all) op.reject(err);
  }

  // ------------------------------------------------------------------------------------------------
  // operations

  /** Run one callback-style call on the current client; rejected if that session is lost meanwhile. */
  private call<T>(path: string | undefined, fn: (client: Client, done: (err: unknown, value?: T) => void) => void): Promise<T> {
    const client = this.client;
    if (!client || this.closing) {
      return Promise.reject(
        this.closing
          ? new ClusterError('ZooKeeper connection is closed')
          : new ZkError(ZkCode.CONNECTION_LOSS, 'CONNECTION_LOSS', path, 'no ZooKeeper session at the moment'),
      );
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Inflight = {
        reject: (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        },
      };
      this.inflight.add(entry);
      try {
        fn(client, (err, value) => {
          this.inflight.delete(entry);
          if (settled) return;
          settled = true;
          if (err) reject(toZkError(err, path));
          else resolve(value as T);
        });
      } catch (err) {
        this.inflight.delete(entry);
        settled = true;
        reject(toZkError(err, path));
      }
    });
  }

  private wrapWatcher(watcher: Watcher | undefined): ((e: ZkEvent) => void) | undefined {
    if (!watcher) return undefined;
    const gen = this.gen;
    return (e: ZkEvent) => {
      if (gen !== this.gen) return; // a watch of an abandoned session
      watcher({ type: watchType(e.getType()), path: e.getPath() });
    };
  }

  /** Create a node with this connection's ACL (or the shared one); resolves to the created path. */
  create(path: string, data?: Buffer, mode: CreateModeName = 'persistent', acl: 'own' | 'shared' = 'own'): Promise<string> {
    const acls = acl === 'shared' ? this.sharedAcls : this.acls;
    return this.call<string>(path, (c, done) => c.create(path, data ?? Buffer.alloc(0), acls, MODES[mode], (err, p) => done(err, p)));
  }

  /**
   * Create a persistent node and its missing parents; an existing node is fine. Missing nodes that are
   * `shared` itself or its ancestors get the shared ACL, the others this connection's own ACL.
   */
  async mkdirp(path: string, options: { shared?: string } = {}): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    let current = '';
    for (const part of parts) {
      current += `/${part}`;
      const shared = options.shared !== undefined && (options.shared === current || options.shared.startsWith(current + '/'));
      try {
        await this.create(current, undefined, 'persistent', shared ? 'shared' : 'own');
      } catch (err) {
        if (!isZkCode(err, ZkCode.NODE_EXISTS)) throw err;
      }
    }
  }

  /** Data and stat, or undefined when the node does not exist. A watcher is left only when it exists. */
  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: Stat } | undefined> {
    const w = this.wrapWatcher(watcher);
    return this.call<{ data: Buffer; stat: Stat } | undefined>(path, (c, done) => {
      const cb = (err: unknown, data: Buffer, stat: Stat) => {
        if (err && (err as { getCode?: () => number }).getCode?.() === Exception.NO_NODE) done(null, undefined);
        else done(err, err ? undefined : { data: data ?? Buffer.alloc(0), stat });
      };
      if (w) c.getData(path, w, cb);
      else c.getData(path, cb);
    });
  }

  /** Set data, conditional on `version` unless it is -1. */
  setData(path: string, data: Buffer, version = -1): Promise<Stat> {
    return this.call<Stat>(path, (c, done) => c.setData(path, data, version, (err, stat) => done(err, stat)));
  }

  /** Stat or undefined; the watcher (if any) fires on creation, deletion or data change. */
  exists(path: string, watcher?: Watcher): Promise<Stat | undefined> {
    const w = this.wrapWatcher(watcher);
    return this.call<Stat | undefined>(path, (c, done) => {
      const cb = (err: unknown, stat: Stat) => done(err, err ? undefined : (stat ?? undefined));
      if (w) c.exists(path, w, cb);
      else c.exists(path, cb);
    });
  }

  /** Children names, or undefined when the node does not exist. */
  getChildren(path: string, watcher?: Watcher): Promise<string[] | undefined> {
    const w = this.wrapWatcher(watcher);
    return this.call<string[] | undefined>(path, (c, done) => {
      const cb = (err: unknown, children: string[]) => {
        if (err && (err as { getCode?: () => number }).getCode?.() === Exception.NO_NODE) done(null, undefined);
        else done(err, err ? undefined : children);
      };
      if (w) c.getChildren(path, w, cb);
      else c.getChildren(path, cb);
    });
  }

  /** Delete a node, conditional on `version` unless -1. Resolves false when it did not exist. */
  async remove(path: string, version = -1): Promise<boolean> {
    try {
      await this.call<void>(path, (c, done) => c.remove(path, version, (err) => done(err)));
      return true;
    } catch (err) {
      if (isZkCode(err, ZkCode.NO_NODE)) return false;
      throw err;
    }
  }

  /**
   * Run ops atomically (ZooKeeper multi). On failure throws ZkError with the failing op's code and
   * `failedOp` = its index.
   *
   * The library's transaction builder turns a version of 0 into -1 (`version || -1`), which would make a
   * check/setData/remove on version 0 unconditional; the versions are set again after each builder call.
   */
  multi(ops: readonly ZkOp[]): Promise<ZkOpResult[]> {
    return this.call<ZkOpResult[]>(undefined, (c, done) => {
      const tx = c.transaction();
      const raw = (tx as unknown as { ops: Array<{ version?: number }> }).ops;
      for (const op of ops) {
        switch (op.op) {
          case 'create':
            tx.create(op.path, op.data ?? Buffer.alloc(0), this.acls, MODES[op.mode ?? 'persistent']);
            break;
          case 'setData':
            tx.setData(op.path, op.data, op.version ?? -1);
            raw[raw.length - 1]!.version = op.version ?? -1;
            break;
          case 'check':
            tx.check(op.path, op.version ?? -1);
            raw[raw.length - 1]!.version = op.version ?? -1;
            break;
          case 'remove':
            tx.remove(op.path, op.version ?? -1);
            raw[raw.length - 1]!.version = op.version ?? -1;
            break;
        }
      }
      tx.commit((err, results: Array<{ err?: number; path?: string; stat?: Stat }> | undefined) => {
        if (err) {
          // The op that failed is the first whose error is neither OK nor RUNTIME_INCONSISTENCY (the
          // code the server gives the ops after the failing one).
          const failed = results?.findIndex((r) => r.err !== undefined && r.err !== 0 && r.err !== Exception.RUNTIME_INCONSISTENCY);
          const index = failed === undefined || failed < 0 ? undefined : failed;
          done(toZkError(err, index !== undefined ? ops[index]?.path : undefined, index));
          return;
        }
        done(
          null,
          ops.map((op, i) => ({ op: op.op, path: results?.[i]?.path, stat: results?.[i]?.stat })),
        );
      });
    });
  }
}
