/**
 * Random column values as SQL literals, with each type's edge values drawn often: integer limits,
 * BIGINT UNSIGNED max, DOUBLE limits (and 0 as a column's first value), tiny and huge DECIMALs, zero
 * dates where the sql_mode allows them, TIME ±838:59:59, 4-byte characters, each character set's own
 * characters, empty strings, JSON of varying shapes, SETs of several members, BIT(64) all ones.
 */
import type { Random } from './random.ts';
import type { Column, GeometryType, TableSpec } from './schema.ts';
import type { ServerFacts } from './server.ts';

export interface ValueContext {
  rnd: Random;
  facts: ServerFacts;
  spec: TableSpec;
  /** The table's very first row: values a dynamic mapping would guess a narrow type from. */
  first: boolean;
}

/** A SQL literal for a new value of `col` (NULL sometimes when the column allows it). */
export function valueLiteral(ctx: ValueContext, col: Column): string {
  const { rnd } = ctx;
  if (!col.notNull && !ctx.first && rnd.chance(0.1)) return 'NULL';
  const permissive = ctx.spec.sqlMode === 'permissive';
  switch (col.kind) {
    case 'int':
      return intLiteral(rnd, col.bits!, col.unsigned!, ctx.first);
    case 'decimal':
      return decimalLiteral(rnd, col.precision!, col.scale!, col.unsigned ?? false);
    case 'float':
      return floatLiteral(rnd, ctx.first);
    case 'double':
      return doubleLiteral(rnd, ctx.first);
    case 'bit':
      return bitLiteral(rnd, col.bits!);
    case 'year':
      return String(rnd.pick([1901, 2155, 0, 1970, 2000, 2024, rnd.int(1901, 2155)]));
    case 'date':
      return quote(dateText(rnd, permissive));
    case 'datetime':
      return quote(permissive && rnd.chance(0.1) ? zeroDateTime(rnd, col.fsp!) : `${dateText(rnd, false)} ${timeOfDay(rnd)}${fraction(rnd)}`);
    case 'timestamp':
      return quote(permissive && rnd.chance(0.1) ? zeroDateTime(rnd, col.fsp!) : timestampText(rnd, ctx.spec.timeZone));
    case 'time':
      return quote(timeText(rnd));
    case 'text':
      return stringLiteral(textValue(ctx, col));
    case 'binary':
      return binaryLiteral(rnd, col);
    case 'enum':
      return enumLiteral(rnd, col.labels!, permissive);
    case 'set':
      return setLiteral(rnd, col.labels!);
    case 'json':
      return stringLiteral(jsonText(rnd, 0));
    case 'geometry':
      return `ST_GeomFromText('${wkt(rnd, col.geometry!, 0)}')`;
    case 'uuid':
      return quote(uuidText(rnd));
    case 'inet4':
      return quote(rnd.pick(['0.0.0.0', '255.255.255.255', '127.0.0.1', `${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(0, 255)}`]));
    case 'inet6':
      return quote(inet6Text(rnd));
  }
}

export function quote(text: string): string {
  return `'${text}'`;
}

/** A string literal in the connection's character set (utf8mb4), escaped for the default sql_mode. */
export function stringLiteral(text: string): string {
  const escaped = text
    .replace(/[\\'\n\r]/g, (ch) => ({ '\\': '\\\\', "'": "''", '\n': '\\n', '\r': '\\r' })[ch]!)
    .replaceAll(String.fromCharCode(0), '\\0')
    .replaceAll(String.fromCharCode(26), '\\Z');
  return `'${escaped}'`;
}

function intLiteral(rnd: Random, bits: number, unsigned: boolean, first: boolean): string {
  const min = unsigned ? 0n : -(1n << BigInt(bits - 1));
  const max = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  if (first && rnd.chance(0.5)) return rnd.pick(['0', '1']);
  const edges = [min, max, 0n, 1n, max - 1n, unsigned ? 1n : -1n];
  if (bits === 64) edges.push(9007199254740991n, 9007199254740992n, 9007199254740993n, ...(unsigned ? [] : [-9007199254740992n]));
  const v = rnd.weighted([
    [() => rnd.pick(edges), 4],
    [() => rnd.bigint(min, max), 4],
    [() => rnd.bigint(unsigned ? 0n : -1000n, 1000n), 2],
  ] as const)();
  return (v < min ? min : v > max ? max : v).toString();
}

function decimalLiteral(rnd: Random, precision: number, scale: number, unsigned: boolean): string {
  const intDigits = precision - scale;
  const digits = (n: number) => Array.from({ length: n }, () => String(rnd.int(0, 9))).join('');
  const join = (i: string, f: string) => (scale > 0 ? `${i || '0'}.${f}` : i || '0');
  const sign = unsigned ? '' : rnd.chance(0.4) ? '-' : '';
  return rnd.weighted([
    [() => sign + join('9'.repeat(intDigits), '9'.repeat(scale)), 2],
    [() => (scale > 0 ? sign + join('0', '0'.repeat(scale - 1) + '1') : sign + '1'), 2],
    [() => '0', 1],
    [() => join('0', '0'.repeat(scale)), 1],
    [() => sign + join(digits(rnd.int(0, intDigits)).replace(/^0+(?=\d)/, ''), digits(scale)), 5],
    [() => sign + join(digits(Math.min(intDigits, rnd.int(0, 3))), digits(Math.min(scale, rnd.int(0, 2))).padEnd(scale, '0')), 3],
  ] as const)();
}

function approximate(x: number): string {
  const text = String(x);
  return /e/i.test(text) ? text : `${text}e0`;
}

function floatLiteral(rnd: Random, first: boolean): string {
  if (first && rnd.chance(0.5)) return '0e0';
  return rnd.weighted([
    [() => rnd.pick(['0e0', '-0e0', '3.40282e38', '-3.40282e38', '1.17549e-38', '1.4e-45', '3.14e0', '0.1e0', '16777217e0', '1e0']), 4],
    [() => approximate(Math.fround((rnd.float() - 0.5) * 10 ** rnd.int(-20, 20))), 4],
    [() => approximate(rnd.int(-100000, 100000)), 2],
  ] as const)();
}

function doubleLiteral(rnd: Random, first: boolean): string {
  if (first && rnd.chance(0.6)) return rnd.pick(['0e0', '1e0', '42e0']);
  return rnd.weighted([
    [
      () =>
        rnd.pick([
          '0e0',
          '-0e0',
          '1.7976931348623157e308',
          '-1.7976931348623157e308',
          '2.2250738585072014e-308',
          '5e-324',
          '1e300',
          '-1e-300',
          '0.1e0',
          '9007199254740993e0',
          '1.5e0',
          '123456789.123456789e0',
        ]),
      4,
    ],
    [() => approximate((rnd.float() - 0.5) * 10 ** rnd.int(-300, 300)), 4],
    [() => approximate(rnd.int(-1000000, 1000000)), 2],
  ] as const)();
}

function bitLiteral(rnd: Random, bits: number): string {
  const max = (1n << BigInt(bits)) - 1n;
  const v = rnd.pick([0n, max, 1n, 1n << BigInt(bits - 1), rnd.bigint(0n, max), rnd.bigint(0n, max)]);
  return rnd.chance(0.5) ? `b'${v.toString(2)}'` : v.toString();
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function dateText(rnd: Random, permissive: boolean): string {
  if (permissive && rnd.chance(0.15)) return rnd.pick(['0000-00-00', '2024-00-15', '2024-02-00', '0000-01-01', '2023-00-00']);
  if (rnd.chance(0.3)) return rnd.pick(['1000-01-01', '9999-12-31', '2024-02-29', '1970-01-01', '0001-01-01', '1582-10-10']);
  const y = rnd.int(1000, 9999);
  const m = rnd.int(1, 12);
  const d = rnd.int(1, new Date(Date.UTC(y, m, 0)).getUTCDate());
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
}

function timeOfDay(rnd: Random): string {
  if (rnd.chance(0.2)) return rnd.pick(['00:00:00', '23:59:59', '12:00:00']);
  return `${pad(rnd.int(0, 23))}:${pad(rnd.int(0, 59))}:${pad(rnd.int(0, 59))}`;
}

/** A fraction of 0 to 6 digits (the server rounds or truncates it to the column's precision). */
function fraction(rnd: Random): string {
  const n = rnd.int(0, 6);
  if (n === 0) return '';
  if (rnd.chance(0.2)) return '.' + '9'.repeat(n);
  return '.' + Array.from({ length: n }, () => rnd.int(0, 9)).join('');
}

function zeroDateTime(rnd: Random, fsp: number): string {
  return '0000-00-00 00:00:00' + (fsp > 0 && rnd.chance(0.5) ? '.' + '0'.repeat(fsp) : '');
}

/** A TIMESTAMP literal: a UTC instant in the TIMESTAMP range, written as wall time in the session's zone. */
function timestampText(rnd: Random, zone: string): string {
  const seconds = rnd.pick([1, 2147483647, 0x7fffffff - 1, 86400, 951782400, rnd.int(1, 2147483647), rnd.int(1, 2147483647)]);
  const frac = seconds === 2147483647 && rnd.chance(0.5) ? '.999999' : fraction(rnd);
  const m = /^([+-])(\d\d):(\d\d)$/.exec(zone)!;
  const offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60);
  const wall = new Date((seconds + offset) * 1000);
  return `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())} ${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}${frac}`;
}

function timeText(rnd: Random): string {
  if (rnd.chance(0.35))
    return rnd.pick([
      '838:59:59',
      '-838:59:59',
      '838:59:59.000000',
      '-838:59:58.999999',
      '00:00:00',
      '-00:00:00.000001',
      '-00:00:01.5',
      '34 22:59:59',
      '-1 00:00:00',
      '100:00:00',
    ]);
  const sign = rnd.chance(0.3) ? '-' : '';
  return `${sign}${pad(rnd.int(0, 838))}:${pad(rnd.int(0, 59))}:${pad(rnd.int(0, 59))}${fraction(rnd)}`;
}

/** Text for a CHAR/VARCHAR/TEXT column that fits it: its set's characters, ASCII, spaces, empty. */
function textValue(ctx: ValueContext, col: Column): string {
  const { rnd } = ctx;
  const pool = ctx.facts.pools.get(col.charset!)!;
  const maxChars = col.length ?? Math.floor(Math.min(col.maxBytes!, 70_000) / pool.maxBytes);
  // CHAR/VARCHAR count characters; the TEXT types count bytes.
  const byteBudget = col.length !== undefined ? Infinity : col.maxBytes!;
  const target = rnd.weighted([
    [0, 1],
    [1, 1],
    [rnd.int(2, 12), 5],
    [maxChars, 1],
    [rnd.int(0, Math.min(maxChars, 300)), 2],
    [Math.min(maxChars, rnd.int(5000, 70000)), col.length === undefined && !ctx.first ? 0.3 : 0],
  ] as const);
  const length = Math.min(target, maxChars);
  const isAscii = (c: string) => [...c].every((ch) => ch.codePointAt(0)! < 0x80);
  const nonAscii = pool.chars.filter((c) => !isAscii(c));
  const ascii = pool.chars.filter(isAscii);
  const mode = rnd.pick(['mixed', 'mixed', 'charset', 'ascii'] as const);
  const parts: string[] = [];
  let bytes = 0;
  let codePoints = 0;
  for (let i = 0; i < length; i++) {
    const fromSet = nonAscii.length > 0 && (mode === 'charset' || (mode === 'mixed' && rnd.chance(0.5)));
    const ch = fromSet ? rnd.pick(nonAscii) : rnd.pick(ascii.length > 0 ? ascii : pool.chars);
    const size = pool.bytes[pool.chars.indexOf(ch)]!;
    // A character of several code points (a ZWJ sequence, e + combining accent) counts as several.
    const points = [...ch].length;
    if (bytes + size > byteBudget || codePoints + points > length) break;
    parts.push(ch);
    bytes += size;
    codePoints += points;
  }
  let text = parts.join('');
  // Trailing spaces: kept by VARCHAR and TEXT, removed from CHAR by SELECT.
  if (rnd.chance(0.1) && maxChars >= 2) text = [...text].slice(0, maxChars - 2).join('') + '  ';
  return text;
}

function binaryLiteral(rnd: Random, col: Column): string {
  const max = col.length ?? Math.min(col.maxBytes!, 70_000);
  const n = rnd.weighted([
    [0, 1],
    [1, 1],
    [rnd.int(2, 16), 5],
    [max, 1],
    [rnd.int(0, Math.min(max, 300)), 2],
    [Math.min(max, rnd.int(5000, 70000)), col.length === undefined ? 0.3 : 0],
  ] as const);
  const bytes = rnd.pick(['random', 'random', 'zeros', 'ones'] as const);
  const buf = bytes === 'random' ? rnd.bytes(n) : Buffer.alloc(n, bytes === 'zeros' ? 0 : 0xff);
  return `X'${buf.toString('hex')}'`;
}

function enumLiteral(rnd: Random, labels: string[], permissive: boolean): string {
  if (permissive && rnd.chance(0.1)) return "'not-a-label'";
  if (rnd.chance(0.15)) return String(rnd.int(1, labels.length));
  return stringLiteral(rnd.chance(0.3) ? labels[labels.length - 1]! : rnd.pick(labels));
}

function setLiteral(rnd: Random, labels: string[]): string {
  if (rnd.chance(0.1)) return "''";
  if (rnd.chance(0.1)) return stringLiteral(labels.join(','));
  if (rnd.chance(0.1) && labels.length <= 52) return String(rnd.int(0, 2 ** labels.length - 1));
  const members = rnd.sample(labels, rnd.int(1, Math.min(labels.length, 6)));
  if (rnd.chance(0.2)) members.push(members[0]!);
  return stringLiteral(members.join(','));
}

const JSON_KEYS = ['a', 'b', 'n', 'list', 'nested', 'é', '😀', ''];
const JSON_STRINGS = ['', 'x', 'é', '😀 emoji', '"quoted"', 'back\\slash', 'tab\there', 'line\nbreak', '\u0000nul', 'ünïcödé 中文', '\u2028'];
const JSON_NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '1.0',
  '0.5',
  '1e300',
  '-1e300',
  '1.7976931348623157e308',
  '1e-300',
  '1E2',
  '9007199254740993',
  '18446744073709551615',
  '-9223372036854775808',
  '-9223372036854775809',
  '123456789012345678901234567890',
  '3.141592653589793',
];

/** JSON text: objects with the same keys but values of varying shapes, arrays, scalars, big numbers. */
export function jsonText(rnd: Random, depth: number): string {
  const shape =
    depth > 3
      ? rnd.pick(['number', 'string', 'literal'] as const)
      : rnd.weighted([
          ['object', depth === 0 ? 5 : 2],
          ['array', 2],
          ['number', 2],
          ['string', 2],
          ['literal', 1],
        ] as const);
  switch (shape) {
    case 'object': {
      const keys = rnd.sample(JSON_KEYS, rnd.int(0, 4));
      return `{${keys.map((k) => `${JSON.stringify(k)}: ${jsonText(rnd, depth + 1)}`).join(', ')}}`;
    }
    case 'array':
      return `[${Array.from({ length: rnd.int(0, 4) }, () => jsonText(rnd, depth + 1)).join(',')}]`;
    case 'number':
      return rnd.chance(0.6) ? rnd.pick(JSON_NUMBERS) : String(rnd.int(-1000, 1000) / rnd.pick([1, 10, 1000]));
    case 'string': {
      const text = rnd.pick(JSON_STRINGS);
      // Sometimes with every non-ASCII character escaped (\uXXXX, surrogate pairs for 4-byte ones).
      return rnd.chance(0.3)
        ? JSON.stringify(text).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
        : JSON.stringify(text);
    }
    case 'literal':
      return rnd.pick(['true', 'false', 'null']);
  }
}

function coord(rnd: Random): string {
  return String(rnd.pick([0, rnd.int(-180000, 180000) / 1000, rnd.int(-1000, 1000), 1e10, -0.5]));
}

function point(rnd: Random): string {
  return `${coord(rnd)} ${coord(rnd)}`;
}

function ring(rnd: Random): string {
  const x = rnd.int(-1000, 1000);
  const y = rnd.int(-1000, 1000);
  const w = rnd.int(1, 100);
  const h = rnd.int(1, 100);
  return `(${x} ${y}, ${x + w} ${y}, ${x + w} ${y + h}, ${x} ${y + h}, ${x} ${y})`;
}

/** Well-known text of a geometry of `type` (any type for GEOMETRY). */
export function wkt(rnd: Random, type: GeometryType, depth: number): string {
  const t: GeometryType =
    type === 'GEOMETRY' ? rnd.pick(['POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION']) : type;
  const line = () => `(${Array.from({ length: rnd.int(2, 5) }, () => point(rnd)).join(', ')})`;
  switch (t) {
    case 'POINT':
      return `POINT(${point(rnd)})`;
    case 'LINESTRING':
      return `LINESTRING${line()}`;
    case 'POLYGON':
      return `POLYGON(${ring(rnd)})`;
    case 'MULTIPOINT':
      return `MULTIPOINT(${Array.from({ length: rnd.int(1, 4) }, () => `(${point(rnd)})`).join(', ')})`;
    case 'MULTILINESTRING':
      return `MULTILINESTRING(${Array.from({ length: rnd.int(1, 3) }, line).join(', ')})`;
    case 'MULTIPOLYGON':
      return `MULTIPOLYGON(${Array.from({ length: rnd.int(1, 3) }, () => `(${ring(rnd)})`).join(', ')})`;
    default:
      return depth > 0
        ? `POINT(${point(rnd)})`
        : `GEOMETRYCOLLECTION(${Array.from({ length: rnd.int(1, 3) }, () => wkt(rnd, 'GEOMETRY', depth + 1)).join(', ')})`;
  }
}

function uuidText(rnd: Random): string {
  const special = ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'];
  if (rnd.chance(0.2)) return rnd.pick(special);
  const hex = rnd.bytes(16).toString('hex').split('');
  const version = rnd.pick(['1', '4', '7', hex[12]!]);
  hex[12] = version;
  if (rnd.chance(0.8)) hex[16] = rnd.pick(['8', '9', 'a', 'b']);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function inet6Text(rnd: Random): string {
  if (rnd.chance(0.5))
    return rnd.pick(['::', '::1', '::ffff:192.0.2.1', 'fe80::1:2', '2001:db8::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::192.0.2.1', '1::']);
  return Array.from({ length: 8 }, () => (rnd.chance(0.3) ? '0' : rnd.int(0, 0xffff).toString(16))).join(':');
}
