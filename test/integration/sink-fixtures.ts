/**
 * Canonical events for the sink integration tests, and the table state they lead to. Rows carry
 * every kind of value the source produces: NULL, BIGINT beyond 2^53 and DECIMAL as strings,
 * DATETIME text, floats, booleans (BIT(1)), emoji text, nested JSON, BLOBs as base64.
 */
import type { ChangeCell, ColumnValue, RowEvent, ValueCell } from '../../core/event/index.ts';
import { RowApplier } from '../helpers/row-applier.ts';

export type Row = Record<string, ColumnValue>;

let offset = 4;
function meta(primaryKey: string[]) {
  offset += 100;
  return { position: { file: 'mariadb-bin.000001', offset }, timestamp: 1_700_000_000_000 + offset, primaryKey };
}

const cells = (row: Row): ValueCell[] => Object.entries(row).map(([column, value]) => ({ column, value }));

export function insert(schema: string, table: string, primaryKey: string[], rows: Row[]): RowEvent {
  return { schema, table, action: 'insert', rows: rows.map(cells), ...meta(primaryKey) };
}

export function remove(schema: string, table: string, primaryKey: string[], rows: Row[]): RowEvent {
  return { schema, table, action: 'delete', rows: rows.map(cells), ...meta(primaryKey) };
}

export function update(schema: string, table: string, primaryKey: string[], changes: Array<[before: Row, after: Row]>): RowEvent {
  return {
    schema,
    table,
    action: 'update',
    rows: changes.map(([before, after]) =>
      Object.keys(after).map((column): ChangeCell => ({ column, before: before[column] ?? null, after: after[column] ?? null })),
    ),
    ...meta(primaryKey),
  };
}

export function itemRow(id: number, overrides: Partial<Row> = {}): Row {
  return {
    id,
    big: id % 2 === 0 ? '18446744073709551615' : '-9223372036854775808',
    price: `${id}2345.6789`,
    title: `item ${id} — héllo 😀 ✓ "quoted" \\ back`,
    note: id % 3 === 0 ? null : `note ${id}\nsecond line`,
    attrs: { tags: ['a', `t${id}`], nested: { depth: 2, ok: id % 2 === 0, list: [1.5, 2.5, null] } },
    blob: Buffer.from([0, 1, 2, 255, id]).toString('base64'),
    flag: id % 2 === 0,
    ratio: id / 8,
    created: `2024-01-0${(id % 9) + 1} 03:04:05.123456`,
    status: id % 2 === 0 ? 'active' : 'paused',
    rank: id * 10,
    ...overrides,
  };
}

export const ITEM_KEY = ['id'];
export const LINE_KEY = ['order_id', 'sku'];

export function lineRow(orderId: number, sku: string, qty: number | null): Row {
  return { order_id: orderId, sku, qty, amount: qty === null ? null : `${qty * 3}.50`, meta: { gift: qty === 2 } };
}

/**
 * A history of inserts, updates (value to NULL, NULL to value, JSON changes, a key change, several
 * rows in one event) and deletes over two tables, one with a composite key. The events after
 * `splitAt` are the second half, for tests that write in several batches.
 */
export function history(schema: string): RowEvent[] {
  const items = 'items';
  const lines = 'order_lines';
  const r = itemRow;
  return [
    insert(schema, items, ITEM_KEY, [r(1), r(2)]),
    insert(schema, items, ITEM_KEY, [r(3)]),
    insert(schema, items, ITEM_KEY, [r(4), r(5), r(6)]),
    insert(schema, lines, LINE_KEY, [lineRow(1, 'A-1', 2), lineRow(1, 'B/2 ü', 1), lineRow(2, 'A-1', null)]),
    update(schema, items, ITEM_KEY, [[r(2), r(2, { note: null, status: 'paused', attrs: { tags: [], nested: { depth: 3 } } })]]),
    update(schema, items, ITEM_KEY, [[r(3), r(3, { note: 'was null', rank: 7 })]]),
    // key change 4 -> 40
    update(schema, items, ITEM_KEY, [[r(4), r(40, { title: 'moved 🚚' })]]),
    remove(schema, items, ITEM_KEY, [r(5)]),
    update(schema, items, ITEM_KEY, [
      [r(1), r(1, { title: null, price: '0.0000', big: '9007199254740993' })],
      [r(6), r(6, { status: 'active', flag: false, rank: -1 })],
    ]),
    update(schema, lines, LINE_KEY, [[lineRow(1, 'A-1', 2), lineRow(1, 'A-1', 5)]]),
    // composite key change (2,'A-1') -> (3,'A-1')
    update(schema, lines, LINE_KEY, [[lineRow(2, 'A-1', null), lineRow(3, 'A-1', 1)]]),
    remove(schema, lines, LINE_KEY, [lineRow(1, 'B/2 ü', 1)]),
    insert(schema, items, ITEM_KEY, [r(5, { title: 'back again', note: null })]),
    remove(schema, items, ITEM_KEY, [r(6, { status: 'active', flag: false, rank: -1 })]),
    insert(schema, items, ITEM_KEY, [r(7, { attrs: { tags: ['x'], nested: { depth: 0, ok: true, list: [] } }, blob: '' })]),
  ];
}

/** The tables after applying events in order (test/helpers/row-applier.ts): table name -> id -> row. */
export function expectedTables(events: readonly RowEvent[]): Map<string, Map<string, Row>> {
  const applier = new RowApplier().applyAll(events);
  return new Map([...applier.tables].map(([name, rows]) => [name.slice(name.indexOf('.') + 1), rows as Map<string, Row>]));
}
