import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchWrittenInfo } from '../pipeline/index.ts';
import type { TaskRunner } from '../runtime/task-runner.ts';
import { snapshotStatus, type SnapshotStatus } from '../snapshot/index.ts';
import type { StatusCollector } from './worker-status.ts';
import { ZOOKEEPER_SESSION_STATES, type ClusterView } from './types.ts';

export const TASK_STATES = ['idle', 'starting', 'snapshotting', 'running', 'stopping', 'stopped', 'failed'] as const;

export interface WorkerMetrics {
  registry: Registry;
  /** Tap a runner's hooks (batch latency histogram); idempotent. */
  watch(runner: TaskRunner): void;
}

/**
 * A Prometheus registry per status server. Counters and gauges are read from the worker's task
 * stats at scrape time (so they cost nothing between scrapes); the batch latency histogram is
 * observed from each runner's `batchWritten` hook. Counters restart at 0 when a task restarts on
 * this worker or moves to another (a counter reset, which rate() handles).
 */
export function createWorkerMetrics(
  collector: StatusCollector,
  cluster?: () => ClusterView | undefined,
  options: { defaultMetrics?: boolean } = {},
): WorkerMetrics {
  const { worker } = collector;
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tunnel_process_' });
  const tasks = () => [...worker.tasks.values()];
  /** A per-task gauge of the snapshot state, for the tasks that ran one. */
  const setPerSnapshot = (gauge: Gauge<'task'>, value: (snap: SnapshotStatus) => number) => {
    gauge.reset();
    for (const runner of tasks()) {
      const snap = snapshotStatus(runner);
      if (snap) gauge.set({ task: runner.name }, value(snap));
    }
  };

  new Counter({
    name: 'tunnel_events_in_total',
    help: 'Row events read by the task (binlog and snapshot), before filters.',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const runner of tasks()) this.inc({ task: runner.name }, runner.stats.eventsIn);
    },
  });
  new Counter({
    name: 'tunnel_events_filtered_total',
    help: 'Row events dropped by a filter plugin.',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const runner of tasks()) this.inc({ task: runner.name }, runner.stats.eventsFiltered);
    },
  });
  const perSink = (name: string, help: string, pick: (s: TaskRunner['stats']['sinks'][string]) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['task', 'sink'],
      registers: [registry],
      collect() {
        this.reset();
        for (const runner of tasks()) for (const [sink, s] of Object.entries(runner.stats.sinks)) this.inc({ task: runner.name, sink }, pick(s));
      },
    });
  perSink('tunnel_events_out_total', 'Row events a sink acknowledged as written.', (s) => s.eventsOut);
  perSink('tunnel_batches_total', 'Batches a sink answered.', (s) => s.batches);
  perSink('tunnel_retries_total', 'Batch retries after transient sink failures.', (s) => s.retries);
  perSink('tunnel_dead_letters_total', 'Events a sink rejected for good, stored as dead letters.', (s) => s.deadLetters);

  const duration = new Histogram({
    name: 'tunnel_batch_duration_seconds',
    help: 'Time from a batch’s first write attempt to its final answer, retries included.',
    labelNames: ['task', 'sink'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  new Gauge({
    name: 'tunnel_lag_seconds',
    help: 'Seconds the committed position is behind the source (now minus the committed transaction’s server time while events are pending; 0 when caught up).',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const stats of worker.status()) if (worker.tasks.has(stats.name)) this.set({ task: stats.name }, collector.lagSeconds(stats));
    },
  });
  new Gauge({
    name: 'tunnel_lag_bytes',
    help: 'Binlog bytes between the committed position and the source server’s current end (when known).',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const stats of worker.status()) {
        if (!worker.tasks.has(stats.name)) continue;
        const bytes = collector.lagBytes(stats.name, stats);
        if (bytes !== null) this.set({ task: stats.name }, bytes);
      }
    },
  });
  new Gauge({
    name: 'tunnel_events_in_flight',
    help: 'Events read but not yet acknowledged by every sink.',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const runner of tasks()) this.set({ task: runner.name }, runner.stats.inFlight);
    },
  });
  new Gauge({
    name: 'tunnel_source_paused',
    help: '1 while the task’s source is paused by back-pressure.',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const runner of tasks()) this.set({ task: runner.name }, runner.stats.sourcePaused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tunnel_task_state',
    help: '1 for the state each task of this worker is in.',
    labelNames: ['task', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const stats of worker.status()) {
        if (!worker.tasks.has(stats.name) && stats.state !== 'failed' && worker.config.cluster) continue;
        for (const state of TASK_STATES) this.set({ task: stats.name, state }, stats.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'tunnel_task_stalled',
    help: '1 when the task has events in flight and none was acknowledged for the stall time (60 s).',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      this.reset();
      for (const runner of tasks()) this.set({ task: runner.name }, collector.stalled(runner.name) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tunnel_snapshot_rows_done',
    help: 'Rows of the initial snapshot acknowledged by every sink.',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      setPerSnapshot(this, (snap) => snap.rowsDone);
    },
  });
  new Gauge({
    name: 'tunnel_snapshot_rows_total',
    help: 'Estimated rows of the initial snapshot (information_schema TABLE_ROWS).',
    labelNames: ['task'],
    registers: [registry],
    collect() {
      setPerSnapshot(this, (snap) => Math.max(snap.rowsTotal, snap.rowsDone));
    },
  });
  new Gauge({
    name: 'tunnel_zookeeper_session_state',
    help: '1 for the worker’s ZooKeeper session state (state="standalone" without a cluster).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const session = cluster?.()?.session ?? 'standalone';
      for (const state of ZOOKEEPER_SESSION_STATES) this.set({ state }, state === session ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tunnel_leader',
    help: '1 when this worker is its group’s leader.',
    registers: [registry],
    collect() {
      const view = cluster?.();
      this.set(view ? (view.leader === view.node ? 1 : 0) : 1);
    },
  });

  const watched = new WeakSet<TaskRunner>();
  return {
    registry,
    watch(runner) {
      if (watched.has(runner)) return;
      watched.add(runner);
      runner.hooks.batchWritten.tap('tunnel:metrics', (info: BatchWrittenInfo) => {
        duration.observe({ task: info.task, sink: info.sink }, info.durationMs / 1000);
      });
    },
  };
}
