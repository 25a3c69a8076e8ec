import { definePlugin, tableMatcher, type ChangeCell, type ColumnValue, type RowEvent, type ValueCell } from '../core/index.ts';

export interface ComputedFieldsOptions {
  tables?: string[];
  /** field name → function of the row image (for updates: called for before and after) and the event. */
  fields: Record<string, (row: Record<string, ColumnValue>, event: RowEvent) => ColumnValue>;
}

/** Add fields computed from each row, appended after the table's columns. */
export function computedFields(options: ComputedFieldsOptions) {
  const applies = tableMatcher(options.tables);
  const fields = Object.entries(options.fields);
  return definePlugin({
    name: 'computed-fields',
    apply(hooks) {
      hooks.transform.tap('computed-fields', (event) => {
        if (!applies(event.schema, event.table)) return event;
        if (event.action === 'update') {
          const rows = event.rows.map((row) => {
            const before: Record<string, ColumnValue> = {};
            const after: Record<string, ColumnValue> = {};
            for (const cell of row) {
              before[cell.column] = cell.before;
              after[cell.column] = cell.after;
            }
            const extra: ChangeCell[] = fields.map(([column, fn]) => ({ column, before: fn(before, event), after: fn(after, event) }));
            return [...row, ...extra];
          });
          return { ...event, rows };
        }
        const rows = event.rows.map((row) => {
          const image: Record<string, ColumnValue> = {};
          for (const cell of row) image[cell.column] = cell.value;
          const extra: ValueCell[] = fields.map(([column, fn]) => ({ column, value: fn(image, event) }));
          return [...row, ...extra];
        });
        return { ...event, rows } as RowEvent;
      });
    },
  });
}
