/** What a cluster member tells the runtime, and the data it keeps in the registry. */
import type { Assignment } from './assignment.ts';
import type { SessionLossReason, SessionState } from './zk-protocol.ts';

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
