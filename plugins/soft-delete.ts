import { definePlugin, tableMatcher, type ColumnValue, type RowEvent, type ValueCell } from '../core/index.ts';

export interface SoftDeleteOptions {
  tables?: string[];
  /** The flag column, e.g. `deleted_at` or `is_deleted`. */
  column: string;
  /** Whether a value means "deleted"; default: anything but null, 0, false, '' and '0'. */
  isDeleted?: (value: ColumnValue) => boolean;
}

const defaultIsDeleted = (value: ColumnValue) => value !== null && value !== 0 && value !== false && value !== '' && value !== '0';

/**
 * Turn soft deletes into deletes: a row inserted or updated with its flag set becomes a `delete`
 * of that row, so the document leaves the index or cache. An event whose rows are only partly
 * flagged is split in two (live rows, then deletes) through the `expand` hook.
 */
export function softDeleteToDelete(options: SoftDeleteOptions) {
  const applies = tableMatcher(options.tables);
  const isDeleted = options.isDeleted ?? defaultIsDeleted;
  const flagged = (row: ReadonlyArray<{ column: string }>, side: 'value' | 'after'): boolean =>
    isDeleted((row.find((cell) => cell.column === options.column) as Record<string, ColumnValue> | undefined)?.[side] ?? null);

  const split = (event: RowEvent): RowEvent[] => {
    if (event.action === 'delete' || !applies(event.schema, event.table)) return [event];
    const deletes: ValueCell[][] = [];
    let live: RowEvent;
    if (event.action === 'insert') {
      live = { ...event, rows: event.rows.filter((row) => (flagged(row, 'value') ? (deletes.push(row), false) : true)) };
    } else {
      live = {
        ...event,
        rows: event.rows.filter((row) =>
          flagged(row, 'after') ? (deletes.push(row.map((cell) => ({ column: cell.column, value: cell.after }))), false) : true,
        ),
      };
    }
    if (deletes.length === 0) return [event];
    const deleted: RowEvent = { ...event, action: 'delete', rows: deletes };
    return live.rows.length === 0 ? [deleted] : [live, deleted];
  };

  return definePlugin({
    name: 'soft-delete-to-delete',
    apply(hooks) {
      hooks.expand.tap('soft-delete-to-delete', (events) => events.flatMap(split));
    },
  });
}
