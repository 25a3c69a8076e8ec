/**
 * Values the server gives as text, read the way the value rules say: JSON text with integers beyond
 * 2^53 kept exact, and the labels of an ENUM or SET definition. Shared by the binlog source and the
 * snapshot, which receives the server's text of the same values.
 */
import type { JsonValue } from '../event/index.ts';

/** JSON.parse, but integers beyond 2^53 become their exact decimal strings (the BIGINT rule). */
export function parseJsonExact(text: string): JsonValue {
  // An integer of 15 digits or fewer is always safe: only longer digit runs need the slow path.
  if (!/\d{16}/.test(text)) return JSON.parse(text) as JsonValue;
  return JSON.parse(quoteUnsafeIntegers(text)) as JsonValue;
}

function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      // skip a string literal
      i++;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 0x5c) i += 2;
        else if (c === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) {
      let j = i + 1;
      let integer = true;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c >= 0x30 && c <= 0x39) j++;
        else if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) {
          integer = false;
          j++;
        } else break;
      }
      if (integer) {
        const token = text.slice(i, j);
        if (!Number.isSafeInteger(Number(token))) {
          out += `${text.slice(last, i)}"${token}"`;
          last = j;
        }
      }
      i = j;
      continue;
    }
    i++;
  }
  return out + text.slice(last);
}

/** The labels of an `enum('a','b''c')` / `set(...)` column type as INFORMATION_SCHEMA prints it. */
export function parseEnumSetDefinition(columnType: string): string[] {
  const values: string[] = [];
  let i = columnType.indexOf('(') + 1;
  const n = columnType.length;
  while (i > 0 && i < n) {
    if (columnType[i] !== "'") {
      i++;
      continue;
    }
    let value = '';
    i++;
    while (i < n) {
      const c = columnType[i]!;
      if (c === "'") {
        if (columnType[i + 1] === "'") {
          value += "'";
          i += 2;
          continue;
        }
        i++;
        break;
      }
      if (c === '\\' && i + 1 < n) {
        value += columnType[i + 1];
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    values.push(value);
  }
  return values;
}
