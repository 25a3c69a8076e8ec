/**
 * The vocabulary of Tunnel's ZooKeeper client: session states, operations and their results, the
 * error codes callers act on and ZkError, the error every operation fails with.
 */
import { createHash } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import type { Stat } from 'node-zookeeper-client';
import { ClusterError, TunnelError } from '../errors/index.ts';

const { Exception } = zookeeper;

/** For metrics: where this process's ZooKeeper session stands. */
export type SessionState = 'connected' | 'disconnected' | 'expired' | 'closed';
export type SessionLossReason = 'expired' | 'timeout' | 'stalled';

export interface ZkAuth {
  user: string;
  password: string;
}

export type CreateModeName = 'persistent' | 'ephemeral' | 'persistent_sequential' | 'ephemeral_sequential';

export type WatchEventType = 'created' | 'deleted' | 'dataChanged' | 'childrenChanged';
export interface WatchEvent {
  type: WatchEventType;
  path: string;
}
export type Watcher = (event: WatchEvent) => void;

export type { Stat };

export type ZkOp =
  | { op: 'create'; path: string; data?: Buffer; mode?: CreateModeName }
  | { op: 'setData'; path: string; data: Buffer; version?: number }
  | { op: 'check'; path: string; version?: number }
  | { op: 'remove'; path: string; version?: number };

export interface ZkOpResult {
  op: ZkOp['op'];
  /** For `create`: the created path (with its sequence number). */
  path?: string;
  /** For `setData`: the node's new stat. */
  stat?: Stat;
}

/** ZooKeeper error codes used by callers (re-exported from the client library). */
export const ZkCode = {
  CONNECTION_LOSS: Exception.CONNECTION_LOSS,
  OPERATION_TIMEOUT: Exception.OPERATION_TIMEOUT,
  NO_NODE: Exception.NO_NODE,
  NO_AUTH: Exception.NO_AUTH,
  BAD_VERSION: Exception.BAD_VERSION,
  NODE_EXISTS: Exception.NODE_EXISTS,
  NOT_EMPTY: Exception.NOT_EMPTY,
  SESSION_EXPIRED: Exception.SESSION_EXPIRED,
  RUNTIME_INCONSISTENCY: Exception.RUNTIME_INCONSISTENCY,
} as const;

/** A ZooKeeper operation failed; `zkCode` is the server's (or the client's) error code. */
export class ZkError extends ClusterError {
  constructor(
    readonly zkCode: number,
    readonly zkName: string,
    readonly path: string | undefined,
    message?: string,
    options?: { cause?: unknown; failedOp?: number },
  ) {
    super(message ?? `ZooKeeper ${zkName}${path ? ` on ${path}` : ''}`, { zkCode, zkName, path, failedOp: options?.failedOp }, { cause: options?.cause });
    this.failedOp = options?.failedOp;
  }
  /** For a failed multi: the index of the op that failed (when the server said). */
  readonly failedOp: number | undefined;
}

/** True for a ZkError with one of `codes` (any ZkError when no code is given). */
export function isZkCode(err: unknown, ...codes: number[]): err is ZkError {
  return err instanceof ZkError && (codes.length === 0 || codes.includes(err.zkCode));
}

/** The connection dropped or the session went away while the operation was in flight: retry later. */
export function isRetryable(err: unknown): boolean {
  return isZkCode(err, ZkCode.CONNECTION_LOSS, ZkCode.OPERATION_TIMEOUT);
}

/** `digest:user:base64(sha1(user:password))`, the id ZooKeeper's digest provider computes. */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

export function sessionIdHex(buf: Buffer | undefined): string {
  return buf ? buf.toString('hex') : '';
}

/** Any failure of a client call as a TunnelError: a ZkError with the code, or a ClusterError. */
export function toZkError(err: unknown, path?: string, failedOp?: number): TunnelError {
  if (err instanceof ZkError) return err;
  const e = err as { getCode?: () => number; getName?: () => string; code?: number; name?: string };
  if (e && typeof e.getCode === 'function') {
    const code = e.getCode();
    const name = typeof e.getName === 'function' ? e.getName() : String(e.name);
    return new ZkError(code, name, path, undefined, { cause: err, failedOp });
  }
  if (err instanceof TunnelError) return err;
  return new ClusterError(`ZooKeeper client: ${err instanceof Error ? err.message : String(err)}`, { path }, { cause: err });
}
