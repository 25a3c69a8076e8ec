/**
 * The server's own decoding of each character set a column uses, learnt from the server once per
 * source: it converts every byte sequence of the set to utf8mb4 (`CONVERT(... USING utf8mb4)`, what
 * its SELECT does for a utf8mb4 client) in a few batched queries, and the answers become the tables
 * charset-decoders.ts reads text with. A library's idea of big5 or sjis differs from the server's in
 * places; the server's own answer cannot.
 *
 * Per character set (1 to 130 ms, docs/values.md "Character sets"): the 256 single bytes; for a
 * multi-byte set every two-byte sequence with a lead byte of 0x80 or more (no MySQL or MariaDB
 * multi-byte set has a lead byte below 0x80), kept where the server reads the two bytes as one
 * character (`LENGTH(LEFT(s, 1)) = 2`); for EUC-JP's sets (ujis, eucjpms) the three-byte sequences of
 * each lead byte that starts one; for gb18030 the four-byte sequences of the BMP part (0x81308130 to
 * 0x8439FE39), the supplementary planes being the standard's linear mapping. The stored text of a
 * column is always well-formed in its set, so these are all the sequences a row can hold.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { SourceError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { UNICODE_CHARSETS, tableReader, unicodeReader, type CharsetTable, type TextReader } from './charset-decoders.ts';

/** What the tables are read over: the source's control connection. */
export interface CharsetQueries {
  query(sql: string): Promise<RowDataPacket[]>;
}

const QUESTION_MARK = 0x3f;

/** 0..255, for the probes' byte values (both servers allow 1000 recursions by default). */
const BYTES = 'WITH RECURSIVE b(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM b WHERE i < 255)';

const hex2 = (column: string) => `LPAD(HEX(${column}), 2, '0')`;

/**
 * The probe of a set of byte sequences: `code` and the server's utf8mb4 text (hex) of those the
 * server reads as one character of `length` bytes. `bytes` is the SQL of the sequence's hex digits.
 */
function probe(charset: string, from: string, code: string, bytes: string, length: number): string {
  return (
    `${BYTES} SELECT code, HEX(CONVERT(s USING utf8mb4)) AS text FROM ` +
    `(SELECT ${code} AS code, CONVERT(UNHEX(${bytes}) USING ${charset}) AS s FROM ${from}) AS p ` +
    (length > 1 ? `WHERE LENGTH(LEFT(s, 1)) = ${length}` : '')
  );
}

/** The code point of a probe row: the server's one character, '?' when it gave none (MySQL: NULL). */
function codePoint(hex: unknown): number {
  if (typeof hex !== 'string' || hex === '') return QUESTION_MARK;
  const text = Buffer.from(hex, 'hex').toString('utf8');
  const cp = text.codePointAt(0)!;
  return text.length === (cp > 0xffff ? 2 : 1) ? cp : QUESTION_MARK;
}

/** A table of `size` code points, -1 where no row says otherwise. */
function fill(size: number, rows: RowDataPacket[]): Int32Array {
  const codes = new Int32Array(size).fill(-1);
  for (const row of rows) codes[Number(row.code)] = codePoint(row.text);
  return codes;
}

/** Reads `charset`'s table from the server (`maxLength`: its MAXLEN). */
export async function readCharsetTable(db: CharsetQueries, charset: string, maxLength: number): Promise<CharsetTable> {
  if (!/^[a-z0-9_]+$/.test(charset)) throw new SourceError(`the server names a character set "${charset}" Tunnel cannot ask about`);
  const singleRows = await db.query(probe(charset, 'b', 'i', hex2('i'), 1));
  const single = fill(256, singleRows);
  for (let b = 0; b < 256; b++) if (single[b]! < 0) single[b] = QUESTION_MARK;
  const table: CharsetTable = { charset, single };
  if (maxLength === 1) return table;

  table.double = fill(
    65536,
    await db.query(probe(charset, 'b AS hi JOIN b AS lo WHERE hi.i >= 128', 'hi.i * 256 + lo.i', `CONCAT(${hex2('hi.i')}, ${hex2('lo.i')})`, 2)),
  );
  if (maxLength === 3) {
    // lead bytes of three-byte characters: EUC's code set 3 is lead, then two bytes 0xA1..0xFE
    const leads = await db.query(probe(charset, 'b WHERE i >= 128', 'i', `CONCAT(${hex2('i')}, 'A1A1')`, 3));
    const triple = new Map<number, Int32Array>();
    for (const { code } of leads) {
      const lead = hex2(String(Number(code)));
      const rows = await db.query(probe(charset, 'b AS hi JOIN b AS lo', 'hi.i * 256 + lo.i', `CONCAT(${lead}, ${hex2('hi.i')}, ${hex2('lo.i')})`, 3));
      triple.set(Number(code), fill(65536, rows));
    }
    if (triple.size > 0) table.triple = triple;
  } else if (maxLength === 4 && charset === 'gb18030') {
    // b1 0x81..0x84, b2 and b4 '0'..'9', b3 0x81..0xFE: the BMP part, linear numbers 0..50399
    const from =
      'b AS b1 JOIN b AS b2 JOIN b AS b3 JOIN b AS b4 ' +
      'WHERE b1.i BETWEEN 129 AND 132 AND b2.i BETWEEN 48 AND 57 AND b3.i BETWEEN 129 AND 254 AND b4.i BETWEEN 48 AND 57';
    const code = '((b1.i - 129) * 10 + b2.i - 48) * 1260 + (b3.i - 129) * 10 + b4.i - 48';
    const rows = await db.query(probe(charset, from, code, `CONCAT(${hex2('b1.i')}, ${hex2('b2.i')}, ${hex2('b3.i')}, ${hex2('b4.i')})`, 4));
    table.quadruple = fill(4 * 10 * 1260, rows);
  } else if (maxLength > 3) {
    throw new SourceError(`character set ${charset} has characters of ${maxLength} bytes, which Tunnel does not know how to ask the server about`);
  }
  return table;
}

/**
 * The readers of one server's character sets, built on first use and kept for the source's life
 * (a server's character sets do not change while it runs).
 */
export class ServerCharsets {
  private readonly readers = new Map<string, TextReader>();
  private maxLengths: Map<string, number> | undefined;
  private readonly loading = new Map<string, Promise<void>>();

  constructor(
    private readonly db: () => Promise<CharsetQueries>,
    private readonly logger: Logger,
  ) {
    for (const charset of UNICODE_CHARSETS) this.readers.set(charset, unicodeReader(charset)!);
  }

  /** The reader of a character set whose table is loaded (or a Unicode set); undefined otherwise. */
  reader(charset: string): TextReader | undefined {
    return this.readers.get(charset);
  }

  /** Of `charsets`, those with no reader yet. */
  missing(charsets: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const charset of charsets) if (!this.readers.has(charset)) out.add(charset);
    return [...out];
  }

  /** Reads the tables of `charsets` from the server (once each, concurrent callers share the read). */
  async load(charsets: Iterable<string>): Promise<void> {
    await Promise.all(this.missing(charsets).map((charset) => this.loadOne(charset)));
  }

  private loadOne(charset: string): Promise<void> {
    let loading = this.loading.get(charset);
    if (!loading) {
      loading = this.build(charset).finally(() => this.loading.delete(charset));
      this.loading.set(charset, loading);
    }
    return loading;
  }

  private async build(charset: string): Promise<void> {
    const db = await this.db();
    if (!this.maxLengths) {
      const rows = await db.query('SELECT CHARACTER_SET_NAME AS name, MAXLEN AS maxLength FROM information_schema.CHARACTER_SETS');
      this.maxLengths = new Map(rows.map((r) => [String(r.name), Number(r.maxLength)]));
    }
    const maxLength = this.maxLengths.get(charset);
    if (maxLength === undefined) throw new SourceError(`the server has no character set ${charset}`);
    const started = performance.now();
    const table = await readCharsetTable(db, charset, maxLength);
    this.readers.set(charset, tableReader(table));
    this.logger.debug({ charset, ms: Math.round(performance.now() - started) }, 'read the character set from the server');
  }
}
