export { startStatusServer, type StatusServer, type StatusServerOptions } from './server.ts';
export { collectStatus, formatStatus, type ClusterStatus, type CollectStatusOptions, type NodeStatus, type TaskSummary } from './cluster-status.ts';
export { StatusCollector, bytesBehind, type CollectorOptions } from './worker-status.ts';
export { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
export { dashboardHtml } from './dashboard.ts';
export { redactText, configSecrets, REDACTED } from '../redact/index.ts';
export * from './types.ts';
export {
  readClusterView,
  readRegistry,
  watchClusterView,
  type ClusterViewWatch,
  type ReadClusterViewOptions,
  type RegistryReadOptions,
} from './cluster-view.ts';
