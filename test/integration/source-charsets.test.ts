// Text in every character set the server has, through the binlog source, equals the server's own
// SELECT of it (CONVERT(v USING utf8mb4)), on MariaDB and MySQL 8. The server produces the text:
// every single byte, every two-byte sequence with a high lead byte, EUC-JP's three-byte sequences,
// gb18030's four-byte sequences around its BMP, gap and supplementary ranges (stored with
// sql_mode='' so the server keeps what it can of each), long runs of those, and for every set the
// whole BMP and samples of the supplementary planes converted by the server from UTF-32 (what the
// set cannot hold becomes '?'). ENUM and SET labels in those character sets, whether the labels
// come from the table map (binlog_row_metadata=FULL) or from INFORMATION_SCHEMA, equal SELECT too, and
// so does text in MariaDB's COMPRESSED columns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import { createBinlogSource, type SourceHandler } from '../../core/source/index.ts';
import { createTestDatabase, sourceConnection, sourceServers, waitFor, type SourceServer } from '../helpers/servers.ts';
import { binlogEnd, comparePositions, silentLogger, sourceOptions } from '../helpers/source-harness.ts';

const BYTES = 'WITH RECURSIVE b(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM b WHERE i < 255)';
const hex2 = (column: string) => `LPAD(HEX(${column}), 2, '0')`;
/** Row ids: the kind of text in the high part, the byte sequence or code point in the low 32 bits. */
const ID = { single: 0, double: 1, triple: 2, quadruple: 3, runs: 4, unicode: 5 } as const;
const id = (kind: number, code: string) => `${kind} * 4294967296 + ${code}`;

/** Code points U+0000..U+FFFF without the surrogates, and samples of planes 1, 2, 14 and 16, in chunks of 256. */
function unicodeChunks(): { first: number; hex: string }[] {
  const chunks: { first: number; hex: string }[] = [];
  const starts = [
    ...Array.from({ length: 256 }, (_, k) => k * 256).filter((s) => s < 0xd800 || s >= 0xe000),
    0x10000,
    0x1f600,
    0x20000,
    0x2fa00,
    0xe0000,
    0x10ff00,
  ];
  for (const first of starts) {
    const units = Buffer.alloc(256 * 4);
    for (let k = 0; k < 256; k++) units.writeUInt32BE(first + k, k * 4);
    chunks.push({ first, hex: units.toString('hex') });
  }
  return chunks;
}

/** The statements that fill `table` (column v in `charset`, whose longest character has `maxLength` bytes). */
function fillStatements(table: string, charset: string, maxLength: number): string[] {
  const into = `INSERT INTO \`${table}\` (id, v)`;
  const convert = (hex: string) => `CONVERT(UNHEX(${hex}) USING ${charset})`;
  const statements: string[] = [];
  const unicode = charset === 'utf8mb3' || charset === 'utf8mb4' || charset.startsWith('utf16') || charset === 'utf32' || charset === 'ucs2';
  if (!unicode) {
    statements.push(`${into} ${BYTES} SELECT ${id(ID.single, 'i')}, ${convert(hex2('i'))} FROM b`);
    if (maxLength >= 2) {
      statements.push(
        `${into} ${BYTES} SELECT ${id(ID.double, 'hi.i * 256 + lo.i')}, ${convert(`CONCAT(${hex2('hi.i')}, ${hex2('lo.i')})`)} FROM b AS hi JOIN b AS lo WHERE hi.i >= 128`,
      );
    }
    if (maxLength === 3) {
      for (const lead of ['8E', '8F']) {
        statements.push(
          `${into} ${BYTES} SELECT ${id(ID.triple, `0x${lead}0000 + hi.i * 256 + lo.i`)}, ${convert(`CONCAT('${lead}', ${hex2('hi.i')}, ${hex2('lo.i')})`)} ` +
            'FROM b AS hi JOIN b AS lo WHERE hi.i >= 128 AND lo.i >= 128',
        );
      }
    }
    if (maxLength === 4) {
      // BMP start and end, the unassigned gap, the supplementary planes' start, end and beyond
      for (const b1 of [0x81, 0x84, 0x85, 0x8f, 0x90, 0xe3, 0xe4, 0xfe]) {
        statements.push(
          `${into} ${BYTES} SELECT ${id(ID.quadruple, `${b1 * 0x1000000} + b2.i * 65536 + b3.i * 256 + b4.i`)}, ` +
            `${convert(`CONCAT('${b1.toString(16)}', ${hex2('b2.i')}, ${hex2('b3.i')}, ${hex2('b4.i')})`)} ` +
            'FROM b AS b2 JOIN b AS b3 JOIN b AS b4 WHERE b2.i BETWEEN 48 AND 57 AND b3.i BETWEEN 129 AND 254 AND b4.i BETWEEN 48 AND 57',
        );
      }
    }
    // long text: per lead byte, its stored characters run together with ASCII between them
    statements.push(
      `${into} SELECT ${id(ID.runs, 'MOD(id, 4294967296) DIV 256')}, GROUP_CONCAT(v ORDER BY id SEPARATOR 'a') FROM \`${table}\` ` +
        `WHERE id >= ${2 ** 32} GROUP BY MOD(id, 4294967296) DIV 256`,
    );
  }
  for (const chunk of unicodeChunks()) {
    statements.push(`${into} VALUES (${id(ID.unicode, String(chunk.first))}, CONVERT(CONVERT(UNHEX('${chunk.hex}') USING utf32) USING ${charset}))`);
  }
  return statements;
}

/** Keeps the last value of each (table, id) the source emits, without keeping the events. */
class Collector implements SourceHandler {
  readonly values = new Map<string, Map<string, unknown>>();
  readonly errors: Error[] = [];
  last: BinlogPosition | undefined;

  onEvent(event: RowEvent): void {
    let table = this.values.get(event.table);
    if (!table) this.values.set(event.table, (table = new Map()));
    for (const row of event.rows) {
      const cells = event.action === 'update' ? (row as { column: string; after: unknown }[]).map((c) => ({ column: c.column, value: c.after })) : row;
      const byName = new Map((cells as { column: string; value: unknown }[]).map((c) => [c.column, c.value]));
      table.set(String(byName.get('id')), event.action === 'delete' ? undefined : Object.fromEntries(byName));
    }
  }

  onCommit(position: BinlogPosition): void {
    this.last = position;
  }

  onError(error: Error): void {
    this.errors.push(error);
  }
}

/** The rows of `table` as the server's SELECT gives them: id and each column's utf8mb4 text (null for NULL). */
async function selected(conn: Connection, table: string, columns: string[]): Promise<Map<string, Record<string, string | null>>> {
  const list = columns.map((c) => `HEX(CONVERT(\`${c}\` USING utf8mb4)) AS \`${c}\``).join(', ');
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT CAST(id AS CHAR) AS id, ${list} FROM \`${table}\``);
  return new Map(
    rows.map((r) => [String(r.id), Object.fromEntries(columns.map((c) => [c, r[c] === null ? null : Buffer.from(String(r[c]), 'hex').toString('utf8')]))]),
  );
}

/** Differences between the server's rows and the source's, at most `limit`, readable. */
function differences(table: string, server: Map<string, Record<string, string | null>>, source: Map<string, unknown> | undefined, limit = 12): string[] {
  const out: string[] = [];
  if (!source) return [`${table}: the source emitted nothing`];
  for (const [rowId, expected] of server) {
    const got = source.get(rowId) as Record<string, unknown> | undefined;
    for (const [column, text] of Object.entries(expected)) {
      if (got?.[column] !== text && out.length < limit) {
        const id = BigInt(rowId);
        out.push(
          `${table} id ${id >> 32n}:${(id & 0xffffffffn).toString(16)} ${column}: server ${JSON.stringify(text)}, source ${JSON.stringify(got?.[column])}`,
        );
      }
    }
  }
  if (source.size !== server.size && out.length < limit) out.push(`${table}: the server has ${server.size} rows, the source emitted ${source.size}`);
  return out;
}

async function capture(server: SourceServer, schema: string, write: () => Promise<void>): Promise<Collector> {
  const collector = new Collector();
  const source = createBinlogSource(sourceOptions([`${schema}.*`], {}, server), silentLogger());
  await source.start({ kind: 'position', position: await binlogEnd(server) }, collector);
  try {
    await write();
    const end = await binlogEnd(server);
    await waitFor(
      () => {
        if (collector.errors.length > 0) throw collector.errors[0];
        return collector.last !== undefined && comparePositions(collector.last, end) >= 0;
      },
      { timeoutMs: 120_000, what: 'the source to reach the end of the binlog' },
    );
  } finally {
    await source.stop();
  }
  return collector;
}

describe.each(sourceServers)('character sets through the binlog source on $label', (server) => {
  const DB = 'tunnel_source_charsets';
  let conn: Connection;
  let charsets: { name: string; maxLength: number }[];

  beforeAll(async () => {
    await createTestDatabase(DB, server);
    conn = await sourceConnection(server, { database: DB });
    // keep what the server can of each byte sequence instead of refusing the statement
    await conn.query("SET SESSION sql_mode = '', group_concat_max_len = 1048576");
    const [rows] = await conn.query<RowDataPacket[]>('SHOW CHARACTER SET');
    charsets = rows.map((r) => ({ name: String(r.Charset), maxLength: Number(r.Maxlen) })).filter((c) => c.name !== 'binary');
  });

  afterAll(async () => {
    await conn?.end();
  });

  it('text in every character set equals SELECT', async () => {
    expect(charsets.length).toBeGreaterThanOrEqual(server.flavor === 'mysql' ? 40 : 39);
    const collector = await capture(server, DB, async () => {
      for (const { name, maxLength } of charsets) {
        await conn.query(`CREATE TABLE \`t_${name}\` (id BIGINT PRIMARY KEY, v LONGTEXT CHARACTER SET ${name})`);
        for (const sql of fillStatements(`t_${name}`, name, maxLength)) await conn.query(sql);
      }
    });
    const problems: string[] = [];
    let rows = 0;
    for (const { name } of charsets) {
      const expected = await selected(conn, `t_${name}`, ['v']);
      rows += expected.size;
      problems.push(...differences(`t_${name}`, expected, collector.values.get(`t_${name}`)));
    }
    expect(problems).toEqual([]);
    expect(rows).toBeGreaterThan(server.flavor === 'mysql' ? 400_000 : 300_000);
  }, 600_000);

  it.runIf(server.flavor === 'mariadb')("MariaDB's COMPRESSED columns in odd character sets equal SELECT", async () => {
    const table = 'compressed';
    const collector = await capture(server, DB, async () => {
      await conn.query(
        `CREATE TABLE ${table} (id BIGINT PRIMARY KEY, a VARCHAR(2000) CHARACTER SET big5 COMPRESSED, ` +
          'b TEXT CHARACTER SET sjis COMPRESSED, c MEDIUMTEXT CHARACTER SET swe7 COMPRESSED, d BLOB COMPRESSED)',
      );
      // long values (compressed) and short ones (stored as is), all converted by the server
      for (const chunk of unicodeChunks().slice(0, 64)) {
        const text = `CONVERT(UNHEX('${chunk.hex}') USING utf32)`;
        await conn.query(
          `INSERT INTO ${table} VALUES (${chunk.first}, CONVERT(${text} USING big5), CONVERT(${text} USING sjis), CONVERT(${text} USING swe7), UNHEX('${chunk.hex}')), ` +
            `(${chunk.first + 1}, CONVERT(LEFT(${text}, 2) USING big5), CONVERT(LEFT(${text}, 1) USING sjis), '[', x'00')`,
        );
      }
    });
    const expected = await selected(conn, table, ['a', 'b', 'c']);
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT CAST(id AS CHAR) AS id, TO_BASE64(d) AS d FROM ${table}`);
    for (const row of rows) expected.get(String(row.id))!.d = String(row.d).replace(/\s/g, '');
    expect(differences(table, expected, collector.values.get(table))).toEqual([]);
    expect(expected.size).toBe(128);
  });

  it.each(['FULL', 'MINIMAL'])(
    'ENUM and SET labels in every character set equal SELECT (binlog_row_metadata=%s)',
    async (metadata) => {
      const labelsOf = async (name: string, maxLength: number): Promise<string[]> => {
        // the server's text of some of the set's characters, written back into the definition as
        // literals (converted to the set by the server); numbered so no two labels are equal
        const groups =
          maxLength === 1
            ? Array.from({ length: 14 }, (_, k) => Array.from({ length: 16 }, (_, j) => (0x20 + k * 16 + j).toString(16).padStart(2, '0')).join(''))
            : [];
        const texts: string[] = [];
        for (const hex of groups) {
          const [[row]] = await conn.query<RowDataPacket[]>(`SELECT HEX(CONVERT(CONVERT(UNHEX('${hex}') USING ${name}) USING utf8mb4)) AS t`);
          texts.push(Buffer.from(String(row!.t ?? ''), 'hex').toString('utf8'));
        }
        texts.push('Ж ジ • ¢ £ ¥ ‾ ① \\ 〜 − ‖ ¬ € Ω ⅱ \u0081 Ä ñ', 'a\u0081b', "it's");
        return texts.map((t, k) => `${k}:${t.replace(/,/g, '')}`);
      };
      const literal = (label: string) => `'${label.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
      const tables: string[] = [];
      const collector = await capture(server, DB, async () => {
        const [[{ setting }]] = (await conn.query('SELECT @@GLOBAL.binlog_row_metadata AS setting')) as unknown as [[{ setting: string }]];
        // a global setting, changed only around these writes and put back at once
        if (setting !== metadata) await conn.query(`SET GLOBAL binlog_row_metadata = ${metadata}`);
        try {
          for (const { name, maxLength } of charsets) {
            const labels = await labelsOf(name, maxLength);
            const table = `e_${metadata.toLowerCase()}_${name}`;
            tables.push(table);
            const definition = labels.map(literal).join(', ');
            await conn.query(
              `CREATE TABLE \`${table}\` (id BIGINT PRIMARY KEY, e ENUM(${definition}) CHARACTER SET ${name}, s SET(${definition}) CHARACTER SET ${name})`,
            );
            const values = labels.map((_, k) => `(${k + 1}, ${k + 1}, ${2 ** k})`);
            values.push(`(0, 0, ${2 ** labels.length - 1})`);
            await conn.query(`INSERT INTO \`${table}\` (id, e, s) VALUES ${values.join(', ')}`);
          }
        } finally {
          if (setting !== metadata) await conn.query(`SET GLOBAL binlog_row_metadata = ${setting}`);
        }
      });
      const problems: string[] = [];
      for (const table of tables) problems.push(...differences(table, await selected(conn, table, ['e', 's']), collector.values.get(table), 4));
      expect(problems).toEqual([]);
    },
    300_000,
  );
});
