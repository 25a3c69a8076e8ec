import { describe, expect, it } from 'vitest';
import { applyPlugins, silentLogger, type RowEvent, type TunnelPlugin } from '../../core/index.ts';
import { computedFields, filterColumns, filterTables, mapColumns, routeTables, softDeleteToDelete } from '../../plugins/index.ts';

const position = { file: 'bin.000001', offset: 100 };
const base = { position, timestamp: 0, primaryKey: ['id'] };

/** A sink that accepts everything, registered under `name` (routes must name registered sinks). */
const nullSink = (name: string): TunnelPlugin => ({
  name: `sink:${name}`,
  apply: (_hooks, context) => context.registerSink(name, { write: async (batch) => batch.events.map(() => ({ status: 'ok' })), close: async () => {} }),
});

/** Run one event through the hooks the way the task runner does. */
function run(plugins: TunnelPlugin[], event: RowEvent, sinks = ['search', 'cache']) {
  const { hooks } = applyPlugins('t', [...plugins, ...sinks.map(nullSink)], silentLogger());
  if (hooks.filter.call(event) === false) return [];
  const transformed = hooks.transform.call(event);
  return hooks.expand.call([transformed]).map((e) => ({ event: e, sinks: hooks.route.call(sinks, e) }));
}

const insert = (schema: string, table: string, row: Record<string, unknown>): RowEvent => ({
  ...base,
  schema,
  table,
  action: 'insert',
  rows: [Object.entries(row).map(([column, value]) => ({ column, value: value as never }))],
});

describe('built-in plugins', () => {
  it('filterTables keeps included tables and drops excluded ones', () => {
    const plugin = filterTables({ include: ['shop.*'], exclude: ['shop.audit_*'] });
    expect(run([plugin], insert('shop', 'orders', { id: 1 }))).toHaveLength(1);
    expect(run([plugin], insert('shop', 'audit_log', { id: 1 }))).toHaveLength(0);
    expect(run([plugin], insert('crm', 'users', { id: 1 }))).toHaveLength(0);
  });

  it('filterColumns drops excluded columns but always keeps the key', () => {
    const [out] = run([filterColumns({ exclude: ['password_hash', 'id'] })], insert('shop', 'users', { id: 7, email: 'a@b', password_hash: 'x' }));
    expect(out!.event.rows).toEqual([
      [
        { column: 'id', value: 7 },
        { column: 'email', value: 'a@b' },
      ],
    ]);
  });

  it('mapColumns renames columns (and the key) and maps values on both sides of an update', () => {
    const event: RowEvent = {
      ...base,
      schema: 'shop',
      table: 'orders',
      action: 'update',
      rows: [
        [
          { column: 'id', before: 1, after: 1 },
          { column: 'amount_cents', before: 150, after: 275 },
        ],
      ],
    };
    const [out] = run(
      [mapColumns({ rename: { id: 'order_id', amount_cents: 'amount' }, values: { amount_cents: (v) => (Number(v) / 100).toFixed(2) } })],
      event,
    );
    expect(out!.event.rows).toEqual([
      [
        { column: 'order_id', before: 1, after: 1 },
        { column: 'amount', before: '1.50', after: '2.75' },
      ],
    ]);
    expect(out!.event.primaryKey).toEqual(['order_id']);
  });

  it('computedFields appends fields computed from the row', () => {
    const [out] = run(
      [computedFields({ fields: { full_name: (row) => `${row.first} ${row.last}` } })],
      insert('crm', 'users', { id: 1, first: 'Ada', last: 'Lovelace' }),
    );
    expect(out!.event.rows[0]!.at(-1)).toEqual({ column: 'full_name', value: 'Ada Lovelace' });
  });

  it('softDeleteToDelete turns flagged rows into deletes and splits mixed events', () => {
    const event: RowEvent = {
      ...base,
      schema: 'shop',
      table: 'orders',
      action: 'update',
      rows: [
        [
          { column: 'id', before: 1, after: 1 },
          { column: 'deleted_at', before: null, after: '2026-01-01 00:00:00' },
        ],
        [
          { column: 'id', before: 2, after: 2 },
          { column: 'deleted_at', before: null, after: null },
        ],
      ],
    };
    const out = run([softDeleteToDelete({ column: 'deleted_at' })], event);
    expect(out.map((o) => o.event.action)).toEqual(['update', 'delete']);
    expect(out[0]!.event.rows).toEqual([event.rows[1]]);
    expect(out[1]!.event.rows).toEqual([
      [
        { column: 'id', value: 1 },
        { column: 'deleted_at', value: '2026-01-01 00:00:00' },
      ],
    ]);
  });

  it('routeTables sends tables to named sinks, first rule wins, others by `otherwise`', () => {
    const plugin = routeTables({
      rules: [
        { tables: ['shop.orders'], sinks: ['search'] },
        { tables: ['shop.*'], sinks: ['cache'] },
      ],
      otherwise: 'none',
    });
    expect(run([plugin], insert('shop', 'orders', { id: 1 }))[0]!.sinks).toEqual(['search']);
    expect(run([plugin], insert('shop', 'items', { id: 1 }))[0]!.sinks).toEqual(['cache']);
    expect(run([plugin], insert('crm', 'users', { id: 1 }))[0]!.sinks).toEqual([]);
  });

  it('a throwing tap is reported with the plugin that registered it', () => {
    const bad: TunnelPlugin = {
      name: 'my-transform',
      apply: (hooks) =>
        hooks.transform.tap('x', () => {
          throw new Error('nope');
        }),
    };
    expect(() => run([bad], insert('shop', 'orders', { id: 1 }))).toThrow(
      'plugin "my-transform" failed in hook "transform" of task "t" at bin.000001:100: nope',
    );
  });
});
