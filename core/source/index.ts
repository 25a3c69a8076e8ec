export * from './source.ts';
export { createBinlogSource } from './binlog-source.ts';
// The value rules, for code that must produce the same values by other means (e.g. a snapshot).
export { decodeLatin1, float32Value, formatTimestamp, parseEnumSetDefinition, parseJsonExact } from './decode.ts';
