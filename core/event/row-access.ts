import type { ChangeCell, ColumnValue, RowEvent, ValueCell } from './event.ts';
import { valueOf, type StoredValue } from './json-text.ts';
import { keyColumnNames, rowValuesOf, type RowValues } from './row-values.ts';

/** An image of a row of decoded values as a plain object (the same object the cells give). */
function imageFromValues(store: RowValues, values: readonly StoredValue[], rowIndex: number): Record<string, ColumnValue> {
  const out: Record<string, ColumnValue> = {};
  const { columns } = store.shape;
  const width = columns.length;
  for (let i = 0, o = rowIndex * width; i < width; i++) out[columns[i]!] = valueOf(values[o + i]) as ColumnValue;
  return out;
}

/** The row's current image as a plain object: `after` for updates, `value` otherwise. */
export function rowImage(event: RowEvent, rowIndex: number): Record<string, ColumnValue> {
  const store = rowValuesOf(event);
  if (store) return imageFromValues(store, store.values, rowIndex);
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
  const store = rowValuesOf(event);
  if (store) return imageFromValues(store, event.action === 'update' ? (store.before ?? store.values) : store.values, rowIndex);
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
  return [...keyColumnNames(event)];
}

/**
 * Key values of a row. For an update whose key changed, `before` identifies the old document,
 * so sinks that key by primary key must delete the old id and write the new one.
 */
export function keyValues(event: RowEvent, rowIndex: number, image: 'after' | 'before' = 'after'): ColumnValue[] {
  const store = rowValuesOf(event);
  if (store) {
    const { columns } = store.shape;
    const values = image === 'before' && event.action === 'update' ? (store.before ?? store.values) : store.values;
    const o = rowIndex * columns.length;
    return keyColumnNames(event).map((column) => {
      const i = columns.lastIndexOf(column);
      return i < 0 ? null : (valueOf(values[o + i]) ?? null);
    });
  }
  const row = image === 'after' ? rowImage(event, rowIndex) : rowBeforeImage(event, rowIndex);
  return keyColumnNames(event).map((column) => row[column] ?? null);
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
