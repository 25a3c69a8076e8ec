// Every example of the column-value rules (core/event/value-rules.ts, the docs' table) written to the
// real MariaDB and MySQL 8 (the MariaDB-only types to MariaDB) and read back by the binlog source: the
// source must emit the example's value. The expected values are the literals in the rules file, never
// computed by Tunnel's decoder.
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { VALUE_RULES, valueRulesTable, type ColumnValue } from '../../core/event/index.ts';
import { createBinlogSource, type BinlogSource } from '../../core/source/index.ts';
import { createTestDatabase, sourceConnection, sourceServers } from '../helpers/servers.ts';
import { Recorder, binlogEnd, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

describe.each(sourceServers)('the column-value rules on $label', (server) => {
  const examples = VALUE_RULES.filter((rule) => server.flavor === 'mariadb' || !rule.types.every((type) => type.includes('(MariaDB)'))).flatMap((rule) =>
    rule.examples.map((example) => ({ rule: rule.types.join(', '), ...example })),
  );
  let db: string;
  let conn: Connection;
  let source: BinlogSource | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('tunnel_value_rules', server);
    conn = await sourceConnection(server, { database: db });
    // The session the examples are written in (see ValueExample.note).
    await conn.query("SET SESSION sql_mode = '', SESSION time_zone = '+00:00'");
    for (const [i, example] of examples.entries()) {
      await conn.query(`CREATE TABLE v${i} (id INT PRIMARY KEY, c ${example.column}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    }
  });

  afterAll(async () => {
    await source?.stop();
    await conn?.end();
  });

  it('every example comes out of the binlog as the rules say', async () => {
    const start = await binlogEnd(server);
    const recorder = new Recorder();
    source = createBinlogSource(sourceOptions([`${db}.*`], {}, server), silentLogger());
    await source.start({ kind: 'position', position: start }, recorder);
    for (const [i, example] of examples.entries()) await conn.query(`INSERT INTO v${i} VALUES (1, ${example.sql})`);
    await recorder.waitForCommitAt(await binlogEnd(server));
    await source.stop();
    source = undefined;

    const got = new Map<string, ColumnValue>();
    for (const event of recorder.committed) {
      const cell = event.rows[0]!.find((c) => c.column === 'c')!;
      got.set(event.table, 'value' in cell ? cell.value : cell.after);
    }
    const mismatches = examples
      .map((example, i) => ({ rule: example.rule, column: example.column, sql: example.sql, expected: example.value, got: got.get(`v${i}`) }))
      // deep equality: the order of a JSON object's keys is the server's (MySQL sorts them)
      .filter((m) => !isDeepStrictEqual(m.got, m.expected));
    expect(mismatches).toEqual([]);
    expect(got.size).toBe(examples.length);
  });
});

describe('the column-value rules table', () => {
  it('renders one table row per rule', () => {
    const table = valueRulesTable().split('\n');
    expect(table).toHaveLength(VALUE_RULES.length + 2);
    expect(table[0]).toBe('| type | JSON | value | example |');
    expect(table.find((line) => line.startsWith('| DECIMAL(p,s) |'))).toContain('`DECIMAL(5,2)` 1.5 → `"1.50"`');
  });
});
