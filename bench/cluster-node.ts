// One worker of the failover benchmark's three-worker cluster: core/cluster's ClusterMember with the
// real runtime (core/runtime Worker → TaskRunner, the binlog source, the config's sinks) and the
// ZooKeeper position store, wired the way a cluster-mode `tunnel start` runs them. Used while
// `tunnel start` has no cluster mode; the config file is the same one (with its cluster section).
//
//   node --import tsx bench/cluster-node.ts <tunnel.config.ts>     (forked with IPC by the driver)
//
// IPC messages: {type:'member', ev:'started'|'elected'|'acquired'|'released'|'lost', at, task?}, and
// the probe plugin's own (taskStart, committed, acked).
import { ClusterMember, ZooKeeperPositionStore } from '../core/cluster/index.ts';
import { loadConfig } from '../core/config/index.ts';
import { createLogger } from '../core/log/index.ts';
import { Worker } from '../core/runtime/worker.ts';
import { createBinlogSource } from '../core/source/index.ts';

const { config } = await loadConfig(process.argv[2]);
const cluster = config.cluster!;
const logger = createLogger({ level: config.log.level, pretty: false });
const send = (ev: string, extra: Record<string, unknown> = {}) => {
  if (process.send && process.connected) process.send({ type: 'member', ev, at: Date.now(), node: cluster.node, ...extra });
};

const member = new ClusterMember({
  connect: cluster.zookeeper.connect,
  cluster: cluster.name,
  group: cluster.group,
  nodeId: cluster.node!,
  tasks: config.tasks.map((t) => t.name),
  sessionTimeoutMs: cluster.zookeeper.sessionTimeoutMs,
  logger,
});
const worker = new Worker(config, { createSource: createBinlogSource, positionStore: new ZooKeeperPositionStore(member), logger });

member.on('elected', () => send('elected'));
member.on('taskAcquired', (task) => {
  send('acquired', { task });
  void worker.startTask(task);
});
member.on('taskReleasing', (release) => {
  send('released', { task: release.task });
  release.waitUntil(worker.stopTask(release.task));
});
member.on('tasksLost', (lost) => {
  send('lost', { tasks: lost.tasks });
  for (const task of lost.tasks) lost.waitUntil(worker.stopTask(task, { abandon: true }));
});
worker.on('taskFailed', (task, error) => logger.error({ task, err: error }, 'task failed'));

process.on('SIGTERM', () => {
  void member
    .close()
    .then(() => worker.close())
    .finally(() => process.exit(0));
});
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));

await member.start();
send('started');
