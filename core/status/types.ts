import type { BinlogPosition } from '../event/index.ts';

/**
 * What the status endpoint knows about the cluster this worker belongs to. core/cluster provides
 * it (from ZooKeeper); the status code only reads it, so this interface is the contract.
 */
export interface ClusterView {
  cluster: string;
  group: string;
  /** This worker's node id. */
  node: string;
  /** Node id of the group's leader, when one is elected. */
  leader?: string;
  /** ZooKeeper session state of this worker. */
  session: ZooKeeperSessionState;
  /** Live workers of the group (ephemeral nodes under /tunnel/{cluster}/{group}/nodes). */
  nodes: ClusterNode[];
  /** Task name → node id the leader assigned it to. */
  assignment?: Record<string, string>;
  /** Task name → committed position stored in ZooKeeper. */
  positions?: Record<string, BinlogPosition>;
}

export interface ClusterNode {
  id: string;
  /** Base URL of the node's status endpoint (from its registry data), e.g. http://10.0.0.5:8090. */
  statusUrl?: string;
}

export const ZOOKEEPER_SESSION_STATES = ['connected', 'connecting', 'disconnected', 'expired', 'closed', 'standalone'] as const;
export type ZooKeeperSessionState = (typeof ZOOKEEPER_SESSION_STATES)[number];

/** One task as `/api/status` reports it. */
export interface TaskStatusReport {
  name: string;
  /** Node id running it (this worker), or its assigned owner from the cluster view. */
  owner: string | null;
  state: string;
  readPosition: BinlogPosition | null;
  committedPosition: BinlogPosition | null;
  /** Seconds the committed position is behind: now − committed server time while events are pending, else 0. */
  lagSeconds: number;
  /** Binlog bytes between the committed position and the server's current end, when known. */
  lagBytes: number | null;
  /** Events read per second over the last few seconds. */
  eventsPerSecond: number;
  eventsIn: number;
  eventsFiltered: number;
  eventsOut: number;
  inFlight: number;
  sourcePaused: boolean;
  stalled: boolean;
  lastError: string | null;
  sinks: Record<
    string,
    { eventsOut: number; eventsPerSecond: number; batches: number; retries: number; deadLetters: number; lastBatchMs: number; lastError: string | null }
  >;
  snapshot: {
    state: string;
    rowsDone: number;
    rowsTotal: number;
    table: string | null;
    tablesDone: number;
    tablesTotal: number;
  } | null;
  startedAt: string | null;
}

/** The JSON of `/api/status`. */
export interface WorkerStatusReport {
  node: string;
  /** ISO time of the report. */
  time: string;
  uptimeSeconds: number;
  ready: boolean;
  cluster: {
    name: string;
    group: string;
    leader: string | null;
    session: ZooKeeperSessionState;
    nodes: ClusterNode[];
    assignment: Record<string, string>;
  } | null;
  /** The tasks this worker runs (standalone: every task of the config). */
  tasks: TaskStatusReport[];
}
