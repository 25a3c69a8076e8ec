import type { BinlogPosition } from './event.ts';

/** What a DDL statement did to a table, as far as the rows in sinks are concerned. */
export type SchemaChangeKind = 'truncate' | 'drop' | 'rename' | 'alter' | 'create' | 'drop-database';

export interface TableName {
  schema: string;
  table: string;
}

/**
 * A schema change at its place in the binlog: one table of one DDL statement (a statement that
 * changes several, like `DROP TABLE a, b` or `RENAME TABLE a TO b, c TO d`, gives one event per
 * table, in the statement's order). It reaches the `schemaChange` hook, then each sink after every
 * row event before it was written and before any after it (docs/schema-changes.md).
 */
export interface SchemaChangeEvent {
  kind: 'schema';
  change: SchemaChangeKind;
  schema: string;
  table: string;
  /** `rename`: the table's new name. */
  to?: TableName;
  /**
   * `rename`: the rows under the new name are not the ones the sinks hold under the old name, because
   * Tunnel did not follow the old table (excluded by the task's tables), so the sinks have no rows
   * to move: the table is read again (an online schema change tool's shadow table swapped in).
   */
  untrackedSource?: boolean;
  /** `alter`: partitions were truncated, dropped or exchanged, changing rows without row events. */
  rowsChangedOutsideBinlog?: boolean;
  /** The DDL statement as the binlog has it. */
  statement: string;
  /** Where the DDL statement ends (with its GTID): ordered, and its transaction's commit position. */
  position: BinlogPosition;
  /** Server timestamp of the statement, ms. */
  timestamp: number;
  /** Index of this change among the changes of its statement (0 for the first). */
  index: number;
}

/** The canonical JSON of a schema change (what a webhook receives). */
export function schemaChangeObject(event: SchemaChangeEvent): Record<string, unknown> {
  return {
    kind: 'schema',
    change: event.change,
    schema: event.schema,
    table: event.table,
    ...(event.to ? { to: event.to } : {}),
    ...(event.untrackedSource ? { untrackedSource: true } : {}),
    ...(event.rowsChangedOutsideBinlog ? { rowsChangedOutsideBinlog: true } : {}),
    statement: event.statement,
    position: event.position,
    timestamp: event.timestamp,
    index: event.index,
  };
}
