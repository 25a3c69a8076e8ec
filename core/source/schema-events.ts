/**
 * The schema events of one DDL statement, as the task sees them: only tables the task follows
 * (include/exclude), with a rename out of the followed tables turned into a drop and a rename into
 * them marked as bringing rows Tunnel never saw (docs/schema-changes.md, "Tables Tunnel does not
 * follow").
 */
import type { BinlogPosition, SchemaChangeEvent, TableMatcher } from '../event/index.ts';
import type { DdlChange } from './ddl.ts';

export function schemaEvents(
  changes: readonly DdlChange[],
  follows: TableMatcher,
  followsSchema: (schema: string) => boolean,
  statement: string,
  position: BinlogPosition,
  timestamp: number,
): SchemaChangeEvent[] {
  const out: SchemaChangeEvent[] = [];
  const push = (fields: Pick<SchemaChangeEvent, 'change' | 'schema' | 'table'> & Partial<SchemaChangeEvent>) =>
    out.push({ kind: 'schema', ...fields, statement, position, timestamp, index: out.length });
  for (const change of changes) {
    const { schema, table } = change;
    switch (change.kind) {
      case 'drop-database':
        if (followsSchema(schema)) push({ change: 'drop-database', schema, table: '' });
        break;
      case 'rename': {
        const to = change.to!;
        const from = follows(schema, table);
        const into = follows(to.schema, to.table);
        if (from && into) push({ change: 'rename', schema, table, to });
        else if (from) push({ change: 'drop', schema, table });
        else if (into) push({ change: 'rename', schema, table, to, untrackedSource: true });
        break;
      }
      default:
        if (follows(schema, table)) {
          push({ change: change.kind, schema, table, ...(change.rowsChangedOutsideBinlog ? { rowsChangedOutsideBinlog: true } : {}) });
        }
    }
  }
  return out;
}
