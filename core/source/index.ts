export * from './source.ts';
export { createBinlogSource } from './binlog-source.ts';
// The value rules, for code that must produce the same values by other means (e.g. a snapshot).
export { float32Value } from './decode.ts';
export { parseEnumSetDefinition, parseJsonExact } from './value-text.ts';
export { formatTimestamp } from './temporal.ts';
// How every connection to the source database is opened, and which of its errors are worth a retry.
export { describeError, isConnectionLost, mysqlConnectionOptions, type MysqlError } from './mysql-connection.ts';
// MariaDB's JSON columns are LONGTEXT with a json_valid check: which column a check names.
export { jsonCheckColumn } from './table-metadata.ts';
// GTID states and what a server says about its GTIDs (the snapshot records them with its start position).
export { gtidFlavorOf, parseGtidState, type GtidFlavor, type GtidState } from './gtid-set.ts';
export { gtidStateAt, gtidsOn, serverIdentity } from './server-gtids.ts';
