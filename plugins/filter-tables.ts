import { definePlugin, tableMatcher } from '../core/index.ts';

export interface FilterTablesOptions {
  /** `schema.table` globs to keep; empty or absent keeps every table. */
  include?: string[];
  /** `schema.table` globs to drop; wins over include. */
  exclude?: string[];
}

/** Drop events of tables outside include/exclude (after decoding; the source's own include/exclude skips decoding). */
export function filterTables(options: FilterTablesOptions) {
  const matches = tableMatcher(options.include, options.exclude);
  return definePlugin({
    name: 'filter-tables',
    apply(hooks) {
      hooks.filter.tap('filter-tables', (event) => (matches(event.schema, event.table) ? undefined : false));
    },
  });
}
