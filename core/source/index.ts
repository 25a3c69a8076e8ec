export * from './source.ts';
export { createBinlogSource } from './binlog-source.ts';
export { compileTableFilter, globToRegExp, type TableFilter } from './table-filter.ts';
