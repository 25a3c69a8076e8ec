/**
 * TRUNCATE, DROP and RENAME applied to the keys of one table, found through the table registry
 * (table-registry.ts), a page at a time (SSCAN, pipelines of PAGE commands), so a table of any size
 * is handled in bounded memory. Each operation is idempotent: after a crash it is run again and
 * ends in the same state. Every write goes through `send`, the sink's fenced writes
 * (fenced-writer.ts), so an operation of an owner that lost the task changes nothing once the new
 * owner has written.
 */
import { Cluster } from 'ioredis';
import type { Command } from './commands.ts';
import type { RedisClient } from './connection.ts';
import type { RegistryChanges, TableRegistry } from './table-registry.ts';

const PAGE = 500;

/** What the operations need from the sink. */
export interface TableKeys {
  /** For reads (SSCAN, DUMP, HMGET). */
  client: RedisClient;
  /** Writes the commands (fenced by the task's epoch; a missing key for RENAME is not an error). */
  send(commands: Command[]): Promise<void>;
  registry: TableRegistry;
  /** The row key of (schema, table, id), by the sink's key template. */
  rowKey(schema: string, table: string, id: string): string;
  /**
   * The index commands for rows now present under (schema, table), read back from their keys, or
   * undefined when the sink has no indexes. Collected into `changes` for the registry.
   */
  rebuildIndexes?(schema: string, table: string, ids: string[], changes: RegistryChanges): Promise<Command[]>;
  newChanges(): RegistryChanges;
}

/** Every member of a set, a page at a time. */
async function* members(client: RedisClient, key: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, page] = (await client.sscan(key, cursor, 'COUNT', PAGE)) as [string, string[]];
    cursor = next;
    if (page.length > 0) yield page;
  } while (cursor !== '0');
}

/** Deletes every key of the table (rows and index keys) and its registry entries. */
export async function removeTableKeys(t: TableKeys, schema: string, table: string, signal: AbortSignal): Promise<number> {
  const { client, registry } = t;
  let removed = 0;
  const idsKey = registry.idsKey(schema, table);
  // DEL before SREM, page by page: a crash in between leaves ids whose keys are gone (DEL of a
  // missing key is harmless when the operation runs again)
  for await (const ids of members(client, idsKey)) {
    signal.throwIfAborted();
    await t.send([...ids.map((id): Command => ['del', t.rowKey(schema, table, id)]), ['srem', idsKey, ...ids]]);
    removed += ids.length;
  }
  const indexKeysKey = registry.indexKeysKey(schema, table);
  for await (const keys of members(client, indexKeysKey)) {
    signal.throwIfAborted();
    await t.send([...keys.map((key): Command => ['del', key]), ['srem', indexKeysKey, ...keys]]);
  }
  await t.send([
    ['del', idsKey],
    ['del', indexKeysKey],
    ['srem', registry.tablesKey(schema), table],
  ]);
  return removed;
}

/** The tables of a schema that have keys (DROP DATABASE removes each). */
export async function tablesOf(t: TableKeys, schema: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of members(t.client, t.registry.tablesKey(schema))) out.push(...page);
  return out;
}

/**
 * Moves every row key of `from` to the name it has under `to` (RENAME; DUMP + RESTORE + DEL on a
 * cluster, where the two names may live on different nodes), then rebuilds the indexes of the moved
 * rows under the new name and drops the old table's index keys.
 */
export async function moveTableKeys(
  t: TableKeys,
  from: { schema: string; table: string },
  to: { schema: string; table: string },
  signal: AbortSignal,
): Promise<number> {
  const { client, registry } = t;
  const fromIds = registry.idsKey(from.schema, from.table);
  const toIds = registry.idsKey(to.schema, to.table);
  let moved = 0;
  for await (const ids of members(client, fromIds)) {
    signal.throwIfAborted();
    const pairs = ids.map((id) => [t.rowKey(from.schema, from.table, id), t.rowKey(to.schema, to.table, id)] as const);
    if (client instanceof Cluster) {
      for (const [source, target] of pairs) {
        const dump = await client.dumpBuffer(source);
        if (dump === null) continue; // moved already (a run after a crash)
        const ttl = await client.pttl(source);
        await t.send([['restore', target, ttl > 0 ? ttl : 0, dump, 'REPLACE']]);
        await t.send([['del', source]]);
      }
    } else {
      await t.send(pairs.map(([source, target]): Command => ['rename', source, target]));
    }
    const changes = t.newChanges();
    const indexCommands = (await t.rebuildIndexes?.(to.schema, to.table, ids, changes)) ?? [];
    await t.send([
      ...indexCommands,
      ...changes.commands(),
      ['sadd', toIds, ...ids],
      ['sadd', registry.tablesKey(to.schema), to.table],
      ['srem', fromIds, ...ids],
    ]);
    moved += ids.length;
  }
  // the old name's index keys point at ids under the old name: gone with it
  const fromIndexKeys = registry.indexKeysKey(from.schema, from.table);
  for await (const keys of members(client, fromIndexKeys)) {
    signal.throwIfAborted();
    await t.send([...keys.map((key): Command => ['del', key]), ['srem', fromIndexKeys, ...keys]]);
  }
  await t.send([
    ['del', fromIds],
    ['del', fromIndexKeys],
    ['srem', registry.tablesKey(from.schema), from.table],
  ]);
  return moved;
}
