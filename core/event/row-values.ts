/**
 * The rows of an event as flat arrays of values, and events whose canonical `rows` (cells) are built
 * only when something reads them.
 *
 * The source decodes a rows event into one flat array of values per image (`width` values per row,
 * columns in table order). An event made by `createRowEvent` keeps those arrays and builds its
 * `{column, value}` cells the first time `rows` is read: a pipeline whose plugins never read rows
 * builds no cell objects at all, and the built-in sinks encode straight from the values
 * (`rowBlocks`). Reading `rows` (directly, by spreading the event, by JSON.stringify, ...) gives the
 * canonical cells, and from then on the cells are the event's only truth: a plugin may change them,
 * so the values are dropped. What a plugin sees is the canonical event either way.
 */
import type { Action, ChangeCell, ColumnValue, RowEvent, ValueCell } from './event.ts';
import { JsonText, valueOf, type StoredValue } from './json-text.ts';

/** The columns of a table as the source decodes its rows: shared by every event of a table map. */
export interface RowShape {
  readonly columns: readonly string[];
  /**
   * The column indexes in the order a plain object of the row image lists its keys (see
   * `imageOrderOf`): the order of the fields of a row's document or JSON value.
   */
  readonly imageOrder: readonly number[];
}

/** The decoded rows of one rows event. */
export interface RowValues {
  readonly shape: RowShape;
  readonly count: number;
  /**
   * The row images (an update's after image), row r at [r * width, (r + 1) * width). A MariaDB JSON
   * document is a JsonText until something needs its value (json-text.ts).
   */
  readonly values: StoredValue[];
  /** An update's before images, laid out as `values`; undefined for inserts and deletes. */
  readonly before: StoredValue[] | undefined;
  /** Set once no JsonText is left in the arrays (rowBlocks put their values in place). */
  resolved?: boolean;
}

/**
 * Consecutive rows of one event that have the same columns, as flat arrays: what the built-in
 * sinks encode from. A source event whose rows nobody read is one block over the source's own arrays.
 */
export interface RowBlock<V = ColumnValue> {
  readonly columns: readonly string[];
  readonly imageOrder: readonly number[];
  /** The event's row index of the block's first row. */
  readonly first: number;
  readonly count: number;
  /** Row images (after image of an update), `columns.length` values per row. */
  readonly values: readonly V[];
  /** An update's before images; undefined for inserts and deletes. */
  readonly before: readonly V[] | undefined;
  /**
   * Where each of the event's key columns (keyColumnsOf) is in `columns`, -1 where a row lacks it
   * (its value is then null, as in keyValues).
   */
  readonly keyIndexes: readonly number[];
}

const STORE = Symbol('tunnel.rowValues');

interface Stored {
  [STORE]?: RowValues | undefined;
}

/**
 * The column indexes in the order of the keys of a plain object built from the row (`image[column]
 * = value` for each column in table order): names that are array indexes ("0", "17") first in
 * numeric order, then the others in table order; a repeated name once, at its first place, with its
 * last value.
 */
export function imageOrderOf(columns: readonly string[]): number[] {
  const slots: Record<string, number> = {};
  for (let i = 0; i < columns.length; i++) slots[columns[i]!] = i;
  return Object.values(slots);
}

/** A shape for these column names (done once per table map). */
export function rowShape(columns: readonly string[]): RowShape {
  return { columns, imageOrder: imageOrderOf(columns) };
}

/** The rows of an event as cells, in table order. */
function cellsOf(store: RowValues, action: Action): ValueCell[][] | ChangeCell[][] {
  const { columns } = store.shape;
  const width = columns.length;
  const { values, before, count } = store;
  if (action === 'update' && before) {
    const rows: ChangeCell[][] = new Array<ChangeCell[]>(count);
    for (let r = 0, o = 0; r < count; r++, o += width) {
      const row: ChangeCell[] = new Array<ChangeCell>(width);
      for (let i = 0; i < width; i++)
        row[i] = { column: columns[i]!, before: valueOf(before[o + i]) as ColumnValue, after: valueOf(values[o + i]) as ColumnValue };
      rows[r] = row;
    }
    return rows;
  }
  const rows: ValueCell[][] = new Array<ValueCell[]>(count);
  for (let r = 0, o = 0; r < count; r++, o += width) {
    const row: ValueCell[] = new Array<ValueCell>(width);
    for (let i = 0; i < width; i++) row[i] = { column: columns[i]!, value: valueOf(values[o + i]) as ColumnValue };
    rows[r] = row;
  }
  return rows;
}

function settleRows(event: RowEvent & Stored, rows: unknown): void {
  Object.defineProperty(event, 'rows', { value: rows, writable: true, enumerable: true, configurable: true });
  event[STORE] = undefined;
}

function readRows(this: RowEvent & Stored): RowEvent['rows'] {
  const store = this[STORE];
  const rows = store ? cellsOf(store, this.action) : [];
  settleRows(this, rows);
  return rows as RowEvent['rows'];
}

function writeRows(this: RowEvent & Stored, rows: RowEvent['rows']): void {
  settleRows(this, rows);
}

export type RowEventFields = Omit<RowEvent, 'rows'>;

/**
 * An event over decoded values: `rows` is built from them on first read (see the top of this file).
 * `fields` becomes the event (its keys keep the canonical order, `rows` fourth).
 */
export function createRowEvent(fields: RowEventFields, store: RowValues): RowEvent {
  const event = {
    schema: fields.schema,
    table: fields.table,
    action: fields.action,
    rows: undefined,
    position: fields.position,
    timestamp: fields.timestamp,
    primaryKey: fields.primaryKey,
    ...(fields.columnTypes ? { columnTypes: fields.columnTypes } : {}),
  } as unknown as RowEvent & Stored;
  Object.defineProperty(event, STORE, { value: store, writable: true, enumerable: false, configurable: true });
  Object.defineProperty(event, 'rows', { get: readRows, set: writeRows, enumerable: true, configurable: true });
  return event;
}

/** The decoded values of an event whose `rows` nobody has read yet; undefined otherwise. */
export function rowValuesOf(event: RowEvent): RowValues | undefined {
  return (event as RowEvent & Stored)[STORE];
}

/** How many rows the event has, without building its cells. */
export function rowCount(event: RowEvent): number {
  const store = (event as RowEvent & Stored)[STORE];
  return store ? store.count : event.rows.length;
}

/** The column names that identify a row (keyColumnsOf, for both kinds of event). */
export function keyColumnNames(event: RowEvent): readonly string[] {
  if (event.primaryKey.length > 0) return event.primaryKey;
  const store = (event as RowEvent & Stored)[STORE];
  if (store) return store.shape.columns;
  const first = event.rows[0];
  return first ? first.map((cell) => cell.column) : [];
}

function keyIndexesIn(columns: readonly string[], keys: readonly string[]): number[] {
  const out = new Array<number>(keys.length);
  for (let k = 0; k < keys.length; k++) out[k] = columns.lastIndexOf(keys[k]!);
  return out;
}

function sameNames(row: readonly (ValueCell | ChangeCell)[], columns: readonly string[]): boolean {
  if (row.length !== columns.length) return false;
  for (let i = 0; i < row.length; i++) if (row[i]!.column !== columns[i]) return false;
  return true;
}

/** Puts the value of every JsonText of the arrays in its place. */
function resolveJson(store: RowValues): void {
  for (const values of [store.values, store.before]) {
    if (!values) continue;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v instanceof JsonText) values[i] = v.value;
    }
  }
  store.resolved = true;
}

export interface RowBlockOptions {
  /**
   * 'text' leaves MariaDB JSON documents as JsonText (json-text.ts), for a sink that encodes them
   * itself; by default every value is the parsed value.
   */
  json?: 'value' | 'text';
}

/**
 * The event's rows as blocks of flat values: the source's own arrays when nobody read `rows`, else
 * the cells copied into blocks of consecutive rows with the same columns.
 */
export function rowBlocks(event: RowEvent): RowBlock[];
export function rowBlocks(event: RowEvent, options: RowBlockOptions): RowBlock<StoredValue>[];
export function rowBlocks(event: RowEvent, options: RowBlockOptions = {}): RowBlock<StoredValue>[] {
  const keys = keyColumnNames(event);
  const store = (event as RowEvent & Stored)[STORE];
  if (store) {
    if (options.json !== 'text' && !store.resolved) resolveJson(store);
    const { columns, imageOrder } = store.shape;
    const update = event.action === 'update';
    return [
      {
        columns,
        imageOrder,
        first: 0,
        count: store.count,
        values: store.values,
        before: update ? (store.before ?? store.values) : undefined,
        keyIndexes: keyIndexesIn(columns, keys),
      },
    ];
  }
  const rows = event.rows;
  const update = event.action === 'update';
  const blocks: RowBlock[] = [];
  let r = 0;
  while (r < rows.length) {
    const first = rows[r]!;
    const columns = first.map((cell) => cell.column);
    let end = r + 1;
    while (end < rows.length && sameNames(rows[end]!, columns)) end++;
    const width = columns.length;
    const values = new Array<ColumnValue>((end - r) * width);
    const before = update ? new Array<ColumnValue>((end - r) * width) : undefined;
    for (let i = r, o = 0; i < end; i++, o += width) {
      const row = rows[i]!;
      for (let c = 0; c < width; c++) {
        const cell = row[c]!;
        if (update) {
          values[o + c] = (cell as ChangeCell).after;
          before![o + c] = (cell as ChangeCell).before;
        } else values[o + c] = (cell as ValueCell).value;
      }
    }
    blocks.push({ columns, imageOrder: imageOrderOf(columns), first: r, count: end - r, values, before, keyIndexes: keyIndexesIn(columns, keys) });
    r = end;
  }
  return blocks;
}
