import type { Connection } from 'mysql2/promise';
import type { Redis } from 'ioredis';
import { expectedTable } from './differential/expected.ts';
import { sameValue } from './differential/sink-contents.ts';

/** A row as a sink holds it: column -> canonical JSON value (docs/values.md). */
export type Row = Record<string, unknown>;

/**
 * Every row of `schema.table` as the sinks must hold it, by id, computed from what the server
 * returns (differential/expected.ts: CAST, HEX and JSON text read back, a UTC session), never by
 * Tunnel's decoder. The connection's time zone and sql_mode are restored afterwards.
 */
export async function tableRows(conn: Connection, table: string): Promise<Map<string, Row>> {
  const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : [(conn.config.database ?? '') as string, table];
  const [[session]] = (await conn.query('SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode')) as unknown as [[{ tz: string; mode: string }]];
  try {
    return (await expectedTable(conn, schema, name)).rows;
  } finally {
    await conn.query('SET SESSION time_zone = ?, SESSION sql_mode = ?', [session.tz, session.mode]);
  }
}

/** All `prefix*` keys of a Redis sink storing rows as JSON strings, by id. */
export async function redisJsonRows(redis: Redis, prefix: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await redis.mget(...keys);
    keys.forEach((key, i) => {
      if (values[i] !== null) out.set(key.slice(prefix.length), JSON.parse(values[i]!) as Row);
    });
  } while (cursor !== '0');
  return out;
}

export interface RowDiff {
  missing: string[];
  extra: string[];
  /** Ids whose rows differ, each with its first differing column: `7.ratio: 0.1 != 0.10000000149011612`. */
  different: string[];
}

/**
 * Differences a person would look at: ids missing from the sink, extra in it, and rows that differ
 * in any column (JSON equality: numbers by value, objects regardless of key order).
 */
export function diffRows(expected: Map<string, Row>, actual: Map<string, Row>): RowDiff {
  const missing: string[] = [];
  const different: string[] = [];
  for (const [id, row] of expected) {
    const got = actual.get(id);
    if (got === undefined) {
      missing.push(id);
      continue;
    }
    const column = [...new Set([...Object.keys(row), ...Object.keys(got)])].find((c) => !(c in row) || !(c in got) || !sameValue(row[c], got[c]));
    if (column !== undefined) different.push(`${id}.${column}: ${JSON.stringify(row[column])} != ${JSON.stringify(got[column])}`);
  }
  const extra = [...actual.keys()].filter((id) => !expected.has(id));
  return { missing, extra, different };
}

/** A one-line account of a diff, for an assertion message. */
export function describeDiff(d: RowDiff): string {
  const part = (label: string, ids: string[]) =>
    `${label} ${ids.length}${ids.length ? ` [${ids.slice(0, 5).join('; ')}${ids.length > 5 ? '; ...' : ''}]` : ''}`;
  return `${part('missing', d.missing)}, ${part('extra', d.extra)}, ${part('different', d.different)}`;
}

export const isEmptyRowDiff = (d: RowDiff) => d.missing.length === 0 && d.extra.length === 0 && d.different.length === 0;

/**
 * Polls until every sink's full comparison with its expected rows is empty, or throws at the
 * deadline naming each sink and what still differs there.
 */
export async function waitUntilSinksEqual(
  what: string,
  checks: Record<string, { expected: Map<string, Row> | (() => Map<string, Row>); read: () => Promise<Map<string, Row>> | Map<string, Row> }>,
  timeoutMs = 60_000,
): Promise<{ waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const diffs: Record<string, RowDiff> = {};
    for (const [name, { expected, read }] of Object.entries(checks)) {
      try {
        diffs[name] = diffRows(typeof expected === 'function' ? expected() : expected, await read());
      } catch (error) {
        diffs[name] = { missing: [`(cannot read: ${(error as Error).message})`], extra: [], different: [] };
      }
    }
    if (Object.values(diffs).every(isEmptyRowDiff)) return { waitedMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) {
      const still = Object.entries(diffs)
        .filter(([, d]) => !isEmptyRowDiff(d))
        .map(([name, d]) => `${name}: ${describeDiff(d)}`);
      throw new Error(`${what}: after ${timeoutMs} ms the sinks still differ from the table: ${still.join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
