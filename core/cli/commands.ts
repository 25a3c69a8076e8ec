import type { ResolvedConfig } from '../config/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { ClusterMember, ZooKeeperPositionStore, registryConnectOptions } from '../cluster/index.ts';
import { bindWorkerToCluster } from '../runtime/cluster-binding.ts';
import { Worker } from '../runtime/worker.ts';
import { defaultNodeId } from '../runtime/node-id.ts';
import { createBinlogSource } from '../source/index.ts';
import { createSnapshotter, resyncTable } from '../snapshot/index.ts';
import { collectStatus, formatStatus, startStatusServer, watchClusterView, type ClusterViewWatch, type StatusServer } from '../status/index.ts';
import { ConfigError } from '../errors/index.ts';
import { openPositionAdmin } from './position-admin.ts';

/** `tunnel start`: run until SIGINT/SIGTERM, then close in order and exit 0. */
export async function runWorker(config: ResolvedConfig, snapshotter = createSnapshotter()): Promise<number> {
  const logger = createLogger(config.log);
  const statusUrl = config.status.port ? `http://${config.status.host}:${config.status.port}` : undefined;
  const member = config.cluster ? createMember(config, logger, statusUrl) : undefined;
  const worker = new Worker(config, {
    createSource: createBinlogSource,
    snapshot: snapshotter,
    resync: resyncTable,
    logger,
    // canWrite: checkAlive() declares the session lost when this process was frozen past it, so a
    // worker that wakes up after SIGSTOP sends none of its queued batches to the sinks. Before it, the
    // store's availability holds every batch while positions cannot be stored (the session
    // disconnected, a save unanswered: core/cluster/save-availability.ts).
    // epochOf: every sink write carries the lease's epoch, so sinks refuse an owner older than one
    // they have seen write (docs/architecture.md, "Fencing at the sink")
    ...(member
      ? {
          positionStore: new ZooKeeperPositionStore(member),
          nodeId: member.nodeId,
          canWrite: () => member.zk.checkAlive(),
          epochOf: (task: string) => member.lease(task)?.epoch,
        }
      : {}),
  });
  let status: StatusServer | undefined;
  let clusterView: ClusterViewWatch | undefined;
  if (member) {
    clusterView = watchClusterView(member, { tasks: config.tasks.map((t) => t.name) });
    bindWorkerToCluster(worker, member);
  }
  if (config.status.port !== false) {
    status = await startStatusServer(worker, {
      host: config.status.host,
      port: config.status.port,
      ...(config.status.token ? { token: config.status.token } : {}),
      ...(clusterView ? { cluster: clusterView.get } : {}),
    });
  }

  // Ordered close: the member hands its tasks back (each drains and commits before its owner node
  // goes, so the leader reassigns at once), then what is left of the worker, then the endpoint.
  const close = async () => {
    if (member) await member.close();
    clusterView?.close();
    await worker.close();
    await status?.close();
  };
  let exitCode = 0;
  const closed = new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting without waiting for the drain');
        process.exit(1);
      }
      logger.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight batches');
      close().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitCode = 1;
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  worker.on('taskFailed', (task, error) => logger.error({ task, err: error }, 'task failed'));
  if (member) {
    await member.start();
    logger.info({ node: member.nodeId, cluster: config.cluster!.name, group: config.cluster!.group }, 'tunnel started: joined its group');
  } else {
    await worker.startAll();
    logger.info({ tasks: config.tasks.map((t) => t.name) }, 'tunnel started');
  }
  await closed;
  logger.info('tunnel stopped');
  return exitCode;
}

function createMember(config: ResolvedConfig, logger: Logger, statusUrl: string | undefined): ClusterMember {
  const cluster = config.cluster!;
  const nodeId = cluster.node ?? defaultNodeId(config);
  const pins = Object.fromEntries(config.tasks.filter((t) => t.pin).map((t) => [t.name, t.pin!]));
  return new ClusterMember({
    ...registryConnectOptions(cluster),
    nodeId,
    ...(statusUrl ? { address: statusUrl, advertise: { statusUrl } } : {}),
    tasks: config.tasks.map((t) => t.name),
    pins,
    logger,
  });
}

export async function statusCommand(config: ResolvedConfig, json: boolean): Promise<number> {
  const status = await collectStatus({ config });
  process.stdout.write(json ? `${JSON.stringify(status)}\n` : `${formatStatus(status)}\n`);
  return 0;
}

/** `tunnel snapshot <task>`: re-read the task's tables, then stream on from the recorded position. */
export async function snapshotCommand(config: ResolvedConfig, task: string, tables?: string[]): Promise<number> {
  if (config.cluster) {
    throw new ConfigError(
      `in a cluster, re-snapshot a task through its owner: stop the task's worker, run \`tunnel reset-position ${task} --to none\`, and start it with snapshot: 'initial'`,
    );
  }
  const taskConfig = config.tasks.find((t) => t.name === task);
  if (!taskConfig) throw new ConfigError(`unknown task "${task}"; the tasks are ${config.tasks.map((t) => t.name).join(', ')}`);
  const admin = await openPositionAdmin(config);
  try {
    if (await admin.isRunning(task)) throw new ConfigError(`task "${task}" is running; stop it before a manual snapshot`);
  } finally {
    await admin.close();
  }
  const only = { ...config, tasks: [{ ...taskConfig, snapshot: 'always' as const }] };
  return runWorker(only, createSnapshotter(tables ? { tables } : {}));
}
