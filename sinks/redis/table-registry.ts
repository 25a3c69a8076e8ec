/**
 * Which Redis keys belong to which table, kept by the sink beside the rows so that a TRUNCATE, DROP
 * or RENAME finds a table's keys exactly, without a SCAN of a keyspace other tables and programs
 * share:
 *
 * - `{prefix}ids:{schema}.{table}`: a set of the row ids (documentId of the key) the table has in
 *   Redis; a row's key is the `key` template of (schema, table, id);
 * - `{prefix}index-keys:{schema}.{table}`: a set of the secondary-index keys written for the table;
 * - `{prefix}tables:{schema}`: a set of the table names of a schema that have keys (DROP DATABASE).
 *
 * Every batch ends with the registry commands of its rows (one SADD and one SREM per table, the last
 * change of each id deciding), so the registry is at most one batch behind the keys, and a crash in
 * between is repaired when the batch is sent again after the restart.
 */
import type { Command } from './commands.ts';

export class TableRegistry {
  constructor(readonly prefix: string) {}

  idsKey(schema: string, table: string): string {
    return `${this.prefix}ids:${schema}.${table}`;
  }

  indexKeysKey(schema: string, table: string): string {
    return `${this.prefix}index-keys:${schema}.${table}`;
  }

  tablesKey(schema: string): string {
    return `${this.prefix}tables:${schema}`;
  }
}

/** Collects a batch's registry changes; `commands()` gives them once the batch's rows are built. */
export class RegistryChanges {
  /** `schema\0table` -> id -> present after the batch (true) or removed (false). */
  readonly #ids = new Map<string, Map<string, boolean>>();
  /** `schema\0table` -> index keys written. */
  readonly #indexKeys = new Map<string, Set<string>>();

  constructor(private readonly registry: TableRegistry) {}

  #table(schema: string, table: string): string {
    return `${schema}\u0000${table}`;
  }

  written(schema: string, table: string, id: string): void {
    const key = this.#table(schema, table);
    let ids = this.#ids.get(key);
    if (!ids) this.#ids.set(key, (ids = new Map()));
    ids.set(id, true);
  }

  removed(schema: string, table: string, id: string): void {
    const key = this.#table(schema, table);
    let ids = this.#ids.get(key);
    if (!ids) this.#ids.set(key, (ids = new Map()));
    ids.set(id, false);
  }

  indexKey(schema: string, table: string, key: string): void {
    const name = this.#table(schema, table);
    let keys = this.#indexKeys.get(name);
    if (!keys) this.#indexKeys.set(name, (keys = new Set()));
    keys.add(key);
  }

  commands(): Command[] {
    const out: Command[] = [];
    const tablesBySchema = new Map<string, Set<string>>();
    const touch = (schema: string, table: string) => {
      let tables = tablesBySchema.get(schema);
      if (!tables) tablesBySchema.set(schema, (tables = new Set()));
      tables.add(table);
    };
    for (const [name, ids] of this.#ids) {
      const [schema, table] = name.split('\u0000') as [string, string];
      const key = this.registry.idsKey(schema, table);
      const add: Command = ['sadd', key];
      const remove: Command = ['srem', key];
      for (const [id, present] of ids) (present ? add : remove).push(id);
      if (add.length > 2) {
        out.push(add);
        touch(schema, table);
      }
      if (remove.length > 2) out.push(remove);
    }
    for (const [name, keys] of this.#indexKeys) {
      const [schema, table] = name.split('\u0000') as [string, string];
      out.push(['sadd', this.registry.indexKeysKey(schema, table), ...keys]);
      touch(schema, table);
    }
    for (const [schema, tables] of tablesBySchema) out.push(['sadd', this.registry.tablesKey(schema), ...tables]);
    return out;
  }
}
