import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { copyPosition as copyBinlogPosition, samePosition, type BinlogPosition } from '../event/index.ts';
import type { TaskRunner } from '../runtime/task-runner.ts';
import type { TaskStatus, Worker } from '../runtime/worker.ts';
import { snapshotStatus } from '../snapshot/index.ts';
import { mysqlConnectionOptions } from '../source/index.ts';
import { configSecrets, redactText } from '../redact/index.ts';
import type { ClusterView, TaskStatusReport, WorkerStatusReport } from './types.ts';

export interface CollectorOptions {
  cluster?: () => ClusterView | undefined;
  /** A task with events in flight and nothing acknowledged for this long is stalled. Default 60 000 ms. */
  stallAfterMs?: number;
  /** Window of the events/s rates. Default 5000 ms. */
  rateWindowMs?: number;
  /**
   * How often the source server's binlog end is read (SHOW BINARY LOGS, one small connection per
   * source server) to report the lag in bytes; 0 turns it off. Default 5000 ms.
   */
  serverPositionIntervalMs?: number;
  now?: () => number;
}

interface Sample {
  at: number;
  eventsIn: number;
  sinks: Record<string, number>;
}

interface TaskTrack {
  runner: TaskRunner;
  samples: Sample[];
  /** Deliveries settled (written or dead-lettered) at the last check, and when that last changed. */
  settled: number;
  progressAt: number;
}

/** One source server's binlog files and sizes, read now and then for lag in bytes. */
interface ServerProbe {
  conn: Promise<Connection> | undefined;
  files: Array<{ name: string; size: number }> | undefined;
  readAt: number;
  reading: Promise<void> | undefined;
  failed: boolean;
}

/**
 * Samples a worker's tasks once a second (and on demand) for rates, stalls and lag; builds the
 * `/api/status` report and the readiness verdict. Holds no secrets in what it reports.
 */
export class StatusCollector {
  private readonly tracks = new Map<string, TaskTrack>();
  private readonly probes = new Map<string, ServerProbe>();
  private readonly secrets: string[];
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(
    readonly worker: Worker,
    private readonly options: CollectorOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.secrets = configSecrets(worker.config);
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
    this.sample();
  }

  get stallAfterMs(): number {
    return this.options.stallAfterMs ?? 60_000;
  }

  redact(text: string): string {
    return redactText(text, this.secrets);
  }

  /** Record the counters of every running task; called every second and before each report. */
  sample(): void {
    const at = this.now();
    const window = this.options.rateWindowMs ?? 5000;
    for (const [name, runner] of this.worker.tasks) {
      let track = this.tracks.get(name);
      if (!track || track.runner !== runner) {
        track = { runner, samples: [], settled: settledOf(runner), progressAt: at };
        this.tracks.set(name, track);
      }
      const sinks: Record<string, number> = {};
      for (const [sink, stats] of Object.entries(runner.stats.sinks)) sinks[sink] = stats.eventsOut;
      const last = track.samples[track.samples.length - 1];
      if (!last || at - last.at >= 200) track.samples.push({ at, eventsIn: runner.stats.eventsIn, sinks });
      while (track.samples.length > 2 && at - track.samples[1]!.at >= window) track.samples.shift();
      const settled = settledOf(runner);
      if (settled !== track.settled || runner.stats.inFlight === 0) {
        track.settled = settled;
        track.progressAt = at;
      }
    }
    for (const name of this.tracks.keys()) if (!this.worker.tasks.has(name)) this.tracks.delete(name);
    // Keep the servers' binlog ends fresh, so that the first report already knows the lag in bytes.
    const interval = this.options.serverPositionIntervalMs ?? 5000;
    if (interval > 0) for (const runner of this.worker.tasks.values()) if (runner.stats.state === 'running') this.probe(runner, interval);
  }

  /** Rates over the window: events read per second, and per sink events written per second. */
  rates(name: string): { eventsIn: number; sinks: Record<string, number> } {
    const track = this.tracks.get(name);
    const first = track?.samples[0];
    const stats = track?.runner.stats;
    if (!track || !first || !stats) return { eventsIn: 0, sinks: {} };
    const seconds = (this.now() - first.at) / 1000;
    if (seconds < 0.5) return { eventsIn: 0, sinks: {} };
    const sinks: Record<string, number> = {};
    for (const [sink, s] of Object.entries(stats.sinks)) sinks[sink] = round1((s.eventsOut - (first.sinks[sink] ?? 0)) / seconds);
    return { eventsIn: round1((stats.eventsIn - first.eventsIn) / seconds), sinks };
  }

  /** In flight with nothing acknowledged for `stallAfterMs`. */
  stalled(name: string): boolean {
    const track = this.tracks.get(name);
    if (!track) return false;
    return track.runner.stats.inFlight > 0 && this.now() - track.progressAt >= this.stallAfterMs;
  }

  /** Seconds behind: now − server time of the committed transaction, while events are pending; else 0. */
  lagSeconds(stats: TaskStatus): number {
    const pending = stats.inFlight > 0 || (stats.readPosition !== undefined && !samePosition(stats.readPosition, stats.committedPosition));
    if (!pending) return 0;
    const since = stats.committedTimestamp ?? stats.readTimestamp ?? stats.startedAt;
    return since === undefined ? 0 : Math.max(0, round1((this.now() - since) / 1000));
  }

  /** Binlog bytes from the committed position to the server's end, from the last probe; null when unknown. */
  lagBytes(name: string, stats: TaskStatus): number | null {
    const interval = this.options.serverPositionIntervalMs ?? 5000;
    const runner = this.worker.tasks.get(name);
    const position = stats.committedPosition ?? stats.readPosition;
    if (interval <= 0 || !runner || !position) return null;
    const probe = this.probe(runner, interval);
    return probe.files ? bytesBehind(probe.files, position) : null;
  }

  private probe(runner: TaskRunner, interval: number): ServerProbe {
    // the server the task reads now (one of source.hosts), whose binlog its positions name
    const { host, port } = runner.stats.sourceServer ?? runner.config.source;
    const { user } = runner.config.source;
    const key = `${host}:${port}:${user}`;
    let probe = this.probes.get(key);
    if (!probe) {
      probe = { conn: undefined, files: undefined, readAt: 0, reading: undefined, failed: false };
      this.probes.set(key, probe);
    }
    const current = probe;
    if (!current.reading && this.now() - current.readAt >= interval) {
      current.readAt = this.now();
      current.reading = (async () => {
        try {
          current.conn ??= mysql.createConnection(mysqlConnectionOptions({ ...runner.config.source, host, port }));
          const conn = await current.conn;
          const [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
          current.files = rows.map((row) => ({ name: String(row.Log_name), size: Number(row.File_size) }));
          current.failed = false;
        } catch {
          // Unknown until the next probe works; the connection is opened again then.
          const stale = current.conn;
          current.conn = undefined;
          current.files = undefined;
          current.failed = true;
          void stale?.then((c) => c.destroy()).catch(() => undefined);
        } finally {
          current.reading = undefined;
        }
      })();
    }
    return current;
  }

  /** Every task of this worker: those it runs, and those of the config that failed here. */
  private taskStatuses(): TaskStatus[] {
    const standalone = !this.worker.config.cluster;
    return this.worker.status().filter((t) => this.worker.tasks.has(t.name) || t.state === 'failed' || standalone);
  }

  taskReport(stats: TaskStatus, view: ClusterView | undefined): TaskStatusReport {
    const runner = this.worker.tasks.get(stats.name);
    const rates = this.rates(stats.name);
    const sinks: TaskStatusReport['sinks'] = {};
    let eventsOut = 0;
    for (const [name, s] of Object.entries(stats.sinks)) {
      eventsOut += s.eventsOut;
      sinks[name] = {
        eventsOut: s.eventsOut,
        eventsPerSecond: rates.sinks[name] ?? 0,
        batches: s.batches,
        retries: s.retries,
        deadLetters: s.deadLetters,
        lastBatchMs: Math.round(s.lastBatchMs * 10) / 10,
        lastError: s.lastError ? this.redact(s.lastError) : null,
      };
    }
    const snap = runner ? snapshotStatus(runner) : undefined;
    return {
      name: stats.name,
      owner: runner ? this.worker.nodeId : (view?.assignment?.[stats.name] ?? null),
      state: stats.state,
      readPosition: copyPosition(stats.readPosition),
      committedPosition: copyPosition(stats.committedPosition),
      lagSeconds: this.lagSeconds(stats),
      lagBytes: this.lagBytes(stats.name, stats),
      eventsPerSecond: rates.eventsIn,
      eventsIn: stats.eventsIn,
      eventsFiltered: stats.eventsFiltered,
      eventsOut,
      inFlight: stats.inFlight,
      sourcePaused: stats.sourcePaused,
      stalled: this.stalled(stats.name),
      lastError: stats.lastError ? this.redact(stats.lastError) : null,
      sinks,
      snapshot: snap
        ? {
            state: snap.state,
            rowsDone: snap.rowsDone,
            rowsTotal: Math.max(snap.rowsTotal, snap.rowsDone),
            table: snap.table ?? null,
            tablesDone: snap.tablesDone,
            tablesTotal: snap.tablesTotal,
          }
        : null,
      startedAt: stats.startedAt ? new Date(stats.startedAt).toISOString() : null,
    };
  }

  report(): WorkerStatusReport {
    this.sample();
    const view = this.options.cluster?.();
    const tasks = this.taskStatuses().map((stats) => this.taskReport(stats, view));
    return {
      node: this.worker.nodeId,
      time: new Date(this.now()).toISOString(),
      uptimeSeconds: Math.round((this.now() - this.startedAt) / 1000),
      ready: this.readiness().ready,
      cluster: view
        ? {
            name: view.cluster,
            group: view.group,
            leader: view.leader ?? null,
            session: view.session,
            nodes: view.nodes.map((n) => ({ id: n.id, ...(n.statusUrl ? { statusUrl: n.statusUrl } : {}) })),
            assignment: { ...(view.assignment ?? {}) },
          }
        : null,
      tasks,
    };
  }

  /**
   * Ready when every task of this worker is running (or snapshotting) and none is stalled or
   * failed, and, in a cluster, the ZooKeeper session is connected. A worker with no task is ready.
   */
  readiness(): { ready: boolean; reasons: string[] } {
    this.sample();
    const reasons: string[] = [];
    const view = this.options.cluster?.();
    if (view && view.session !== 'connected') reasons.push(`zookeeper session ${view.session}`);
    for (const stats of this.taskStatuses()) {
      if (stats.state === 'failed') reasons.push(`task ${stats.name} failed${stats.lastError ? `: ${this.redact(stats.lastError)}` : ''}`);
      else if (this.worker.tasks.has(stats.name) && stats.state !== 'running' && stats.state !== 'snapshotting')
        reasons.push(`task ${stats.name} is ${stats.state}`);
      else if (this.stalled(stats.name))
        reasons.push(`task ${stats.name} stalled: ${stats.inFlight} events in flight, none acknowledged for ${Math.round(this.stallAfterMs / 1000)} s`);
      else if (!this.worker.tasks.has(stats.name) && !this.worker.config.cluster) reasons.push(`task ${stats.name} is not running`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(
      [...this.probes.values()].map(async (probe) => {
        await probe.reading;
        const conn = await probe.conn?.catch(() => undefined);
        await conn?.end().catch(() => conn.destroy());
      }),
    );
    this.probes.clear();
  }
}

function settledOf(runner: TaskRunner): number {
  let total = 0;
  for (const s of Object.values(runner.stats.sinks)) total += s.eventsOut + s.deadLetters;
  return total;
}

function copyPosition(p: BinlogPosition | undefined): BinlogPosition | null {
  return p ? copyBinlogPosition(p) : null;
}

/** Bytes of binlog after `position`: the rest of its file plus every later file. */
export function bytesBehind(files: ReadonlyArray<{ name: string; size: number }>, position: BinlogPosition): number | null {
  const index = files.findIndex((f) => f.name === position.file);
  if (index < 0) return null;
  let bytes = Math.max(0, files[index]!.size - position.offset);
  for (let i = index + 1; i < files.length; i++) bytes += files[i]!.size;
  return bytes;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
