// Events over decoded values (core/event/row-values.ts): what a plugin sees is the canonical event,
// whether or not anything read `rows` before it; the sinks' flat view of the rows agrees with the
// cells, also after a plugin changed them.
import { describe, expect, it } from 'vitest';
import {
  JsonText,
  createRowEvent,
  imageOrderOf,
  keyChanged,
  keyColumnsOf,
  keyValues,
  rowBeforeImage,
  rowBlocks,
  rowCount,
  rowImage,
  rowShape,
  rowValuesOf,
  toCanonicalJson,
  type RowEvent,
} from '../../core/event/index.ts';

const position = { file: 'bin.000001', offset: 120, gtid: '0-1-5' };
const shape = rowShape(['id', 'name', 'doc']);

function inserted(): RowEvent {
  return createRowEvent(
    { schema: 'shop', table: 'items', action: 'insert', position, timestamp: 1700000000000, primaryKey: ['id'], columnTypes: {} },
    { shape, count: 2, values: [1, 'a', { k: [1, 2] }, 2, null, null], before: undefined },
  );
}

function updated(): RowEvent {
  return createRowEvent(
    { schema: 'shop', table: 'items', action: 'update', position, timestamp: 1700000000000, primaryKey: ['id'] },
    { shape, count: 2, values: [1, 'b', null, 30, 'c', 'x'], before: [1, 'a', null, 3, 'c', 'x'] },
  );
}

const insertRows = [
  [
    { column: 'id', value: 1 },
    { column: 'name', value: 'a' },
    { column: 'doc', value: { k: [1, 2] } },
  ],
  [
    { column: 'id', value: 2 },
    { column: 'name', value: null },
    { column: 'doc', value: null },
  ],
];

describe('events over decoded values', () => {
  it('read as the canonical event: cells in table order, keys in canonical order, the same JSON', () => {
    const event = inserted();
    expect(rowCount(event)).toBe(2);
    expect(rowValuesOf(event)).toBeDefined(); // counting builds no cells
    expect(Object.keys(event)).toEqual(['schema', 'table', 'action', 'rows', 'position', 'timestamp', 'primaryKey', 'columnTypes']);
    expect(toCanonicalJson(event)).toBe(
      '{"schema":"shop","table":"items","action":"insert","rows":[[{"column":"id","value":1},{"column":"name","value":"a"},{"column":"doc","value":{"k":[1,2]}}],' +
        '[{"column":"id","value":2},{"column":"name","value":null},{"column":"doc","value":null}]],' +
        '"position":{"file":"bin.000001","offset":120,"gtid":"0-1-5"},"timestamp":1700000000000,"primaryKey":["id"]}',
    );
    expect(event.rows).toEqual(insertRows);
    expect(rowValuesOf(event)).toBeUndefined();
  });

  it('updates read as before/after cells', () => {
    expect(updated().rows).toEqual([
      [
        { column: 'id', before: 1, after: 1 },
        { column: 'name', before: 'a', after: 'b' },
        { column: 'doc', before: null, after: null },
      ],
      [
        { column: 'id', before: 3, after: 30 },
        { column: 'name', before: 'c', after: 'c' },
        { column: 'doc', before: 'x', after: 'x' },
      ],
    ]);
  });

  it('a spread copy, JSON.stringify and structuredClone all see the rows', () => {
    const spread = { ...inserted(), table: 'other' };
    expect(spread.rows).toEqual(insertRows);
    expect(Object.getOwnPropertySymbols(spread).every((s) => (spread as unknown as Record<symbol, unknown>)[s] === undefined)).toBe(true);
    expect(JSON.parse(JSON.stringify(inserted())).rows).toEqual(insertRows);
    expect(structuredClone(inserted()).rows).toEqual(insertRows);
  });

  it('once rows were read, the cells are the truth: a changed cell reaches images, keys and blocks', () => {
    const event = inserted();
    (event.rows[0]![1] as { value: unknown }).value = 'changed';
    (event.rows[1]![0] as { value: unknown }).value = 22;
    expect(rowImage(event, 0)).toEqual({ id: 1, name: 'changed', doc: { k: [1, 2] } });
    expect(keyValues(event, 1)).toEqual([22]);
    expect(rowBlocks(event)).toEqual([
      {
        columns: ['id', 'name', 'doc'],
        imageOrder: [0, 1, 2],
        first: 0,
        count: 2,
        values: [1, 'changed', { k: [1, 2] }, 22, null, null],
        before: undefined,
        keyIndexes: [0],
      },
    ]);
  });

  it('rows set by a plugin replace the values', () => {
    const event = inserted();
    event.rows = [[{ column: 'id', value: 9 }]];
    expect(rowCount(event)).toBe(1);
    expect(rowImage(event, 0)).toEqual({ id: 9 });
    expect(rowValuesOf(event)).toBeUndefined();
  });

  it('row helpers give the same answers before and after the cells exist', () => {
    for (const make of [inserted, updated]) {
      const fresh = make();
      const read = make();
      void read.rows;
      for (let row = 0; row < 2; row++) {
        expect(rowImage(fresh, row)).toEqual(rowImage(read, row));
        expect(rowBeforeImage(fresh, row)).toEqual(rowBeforeImage(read, row));
        expect(keyValues(fresh, row, 'before')).toEqual(keyValues(read, row, 'before'));
        expect(keyChanged(fresh, row)).toBe(keyChanged(read, row));
      }
      expect(rowBlocks(fresh)).toEqual(rowBlocks(read));
    }
    expect(keyChanged(updated(), 1)).toBe(true);
    expect(keyChanged(updated(), 0)).toBe(false);
  });

  it('a table without a key is keyed by all its columns', () => {
    const event = createRowEvent(
      { schema: 's', table: 't', action: 'delete', position, timestamp: 0, primaryKey: [] },
      { shape: rowShape(['a', 'b']), count: 1, values: ['x', 2], before: undefined },
    );
    expect(keyColumnsOf(event)).toEqual(['a', 'b']);
    expect(keyValues(event, 0)).toEqual(['x', 2]);
    expect(rowBlocks(event)[0]!.keyIndexes).toEqual([0, 1]);
  });

  it('rows a plugin gave different columns become blocks of consecutive rows alike', () => {
    const event = inserted();
    event.rows = [
      [{ column: 'id', value: 1 }],
      [{ column: 'id', value: 2 }],
      [
        { column: 'id', value: 3 },
        { column: 'extra', value: true },
      ],
    ];
    expect(rowBlocks(event)).toEqual([
      { columns: ['id'], imageOrder: [0], first: 0, count: 2, values: [1, 2], before: undefined, keyIndexes: [0] },
      { columns: ['id', 'extra'], imageOrder: [0, 1], first: 2, count: 1, values: [3, true], before: undefined, keyIndexes: [0] },
    ]);
  });

  it('the image order is the key order of a plain object: index-like names first, a repeated name at its first place with its last value', () => {
    // {b, 2, a, 1, b} as an object is {1, 2, b, a}, b holding the value of index 4
    expect(imageOrderOf(['b', '2', 'a', '1', 'b'])).toEqual([3, 1, 4, 2]);
    const image: Record<string, number> = {};
    ['b', '2', 'a', '1', 'b'].forEach((name, i) => (image[name] = i));
    expect(Object.values(image)).toEqual([3, 1, 4, 2]);
  });

  it('a JSON document kept as text is parsed for whatever reads its value, once', () => {
    const parses: string[] = [];
    const parse = (text: string) => (parses.push(text), JSON.parse(text) as never);
    const doc = new JsonText('{"k": [1, 2]}', parse);
    const event = () =>
      createRowEvent(
        { schema: 's', table: 't', action: 'insert', position, timestamp: 0, primaryKey: [] },
        { shape: rowShape(['j']), count: 2, values: [doc, new JsonText('"a string"', parse)], before: undefined },
      );
    expect(rowBlocks(event(), { json: 'text' })[0]!.values[0]).toBe(doc);
    expect(parses).toEqual([]);
    expect(keyValues(event(), 1)).toEqual(['a string']);
    expect(rowImage(event(), 0)).toEqual({ j: { k: [1, 2] } });
    expect(JSON.stringify(event().rows)).toBe('[[{"column":"j","value":{"k":[1,2]}}],[{"column":"j","value":"a string"}]]');
    const blocks = rowBlocks(event());
    expect(blocks[0]!.values).toEqual([{ k: [1, 2] }, 'a string']);
    // the shared document once; the string document of each of the four events once
    expect(parses).toEqual(['"a string"', '{"k": [1, 2]}', '"a string"', '"a string"']);
  });
});
