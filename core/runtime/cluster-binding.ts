import type { ClusterMember } from '../cluster/index.ts';
import type { Worker } from './worker.ts';

/**
 * Runs exactly the tasks this worker's cluster member owns: start on acquisition, drain and commit
 * before the owner node is released (so the next owner resumes where this one committed), and stop
 * at once, committing nothing more, when the session is lost (another worker may own them already).
 */
export function bindWorkerToCluster(worker: Worker, member: ClusterMember): void {
  member.on('taskAcquired', (task) => {
    worker.logger.info({ task }, 'task acquired: starting it from its stored position');
    void worker.startTask(task);
  });
  member.on('taskReleasing', (release) => {
    worker.logger.info({ task: release.task, reason: release.reason }, 'task released: draining and committing before handing it over');
    release.waitUntil(worker.stopTask(release.task));
  });
  member.on('tasksLost', (lost) => {
    worker.logger.warn({ tasks: lost.tasks, reason: lost.reason }, 'ZooKeeper session lost: stopping these tasks at once');
    for (const task of lost.tasks) lost.waitUntil(worker.stopTask(task, { abandon: true }));
  });
  member.on('elected', () => worker.logger.info({ node: member.nodeId }, 'this worker leads its group'));
  member.on('warning', (error) => worker.logger.warn({ err: error }, 'cluster warning'));
}
