import { definePlugin, tableMatcher, ConfigError } from '../core/index.ts';
import { mapCells } from './rows.ts';

export interface FilterColumnsOptions {
  /** Tables it applies to (globs); every table when absent. */
  tables?: string[];
  /** Columns to keep; every column when absent. Key columns are always kept (sinks need them). */
  include?: string[];
  /** Columns to drop. */
  exclude?: string[];
}

/** Keep or drop columns, e.g. a password hash that must never reach a search index. */
export function filterColumns(options: FilterColumnsOptions) {
  if (!options.include && !options.exclude) throw new ConfigError('filterColumns: give `include` or `exclude` (column names)');
  const applies = tableMatcher(options.tables);
  const include = options.include ? new Set(options.include) : undefined;
  const exclude = new Set(options.exclude ?? []);
  return definePlugin({
    name: 'filter-columns',
    apply(hooks) {
      hooks.transform.tap('filter-columns', (event) => {
        if (!applies(event.schema, event.table)) return event;
        const key = new Set(event.primaryKey);
        return mapCells(event, (column, value) =>
          key.has(column) || ((!include || include.has(column)) && !exclude.has(column)) ? { column, value } : undefined,
        );
      });
    },
  });
}
