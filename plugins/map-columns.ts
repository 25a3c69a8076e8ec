import { definePlugin, tableMatcher, type ColumnValue } from '../core/index.ts';
import { mapCells } from './rows.ts';

export interface MapColumnsOptions {
  tables?: string[];
  /** old column name → new name; primary-key names follow the rename. */
  rename?: Record<string, string>;
  /** column (old name) → function of its value and the row image, giving the new value. */
  values?: Record<string, (value: ColumnValue, row: Record<string, ColumnValue>) => ColumnValue>;
}

/** Rename columns and map their values (e.g. cents to a decimal string, a status code to a label). */
export function mapColumns(options: MapColumnsOptions) {
  const applies = tableMatcher(options.tables);
  const rename = options.rename ?? {};
  const values = options.values ?? {};
  return definePlugin({
    name: 'map-columns',
    apply(hooks) {
      hooks.transform.tap('map-columns', (event) => {
        if (!applies(event.schema, event.table)) return event;
        const mapped = mapCells(event, (column, value, row) => ({
          column: rename[column] ?? column,
          value: values[column] ? values[column](value, row) : value,
        }));
        return { ...mapped, primaryKey: event.primaryKey.map((column) => rename[column] ?? column) };
      });
    },
  });
}
