import type { ChangeCell, ColumnValue, RowEvent, ValueCell } from '../core/index.ts';

/**
 * Rewrite every row of an event cell by cell, whatever its action. `fn` gets a cell's column and
 * value (for updates: once for `before`, once for `after`) and the row image it belongs to.
 */
export function mapCells(
  event: RowEvent,
  fn: (column: string, value: ColumnValue, row: Record<string, ColumnValue>) => { column: string; value: ColumnValue } | undefined,
): RowEvent {
  if (event.action === 'update') {
    const rows = event.rows.map((row) => {
      const before = imageOf(row, 'before');
      const after = imageOf(row, 'after');
      const out: ChangeCell[] = [];
      for (const cell of row) {
        const b = fn(cell.column, cell.before, before);
        const a = fn(cell.column, cell.after, after);
        if (a && b) out.push({ column: a.column, before: b.value, after: a.value });
      }
      return out;
    });
    return { ...event, rows };
  }
  const rows = event.rows.map((row) => {
    const image = imageOf(row, 'value');
    const out: ValueCell[] = [];
    for (const cell of row) {
      const next = fn(cell.column, cell.value, image);
      if (next) out.push({ column: next.column, value: next.value });
    }
    return out;
  });
  return { ...event, rows } as RowEvent;
}

function imageOf(row: ReadonlyArray<ValueCell | ChangeCell>, side: 'value' | 'before' | 'after'): Record<string, ColumnValue> {
  const image: Record<string, ColumnValue> = {};
  for (const cell of row) image[cell.column] = (cell as unknown as Record<string, ColumnValue>)[side] ?? null;
  return image;
}
