/**
 * What a table map does not say and INFORMATION_SCHEMA does: the primary key (without FULL
 * metadata), MariaDB's JSON columns (LONGTEXT with a json_valid check) and MariaDB's UUID, INET4 and
 * INET6 columns (binlogged as plain BINARY). Read over the source's control connection, once per
 * table and again after a DDL statement.
 */
import type { RowDataPacket } from 'mysql2/promise';
import type { LogicalType } from './decode.ts';
import type { SourceServer } from './server.ts';

export interface TableExtras {
  jsonColumns: Set<string>;
  logical: Map<string, LogicalType>;
  primaryKey: string[];
}

/** How long reading one table's metadata may take before the control connection counts as lost. */
const READ_TIMEOUT_MS = 30_000;

/** The extras of `schema`.`table`; rejects with an ETIMEDOUT error after 30 s. */
export function readTableExtras(server: SourceServer, schema: string, table: string): Promise<TableExtras> {
  return withTimeout(queryTableExtras(server, schema, table), READ_TIMEOUT_MS, `reading the metadata of ${schema}.${table}`);
}

/** The column a MariaDB JSON check constraint (`json_valid(`col`)`) is about, if `clause` is one. */
export function jsonCheckColumn(clause: string): string | undefined {
  const match = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(clause.trim());
  return match ? match[1]!.replace(/``/g, '`') : undefined;
}

async function queryTableExtras(server: SourceServer, schema: string, table: string): Promise<TableExtras> {
  const control = await server.connection();
  const isMariaDb = server.info?.isMariaDb === true;
  const keyQuery = control.query<RowDataPacket[]>(
    "SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
    [schema, table],
  );
  const checkQuery = isMariaDb
    ? control.query<RowDataPacket[]>('SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?', [
        schema,
        table,
      ])
    : undefined;
  const typeQuery = isMariaDb
    ? control.query<RowDataPacket[]>(
        "SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE IN ('uuid', 'inet4', 'inet6')",
        [schema, table],
      )
    : undefined;
  const [[keyRows], checks, types] = await Promise.all([keyQuery, checkQuery, typeQuery]);
  const logical = new Map<string, LogicalType>();
  for (const row of types?.[0] ?? []) logical.set(String(row.name), String(row.type).toLowerCase() as LogicalType);
  const jsonColumns = new Set<string>();
  for (const row of checks?.[0] ?? []) {
    const column = jsonCheckColumn(String(row.clause));
    if (column !== undefined) jsonColumns.add(column);
  }
  return { jsonColumns, logical, primaryKey: keyRows.map((r) => String(r.name)) };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // shaped like a mysql2 timeout, so the source treats it as a lost connection and reconnects
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} took longer than ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
