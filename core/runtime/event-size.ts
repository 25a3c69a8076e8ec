import type { RowEvent } from '../event/index.ts';

/**
 * A cheap upper-bound-ish estimate of an event's JSON size, for batch byte limits. It walks the
 * cells once without serializing: exactness matters less than not costing a JSON.stringify.
 */
export function estimateEventBytes(event: RowEvent): number {
  let bytes = 64 + event.schema.length + event.table.length;
  for (const row of event.rows) {
    for (const cell of row) {
      bytes += cell.column.length + 16;
      if ('value' in cell) bytes += valueBytes(cell.value);
      else bytes += valueBytes(cell.before) + valueBytes(cell.after);
    }
  }
  return bytes;
}

function valueBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (value === null || typeof value !== 'object') return 8;
  return JSON.stringify(value).length;
}
