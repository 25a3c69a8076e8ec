/**
 * What the parts of a cluster member share: the scope of one ZooKeeper session, the member's context,
 * and the way every registry step is retried within a session.
 */
import { AbortedError, ClusterError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { Backoff, type BackoffOptions } from '../runtime/backoff.ts';
import type { ClusterMemberEvents } from './member-events.ts';
import type { RegistryPaths } from './registry-paths.ts';
import type { ZkConnection } from './zk-client.ts';
import { ZkCode, ZkError, isRetryable, isZkCode } from './zk-protocol.ts';

/** Everything that belongs to one ZooKeeper session; ends when the session is lost or closed. */
export class Scope {
  alive = true;
  readonly ended: Promise<void>;
  private endFn!: () => void;

  constructor(
    readonly generation: number,
    readonly sessionId: string,
  ) {
    this.ended = new Promise((resolve) => (this.endFn = resolve));
  }

  end(): void {
    if (!this.alive) return;
    this.alive = false;
    this.endFn();
  }
}

/** Thrown out of every step of a scope whose session has ended; the step's caller stops quietly. */
export class ScopeEnded extends AbortedError {
  constructor() {
    super('the ZooKeeper session of this step has ended');
  }
}

/** What the member's parts (election, rebalancing, ownership) need from the member. */
export interface MemberContext {
  readonly zk: ZkConnection;
  readonly paths: RegistryPaths;
  readonly nodeId: string;
  readonly log: Logger;
  /** close() has begun: nothing new is acquired or led. */
  isClosing(): boolean;
  /** close() has finished. */
  isClosed(): boolean;
  /** Log a non-fatal problem and emit it as `warning`. */
  warn(err: unknown, what: string): void;
  /** Emit a member event; a listener that throws is logged, never propagated. */
  emit<K extends keyof ClusterMemberEvents>(event: K, ...args: ClusterMemberEvents[K]): void;
}

/**
 * The pause before a registry step that failed with something other than a ZooKeeper answer or a lost
 * connection (which waits for the reconnect instead) is tried again, and before a failed rebalance,
 * assignment read or registration starts over: the shared backoff.
 */
export const REGISTRY_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialDelayMs: 1000, maxDelayMs: 8000 });
/** A step is given up after this many such retries. */
const STEP_RETRIES = 5;

/** A one-shot watcher and a promise that settles when it fires, `fire` is called, or the scope ends. */
export function nextEvent(scope: Scope): { watcher: () => void; fire: () => void; promise: Promise<void> } {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { watcher: () => fire(), fire, promise: Promise.race([fired, scope.ended]) };
}

/** Resolves after `ms` or when the scope ends, whichever is first. */
export function pause(ms: number, scope: Scope): Promise<void> {
  return Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), scope.ended]);
}

export async function waitConnected(ctx: MemberContext, scope: Scope): Promise<void> {
  await Promise.race([ctx.zk.waitConnected().catch(() => undefined), scope.ended]);
  if (!scope.alive) throw new ScopeEnded();
}

/** Run a ZooKeeper step; connection losses wait for the reconnect and retry; a lost scope ends it. */
export async function retry<T>(ctx: MemberContext, scope: Scope, what: string, fn: () => Promise<T>): Promise<T> {
  const backoff = new Backoff({ ...REGISTRY_BACKOFF, maxAttempts: STEP_RETRIES });
  for (;;) {
    if (!scope.alive) throw new ScopeEnded();
    try {
      const value = await fn();
      if (!scope.alive) throw new ScopeEnded();
      return value;
    } catch (err) {
      if (!scope.alive || err instanceof ScopeEnded || isZkCode(err, ZkCode.SESSION_EXPIRED)) throw new ScopeEnded();
      if (ctx.isClosed()) throw err;
      if (isRetryable(err)) {
        await waitConnected(ctx, scope);
        continue;
      }
      if (err instanceof ZkError) throw err; // a ZooKeeper answer: the caller decides
      const delay = backoff.next();
      if (delay === undefined) throw err;
      ctx.warn(err, `${what} failed; retrying`);
      await pause(delay, scope);
    }
  }
}

export interface EphemeralNode {
  path: string;
  /** The node's data, asked for at each create. */
  data(): Buffer;
  /** What the node is, for logs: "the election node". */
  what: string;
  /** Whether a node of this session found in place gets `data()` written again (a lost create reply may have written older data). */
  refresh?: boolean;
  /** Checked before every try: true gives up quietly. */
  stop?(): boolean;
  /** Called each time the node turns out to be another process's, before waiting for it to go. */
  onTaken(): void;
}

/**
 * Create an ephemeral node this session must hold. One found in place is this session's (a create
 * whose reply was lost: kept), an earlier session's of this process (removed), or another process's
 * (waited out until it goes).
 */
export async function holdEphemeral(ctx: MemberContext, scope: Scope, node: EphemeralNode): Promise<void> {
  const { zk } = ctx;
  for (;;) {
    if (node.stop?.()) return;
    try {
      await retry(ctx, scope, `create ${node.what}`, () => zk.create(node.path, node.data(), 'ephemeral'));
      return;
    } catch (err) {
      if (!isZkCode(err, ZkCode.NODE_EXISTS)) throw err;
    }
    const gone = nextEvent(scope);
    const stat = await retry(ctx, scope, `inspect ${node.what}`, () => zk.exists(node.path, gone.watcher));
    if (!stat) continue;
    if (zk.isCurrentSession(stat.ephemeralOwner)) {
      if (node.refresh) await retry(ctx, scope, `update ${node.what}`, () => zk.setData(node.path, node.data()));
      return;
    }
    if (zk.isOwnSession(stat.ephemeralOwner)) {
      await retry(ctx, scope, `remove an old ${node.what.replace(/^the /, '')}`, () => zk.remove(node.path));
      continue;
    }
    node.onTaken();
    await gone.promise;
  }
}

/** A thrown value as an Error for logs and `warning` events. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new ClusterError(String(err));
}
