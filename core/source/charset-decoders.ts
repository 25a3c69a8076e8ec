/**
 * Text of a column's bytes, exactly as the server's SELECT gives it (docs/values.md, "Character
 * sets").
 *
 * The Unicode character sets decode by their definition (UTF-8, UTF-16 big- or little-endian, UCS-2,
 * UTF-32): the server stores only well-formed text in them, and well-formed text has one reading.
 * Every other character set decodes through a CharsetTable, the server's own answer for each byte
 * sequence (charset-tables.ts asks it), because the servers' mappings differ from every library's
 * in places (MySQL's big5, sjis, ujis, cp932, eucjpms, tis620, swe7, ... are their own tables).
 *
 * Stored text is always well-formed in its character set (the server refuses or replaces the rest
 * when it stores it), so the decoders do not need the server's handling of broken sequences; they
 * emit '?' for a byte that starts none of the table's sequences, as MariaDB's conversion does.
 */
import { isAscii } from 'node:buffer';

/** The text of `buf[start, end)`. */
export type TextReader = (buf: Buffer, start: number, end: number) => string;

/** Where a character set's mapping comes from: its definition, or the server (a CharsetTable). */
export const UNICODE_CHARSETS: ReadonlySet<string> = new Set(['utf8', 'utf8mb3', 'utf8mb4', 'utf16', 'utf16le', 'utf32', 'ucs2']);

/** Byte value → the server's text of it, per sequence length. Code points; -1: not a character. */
export interface CharsetTable {
  charset: string;
  /** The server's character of each single byte (a byte that is no character alone maps to '?'). */
  single: Int32Array;
  /** Two-byte characters, indexed by `lead << 8 | trail`; absent for a single-byte set. */
  double?: Int32Array;
  /** Three-byte characters by lead byte, each indexed by `second << 8 | third` (EUC-JP's 0x8F). */
  triple?: ReadonlyMap<number, Int32Array>;
  /**
   * gb18030's four-byte characters b1 b2 b3 b4 (b1, b3 in 0x81..0xFE; b2, b4 in 0x30..0x39),
   * indexed by their linear number ((b1-0x81)*10 + b2-0x30)*1260 + (b3-0x81)*10 + b4-0x30: the
   * server's table for the BMP part (b1 0x81..0x84); from GB18030_SUPPLEMENTARY_START on, the
   * standard maps them in order onto U+10000..U+10FFFF.
   */
  quadruple?: Int32Array;
}

/** Linear number of gb18030's 0x90308130, the four-byte code of U+10000. */
export const GB18030_SUPPLEMENTARY_START = (0x90 - 0x81) * 12600;

const QUESTION_MARK = 0x3f;

// ------------------------------------------------------------------------------------------------
// Unicode character sets

function utf8(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, end);
}

function utf16le(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf16le', start, end);
}

/** UTF-16 big-endian (MySQL's utf16) and UCS-2 (big-endian, BMP only). */
function utf16be(buf: Buffer, start: number, end: number): string {
  const swapped = Buffer.from(buf.subarray(start, end - ((end - start) & 1)));
  return swapped.swap16().toString('utf16le');
}

function utf32(buf: Buffer, start: number, end: number): string {
  let out = '';
  for (let i = start; i + 4 <= end; i += 4) {
    const cp = buf.readUInt32BE(i);
    out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '?';
  }
  return out;
}

/** The reader of a Unicode character set; undefined for any other. */
export function unicodeReader(charset: string): TextReader | undefined {
  switch (charset) {
    case 'utf8':
    case 'utf8mb3':
    case 'utf8mb4':
      return utf8;
    case 'utf16le':
      return utf16le;
    case 'utf16':
    case 'ucs2':
      return utf16be;
    case 'utf32':
      return utf32;
    default:
      return undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// tables

/** UTF-16 code units written by the table decoders, grown on demand and shared (decoding is synchronous). */
let scratch = new Uint16Array(1024);

function scratchFor(bytes: number): Uint16Array {
  // a byte never yields more than two code units (a supplementary character needs four bytes)
  if (scratch.length < bytes * 2) scratch = new Uint16Array(Math.max(bytes * 2, scratch.length * 2));
  return scratch;
}

function codeUnits(units: Uint16Array, n: number): string {
  if (n <= 16) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(units[i]!);
    return s;
  }
  return Buffer.from(units.buffer, units.byteOffset, n * 2).toString('utf16le');
}

/** Writes code point `cp` at units[n]; returns the new length. */
function put(units: Uint16Array, n: number, cp: number): number {
  if (cp < 0x10000) {
    units[n] = cp;
    return n + 1;
  }
  const v = cp - 0x10000;
  units[n] = 0xd800 + (v >> 10);
  units[n + 1] = 0xdc00 + (v & 0x3ff);
  return n + 2;
}

/** Whether bytes 0x00..0x7F are themselves (then ASCII text is its own decoding). */
function asciiCompatible(table: CharsetTable): boolean {
  for (let b = 0; b < 0x80; b++) if (table.single[b] !== b) return false;
  return true;
}

/** An 8-bit character set: a regular expression finds the bytes Latin-1 would read differently. */
function singleByteReader(table: CharsetTable): TextReader {
  const single = table.single;
  const differing: number[] = [];
  for (let b = 0; b < 256; b++) if (single[b] !== b) differing.push(b);
  if (differing.length === 0) return (buf, start, end) => buf.toString('latin1', start, end);
  const loop: TextReader = (buf, start, end) => {
    const units = scratchFor(end - start);
    let n = 0;
    for (let i = start; i < end; i++) n = put(units, n, single[buf[i]!]!);
    return codeUnits(units, n);
  };
  if (!asciiCompatible(table)) return loop;
  // Text is mostly ASCII, and MySQL's latin1 is ISO-8859-1 from 0xA0 on: Latin-1 then a regular
  // expression test is the fastest reading; the table loop only for text that holds other bytes.
  const escaped = differing.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  const other = new RegExp(`[${escaped}]`);
  return (buf, start, end) => {
    const text = buf.toString('latin1', start, end);
    return other.test(text) ? loop(buf, start, end) : text;
  };
}

/** A multi-byte character set: the longest sequence of the table at each position. */
function multiByteReader(table: CharsetTable): TextReader {
  const { single, double, quadruple } = table;
  const triple: (Int32Array | undefined)[] = new Array(256);
  for (const [lead, codes] of table.triple ?? []) triple[lead] = codes;
  const ascii = asciiCompatible(table);
  return (buf, start, end) => {
    if (ascii && isAscii(buf.subarray(start, end))) return buf.toString('latin1', start, end);
    const units = scratchFor(end - start);
    let n = 0;
    let i = start;
    while (i < end) {
      const b = buf[i]!;
      if (b >= 0x80) {
        if (quadruple !== undefined && i + 3 < end) {
          const b2 = buf[i + 1]!;
          if (b2 >= 0x30 && b2 <= 0x39) {
            const cp = gb18030Quadruple(quadruple, b, b2, buf[i + 2]!, buf[i + 3]!);
            if (cp >= 0) {
              n = put(units, n, cp);
              i += 4;
              continue;
            }
          }
        }
        const codes3 = triple[b];
        if (codes3 !== undefined && i + 2 < end) {
          const cp = codes3[(buf[i + 1]! << 8) | buf[i + 2]!]!;
          if (cp >= 0) {
            n = put(units, n, cp);
            i += 3;
            continue;
          }
        }
        if (double !== undefined && i + 1 < end) {
          const cp = double[(b << 8) | buf[i + 1]!]!;
          if (cp >= 0) {
            n = put(units, n, cp);
            i += 2;
            continue;
          }
        }
      }
      n = put(units, n, single[b]!);
      i += 1;
    }
    return codeUnits(units, n);
  };
}

/** A gb18030 four-byte character (b2 already in 0x30..0x39); -1 when the bytes are none. */
function gb18030Quadruple(quadruple: Int32Array, b1: number, b2: number, b3: number, b4: number): number {
  if (b1 > 0xfe || b3 < 0x81 || b3 > 0xfe || b4 < 0x30 || b4 > 0x39) return -1;
  const linear = ((b1 - 0x81) * 10 + (b2 - 0x30)) * 1260 + (b3 - 0x81) * 10 + (b4 - 0x30);
  if (linear < quadruple.length) return quadruple[linear]!;
  const supplementary = linear - GB18030_SUPPLEMENTARY_START;
  return supplementary >= 0 && supplementary <= 0xfffff ? 0x10000 + supplementary : QUESTION_MARK;
}

/** The fastest exact reader of a table. */
export function tableReader(table: CharsetTable): TextReader {
  return table.double === undefined && table.triple === undefined && table.quadruple === undefined ? singleByteReader(table) : multiByteReader(table);
}
