import type { ResolvedConfig } from '../config/index.ts';
import { formatPosition, type BinlogPosition } from '../event/index.ts';
import { FilePositionStore } from '../checkpoint/index.ts';
import { StatusError } from '../errors/index.ts';
import { formatCount } from '../progress/index.ts';
import { registryConnectOptions } from '../cluster/index.ts';
import { readClusterView } from './cluster-view.ts';
import { configSecrets, redactText } from '../redact/index.ts';
import type { ClusterView, TaskStatusReport, WorkerStatusReport } from './types.ts';

export interface CollectStatusOptions {
  config: ResolvedConfig;
  /**
   * Cluster mode: the view of the registry (leader, live nodes with their status URLs,
   * assignment, stored positions), or a function reading it. Default: read from the ZooKeeper of
   * `config.cluster` when there is one; standalone (the local worker's endpoint from
   * `config.status`) otherwise.
   */
  cluster?: ClusterView | (() => Promise<ClusterView>);
  /** Bearer token for the workers' endpoints. Default `config.status.token`. */
  token?: string;
  /** Per request. Default 2000 ms. */
  timeoutMs?: number;
  /** Standalone: the worker's status URL instead of the one built from `config.status`. */
  url?: string;
}

export interface NodeStatus {
  id: string;
  statusUrl: string | null;
  leader: boolean;
  reachable: boolean;
  ready: boolean | null;
  error: string | null;
}

export interface TaskSummary {
  name: string;
  owner: string | null;
  state: string;
  position: BinlogPosition | null;
  lagSeconds: number | null;
  lagBytes: number | null;
  eventsPerSecond: number | null;
  inFlight: number | null;
  lastError: string | null;
  snapshot: TaskStatusReport['snapshot'];
}

/** What `tunnel status` prints (`--json` prints this object). */
export interface ClusterStatus {
  time: string;
  standalone: boolean;
  cluster: string | null;
  group: string | null;
  leader: string | null;
  nodes: NodeStatus[];
  tasks: TaskSummary[];
}

/**
 * Everything `tunnel status` shows: from ZooKeeper (the cluster view) and each live worker's
 * `/api/status`; a worker that does not answer is listed as unreachable and its tasks show the
 * position stored in ZooKeeper (standalone: in the position files).
 */
export async function collectStatus(options: CollectStatusOptions): Promise<ClusterStatus> {
  const { config } = options;
  const token = options.token ?? config.status.token;
  const timeoutMs = options.timeoutMs ?? 2000;
  const secrets = configSecrets(config);
  const view =
    typeof options.cluster === 'function'
      ? await options.cluster()
      : (options.cluster ??
        (config.cluster ? await readClusterView({ ...registryConnectOptions(config.cluster), tasks: config.tasks.map((t) => t.name) }) : undefined));

  const targets: Array<{ id: string; url: string | null }> = view
    ? view.nodes.map((n) => ({ id: n.id, url: n.statusUrl ?? null }))
    : [{ id: 'local', url: options.url ?? localUrl(config) }];
  const answers = await Promise.all(
    targets.map(async (target) => {
      if (!target.url) return { target, report: undefined, error: 'no status address in the registry' };
      try {
        return { target, report: await fetchReport(target.url, token, timeoutMs), error: undefined };
      } catch (error) {
        return { target, report: undefined, error: redactText((error as Error).message, secrets) };
      }
    }),
  );

  const nodes: NodeStatus[] = answers.map(({ target, report, error }) => ({
    id: report?.node ?? target.id,
    statusUrl: target.url,
    leader: view ? view.leader === target.id : true,
    reachable: report !== undefined,
    ready: report ? report.ready : null,
    error: error ?? null,
  }));

  // Who runs what: a worker's own report wins; else the assignment in ZooKeeper.
  const running = new Map<string, TaskStatusReport>();
  for (const { report } of answers) {
    for (const task of report?.tasks ?? []) {
      if (task.state === 'idle' && running.has(task.name)) continue;
      const current = running.get(task.name);
      if (!current || current.state === 'idle') running.set(task.name, task);
    }
  }
  const stored = view ? undefined : await storedPositions(config);
  const tasks: TaskSummary[] = config.tasks.map((task) => {
    const live = running.get(task.name);
    if (live && live.state !== 'idle') {
      return {
        name: task.name,
        owner: live.owner,
        state: live.state,
        position: live.committedPosition,
        lagSeconds: live.lagSeconds,
        lagBytes: live.lagBytes,
        eventsPerSecond: live.eventsPerSecond,
        inFlight: live.inFlight,
        lastError: live.lastError,
        snapshot: live.snapshot,
      };
    }
    const owner = view?.assignment?.[task.name] ?? null;
    const ownerReachable = owner !== null && nodes.some((n) => n.id === owner && n.reachable);
    return {
      name: task.name,
      owner,
      state: view
        ? owner === null
          ? 'unassigned'
          : ownerReachable
            ? (live?.state ?? 'idle')
            : 'unknown (owner unreachable)'
        : nodes[0]!.reachable
          ? (live?.state ?? 'idle')
          : 'unknown (worker unreachable)',
      position: view?.positions?.[task.name] ?? stored?.get(task.name) ?? null,
      lagSeconds: null,
      lagBytes: null,
      eventsPerSecond: null,
      inFlight: null,
      lastError: live?.lastError ?? null,
      snapshot: null,
    };
  });

  return {
    time: new Date().toISOString(),
    standalone: !view,
    cluster: view?.cluster ?? null,
    group: view?.group ?? null,
    leader: view ? (view.leader ?? null) : (answers[0]?.report?.node ?? null),
    nodes,
    tasks,
  };
}

function localUrl(config: ResolvedConfig): string | null {
  if (config.status.port === false || config.status.port === 0) return null;
  const host = config.status.host === '0.0.0.0' ? '127.0.0.1' : config.status.host === '::' ? '[::1]' : config.status.host;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${config.status.port}`;
}

async function fetchReport(base: string, token: string | undefined, timeoutMs: number): Promise<WorkerStatusReport> {
  const url = new URL('api/status', base.endsWith('/') ? base : `${base}/`);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new StatusError(`${url.origin}: ${reason}`, { url: url.origin });
  }
  if (response.status === 401) throw new StatusError(`${url.origin}: 401 unauthorized (status.token differs?)`, { url: url.origin, status: 401 });
  if (!response.ok) throw new StatusError(`${url.origin}: HTTP ${response.status}`, { url: url.origin, status: response.status });
  return (await response.json()) as WorkerStatusReport;
}

async function storedPositions(config: ResolvedConfig): Promise<Map<string, BinlogPosition>> {
  const out = new Map<string, BinlogPosition>();
  const store = new FilePositionStore(config.positions.dir);
  for (const task of config.tasks) {
    try {
      const stored = await store.load(task.name);
      if (stored) out.set(task.name, stored.position);
    } catch {
      // a damaged file is reported by `tunnel positions`; status shows no position
    }
  }
  return out;
}

/** The human table of `tunnel status`. */
export function formatStatus(status: ClusterStatus): string {
  const lines: string[] = [];
  if (status.standalone) {
    const node = status.nodes[0];
    lines.push(
      `standalone worker ${node?.reachable ? (status.leader ?? '') : ''}${node?.statusUrl ? ` at ${node.statusUrl}` : ''}${node && !node.reachable ? ` — not reachable: ${node.error}` : ''}`.replace(
        / {2,}/g,
        ' ',
      ),
    );
  } else {
    lines.push(`cluster ${status.cluster}  group ${status.group}  leader ${status.leader ?? '(none elected)'}`);
    lines.push('');
    lines.push(
      ...table(
        ['NODE', 'STATUS URL', 'STATE'],
        status.nodes.map((n) => [
          `${n.id}${n.leader ? ' *' : ''}`,
          n.statusUrl ?? '-',
          n.reachable ? (n.ready ? 'ready' : 'not ready') : `unreachable: ${n.error ?? ''}`,
        ]),
      ),
    );
  }
  lines.push('');
  lines.push(
    ...table(
      ['TASK', 'OWNER', 'STATE', 'POSITION', 'LAG', 'BEHIND', 'EVENTS/S', 'LAST ERROR'],
      status.tasks.map((t) => [
        t.name,
        t.owner ?? '-',
        t.state + (t.snapshot && t.snapshot.state === 'running' ? ` ${snapshotPercent(t.snapshot)}` : ''),
        t.position ? formatPosition(t.position) : '-',
        t.lagSeconds === null ? '-' : `${t.lagSeconds.toFixed(1)} s`,
        t.lagBytes === null ? '-' : formatBytes(t.lagBytes),
        t.eventsPerSecond === null ? '-' : formatCount(t.eventsPerSecond),
        t.lastError ? truncate(t.lastError, 60) : '',
      ]),
      [false, false, false, false, true, true, true, false],
    ),
  );
  return `${lines.join('\n')}\n`;
}

function snapshotPercent(s: NonNullable<TaskSummary['snapshot']>): string {
  return s.rowsTotal > 0 ? `(snapshot ${Math.min(100, Math.floor((100 * s.rowsDone) / s.rowsTotal))}%)` : `(snapshot ${s.rowsDone} rows)`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function table(header: string[], rows: string[][], right: boolean[] = []): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
