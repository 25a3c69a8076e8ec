// A filter plugin: drops updates that change nothing but the given columns (a "last seen" timestamp
// bumped on every visit), so the sinks only hear about real changes.
import { definePlugin, type RowEvent } from 'tunnel';

export interface SkipTouchOnlyUpdatesOptions {
  /** Columns whose changes alone are not worth passing on. */
  columns: string[];
}

export function skipTouchOnlyUpdates(options: SkipTouchOnlyUpdatesOptions) {
  const ignored = new Set(options.columns);
  const touchOnly = (event: RowEvent) =>
    event.action === 'update' &&
    event.rows.every((row) => row.every((cell) => ignored.has(cell.column) || JSON.stringify(cell.before) === JSON.stringify(cell.after)));
  return definePlugin({
    name: 'skip-touch-only-updates',
    apply(hooks) {
      // false drops the event; true keeps it, and the filters after this one still run
      hooks.filter.tap('skip-touch-only-updates', (event) => !touchOnly(event));
    },
  });
}
