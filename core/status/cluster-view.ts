import {
  decodePosition,
  parseAssignment,
  registryPaths,
  ZkConnection,
  type ClusterMember,
  type RegistryConnectOptions,
  type RegistryPaths,
} from '../cluster/index.ts';
import type { BinlogPosition } from '../event/index.ts';
import { ClusterError } from '../errors/index.ts';
import type { ClusterNode, ClusterView, ZooKeeperSessionState } from './types.ts';

/**
 * The cluster view the status endpoint and `tunnel status` show, read from the registry (its layout
 * is in core/cluster/registry-paths.ts): `election` (the leader's address), `nodes/{node}` (MemberData
 * JSON of each live worker: its status URL is the advertised `statusUrl` field, else `http://{node}`
 * for a node id of the host:port form), `assignment` and `task/{task}/position`.
 */
export interface RegistryReadOptions {
  paths: RegistryPaths;
  /** This worker's node id (a reader that is no worker: any label, e.g. "tunnel-status"). */
  node: string;
  session: ZooKeeperSessionState;
  /** Tasks whose stored positions to read; none when omitted. */
  tasks?: readonly string[];
}

type ZkReader = Pick<ZkConnection, 'getData' | 'getChildren'>;

export async function readRegistry(zk: ZkReader, options: RegistryReadOptions): Promise<ClusterView> {
  const { paths } = options;
  const [election, children, assignmentNode] = await Promise.all([zk.getData(paths.election), zk.getChildren(paths.nodes), zk.getData(paths.assignment)]);
  const ids = (children ?? []).sort();
  const members = await Promise.all(
    ids.map(async (id): Promise<ClusterNode & { address?: string }> => {
      const data = await zk.getData(paths.node(id)).catch(() => undefined);
      let parsed: Record<string, unknown> = {};
      try {
        parsed = data ? (JSON.parse(data.data.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        // not JSON: a node written by something else; it is listed without an address
      }
      const statusUrl = typeof parsed.statusUrl === 'string' ? parsed.statusUrl : /^[^/:\s]+:\d+$/.test(id) ? `http://${id}` : undefined;
      return { id, ...(statusUrl ? { statusUrl } : {}), ...(typeof parsed.address === 'string' ? { address: parsed.address } : {}) };
    }),
  );
  const leaderAddress = election?.data.toString('utf8');
  const leader = leaderAddress === undefined ? undefined : (members.find((m) => m.address === leaderAddress || m.id === leaderAddress)?.id ?? leaderAddress);
  const positions: Record<string, BinlogPosition> = {};
  await Promise.all(
    (options.tasks ?? []).map(async (task) => {
      const node = await zk.getData(paths.position(task)).catch(() => undefined);
      if (!node) return;
      try {
        positions[task] = decodePosition(node.data, paths.position(task)).position;
      } catch {
        // a damaged record is `tunnel positions`'s to report
      }
    }),
  );
  return {
    cluster: paths.cluster,
    group: paths.group,
    node: options.node,
    ...(leader ? { leader } : {}),
    session: options.session,
    nodes: members.map(({ id, statusUrl }) => ({ id, ...(statusUrl ? { statusUrl } : {}) })),
    assignment: parseAssignment(assignmentNode?.data),
    positions,
  };
}

export interface ReadClusterViewOptions extends RegistryConnectOptions {
  tasks?: readonly string[];
  /** Longest wait for a ZooKeeper session. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** One look at the registry over a connection of its own (`tunnel status`). */
export async function readClusterView(options: ReadClusterViewOptions): Promise<ClusterView> {
  const zk = new ZkConnection({
    connect: options.connect,
    sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      zk.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new ClusterError(`ZooKeeper at ${options.connect} did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return await readRegistry(zk, {
      paths: registryPaths(options.cluster, options.group),
      node: 'tunnel-status',
      session: 'connected',
      ...(options.tasks ? { tasks: options.tasks } : {}),
    });
  } finally {
    clearTimeout(timer);
    await zk.close();
  }
}

export interface ClusterViewWatch {
  /** The last view read (undefined until the first read); the session state is always the current one. */
  get(): ClusterView | undefined;
  close(): void;
}

/**
 * A running worker's view for its status endpoint: the registry is read through the member's own
 * connection every `intervalMs` (default 2000) and whenever the assignment changes, so `get()` is
 * synchronous and cheap. Pass `() => watch.get()` as startStatusServer's `cluster` option.
 */
export function watchClusterView(member: ClusterMember, options: { intervalMs?: number; tasks?: readonly string[] } = {}): ClusterViewWatch {
  let view: ClusterView | undefined;
  let reading: Promise<void> | undefined;
  let closed = false;
  const refresh = () => {
    if (closed || reading || member.sessionState !== 'connected') return;
    reading = readRegistry(member.zk, {
      paths: member.paths,
      node: member.nodeId,
      session: member.sessionState,
      ...(options.tasks ? { tasks: options.tasks } : {}),
    })
      .then((next) => {
        view = next;
      })
      .catch(() => undefined)
      .finally(() => {
        reading = undefined;
      });
  };
  const timer = setInterval(refresh, options.intervalMs ?? 2000);
  timer.unref();
  const onChange = () => refresh();
  const changes = ['assignment', 'elected', 'deposed', 'registered'] as const;
  for (const event of changes) member.on(event, onChange);
  refresh();
  return {
    get() {
      if (!view) {
        return {
          cluster: member.paths.cluster,
          group: member.paths.group,
          node: member.nodeId,
          session: member.sessionState,
          nodes: [],
          assignment: { ...member.assignment },
        };
      }
      return { ...view, session: member.sessionState, ...(member.isLeader ? { leader: member.nodeId } : {}) };
    },
    close() {
      closed = true;
      clearInterval(timer);
      for (const event of changes) member.off(event, onChange);
    },
  };
}
