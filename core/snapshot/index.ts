export { createSnapshotter, snapshotStatus, type Snapshotter, type SnapshotterOptions } from './snapshotter.ts';
export type { SnapshotStatus } from './status.ts';
export * from './values.ts';
export { recordStartPosition, describeTable, listTables, type TableInfo, type TableRef } from './tables.ts';
export { resyncTable } from './table-resync.ts';
