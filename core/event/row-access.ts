import type { ChangeCell, ColumnValue, RowEvent, ValueCell } from './event.ts';

/** The row's current image as a plain object: `after` for updates, `value` otherwise. */
export function rowImage(event: RowEvent, rowIndex: number): Record<string, ColumnValue> {
  const out: Record<string, ColumnValue> = {};
  if (event.action === 'update') {
    for (const cell of event.rows[rowIndex] as ChangeCell[]) out[cell.column] = cell.after;
  } else {
    for (const cell of event.rows[rowIndex] as ValueCell[]) out[cell.column] = cell.value;
  }
  return out;
}

/** The row's image before the change: `before` for updates, `value` for inserts and deletes. */
export function rowBeforeImage(event: RowEvent, rowIndex: number): Record<string, ColumnValue> {
  const out: Record<string, ColumnValue> = {};
  if (event.action === 'update') {
    for (const cell of event.rows[rowIndex] as ChangeCell[]) out[cell.column] = cell.before;
  } else {
    for (const cell of event.rows[rowIndex] as ValueCell[]) out[cell.column] = cell.value;
  }
  return out;
}

/**
 * The columns that identify a row. A table without a primary key is keyed by all its columns
 * (stated rule, README "Tables without a primary key"): the source warns once per such table.
 */
export function keyColumnsOf(event: RowEvent): string[] {
  if (event.primaryKey.length > 0) return event.primaryKey;
  const first = event.rows[0];
  return first ? first.map((cell) => cell.column) : [];
}

/**
 * Key values of a row. For an update whose key changed, `before` identifies the old document,
 * so sinks that key by primary key must delete the old id and write the new one.
 */
export function keyValues(event: RowEvent, rowIndex: number, image: 'after' | 'before' = 'after'): ColumnValue[] {
  const row = image === 'after' ? rowImage(event, rowIndex) : rowBeforeImage(event, rowIndex);
  return keyColumnsOf(event).map((column) => row[column] ?? null);
}

/**
 * A document id from key values, stated and reversible: a single key is its value as text; a
 * composite key is the JSON array of its values (e.g. `[1,"a"]`), which JSON.parse gives back.
 */
export function documentId(values: ColumnValue[]): string {
  if (values.length === 1) {
    const only = values[0];
    return typeof only === 'string' ? only : JSON.stringify(only);
  }
  return JSON.stringify(values);
}

/** Whether an update changed the row's key, so the old key must be removed from key-addressed sinks. */
export function keyChanged(event: RowEvent, rowIndex: number): boolean {
  if (event.action !== 'update') return false;
  return documentId(keyValues(event, rowIndex, 'before')) !== documentId(keyValues(event, rowIndex, 'after'));
}
