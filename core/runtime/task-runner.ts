import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ResolvedTask } from '../config/index.ts';
import { formatPosition, rowCount, samePosition, type BinlogPosition, type RowEvent, type TableName } from '../event/index.ts';
import { CommitTracker, type PositionStore, type SchemaChangeProgress, type StoredPosition } from '../checkpoint/index.ts';
import { applyPlugins, type AppliedPipeline } from '../pipeline/index.ts';
import type { DeadLetterStore } from '../dead-letter/index.ts';
import type { BinlogSource, SourceOptions, SourceServerInfo, StartFrom } from '../source/source.ts';
import type { SnapshotStatus } from '../snapshot/status.ts';
import { ConfigError, FencedError, PluginError, TunnelError, SinkError } from '../errors/index.ts';
import { SinkDispatcher, type Delivery, type SinkStats } from './sink-dispatcher.ts';
import { estimateEventBytes } from './event-size.ts';
import { batchLimitsFor } from './batch-limits.ts';
import { SchemaChanges, type SchemaChangeStats } from './schema-changes.ts';
import { WriteGate } from './write-gate.ts';
import { deadLetterStoreFor } from './dead-letter-choice.ts';
import { writePauseFromEnv } from './write-pause.ts';
import { STANDALONE_EPOCH } from '../sink/index.ts';

export type TaskState = 'idle' | 'starting' | 'snapshotting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface TaskStats {
  state: TaskState;
  eventsIn: number;
  eventsFiltered: number;
  inFlight: number;
  /** Position of the last transaction read from the binlog. */
  readPosition?: BinlogPosition;
  /** Position last written to the position store. */
  committedPosition?: BinlogPosition;
  /** The source server being read (one of `source.hosts`) and the source generation. */
  sourceServer?: SourceServerInfo;
  /** Server time of the last committed transaction, ms. */
  committedTimestamp?: number;
  /** Server time of the last transaction read, ms. */
  readTimestamp?: number;
  sourcePaused: boolean;
  /**
   * Positions cannot be stored now (cluster: the ZooKeeper session is disconnected): no batch goes to
   * the sinks and the source waits, until they can.
   */
  positionStoreUnavailable?: boolean;
  /** Schema changes applied to the sinks, ignored by policy, and tables read again. */
  schemaChanges?: SchemaChangeStats;
  lastError?: string;
  startedAt?: number;
  sinks: Record<string, SinkStats>;
}

export interface TaskRunnerEvents {
  stateChange: [TaskState];
  /** The task stopped on its own (plugin error with policy "stop", fatal source error, fencing). */
  failed: [Error];
  committed: [BinlogPosition];
}

/** What a task needs from the worker around it. */
export interface TaskRunnerDeps {
  positionStore: PositionStore;
  createSource(options: SourceOptions, logger: Logger): BinlogSource;
  /** Runs the initial snapshot when the task asks for one (see core/snapshot). */
  snapshot?: (runner: TaskRunner, stored: StoredPosition | undefined) => Promise<StoredPosition | undefined>;
  deadLetterDir: string;
  logger: Logger;
  /** Cluster mode: whether this worker may still write to sinks (asked before every write). */
  canWrite?: () => boolean;
  /**
   * The epoch of this run's ownership of the task, carried by every sink write so that sinks refuse
   * older owners (cluster: the lease's ZooKeeper epoch; default STANDALONE_EPOCH).
   */
  epoch?: number;
  /** Reads one table again in the middle of the stream (core/snapshot/table-resync.ts), for schema changes. */
  resync?: (runner: TaskRunner, table: TableName, position: BinlogPosition) => Promise<number>;
}

/**
 * One task: source → filter → transform → route → sinks → acknowledgements → checkpoint.
 * Only positions of transactions whose every delivery was acknowledged are committed, in order.
 */
export class TaskRunner extends EventEmitter<TaskRunnerEvents> {
  readonly name: string;
  readonly logger: Logger;
  readonly stats: TaskStats;
  readonly pipeline: AppliedPipeline;
  /** The initial snapshot's progress, set by the snapshot while it runs and kept after it ends (status, metrics). */
  snapshotStatus: SnapshotStatus | undefined;
  private readonly tracker = new CommitTracker();
  private readonly dispatchers = new Map<string, SinkDispatcher>();
  private readonly allSinkNames: string[];
  private readonly abort = new AbortController();
  private deadLetters!: DeadLetterStore;
  private source: BinlogSource | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private lastSaved: BinlogPosition | undefined;
  private fatal: Error | undefined;
  private stopping: Promise<void> | undefined;
  /** Events of a transaction whose commit is not read yet were accepted. */
  private insideTransaction = false;
  /** Set once a graceful stop reached a transaction boundary (or gave up waiting for one). */
  private closedToBinlog = false;
  private onBoundary: (() => void) | undefined;
  /**
   * Row changes in flight, what back-pressure counts (`maxInFlightRows`): an event carries one
   * binlog rows-event, which holds up to ~100 rows of a narrow table.
   */
  private inFlightRows = 0;
  /** Reasons besides back-pressure to keep the source paused (a table being read again, positions that cannot be stored). */
  private sourceHolds = 0;
  /** Closed while positions cannot be stored: sink writes wait at it. */
  private readonly gate = new WriteGate();
  private unwatchPositionStore: (() => void) | undefined;
  private schemaChanges!: SchemaChanges;
  /** The epoch every sink write of this run carries. */
  readonly epoch: number;

  constructor(
    readonly config: ResolvedTask,
    private readonly deps: TaskRunnerDeps,
  ) {
    super();
    this.name = config.name;
    this.epoch = deps.epoch ?? STANDALONE_EPOCH;
    this.logger = deps.logger.child({ task: config.name });
    this.stats = { state: 'idle', eventsIn: 0, eventsFiltered: 0, inFlight: 0, sourcePaused: false, sinks: {} };
    this.pipeline = applyPlugins(config.name, config.plugins, this.logger);
    this.allSinkNames = [...this.pipeline.sinks.keys()];
    if (this.allSinkNames.length === 0) {
      throw new ConfigError(`task "${config.name}": no sink registered; add a sink plugin such as elasticsearch(), redis() or webhook() to tasks[].plugins`);
    }
  }

  get hooks() {
    return this.pipeline.hooks;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Where this task's position is committed (the snapshot saves its progress there too). */
  get positionStore(): PositionStore {
    return this.deps.positionStore;
  }

  private setState(state: TaskState): void {
    this.stats.state = state;
    this.emit('stateChange', state);
  }

  async start(): Promise<void> {
    const { config, deps } = this;
    this.stats.startedAt = Date.now();
    this.setState('starting');
    this.deadLetters = deadLetterStoreFor(this.config, this.pipeline, {
      dir: this.deps.deadLetterDir,
      sinkNames: this.allSinkNames,
      fence: { task: this.name, epoch: this.epoch },
    });
    const beforeWrite = writePauseFromEnv();
    for (const [name, sink] of this.pipeline.sinks) {
      await sink.start?.(this.abort.signal);
      const limits = batchLimitsFor(config.batch, sink);
      const dispatcher = new SinkDispatcher({
        task: this.name,
        epoch: this.epoch,
        name,
        sink,
        limits,
        retry: config.retry,
        deadLetters: this.deadLetters,
        hooks: this.hooks,
        logger: this.logger,
        onSettled: (delivery) => this.settle(delivery),
        onSchemaSettled: (delivery, result) => this.schemaChanges.settled(name, delivery, result),
        signal: this.abort.signal,
        gate: this.gate,
        onFenced: (error) => this.fail(error),
        ...(deps.canWrite ? { canWrite: deps.canWrite } : {}),
        ...(beforeWrite ? { beforeWrite } : {}),
      });
      this.dispatchers.set(name, dispatcher);
      this.stats.sinks[name] = dispatcher.stats;
    }
    await this.hooks.taskStart.promise({ task: this.name });
    this.watchPositionStore();

    let stored = await deps.positionStore.load(this.name);
    // An unfinished snapshot is always finished first, whatever `snapshot` says now: streaming from
    // its recorded start position alone would never send the rows it had not read yet.
    if (deps.snapshot && (stored?.snapshot || config.snapshot === 'always' || (config.snapshot === 'initial' && !stored))) {
      this.setState('snapshotting');
      stored = await deps.snapshot(this, stored);
      if (this.abort.signal.aborted) return;
    }
    const from: StartFrom = stored
      ? { kind: 'position', position: stored.position }
      : typeof config.source.startFrom === 'string'
        ? { kind: config.source.startFrom }
        : { kind: 'position', position: config.source.startFrom };
    if (stored) this.lastSaved = stored.position;
    this.stats.committedPosition = stored?.position;
    this.schemaChanges = new SchemaChanges(
      {
        name: this.name,
        config,
        logger: this.logger,
        hooks: this.hooks,
        dispatchers: this.dispatchers,
        fail: (error) => this.fail(error),
        holdSource: () => this.holdSource(),
        releaseSource: () => this.releaseSource(),
        acknowledge: (segment) => this.tracker.acknowledge(segment),
        saveProgress: (progress) => this.saveSchemaProgress(progress),
        ...(deps.resync ? { resync: (table, position) => deps.resync!(this, table, position) } : {}),
      },
      stored?.schemaChange,
    );
    this.stats.schemaChanges = this.schemaChanges.stats;

    this.source = deps.createSource(
      {
        connection: {
          host: config.source.host,
          port: config.source.port,
          user: config.source.user,
          password: config.source.password,
          ...(config.source.ssl ? { ssl: config.source.ssl } : {}),
        },
        hosts: config.source.hosts,
        reconnect: config.source.reconnect,
        serverId: config.source.serverId,
        include: config.source.include,
        exclude: config.source.exclude,
      },
      this.logger,
    );
    // held already (positions cannot be stored): the source starts paused
    if (this.sourceHolds > 0) this.source.pause();
    this.commitTimer = setInterval(() => void this.commit(), config.commitIntervalMs);
    this.logger.info({ from: from.kind === 'position' ? formatPosition(from.position) : from.kind }, 'task starting to read the binlog');
    await this.source.start(from, {
      onEvent: (event) => this.accept(event),
      onCommit: (position, timestamp) => {
        if (this.closedToBinlog) return;
        this.stats.readPosition = position;
        this.stats.readTimestamp = timestamp;
        this.tracker.commit(position, timestamp);
        this.insideTransaction = false;
        if (this.onBoundary) {
          // Close before the source hands over anything after this commit in the same tick.
          this.closedToBinlog = true;
          this.source?.pause();
          this.onBoundary();
        }
      },
      onSchemaChange: (change) => {
        if (this.closedToBinlog) return;
        this.insideTransaction = true;
        this.schemaChanges.accept(change, this.tracker.current());
      },
      onError: (error) => this.fail(error),
      onServer: (server) => {
        this.stats.sourceServer = server;
      },
    });
    if (!this.fatal) this.setState('running');
  }

  private holdSource(): void {
    this.sourceHolds++;
    this.source?.pause();
  }

  private releaseSource(): void {
    this.sourceHolds = Math.max(0, this.sourceHolds - 1);
    if (this.sourceHolds === 0 && !this.stats.sourcePaused) this.source?.resume();
  }

  /**
   * What reaches a sink while positions cannot be stored is delivered again by the next owner if the
   * session does not come back: hand the sinks nothing new and hold the source (one hold, beside
   * back-pressure and resyncs) until saves succeed again, then store what was acknowledged meanwhile.
   */
  private watchPositionStore(): void {
    const availability = this.deps.positionStore.availability;
    if (!availability) return;
    this.unwatchPositionStore = this.gate.follow(availability, {
      closed: () => {
        this.stats.positionStoreUnavailable = true;
        this.holdSource();
        this.logger.warn('positions cannot be stored: no new batch goes to the sinks and the source waits until they can');
      },
      opened: (waitedMs) => {
        this.stats.positionStoreUnavailable = false;
        this.releaseSource();
        this.logger.info({ waitedMs }, 'positions can be stored again: the sinks and the source go on');
        if (this.commitTimer) void this.commit();
      },
    });
  }

  /**
   * Sends an event through the hooks to its sinks. Also the way the snapshot feeds rows in, with
   * a segment of its own (the snapshot's chunk) instead of the binlog transaction.
   */
  accept(event: RowEvent, segment = this.tracker.current()): void {
    if (segment === this.tracker.current()) {
      // Binlog events after the stop boundary are read again after the restart: sending them now
      // would only deliver them twice.
      if (this.closedToBinlog) return;
      this.insideTransaction = true;
    }
    this.stats.eventsIn++;
    const { hooks } = this;
    let routed: RowEvent;
    try {
      if (hooks.filter.call(event) === false) {
        this.stats.eventsFiltered++;
        return;
      }
      routed = hooks.transform.call(event);
      const perTable = hooks.tableTransform.get(`${routed.schema}.${routed.table}`);
      if (perTable) routed = perTable.call(routed);
      if (!hooks.expand.isUsed()) {
        this.dispatch(routed, hooks.route.call(this.allSinkNames, routed), segment);
      } else {
        for (const part of hooks.expand.call([routed])) this.dispatch(part, hooks.route.call(this.allSinkNames, part), segment);
      }
    } catch (error) {
      this.onPluginError(event, error, segment);
      return;
    }
    if (this.inFlightRows >= this.config.maxInFlightRows && !this.stats.sourcePaused) {
      this.stats.sourcePaused = true;
      this.source?.pause();
    }
  }

  private dispatch(event: RowEvent, sinks: readonly string[], segment: ReturnType<CommitTracker['current']>): void {
    const rows = rowCount(event);
    if (rows === 0) return;
    const bytes = estimateEventBytes(event);
    for (const name of sinks) {
      const dispatcher = this.dispatchers.get(name);
      if (!dispatcher) {
        this.fail(
          new ConfigError(
            `task "${this.name}": an event of ${event.schema}.${event.table} was routed to unknown sink "${name}"; the sinks are ${this.allSinkNames.join(', ')}`,
          ),
        );
        return;
      }
      segment.pending++;
      this.stats.inFlight++;
      this.inFlightRows += rows;
      dispatcher.enqueue({ event, segment, bytes, rows });
    }
  }

  private settle(delivery: Delivery): void {
    this.stats.inFlight--;
    this.inFlightRows -= delivery.rows;
    this.tracker.acknowledge(delivery.segment);
    if (this.stats.sourcePaused && this.inFlightRows <= this.config.maxInFlightRows / 2) {
      this.stats.sourcePaused = false;
      if (this.sourceHolds === 0) this.source?.resume();
    }
  }

  private onPluginError(event: RowEvent, error: unknown, segment: ReturnType<CommitTracker['current']>): void {
    const wrapped = error instanceof PluginError ? error : new PluginError('(unknown)', 'pipeline', this.name, error, { position: event.position });
    this.stats.lastError = wrapped.message;
    this.hooks.error.call(wrapped);
    if (this.config.onPluginError === 'dead-letter') {
      this.logger.warn({ err: wrapped, code: wrapped.code }, 'plugin failed on an event; it goes to the dead letters');
      // Counted as a delivery so the position waits until the dead letter is stored.
      segment.pending++;
      this.stats.inFlight++;
      const rows = rowCount(event);
      this.inFlightRows += rows;
      const delivery: Delivery = { event, segment, bytes: 0, rows };
      this.deadLetters
        .put([{ task: this.name, origin: `plugin:${wrapped.plugin}`, reason: wrapped.message, at: new Date().toISOString(), event }])
        .then(() => this.settle(delivery))
        .catch((storeError: unknown) => this.fail(new SinkError(`cannot store dead letter: ${String(storeError)}`)));
      return;
    }
    this.fail(wrapped);
  }

  /** Stop at once on a fatal error; what was acknowledged stays committed, nothing after it. */
  private fail(error: Error): void {
    if (this.fatal) return;
    this.fatal = error;
    this.stats.lastError = error.message;
    this.logger.error({ err: error, code: (error as TunnelError).code }, 'task failed and stops');
    if (error instanceof TunnelError) this.hooks.error.call(error);
    this.source?.pause();
    void this.shutdown(0, true).then(() => {
      this.setState('failed');
      this.emit('failed', error);
    });
  }

  private async commit(): Promise<void> {
    if (this.committing) return this.committing;
    const next = this.tracker.committablePosition();
    if (!next || (this.lastSaved && samePosition(this.lastSaved, next.position))) return;
    this.committing = (async () => {
      try {
        this.schemaChanges.committedPast(next.position);
        const progress = this.schemaChanges.pending;
        await this.deps.positionStore.save(this.name, { position: next.position, updatedAt: Date.now(), ...(progress ? { schemaChange: progress } : {}) });
        this.lastSaved = next.position;
        this.stats.committedPosition = next.position;
        this.stats.committedTimestamp = next.timestamp;
        this.hooks.positionCommitted.call(next.position);
        this.emit('committed', next.position);
      } catch (error) {
        if (error instanceof FencedError) {
          this.fail(error);
        } else {
          this.stats.lastError = `position commit failed: ${(error as Error).message}`;
          this.logger.warn({ err: error }, 'position commit failed; will retry');
        }
      } finally {
        this.committing = undefined;
      }
    })();
    return this.committing;
  }

  /** The progress of a multi-table DDL statement, saved with the last committed position. */
  private async saveSchemaProgress(progress: SchemaChangeProgress | undefined): Promise<void> {
    if (!this.lastSaved) return; // nothing committed yet: a restart starts from the configured start, before this statement
    await this.committing;
    await this.deps.positionStore.save(this.name, { position: this.lastSaved, updatedAt: Date.now(), ...(progress ? { schemaChange: progress } : {}) });
  }

  /** Graceful stop: stop reading, drain in-flight batches within the deadline, commit, close sinks. */
  stop(deadlineMs = 30_000): Promise<void> {
    return this.shutdown(deadlineMs, false);
  }

  /** Stop without draining or committing another position: ownership is gone. */
  abandon(): Promise<void> {
    this.abort.abort();
    return this.shutdown(0, true);
  }

  private shutdown(deadlineMs: number, immediate: boolean): Promise<void> {
    this.stopping ??= (async () => {
      if (this.stats.state !== 'failed') this.setState('stopping');
      this.unwatchPositionStore?.();
      // Nothing can be written or committed while positions cannot be stored: no drain to wait for.
      const drainable = !immediate && this.gate.isOpen;
      if (drainable && this.insideTransaction && this.source) {
        // Read on to the end of the transaction in progress, so that everything sent is covered by
        // the position committed below and a restart delivers nothing twice (bounded by the deadline).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(deadlineMs / 2, 10_000)).unref();
          this.onBoundary = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.onBoundary = undefined;
      }
      this.closedToBinlog = true;
      await this.source?.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'source stop failed'));
      if (drainable) {
        const drained = Promise.all([...this.dispatchers.values()].map((d) => d.drain()));
        const timedOut = await Promise.race([drained.then(() => false), new Promise<boolean>((resolve) => setTimeout(resolve, deadlineMs, true).unref())]);
        if (timedOut) this.logger.warn({ deadlineMs }, 'shutdown deadline passed with batches in flight; they are retried after restart');
      }
      this.abort.abort();
      if (this.commitTimer) clearInterval(this.commitTimer);
      if (!(this.fatal instanceof FencedError)) {
        await this.committing;
        await this.commit();
      }
      await Promise.all(
        [...this.pipeline.sinks.values()].map((sink) => sink.close().catch((error: unknown) => this.logger.warn({ err: error }, 'sink close failed'))),
      );
      await this.deadLetters?.close().catch(() => undefined);
      await this.hooks.taskStop.promise({ task: this.name }).catch((error: unknown) => this.logger.warn({ err: error }, 'taskStop hook failed'));
      if (!this.fatal) this.setState('stopped');
      this.logger.info({ committed: this.lastSaved ? formatPosition(this.lastSaved) : null }, 'task stopped');
    })();
    return this.stopping;
  }
}
