export { createSnapshotter, snapshotStatus, type Snapshotter, type SnapshotterOptions, type SnapshotStatus } from './snapshotter.ts';
export * from './values.ts';
export { recordStartPosition, describeTable, listTables, type TableInfo, type TableRef } from './tables.ts';
