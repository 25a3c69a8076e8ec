/**
 * The one "apply events to rows" of the tests: what a key-addressed receiver holds after applying
 * Tunnel's events in order, written from the documented event format (docs/sinks.md, the webhook
 * body; docs/schema-changes.md, what a receiver does with a schema change), never with Tunnel's own
 * row helpers. Row events and schema changes are taken as a receiver parses them from JSON, or as
 * RowEvent objects (the same shape).
 *
 * A row's id is its key's values by the documented rule: one value as its text (a string as is,
 * anything else its JSON), several as the JSON array; a table without a primary key is keyed by all
 * its columns in table order.
 */
import { documentIdOf } from './differential/expected.ts';
import type { Value } from './differential/expected.ts';

export type Row = Record<string, unknown>;

interface Cell {
  column: string;
  value?: unknown;
  before?: unknown;
  after?: unknown;
}

/** A row event or a schema change as it travels (the canonical JSON). */
interface Item {
  kind?: string;
  change?: string;
  schema?: string;
  table?: string;
  to?: { schema: string; table: string };
  action?: string;
  rows?: Cell[][];
  primaryKey?: string[];
}

export class RowApplier {
  /** `schema.table` -> id -> row. */
  readonly tables = new Map<string, Map<string, Row>>();

  /**
   * `keyColumns` overrides the key of a table (`schema.table`): the differential harness keys a
   * keyless table by the table's columns from INFORMATION_SCHEMA rather than by the event's cells.
   */
  constructor(private readonly keyColumns?: (table: string) => readonly string[] | undefined) {}

  /** Applies one row event or schema change. */
  apply(raw: unknown): void {
    const item = raw as Item;
    if (item.kind === 'schema') return this.applySchemaChange(item);
    if (!item.schema || !item.table || !Array.isArray(item.rows)) return;
    const name = `${item.schema}.${item.table}`;
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = new Map()));
    for (const cells of item.rows) {
      const image = (side: 'value' | 'before' | 'after'): Row => Object.fromEntries(cells.map((c) => [c.column, c[side]]));
      const key = this.keyColumns?.(name) ?? (item.primaryKey && item.primaryKey.length > 0 ? item.primaryKey : cells.map((c) => c.column));
      const idOf = (row: Row) => documentIdOf(key.map((column) => (row[column] ?? null) as Value));
      if (item.action === 'insert') table.set(idOf(image('value')), image('value'));
      else if (item.action === 'delete') table.delete(idOf(image('value')));
      else if (item.action === 'update') {
        table.delete(idOf(image('before')));
        table.set(idOf(image('after')), image('after'));
      }
    }
  }

  applyAll(items: Iterable<unknown>): this {
    for (const item of items) this.apply(item);
    return this;
  }

  /** The rows of `schema.table` (a copy). */
  rows(table: string): Map<string, Row> {
    return new Map(this.tables.get(table) ?? []);
  }

  /** truncate and drop empty the table, drop-database every table of the schema, rename moves the rows. */
  private applySchemaChange(item: Item): void {
    const name = `${item.schema}.${item.table}`;
    if (item.change === 'truncate' || item.change === 'drop') this.tables.delete(name);
    else if (item.change === 'drop-database') {
      for (const key of [...this.tables.keys()]) if (key.startsWith(`${item.schema}.`)) this.tables.delete(key);
    } else if (item.change === 'rename' && item.to) {
      const moved = this.tables.get(name) ?? new Map<string, Row>();
      this.tables.delete(name);
      this.tables.set(`${item.to.schema}.${item.to.table}`, moved);
    }
  }
}

/** The rows of `table` (`schema.table`) after applying `items` in order. */
export function appliedRows(items: Iterable<unknown>, table: string, keyColumns?: (table: string) => readonly string[] | undefined): Map<string, Row> {
  return new RowApplier(keyColumns).applyAll(items).rows(table);
}
