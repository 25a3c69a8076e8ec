import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ResolvedConfig, ResolvedTask } from '../config/index.ts';
import { FilePositionStore, type PositionStore, type StoredPosition } from '../checkpoint/index.ts';
import { ConfigError } from '../errors/index.ts';
import type { BinlogSource, SourceOptions } from '../source/source.ts';
import { defaultNodeId } from './node-id.ts';
import { TaskRunner, type TaskRunnerDeps, type TaskStats } from './task-runner.ts';
import { STANDALONE_EPOCH } from '../sink/index.ts';

export interface WorkerDeps {
  createSource(options: SourceOptions, logger: Logger): BinlogSource;
  /** Standalone default: files under `positions.dir`. The cluster passes its ZooKeeper store. */
  positionStore?: PositionStore;
  snapshot?: (runner: TaskRunner, stored: StoredPosition | undefined) => Promise<StoredPosition | undefined>;
  /** Reads one table again for a schema change (core/snapshot/table-resync.ts). */
  resync?: TaskRunnerDeps['resync'];
  /** This worker's id; by default `cluster.node`, else defaultNodeId(config). */
  nodeId?: string;
  logger: Logger;
  /** Cluster mode: whether this worker may still write a task's sinks (asked before every write). */
  canWrite?: (task: string) => boolean;
  /**
   * Cluster mode: the epoch of this worker's ownership of a task (its lease), read when the task
   * starts; undefined when it does not own it. Standalone: every task runs with STANDALONE_EPOCH.
   */
  epochOf?: (task: string) => number | undefined;
}

export interface WorkerEvents {
  /** A runner was created, before it starts (status metrics tap its hooks here). */
  taskCreated: [task: string, runner: TaskRunner];
  taskFailed: [task: string, error: Error];
  taskStarted: [task: string];
  taskStopped: [task: string];
}

export interface TaskStatus extends TaskStats {
  name: string;
}

/**
 * One Tunnel process. Standalone it runs every task of the config; in a cluster it runs the tasks
 * the leader hands it (`startTask`/`stopTask`). `close()` stops in order: tasks drain and commit,
 * then the position store closes.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly tasks = new Map<string, TaskRunner>();
  readonly positionStore: PositionStore;
  readonly nodeId: string;
  private readonly failures = new Map<string, string>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly config: ResolvedConfig,
    private readonly deps: WorkerDeps,
  ) {
    super();
    this.positionStore = deps.positionStore ?? new FilePositionStore(config.positions.dir);
    this.nodeId = deps.nodeId ?? config.cluster?.node ?? defaultNodeId(config);
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  taskConfig(name: string): ResolvedTask | undefined {
    return this.config.tasks.find((task) => task.name === name);
  }

  /** Standalone: every task of the config. */
  async startAll(): Promise<void> {
    await Promise.all(this.config.tasks.map((task) => this.startTask(task.name)));
  }

  async startTask(name: string): Promise<void> {
    if (this.tasks.has(name) || this.closing) return;
    const config = this.taskConfig(name);
    if (!config) throw new ConfigError(`unknown task "${name}"; the tasks are ${this.config.tasks.map((t) => t.name).join(', ')}`);
    const epoch = this.deps.epochOf ? this.deps.epochOf(name) : STANDALONE_EPOCH;
    if (epoch === undefined) {
      this.deps.logger.warn({ task: name }, 'task not started: this worker no longer owns it');
      return;
    }
    const runner = new TaskRunner(config, {
      epoch,
      positionStore: this.positionStore,
      createSource: this.deps.createSource,
      deadLetterDir: this.config.deadLetters.dir,
      logger: this.deps.logger,
      ...(this.deps.snapshot ? { snapshot: this.deps.snapshot } : {}),
      ...(this.deps.resync ? { resync: this.deps.resync } : {}),
      ...(this.deps.canWrite ? { canWrite: () => this.deps.canWrite!(name) } : {}),
    });
    this.tasks.set(name, runner);
    this.failures.delete(name);
    this.emit('taskCreated', name, runner);
    runner.on('failed', (error) => {
      this.failures.set(name, error.message);
      this.emit('taskFailed', name, error);
    });
    try {
      await runner.start();
      this.emit('taskStarted', name);
    } catch (error) {
      this.deps.logger.error({ err: error, task: name }, 'task could not start');
      this.failures.set(name, (error as Error).message);
      await runner.abandon().catch(() => undefined);
      this.tasks.delete(name);
      this.emit('taskFailed', name, error as Error);
    }
  }

  /** Graceful: drain and commit. With `abandon`, stop at once without another commit (ownership lost). */
  async stopTask(name: string, options: { abandon?: boolean } = {}): Promise<void> {
    const runner = this.tasks.get(name);
    if (!runner) return;
    if (options.abandon) await runner.abandon();
    else await runner.stop(this.config.shutdownTimeoutMs);
    this.tasks.delete(name);
    this.emit('taskStopped', name);
  }

  status(): TaskStatus[] {
    return this.config.tasks.map((task) => {
      const runner = this.tasks.get(task.name);
      if (runner) return { name: task.name, ...runner.stats };
      const lastError = this.failures.get(task.name);
      return {
        name: task.name,
        state: lastError ? 'failed' : 'idle',
        eventsIn: 0,
        eventsFiltered: 0,
        inFlight: 0,
        sourcePaused: false,
        sinks: {},
        ...(lastError ? { lastError } : {}),
      };
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.tasks.keys()].map((name) => this.stopTask(name)));
      await this.positionStore.close();
    })();
    return this.closing;
  }
}
