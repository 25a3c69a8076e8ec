/**
 * The commands that bring Redis to the state after an event, made from the event's rows as flat
 * values (core/event/row-values.ts `rowBlocks`): no cell, image object or command array per row
 * unless `value` is 'json' or a function. Idempotent: replays converge.
 *
 * Each command is handed to `out` in an argument array that is used again for the next command: the
 * writer encodes it at once (resp.ts), or copies it (the ioredis path for Sentinel and Cluster).
 */
import {
  JsonText,
  rowBlocks,
  valueOf,
  type ColumnValue,
  type CompiledTemplate,
  type RowBlock,
  type RowEvent,
  type StoredValue,
} from '../../core/event/index.ts';
import type { RespArg } from './resp.ts';
import type { RegistryChanges } from './table-registry.ts';
import type { ResolvedRedisOptions } from './options.ts';

export type CommandOut = (args: RespArg[]) => void;

/**
 * A column value as Redis text: strings as they are (so a BLOB stays its base64 text and a DECIMAL
 * its digits), everything else as JSON (numbers, booleans, JSON documents). NULL has no text: a
 * hash has no field for it, a set index has no member for it.
 */
export function redisText(value: StoredValue | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? `${value}` : 'null';
  if (value instanceof JsonText) return redisText(value.value);
  return JSON.stringify(value);
}

/** A sorted-set score from a column value; undefined when it has none (NULL, not a number). */
function scoreOf(value: ColumnValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

export interface IndexPlan {
  type: 'set' | 'zset';
  column: string;
  key: CompiledTemplate;
}

/** A row as an index sees it: its id, and its values (an image: a flat array and the row's offset). */
interface IndexRow {
  id: string;
  values: readonly StoredValue[] | Record<string, ColumnValue>;
  offset: number;
}

/** The documentId (core/event/row-access.ts) of a row's key values, read from a block. */
function idOf(block: RowBlock<StoredValue>, values: readonly StoredValue[], offset: number): string {
  const keys = block.keyIndexes;
  if (keys.length === 1) {
    const i = keys[0]!;
    const value = i < 0 ? null : (valueOf(values[offset + i]) ?? null);
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
  const key: ColumnValue[] = new Array<ColumnValue>(keys.length);
  for (let k = 0; k < keys.length; k++) {
    const i = keys[k]!;
    key[k] = i < 0 ? null : (valueOf(values[offset + i]) ?? null);
  }
  return JSON.stringify(key);
}

export class RowCommands {
  readonly #options: ResolvedRedisOptions;
  readonly #key: CompiledTemplate;
  readonly #indexes: IndexPlan[];
  /** Per `schema\0table`: the row key of an id. */
  readonly #keyOf = new Map<string, (id: string) => string>();
  readonly #args: RespArg[] = [];
  readonly #hdel: RespArg[] = [];

  constructor(options: ResolvedRedisOptions, key: CompiledTemplate, indexes: IndexPlan[]) {
    this.#options = options;
    this.#key = key;
    this.#indexes = indexes;
  }

  /** The row key of (schema, table, id) by the `key` template, the table's part done once. */
  rowKey(schema: string, table: string, id: string): string {
    return this.#keyFunction(schema, table)(id);
  }

  #keyFunction(schema: string, table: string): (id: string) => string {
    const name = `${schema}\u0000${table}`;
    let keyOf = this.#keyOf.get(name);
    if (!keyOf) {
      const template = this.#key;
      const marker = '\u0000id\u0000';
      const parts = template.render({ schema, table, id: marker }).split(marker);
      if (parts.length === 2) {
        const [prefix, suffix] = parts as [string, string];
        keyOf = suffix === '' ? (id) => prefix + id : (id) => prefix + id + suffix;
      } else {
        keyOf = (id) => template.render({ schema, table, id });
      }
      this.#keyOf.set(name, keyOf);
    }
    return keyOf;
  }

  /** Emits the commands of `event` to `out`; `registry` collects which ids and index keys the table now has. */
  emit(event: RowEvent, out: CommandOut, registry?: RegistryChanges): void {
    const { schema, table } = event;
    const keyOf = this.#keyFunction(schema, table);
    const o = this.#options;
    const args = this.#args;
    for (const block of rowBlocks(event, { json: 'text' })) {
      const { values, before } = block;
      const width = block.columns.length;
      const indexColumns = this.#indexes.length > 0 ? this.#indexes.map((index) => block.columns.lastIndexOf(index.column)) : undefined;
      for (let r = 0, offset = 0; r < block.count; r++, offset += width) {
        const id = idOf(block, values, offset);
        const key = keyOf(id);
        const current: IndexRow = { id, values, offset };
        if (event.action === 'delete') {
          args.length = 0;
          args.push('del', key);
          out(args);
          registry?.removed(schema, table, id);
          if (indexColumns) this.#indexCommands(event, indexColumns, out, registry, current, undefined);
          continue;
        }
        let old: IndexRow | undefined;
        if (event.action === 'update' && before) {
          const oldId = idOf(block, before, offset);
          if (oldId !== id) {
            args.length = 0;
            args.push('del', keyOf(oldId));
            out(args);
            registry?.removed(schema, table, oldId);
          }
          old = { id: oldId, values: before, offset };
        }
        this.#valueCommands(event, block, r, key, out);
        if (o.ttlSeconds !== undefined && o.value !== 'json') {
          args.length = 0;
          args.push('expire', key, o.ttlSeconds);
          out(args);
        }
        registry?.written(schema, table, id);
        if (indexColumns) this.#indexCommands(event, indexColumns, out, registry, undefined, current, old);
      }
    }
  }

  #valueCommands(event: RowEvent, block: RowBlock<StoredValue>, r: number, key: string, out: CommandOut): void {
    const o = this.#options;
    const { columns, values } = block;
    const offset = r * columns.length;
    if (o.value === 'hash') {
      // the hot path (the default): HSET of the non-null columns, HDEL of the null ones (an earlier
      // image may have had them), in the order of the row image's keys
      const hset = this.#args;
      const hdel = this.#hdel;
      hset.length = 0;
      hdel.length = 0;
      hset.push('hset', key);
      for (const i of block.imageOrder) {
        const text = redisText(values[offset + i]);
        if (text === undefined) {
          if (hdel.length === 0) hdel.push('hdel', key);
          hdel.push(columns[i]!);
        } else hset.push(columns[i]!, text);
      }
      if (hset.length > 2) out(hset);
      if (hdel.length > 0) out(hdel);
      return;
    }
    const args = this.#args;
    args.length = 0;
    if (o.value === 'json') {
      const image: Record<string, ColumnValue> = {};
      for (let i = 0; i < columns.length; i++) image[columns[i]!] = valueOf(values[offset + i]) as ColumnValue;
      args.push('set', key, JSON.stringify(image));
      if (o.ttlSeconds !== undefined) args.push('EX', o.ttlSeconds);
      out(args);
      return;
    }
    const value = o.value(event, block.first + r);
    if (typeof value === 'string') {
      args.push('set', key, value);
      out(args);
      return;
    }
    const hdel = this.#hdel;
    hdel.length = 0;
    args.push('hset', key);
    for (const [field, text] of Object.entries(value)) {
      if (text === null || text === undefined) {
        if (hdel.length === 0) hdel.push('hdel', key);
        hdel.push(field);
      } else args.push(field, text);
    }
    if (args.length > 2) out(args);
    if (hdel.length > 0) out(hdel);
  }

  /**
   * Index maintenance. `removed`: a row that is gone (delete). `current`: the row as it is now;
   * `old`: its previous image (update), whose entries are removed where they differ.
   */
  #indexCommands(
    table: { schema: string; table: string },
    columns: readonly number[],
    out: CommandOut,
    registry: RegistryChanges | undefined,
    removed: IndexRow | undefined,
    current?: IndexRow,
    old?: IndexRow,
  ): void {
    this.indexCommands(
      table,
      columns.map((i) => (row: IndexRow) => (i < 0 ? undefined : (row.values as ColumnValue[])[row.offset + i])),
      out,
      registry,
      removed,
      current,
      old,
    );
  }

  /** The index commands of rows given with a reader of each index's column (also for rows read back from Redis). */
  indexCommands(
    table: { schema: string; table: string },
    read: ReadonlyArray<(row: IndexRow) => ColumnValue | undefined>,
    out: CommandOut,
    registry: RegistryChanges | undefined,
    removed: IndexRow | undefined,
    current?: IndexRow,
    old?: IndexRow,
  ): void {
    const args = this.#args;
    const send = (...command: RespArg[]) => {
      args.length = 0;
      args.push(...command);
      out(args);
    };
    this.#indexes.forEach((index, n) => {
      const valueOf = read[n]!;
      const vars = { schema: table.schema, table: table.table, column: index.column };
      if (index.type === 'zset') {
        const key = index.key.render(vars);
        registry?.indexKey(table.schema, table.table, key);
        if (removed) send('zrem', key, removed.id);
        if (old && current && old.id !== current.id) send('zrem', key, old.id);
        if (current) {
          const score = scoreOf(valueOf(current));
          if (score === undefined) send('zrem', key, current.id);
          else send('zadd', key, score, current.id);
        }
        return;
      }
      const setKey = (value: ColumnValue | undefined) => {
        const text = redisText(value);
        return text === undefined ? undefined : index.key.render({ ...vars, value: text });
      };
      if (removed) {
        const key = setKey(valueOf(removed));
        if (key) send('srem', key, removed.id);
      }
      if (current) {
        const newKey = setKey(valueOf(current));
        if (old) {
          const oldKey = setKey(valueOf(old));
          if (oldKey && (oldKey !== newKey || old.id !== current.id)) send('srem', oldKey, old.id);
        }
        if (newKey) {
          send('sadd', newKey, current.id);
          registry?.indexKey(table.schema, table.table, newKey);
        }
      }
    });
  }
}

export type { IndexRow };
