import { JsonText, rowBlocks, type RowEvent } from '../event/index.ts';
import { estimateJsonBytes } from '../serialize/index.ts';

/**
 * A cheap upper-bound-ish estimate of an event's JSON size, for batch byte limits. It walks the
 * values once without serializing: exactness matters less than not costing a JSON.stringify.
 */
export function estimateEventBytes(event: RowEvent): number {
  let bytes = 64 + event.schema.length + event.table.length;
  for (const block of rowBlocks(event, { json: 'text' })) {
    let names = 0;
    for (const column of block.columns) names += column.length + 16;
    bytes += names * block.count;
    bytes += valuesBytes(block.values);
    if (block.before) bytes += valuesBytes(block.before);
  }
  return bytes;
}

function valuesBytes(values: readonly unknown[]): number {
  let bytes = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'string') bytes += value.length + 2;
    else if (value === null || typeof value !== 'object') bytes += 8;
    else if (value instanceof JsonText) bytes += value.text.length;
    else bytes += estimateJsonBytes(value);
  }
  return bytes;
}
