// Public API of Tunnel. Plugins and sinks import from here, never from core's inner files.
export * from './event/index.ts';
export * from './errors/index.ts';
export * from './sink/index.ts';
export * from './dead-letter/index.ts';
export * from './pipeline/index.ts';
export * from './checkpoint/index.ts';
export * from './config/index.ts';
export * from './log/index.ts';
// for sinks that build large bodies (bulk NDJSON, JSON arrays): encoding off the main thread
export * from './serialize/index.ts';
export type { BinlogSource, SourceHandler, SourceOptions, StartFrom } from './source/source.ts';
export { TaskRunner, type TaskStats, type TaskState } from './runtime/task-runner.ts';
export { Worker, type TaskStatus } from './runtime/worker.ts';
export { createBinlogSource } from './source/index.ts';
export { ClusterMember, ZooKeeperPositionStore, ZooKeeperPositionAdmin, registryPaths, type ClusterMemberOptions, type TaskLease } from './cluster/index.ts';
