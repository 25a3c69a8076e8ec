import type { Connection } from 'mysql2/promise';
import type { Redis } from 'ioredis';
import { documentId, rowImage, type ColumnValue, type RowEvent } from '../../core/index.ts';

export type Row = Record<string, ColumnValue>;

/** Every row of a table as Tunnel's canonical values would have it (exact strings for DECIMAL), by id. */
export async function tableRows(conn: Connection, table: string, key = 'id'): Promise<Map<string, Row>> {
  const [rows] = (await conn.query({ sql: `SELECT * FROM ${table}`, typeCast: exactCast })) as unknown as [Row[]];
  return new Map(rows.map((row) => [documentId([row[key] ?? null]), row]));
}

// DECIMAL as its text; integers as numbers, as the binlog source decodes them.
function exactCast(field: { type: string; string(): string | null }, next: () => unknown): unknown {
  if (field.type === 'NEWDECIMAL') return field.string();
  if (field.type === 'DATETIME' || field.type === 'DATE' || field.type === 'TIMESTAMP') return field.string();
  return next();
}

/** All `prefix*` keys of a Redis sink storing rows as JSON strings, by id. */
export async function redisJsonRows(redis: Redis, prefix: string): Promise<Map<string, Row>> {
  const keys = await redis.keys(`${prefix}*`);
  const values = keys.length > 0 ? await redis.mget(...keys) : [];
  return new Map(keys.map((key, i) => [key.slice(prefix.length), JSON.parse(values[i]!) as Row]));
}

/** The state a key-addressed sink ends in after applying events in order. */
export function applyEvents(events: readonly RowEvent[], key = 'id'): Map<string, Row> {
  const state = new Map<string, Row>();
  for (const event of events) {
    event.rows.forEach((_, i) => {
      const row = rowImage(event, i);
      const id = documentId([row[key] ?? null]);
      if (event.action === 'delete') state.delete(id);
      else state.set(id, row);
    });
  }
  return state;
}

/** Differences a person would look at: ids missing from the sink, extra in it, and different rows. */
export function diffRows(expected: Map<string, Row>, actual: Map<string, Row>): { missing: string[]; extra: string[]; different: string[] } {
  const missing = [...expected.keys()].filter((id) => !actual.has(id));
  const extra = [...actual.keys()].filter((id) => !expected.has(id));
  const different = [...expected.keys()].filter(
    (id) => actual.has(id) && JSON.stringify(sortKeys(expected.get(id)!)) !== JSON.stringify(sortKeys(actual.get(id)!)),
  );
  return { missing, extra, different };
}

function sortKeys(row: Row): Row {
  return Object.fromEntries(Object.entries(row).sort(([a], [b]) => a.localeCompare(b)));
}
